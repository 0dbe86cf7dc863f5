"""Moving a tensor between devices, recorded: the gradient moves back (``Tensor.to``)."""

from __future__ import annotations

from ..autograd import Function
from ..device import Device, device, device_of, move
from ..tensor import Tensor

__all__ = ["to_device"]


class ToDevice(Function):
    """y = x on another device;  dx = dy moved back to x's device  (E1a)."""

    @staticmethod
    def forward(ctx, x, target):
        ctx.source = device_of(x)
        return move(x, target)

    @staticmethod
    def backward(ctx, dy):
        return move(dy, ctx.source), None


def to_device(x: Tensor, target: Device | str) -> Tensor:
    """``x`` on ``target`` ("cpu" or "cuda"): ``x`` itself if it is there already, else a
    recorded copy. Raises ValueError for an unknown device and DeviceError when "cuda" is
    not usable here (the message says what is missing: numba-cuda, a driver, a GPU)."""
    target = device(target)
    if x.device == target:
        return x
    return ToDevice.apply(x, target)
