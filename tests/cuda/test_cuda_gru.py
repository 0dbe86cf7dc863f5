"""nn.GRU and nn.GRUCell have no GPU kernels (docs/math.md Part R): a module moved to the
GPU, and the ops given device arrays, are refused with a DeviceError that says so, before
anything runs (the simulator without a GPU)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.device import DeviceError  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402
from nongate_np.ops.gru import gru_cell, gru_layer  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

CPU_ONLY = (r"runs on the CPU only \(NumPy and Numba CPU kernels, kernels/gru_reference.py, "
            r"kernels/cpu/gru.py; no numba.cuda")


def test_modules_moved_to_the_gpu_are_refused_with_the_fix():
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(DeviceError, match=rf"^GRU: {CPU_ONLY}.*got device 'cuda'; move the "
                                          r"module to the CPU with \.to\('cpu'\)"):
        ng.nn.GRU(3, 4).to("cuda")(x)
    with pytest.raises(DeviceError, match=rf"^GRUCell: {CPU_ONLY}"):
        ng.nn.GRUCell(3, 4).to("cuda")(x[0])
    from numba import cuda
    with pytest.raises(DeviceError, match=r"^GRU: input is a cuda array, the module's "
                                          r"parameters on cpu"):
        ng.nn.GRU(3, 4)(cuda.to_device(x))


def test_the_ops_refuse_device_tensors():
    rng = np.random.default_rng(0)
    args = [ng.tensor(rng.standard_normal(s)).to("cuda")
            for s in ((5, 2, 3), (2, 4), (12, 3), (12, 4))]
    with pytest.raises(DeviceError, match=rf"^gru_layer: the GRU {CPU_ONLY}.*move the module "
                                          r"and its inputs with \.to\('cpu'\)"):
        gru_layer(*args)
    with pytest.raises(DeviceError, match=rf"^gru_cell: the GRU {CPU_ONLY}"):
        gru_cell(args[0][0], *args[1:])
