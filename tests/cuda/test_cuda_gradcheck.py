"""gradcheck through the GPU (the simulator without one): the report names the backend that
ran, "cuda", and the device, not the active CPU backend. gradcheck builds its inputs on the
host, so fn moves them (README, "Devices"); tiny sizes, as the simulator is slow."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.check import GradcheckError, gradcheck  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

DEVICE = "CUDA simulator" if gpu.probe().simulator else None    # a GPU: its driver's name


def _pooling(device):
    pool = ng.nn.AttentionPooling(input_size=3, attn_size=2, kind="gated", dtype=np.float64)
    pool.to(device)

    def pooled(h):
        return pool(h.to(device))[0].to("cpu")   # a host result: the GPU must still be named
    return pooled


def test_a_report_through_the_gpu_kernels_names_the_cuda_backend_and_the_device():
    """The report of a check whose fn ran the fused attention on the GPU said
    backend=numba, the active CPU backend, whose kernels never ran."""
    h = np.random.default_rng(0).standard_normal((2, 3, 3))
    rep = gradcheck(_pooling("cuda"), [h], method="directional")
    assert rep.passed, str(rep)
    assert rep.backend == "cuda", str(rep)
    assert rep.device == (DEVICE or rep.device) and rep.device, str(rep)
    assert f"[directional, backend=cuda, device={rep.device}, seed=0]" in str(rep), str(rep)
    # the same check on the host names the active backend and no device
    host = gradcheck(_pooling("cpu"), [h], method="directional")
    assert (host.backend, host.device) == (ng.get_backend(), ""), str(host)
    assert f"backend={ng.get_backend()}, seed=0]" in str(host), str(host)


def test_a_failure_on_the_gpu_names_the_cuda_backend_and_the_device():
    x = np.random.default_rng(1).standard_normal(4)

    def squares_with_a_detached_factor(x):
        x = x.to("cuda")
        return (x * x.detach()).to("cpu")        # the planted bug: d(x²)/dx read as x

    with pytest.raises(GradcheckError) as caught:
        gradcheck(squares_with_a_detached_factor, [x], method="central")
    rep = caught.value.report
    assert rep is not None and rep.backend == "cuda" and rep.device, rep
    assert f"mismatch [backend=cuda, device={rep.device}]" in str(caught.value), \
        str(caught.value)
