"""nn.functional_call: a module called with its parameters and buffers replaced, so a
model's own weights can be a function's inputs (gradcheck over them); and the modules'
input checks that let a complex-step check run through them (docs/math.md G2)."""

import numpy as np
import pytest

import nongate_np as ng


class Model(ng.nn.Module):
    """LSTM, gated attention pooling and a linear head, as a user would write it."""

    def __init__(self, dtype, **lstm):
        super().__init__()
        self.lstm = ng.nn.LSTM(3, 4, batch_first=True, dtype=dtype, **lstm)
        D = 4 * (2 if lstm.get("bidirectional") else 1)
        self.pool = ng.nn.AttentionPooling(D, 5, kind="gated", dtype=dtype)
        self.head = ng.nn.Linear(D, 2, dtype=dtype)

    def forward(self, x, lengths):
        y, _ = self.lstm(x, lengths=lengths)
        pooled, _ = self.pool(y, lengths=lengths)
        return self.head(pooled[:, 0])


X = np.random.default_rng(0).standard_normal((3, 6, 3))
LENGTHS = np.array([6, 4, 1])
TARGET = np.array([0, 1, 1])


def loss_of(model, names):
    def loss(*weights):
        logits = ng.nn.functional_call(model, dict(zip(names, weights)), (X, LENGTHS))
        return ng.cross_entropy(logits, TARGET)
    return loss


def test_gradients_through_the_call_are_the_modules_own():
    """The given tensors receive what the module's parameters receive in a plain backward
    (an independent composition: the module's own graph), and the module's parameters
    receive nothing from the call."""
    model = Model(np.float64)
    params = dict(model.named_parameters())
    names = list(params)
    leaves = [ng.Tensor(params[n].data.copy(), requires_grad=True) for n in names]
    loss_of(model, names)(*leaves).backward()
    for name in names:
        assert params[name].grad is None, name
    ng.cross_entropy(model(X, LENGTHS), TARGET).backward()
    for name, leaf in zip(names, leaves):
        np.testing.assert_allclose(leaf.grad, params[name].grad, rtol=1e-12, atol=1e-15,
                                   err_msg=name)


@pytest.mark.parametrize("method", ["central", "complex_step"])
@pytest.mark.parametrize("lstm", [{}, {"num_layers": 2, "bidirectional": True}])
def test_gradcheck_of_a_models_own_parameters(method, lstm):
    """Every parameter of LSTM + attention + linear checked in float64, by central
    differences and by complex step (complex128 weights with float64 input)."""
    model = Model(np.float64, **lstm)
    names = [n for n, _ in model.named_parameters()]
    values = [p.data for _, p in model.named_parameters()]
    report = ng.gradcheck(loss_of(model, names), values, names=names, method=method)
    assert report.passed, report
    assert set(report.names) == set(names)


def test_complex_step_on_the_input_through_the_modules():
    """Complex128 input to float64 modules (the LSTM, attention pooling, Linear): the
    complex-step check of the input's gradient runs and passes."""
    model = Model(np.float64)
    report = ng.gradcheck(lambda x: ng.cross_entropy(model(x, LENGTHS), TARGET), [X],
                          method="complex_step")
    assert report.passed, report


class WithLoss(ng.nn.Module):
    """A multi-task model and its loss in one forward, so that functional_call replaces
    log_vars, which only the loss reads, too (the pattern functional_call's docstring
    gives)."""

    def __init__(self, model, targets):
        super().__init__()
        self.model, self.targets = model, targets

    def forward(self, x, lengths):
        return self.model.loss(self.model(x, lengths), self.targets)[0]


@pytest.mark.parametrize("method", ["central", "complex_step"])
def test_gradcheck_of_a_multitask_model_and_its_loss(method):
    """Every parameter of MultiTaskSequenceModel with uncertainty weighting, log_vars
    included, through its loss; complex step ran into float() of the complex task losses."""
    tasks = [{"name": "c", "kind": "classification", "num_classes": 3},
             {"name": "r", "kind": "regression", "output_size": 2},
             {"name": "t", "kind": "tagging", "num_classes": 2}]
    ng.rng.seed(0)
    model = ng.nn.MultiTaskSequenceModel(tasks, input_size=3, embed_size=3, hidden_size=3,
                                         attn_size=2, loss_weighting="uncertainty",
                                         dtype=np.float64)
    model.log_vars.data[...] = [0.3, -0.4, 0.2]
    rng = np.random.default_rng(1)
    targets = {"c": TARGET, "r": rng.standard_normal((3, 2)), "t": rng.integers(0, 2, (3, 6))}
    wrapped = WithLoss(model, targets)
    names = [n for n, _ in wrapped.named_parameters()]
    assert "model.log_vars" in names

    def fn(*ws):
        return ng.nn.functional_call(wrapped, dict(zip(names, ws)), (X, LENGTHS))
    report = ng.gradcheck(fn, [p.data for _, p in wrapped.named_parameters()], names=names,
                          method=method)
    assert report.passed, report
    assert not any(r.unused for r in report.inputs), report


def test_a_planted_error_in_a_parameters_gradient_is_found():
    """A function whose backward for one parameter is off by 10 %: the check through
    functional_call names that parameter alone."""
    model = Model(np.float64)
    names = ["head.weight", "head.bias"]

    class Scaled(ng.Function):
        @staticmethod
        def forward(ctx, w):
            return w

        @staticmethod
        def backward(ctx, dy):
            return dy * 1.1
    fn = loss_of(model, names)
    values = [model.head.weight.data, model.head.bias.data]
    report = ng.gradcheck(lambda w, b: fn(Scaled.apply(w), b), values, names=names,
                          method="central", raise_exception=False)
    assert not report["head.weight"].passed
    assert report["head.bias"].passed


def test_the_modules_own_come_back_after_the_call_and_after_an_error():
    model = Model(np.float32)
    own = dict(model.named_parameters())
    before = {n: p.data.copy() for n, p in own.items()}
    out = ng.nn.functional_call(model, {"head.bias": np.full(2, 7.0, np.float32)},
                                (X.astype(np.float32), LENGTHS))
    assert out.shape == (3, 2)
    with pytest.raises(ValueError, match="expected input_size=3"):
        ng.nn.functional_call(model, {"head.bias": np.zeros(2, np.float32)},
                              (np.zeros((1, 2, 5), np.float32), None))
    for name, p in model.named_parameters():
        assert p is own[name], name
        np.testing.assert_array_equal(p.data, before[name])


def test_the_replacement_is_used_and_a_shared_parameter_is_replaced_everywhere():
    lin = ng.nn.Linear(2, 2, bias=False, dtype=np.float64)
    twice = ng.nn.Sequential(lin, lin)
    w = np.array([[2.0, 0.0], [0.0, 3.0]])
    out = ng.nn.functional_call(twice, {"0.weight": w}, ng.Tensor(np.ones((1, 2))))
    np.testing.assert_array_equal(out.data, [[4.0, 9.0]])


def test_a_buffer_is_replaced():
    class Shift(ng.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("offset", np.zeros(2))

        def forward(self, x):
            return x + self.offset
    out = ng.nn.functional_call(Shift(), {"offset": np.array([1.0, 2.0])}, np.zeros(2))
    np.testing.assert_array_equal(np.asarray(out.data), [1.0, 2.0])


def test_bad_calls_name_what_was_expected():
    model = Model(np.float32)
    with pytest.raises(KeyError, match=r"'head.wieght' is not a parameter or buffer of Model; "
                                       r"its names are \[.*'head.weight'"):
        ng.nn.functional_call(model, {"head.wieght": np.zeros((2, 4))}, (X, LENGTHS))
    with pytest.raises(ValueError, match=r"'head.weight' has shape \(4, 2\), expected \(2, 4\)"):
        ng.nn.functional_call(model, {"head.weight": np.zeros((4, 2))}, (X, LENGTHS))
    with pytest.raises(TypeError, match="module must be an nn.Module, got function"):
        ng.nn.functional_call(lambda x: x, {}, (X,))


def test_the_modules_input_checks():
    """A nested list takes the module's dtype (it has none of its own); None and complex
    input of another precision than the parameters are refused, naming what was expected;
    complex input with complex parameters of its dtype (all replaced through
    functional_call) runs."""
    lstm = ng.nn.LSTM(3, 4, dtype=np.float32)
    y, _ = lstm(X[:, :2].tolist())
    assert y.dtype == np.float32
    with pytest.raises(TypeError, match="input must be an array of float32 features, got None"):
        lstm(None)
    one_precision = r"complex-step check needs both of one precision.*\.to\(np\.float64\)"
    with pytest.raises(TypeError, match="input is complex128 and the module's parameters "
                                        "float32: a " + one_precision):
        lstm(X.astype(np.complex128))
    with pytest.raises(TypeError, match=one_precision):
        ng.nn.LSTM(3, 4, dtype=np.float64)(X.astype(np.complex64))
    complex_weights = {n: p.data.astype(np.complex128) for n, p in lstm.named_parameters()}
    y, _ = ng.nn.functional_call(lstm, complex_weights, X.astype(np.complex128))
    assert y.dtype == np.complex128
