"""GPU arrays of other libraries in and out without a copy (``__cuda_array_interface__``):
a PyTorch CUDA tensor becomes a tensor on "cuda" sharing its memory, and PyTorch reads
ours. Needs a real GPU and a CUDA build of torch (the simulator has no such interface);
elsewhere the CPU side of the rule is checked."""

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.kernels import gpu


def test_a_cpu_tensor_has_no_cuda_array_interface():
    assert not hasattr(ng.tensor([1.0, 2.0]), "__cuda_array_interface__")


@pytest.mark.skipif(not gpu.probe().devices, reason="needs a real GPU (the simulator has no "
                                                    "__cuda_array_interface__)")
def test_torch_cuda_tensors_in_and_out_without_a_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    theirs = torch.arange(6, dtype=torch.float32, device="cuda").reshape(2, 3)
    ours = ng.Tensor(theirs)                                      # Tensor(): no copy
    assert ours.device == "cuda"
    np.testing.assert_array_equal(ours.numpy(), theirs.cpu().numpy())
    theirs += 1                                                   # the same memory
    np.testing.assert_array_equal(ours.numpy(), theirs.cpu().numpy())
    back = torch.as_tensor(ours * 2, device="cuda")
    np.testing.assert_array_equal(back.cpu().numpy(), 2 * theirs.cpu().numpy())
