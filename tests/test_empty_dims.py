"""Issue 15 report 2: empty dimensions are handled as PyTorch 2.13 handles them, by every op
and module, forward and backward, on every device: an empty batch (B = 0), zero rows, an
empty inner dimension, reductions and softmax over empty axes. Where PyTorch raises (an
LSTM with no steps, the max over an empty axis) the library raises a ValueError naming the
shape. No NumPy warning anywhere (warnings are errors here)."""

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import nn
from nongate_np.kernels import gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not gpu.probe().usable, reason="no GPU and not on the CUDA simulator"))]


pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def leaf(shape, device, dtype=np.float64):
    data = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    return ng.tensor(data, requires_grad=True, device=device)


def backward(y, device):
    """y.backward with an all-ones upstream gradient of y's shape (empty too)."""
    y.backward(ng.tensor(np.ones(y.shape), device=device))


# -- ops ------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_matmul_with_an_empty_inner_dimension_is_zero(device):
    """(2, 0) @ (0, 3) = zeros (2, 3), as torch; the gradients are empty."""
    a, b = leaf((2, 0), device), leaf((0, 3), device)
    c = ng.matmul(a, b)
    backward(c, device)
    np.testing.assert_array_equal(host(c.data), np.zeros((2, 3)))
    assert host(a.grad).shape == (2, 0) and host(b.grad).shape == (0, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_matmul_with_empty_rows(device):
    """(0, 3) @ (3, 2) = (0, 2); dB = Aᵀ dC sums over no row: zeros (3, 2)."""
    a, b = leaf((0, 3), device), leaf((3, 2), device)
    c = ng.matmul(a, b)
    backward(c, device)
    assert c.shape == (0, 2)
    np.testing.assert_array_equal(host(b.grad), np.zeros((3, 2)))


@pytest.mark.parametrize("device", DEVICES)
def test_sum_and_mean_over_an_empty_axis(device):
    """torch: sum over an empty axis is 0, mean is NaN (no warning here either); the
    gradient has the input's (empty) shape."""
    for fn, want in ((ng.sum, 0.0), (ng.mean, np.nan)):
        x = leaf((0, 3), device)
        y = fn(x, 0)
        backward(y, device)
        np.testing.assert_array_equal(host(y.data), np.full(3, want), err_msg=fn.__name__)
        assert host(x.grad).shape == (0, 3)
        x = leaf((0, 3), device)
        y = fn(x)                                       # every axis: a 0-d result
        backward(y, device)
        np.testing.assert_array_equal(host(y.data), want, err_msg=fn.__name__)
        y = fn(leaf((0, 3), device), 1)                 # over a non-empty axis: empty
        assert y.shape == (0,)


@pytest.mark.parametrize("device", DEVICES)
def test_max_over_empty_axes(device):
    """As torch.amax: over a non-empty axis of an empty tensor, an empty result; over an
    empty axis (or all axes of an empty tensor), a ValueError naming the axis and shape."""
    x = leaf((0, 3), device)
    y = ng.amax(x, 1)
    backward(y, device)
    assert y.shape == (0,) and host(x.grad).shape == (0, 3)
    for axis in (0, None, (0, 1)):
        with pytest.raises(ValueError, match=r"axis 0 of size 0 .*\(0, 3\)"):
            ng.amax(leaf((0, 3), device), axis)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_max_min_argmax_argmin_over_empty_axes(device, name):
    """Along a non-empty axis of an empty tensor, empty values and indices (and gradient);
    along an empty axis, or over all axes of an empty tensor, a ValueError, as torch."""
    x = leaf((0, 3), device)
    y = getattr(ng, name)(x, 1)
    if name in ("max", "min"):
        assert y.indices.shape == (0,)
        y = y.values
        backward(y, device)
        assert host(x.grad).shape == (0, 3)
    assert y.shape == (0,)
    for axis in (0, None):
        with pytest.raises(ValueError, match=r"axis 0 of size 0 .*\(0, 3\)"):
            getattr(ng, name)(leaf((0, 3), device), axis)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", [ng.softmax, ng.log_softmax])
@pytest.mark.parametrize("shape, axis", [((3, 0), 1), ((0, 3), 1), ((0, 3), 0), ((2, 0, 4), -1)])
def test_softmax_of_empty_tensors(device, fn, shape, axis):
    """An empty input (over an empty axis too) gives an empty output and gradient, as
    torch."""
    x = leaf(shape, device)
    y = fn(x, axis)
    backward(y, device)
    assert y.shape == shape and host(x.grad).shape == shape


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", [ng.relu, ng.sigmoid, ng.tanh, ng.exp, ng.neg])
def test_elementwise_of_empty_tensors(device, fn):
    x = leaf((0, 3), device)
    y = fn(x) if fn is not ng.neg else -x
    backward(y, device)
    assert y.shape == (0, 3) and host(x.grad).shape == (0, 3)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_with_zero_rows(device, reduction):
    """cross_entropy (0, C), mse_loss and binary_cross_entropy_with_logits (0,): "sum" is 0
    as torch, "none" empty; "mean" is 0, the documented value for a batch with nothing to
    average (torch: NaN), as for an all-ignored cross_entropy batch."""
    cases = [
        (lambda z: ng.cross_entropy(z, np.zeros(0, np.int64), reduction=reduction), (0, 3)),
        (lambda z: ng.mse_loss(z, np.zeros(0), reduction=reduction), (0,)),
        (lambda z: ng.binary_cross_entropy_with_logits(z, np.zeros(0), reduction=reduction),
         (0,)),
    ]
    for fn, shape in cases:
        z = leaf(shape, device)
        loss = fn(z)
        backward(loss, device)
        if reduction == "none":
            assert loss.shape == (0,)
        else:
            np.testing.assert_array_equal(host(loss.data), 0.0)
        assert host(z.grad).shape == shape


def test_cross_entropy_with_zero_classes_is_refused():
    for shape, target in (((2, 0), np.array([-100, -100])), ((0, 0), np.zeros(0, np.int64))):
        with pytest.raises(ValueError, match=rf"logits of shape \({shape[0]}, 0\) have 0 "
                                             "classes"):
            ng.cross_entropy(np.zeros(shape), target)


# -- modules --------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_linear_with_zero_rows(device):
    """torch: y (0, 4); the weight and bias gradients are zeros of their shapes."""
    m = nn.Linear(3, 4, dtype=np.float64).to(device)
    x = leaf((0, 3), device)
    y = m(x)
    backward(y, device)
    assert y.shape == (0, 4) and host(x.grad).shape == (0, 3)
    np.testing.assert_array_equal(host(m.weight.grad), np.zeros((4, 3)))
    np.testing.assert_array_equal(host(m.bias.grad), np.zeros(4))


@pytest.mark.parametrize("kind", ["additive", "gated", "weight_gated"])
def test_attention_pooling_of_an_empty_batch(kind):
    """B = 0: pooled (0, Q, D'), weights (0, Q, T); the parameters' gradients are zeros."""
    m = nn.AttentionPooling(3, 2, kind=kind, num_queries=2, dtype=np.float64)
    h = leaf((0, 4, 3), "cpu")
    pooled, weights = m(h)
    (pooled.sum() + weights.sum()).backward()
    assert pooled.shape == (0, 2, 3) and weights.shape == (0, 2, 4)
    assert h.grad.shape == (0, 4, 3)
    for name, p in m.named_parameters():
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape), err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_layers, bidirectional, proj_size, batch_first",
                         [(1, False, 0, False), (2, True, 0, True), (1, False, 2, False)])
def test_lstm_of_an_empty_batch(device, num_layers, bidirectional, proj_size, batch_first):
    """Issue 15 report 2: nn.LSTM(3, 4) on x (5, 0, 3) gives y (5, 0, D·P), h_n (L·D, 0, P),
    c_n (L·D, 0, H) as torch (which raises only for zero steps); x's gradient is empty and
    every weight's gradient zeros of its shape (torch's values); lengths of shape (0,) too."""
    m = nn.LSTM(3, 4, num_layers=num_layers, bidirectional=bidirectional,
                proj_size=proj_size, batch_first=batch_first, dtype=np.float64).to(device)
    D, P = 2 if bidirectional else 1, proj_size or 4
    for lengths in (None, np.zeros(0, np.int64)):
        m.zero_grad()
        x = leaf((0, 5, 3) if batch_first else (5, 0, 3), device)
        y, (h, c) = m(x, lengths=lengths)
        (ng.sum(y) + h.sum() + c.sum()).backward()
        assert y.shape == ((0, 5, D * P) if batch_first else (5, 0, D * P))
        assert h.shape == (num_layers * D, 0, P) and c.shape == (num_layers * D, 0, 4)
        assert host(x.grad).shape == x.shape
        for name, p in m.named_parameters():
            np.testing.assert_array_equal(host(p.grad), np.zeros(p.shape), err_msg=name)


def test_lstm_of_an_empty_batch_in_float32_is_the_report():
    """The report's call exactly: float32, default arguments."""
    y, (h, c) = nn.LSTM(3, 4)(np.zeros((5, 0, 3), np.float32))
    assert (y.shape, h.shape, c.shape) == ((5, 0, 4), (1, 0, 4), (1, 0, 4))
    assert y.dtype == h.dtype == np.float32


@pytest.mark.torch
def test_lstm_empty_batch_shapes_are_torchs():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"num_layers": 2, "bidirectional": True}, {"proj_size": 2}):
        theirs = torch.nn.LSTM(3, 4, **kwargs)(torch.zeros(5, 0, 3))
        ours = nn.LSTM(3, 4, **kwargs)(np.zeros((5, 0, 3), np.float32))
        assert ours[0].shape == tuple(theirs[0].shape), kwargs
        assert ours[1][0].shape == tuple(theirs[1][0].shape), kwargs
        assert ours[1][1].shape == tuple(theirs[1][1].shape), kwargs


@pytest.mark.parametrize("shape, batch_first, layout", [
    ((0, 2, 3), False, r"\(T, B, I\)"), ((2, 0, 3), True, r"\(B, T, I\)"),
    ((0, 3), False, r"\(T, I\)")])
def test_lstm_with_zero_steps_is_refused(shape, batch_first, layout):
    """As torch ("Expected sequence length to be larger than 0"): a ValueError naming the
    shape and layout."""
    m = nn.LSTM(3, 4, batch_first=batch_first, dtype=np.float64)
    with pytest.raises(ValueError, match=rf"shape {shape!r}".replace("(", r"\(").replace(
            ")", r"\)") + rf", layout {layout}: expected at least one step"):
        m(np.zeros(shape))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("tokens", [True, False])
def test_multitask_model_with_an_empty_batch(device, tokens):
    """B = 0 through the whole model: outputs (0, C), (0, k), (0, T, C); the loss 0 (nothing
    to average); every parameter's gradient zeros; encode gives (0, Q, D')."""
    from nongate_np.nn.multitask import MultiTaskSequenceModel
    tasks = [{"name": "c", "kind": "classification", "num_classes": 3},
             {"name": "r", "kind": "regression", "output_size": 2},
             {"name": "t", "kind": "tagging", "num_classes": 4}]
    size = {"vocab_size": 7} if tokens else {"input_size": 2}
    m = MultiTaskSequenceModel(tasks, embed_size=3, hidden_size=4, attn_size=2,
                               dtype=np.float64, **size).to(device)
    x = np.zeros((0, 5), np.int64) if tokens else np.zeros((0, 5, 2))
    out = m(x, np.zeros(0, np.int64))
    assert out["c"].shape == (0, 3) and out["r"].shape == (0, 2) and out["t"].shape == (0, 5, 4)
    total, parts = m.loss(out, {"c": np.zeros(0, np.int64), "r": np.zeros((0, 2)),
                                "t": np.zeros((0, 5), np.int64)})
    total.backward()
    assert parts == {"c": 0.0, "r": 0.0, "t": 0.0}
    for name, p in m.named_parameters():
        np.testing.assert_array_equal(host(p.grad), np.zeros(p.shape), err_msg=name)
    assert m.encode(x, np.zeros(0, np.int64)).shape == (0, 2, 4)


@pytest.mark.parametrize("tokens", [True, False])
def test_multitask_model_with_zero_steps_is_refused(tokens):
    """As the LSTM: T = 0 is a ValueError naming the shape and the layout."""
    from nongate_np.nn.multitask import MultiTaskSequenceModel
    size = {"vocab_size": 7} if tokens else {"input_size": 2}
    m = MultiTaskSequenceModel([{"name": "c", "kind": "classification", "num_classes": 3}],
                               embed_size=3, hidden_size=4, attn_size=2, dtype=np.float64,
                               **size)
    x = np.zeros((2, 0), np.int64) if tokens else np.zeros((2, 0, 2))
    layout = r"\(B, T\)" if tokens else r"\(B, T, F\)"
    for call in (m, m.encode):
        with pytest.raises(ValueError, match=rf"input has shape {x.shape!r}".replace(
                "(", r"\(").replace(")", r"\)") + rf", layout {layout}: expected at least "
                "one step"):
            call(x)


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("kind", ["additive", "gated", "weight_gated"])
def test_attention_pooling_over_zero_steps_pools_to_zero(backend_name, kind):
    """T = 0 with B > 0: as a fully masked row, the pooled vectors are zeros (B, Q, D') and
    the weights (B, Q, 0); every parameter's gradient zeros; both CPU backends agree."""
    with ng.backend(backend_name):
        m = nn.AttentionPooling(3, 2, kind=kind, num_queries=2, value_proj=True,
                                dtype=np.float64)
        h = leaf((2, 0, 3), "cpu")
        pooled, weights = m(h)
        (pooled.sum() + weights.sum()).backward()
    assert weights.shape == (2, 2, 0) and h.grad.shape == (2, 0, 3)
    np.testing.assert_array_equal(pooled.data, np.zeros((2, 2, 3)))
    for name, p in m.named_parameters():
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape), err_msg=name)
