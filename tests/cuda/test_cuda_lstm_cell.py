"""nn.LSTMCell on the GPU (the simulator without one): a loop of steps with the parameters
on the device gives the outputs and every gradient of the same loop on the CPU, float64 to
1e-12, batched and unbatched, with hx given as host arrays or left None; host input is
moved to the module's device, a host Tensor refused. Tiny sizes: the simulator is slow."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.device import DeviceError  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def run(device, B, with_hx):
    """The stacked h_t, c_T and {name: gradient} as host arrays, of a 3-step loop."""
    ng.seed(0)
    cell = ng.nn.LSTMCell(3, 2, dtype=np.float64, device=device)
    assert cell.device == device and all(p.device == device for p in cell.parameters())
    rng = np.random.default_rng(1)
    lead = () if B is None else (B,)
    x = ng.Tensor(rng.standard_normal((3, *lead, 3)), requires_grad=True)
    state = tuple(rng.standard_normal((*lead, 2)) for _ in range(2)) if with_hx else None
    hs = []
    for t in range(3):
        state = cell(x[t].to(device), state)
        assert state[0].device == state[1].device == device
        hs.append(state[0])
    h = ng.stack(hs)
    ((h * h).sum() + state[1].sum()).backward()
    grads = {"dx": x.grad, **{f"d{n}": p.grad.copy_to_host() if device == "cuda" else p.grad
                              for n, p in cell.named_parameters()}}
    return h.to("cpu").numpy(), state[1].to("cpu").numpy(), grads


@pytest.mark.parametrize("B, with_hx", [(2, True), (None, False)])
def test_a_loop_on_the_gpu_equals_the_cpu(B, with_hx):
    h_gpu, c_gpu, grads_gpu = run("cuda", B, with_hx)
    h_cpu, c_cpu, grads_cpu = run("cpu", B, with_hx)
    np.testing.assert_allclose(h_gpu, h_cpu, rtol=1e-12, atol=1e-14, err_msg="h_t")
    np.testing.assert_allclose(c_gpu, c_cpu, rtol=1e-12, atol=1e-14, err_msg="c_T")
    assert set(grads_cpu) == {"dx"} | {f"d{n}" for n in NAMES}
    for name, g in grads_cpu.items():
        np.testing.assert_allclose(grads_gpu[name], g, rtol=1e-12, atol=1e-14, err_msg=name)


def test_a_host_tensor_is_refused_and_a_module_moved_by_to_runs_there():
    cell = ng.nn.LSTMCell(3, 2).to("cuda")
    x = np.zeros((1, 3), np.float32)
    h, c = cell(x)                          # a host array is moved, as nn.LSTM's input
    assert h.device == c.device == "cuda"
    with pytest.raises(DeviceError, match=r"^LSTMCell: input is on cpu, the module's "
                                          r"parameters on cuda; move it with "
                                          r"input.to\('cuda'\)"):
        cell(ng.tensor(x))
    with pytest.raises(DeviceError, match=r"^LSTMCell: hx\[1\] is on cpu"):
        cell(x, (h, ng.tensor(np.zeros((1, 2), np.float32))))
