"""``nongate-np encode | predict --device cuda`` (the simulator without a GPU) give what the
CPU gives for the same checkpoint, and ``--device cuda`` where no GPU is usable is a
one-line error naming what is missing."""

import os
import subprocess

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from nongate_np.kernels import gpu  # noqa: E402
from tests.cli_runs import GUNPOINT_TRAIN, command, read_json, run_cli, train  # noqa: E402

UNLABELLED = GUNPOINT_TRAIN.parent / "tiny_unlabelled.ts"     # two series of 3 and 2 steps

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gunpoint")
    train(out, "ts", GUNPOINT_TRAIN, "--epochs", "1", "--hidden-size", "4", "--quiet")
    return out


def test_encode_on_the_gpu_equals_the_cpu(run, tmp_path):
    for device in ("cpu", "cuda"):
        code, _, err = run_cli("encode", run / "model.npz", UNLABELLED, "--out",
                               tmp_path / f"{device}.npy", "--device", device)
        assert code == 0, err
    cpu, cuda = (np.load(tmp_path / f"{d}.npy") for d in ("cpu", "cuda"))
    assert cuda.shape == cpu.shape == (2, 1, 4) and cuda.dtype == np.float32
    np.testing.assert_allclose(cuda, cpu, rtol=1e-5, atol=1e-6)


def test_predict_on_the_gpu_equals_the_cpu(run):
    outputs = {}
    for device in ("cpu", "cuda"):
        code, out, err = run_cli("predict", run / "model.npz", UNLABELLED, "--device", device)
        assert code == 0, err
        outputs[device] = out
    assert outputs["cuda"] == outputs["cpu"]


def test_device_cuda_without_a_gpu_is_a_one_line_error(run, tmp_path):
    if gpu.probe().devices:
        pytest.skip("this machine has a GPU")
    proc = subprocess.run(command("encode", run / "model.npz", UNLABELLED, "--out",
                                  tmp_path / "emb.npy", "--device", "cuda"),
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "device 'cuda' is not usable here" in lines[0], proc.stderr
    assert not (tmp_path / "emb.npy").exists()


def test_train_on_the_gpu_ends_where_the_cpu_does(tmp_path):
    """One epoch of ``train --device cuda``: the optimizer steps, the checkpoint (host
    arrays) and its metrics as on the CPU, float32, to rounding."""
    import nongate_np as ng
    tiny = GUNPOINT_TRAIN.parent / "tiny_univariate.ts"
    for device in ("cpu", "cuda"):
        train(tmp_path / device, "ts", tiny, "--epochs", "1", "--hidden-size", "3", "--quiet",
              "--device", device)
    assert [read_json(tmp_path / d / "summary.json")["device"] for d in ("cpu", "cuda")] == \
        ["cpu", "cuda"]
    cpu, cuda = (ng.load(tmp_path / d / "model.npz").model.state_dict()
                 for d in ("cpu", "cuda"))
    assert cpu.keys() == cuda.keys()
    for key in cpu:
        np.testing.assert_allclose(cuda[key], cpu[key], rtol=1e-4, atol=1e-5, err_msg=key)
