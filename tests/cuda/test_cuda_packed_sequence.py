"""nn.utils.rnn on the GPU (the simulator without one): pack → bidirectional nn.LSTM → pad
with the data on the device gives the outputs and every gradient of the same on the CPU,
float64, to 1e-12; the index tensors stay on the host. Tiny sizes: the simulator is slow."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402
from nongate_np.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)


def run(device):
    """Padded output, h_n, and {name: gradient} as host arrays, of one pass on ``device``."""
    ng.seed(0)
    lstm = ng.nn.LSTM(2, 2, batch_first=True, bidirectional=True, dtype=np.float64)
    lstm.to(device)
    x = ng.Tensor(np.random.default_rng(1).standard_normal((3, 3, 2)), requires_grad=True)
    packed = pack_padded_sequence(x.to(device), [2, 3, 1], batch_first=True,
                                  enforce_sorted=False)
    assert packed.is_cuda == (device == "cuda") and packed.sorted_indices.device == "cpu"
    out, (h_n, _) = lstm(packed)
    y, lengths = pad_packed_sequence(out, batch_first=True, padding_value=0.5)
    assert y.device == device and lengths.device == "cpu"
    ((y * y).sum() + h_n.sum()).backward()
    grads = {"dx": x.grad, **{f"d{n}": p.grad.copy_to_host() if device == "cuda" else p.grad
                              for n, p in lstm.named_parameters()}}
    return y.to("cpu").numpy(), h_n.to("cpu").numpy(), grads


def test_pack_lstm_pad_on_the_gpu_equals_the_cpu():
    y_gpu, h_gpu, grads_gpu = run("cuda")
    y_cpu, h_cpu, grads_cpu = run("cpu")
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-12, atol=1e-14, err_msg="output")
    np.testing.assert_allclose(h_gpu, h_cpu, rtol=1e-12, atol=1e-14, err_msg="h_n")
    for name, g in grads_cpu.items():
        np.testing.assert_allclose(grads_gpu[name], g, rtol=1e-12, atol=1e-14, err_msg=name)
