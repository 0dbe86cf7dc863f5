"""A whole training step of MultiTaskSequenceModel on the GPU (the simulator without one)
gives the loss and every gradient of the NumPy backend on the CPU, float64, to 1e-10:
the model moved with ``.to("cuda")``, every op running on the device's array functions and
the fused LSTM and attention on the CUDA kernels."""

import warnings

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.device import DeviceError  # noqa: E402
from nongate_np.kernels import gpu, registry  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

TOL = {np.float32: 1e-5, np.float64: 1e-12}
TASKS = [{"name": "cls", "kind": "classification", "num_classes": 3},
         {"name": "reg", "kind": "regression", "output_size": 2},
         {"name": "tag", "kind": "tagging", "num_classes": 4}]


def training_step(device, attention, bidirectional, loss_weighting, features):
    """loss, {parameter name: gradient as a host array} of one step on ``device``."""
    ng.seed(0)
    inputs = {"input_size": 3} if features else {"vocab_size": 7}
    model = ng.nn.MultiTaskSequenceModel(
        TASKS, embed_size=4, hidden_size=3, attn_size=3, attention=attention,
        bidirectional=bidirectional, loss_weighting=loss_weighting, dtype=np.float64,
        **inputs).to(device)
    rng = np.random.default_rng(1)
    B, T = 2, 3
    x = rng.standard_normal((B, T, 3)) if features else rng.integers(1, 7, (B, T))
    targets = {"cls": rng.integers(0, 3, B), "reg": rng.standard_normal((B, 2)),
               "tag": rng.integers(0, 4, (B, T))}
    if features:
        x = ng.tensor(x, device=device)
    total, _ = model.loss(model(x, lengths=np.array([3, 2])), targets)
    total.backward()
    assert all(p.device == device for p in model.parameters())
    return total.item(), {name: p.grad.copy_to_host() if device == "cuda" else p.grad
                          for name, p in model.named_parameters()}


@pytest.mark.parametrize("attention, bidirectional, loss_weighting, features", [
    ("gated", False, "fixed", False),
    ("weight_gated", True, "uncertainty", True),
    ("additive", False, "fixed", True),
])
def test_a_training_step_on_the_gpu_equals_the_numpy_backend(attention, bidirectional,
                                                             loss_weighting, features):
    case = (attention, bidirectional, loss_weighting, features)
    with registry.backend("numpy"):
        want_loss, want = training_step("cpu", *case)
    got_loss, got = training_step("cuda", *case)
    assert abs(got_loss - want_loss) <= 1e-10
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-10, err_msg=name)


def training_run(device, optimizer, clip):
    """The parameters (host arrays) after three steps of loss, backward, clipping and the
    optimizer's update on ``device``."""
    ng.seed(0)
    model = ng.nn.MultiTaskSequenceModel(TASKS[:2], vocab_size=7, embed_size=4, hidden_size=3,
                                         attn_size=3, dtype=np.float64).to(device)
    opt = optimizer(model.parameters())
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.integers(1, 7, (2, 3))
        targets = {"cls": rng.integers(0, 3, 2), "reg": rng.standard_normal((2, 2))}
        opt.zero_grad()
        total, _ = model.loss(model(x), targets)
        total.backward()
        if clip:
            ng.optim.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return {name: p.numpy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("optimizer, clip", [
    (lambda ps: ng.optim.Adam(ps, lr=0.05, amsgrad=True), 0.1),
    (lambda ps: ng.optim.AdamW(ps, lr=0.05), None),
    (lambda ps: ng.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), 0.5),
])
def test_training_steps_on_the_gpu_equal_the_numpy_backend(optimizer, clip):
    """Updates, clipping and the optimizer state on the device: three steps end at the
    parameters the NumPy backend reaches, float64, to 1e-10."""
    with registry.backend("numpy"):
        want = training_run("cpu", optimizer, clip)
    got = training_run("cuda", optimizer, clip)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-10, err_msg=name)


def test_modules_on_the_gpu_take_host_arrays_and_name_a_host_tensor():
    """LSTM and AttentionPooling refused the host arrays Linear and the model take ("its
    tensors are on two devices", naming an internal op); a host Tensor (which torch refuses
    too) is now named with the module and the fix."""
    lstm = ng.nn.LSTM(4, 3, batch_first=True).to("cuda")
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    y, _ = lstm(x)
    assert y.device == "cuda"
    pooled, _ = ng.nn.AttentionPooling(4, 3).to("cuda")(x)
    assert pooled.device == "cuda"
    with pytest.raises(DeviceError, match=r"^LSTM: input is on cpu, the module's "
                                             r"parameters on cuda; move it with "
                                             r"input.to\('cuda'\)"):
        lstm(ng.tensor(x))
    model = ng.nn.MultiTaskSequenceModel(TASKS[:1], input_size=4, hidden_size=3, attn_size=3)
    with pytest.raises(DeviceError, match=r"^MultiTaskSequenceModel: input is on cpu, the "
                                             r"model on cuda"):
        model.to("cuda")(ng.tensor(x))
    from numba import cuda
    with pytest.raises(DeviceError, match=r"^LSTM: input is a cuda array, the module's "
                                          r"parameters on cpu"):
        ng.nn.LSTM(4, 3, batch_first=True)(cuda.to_device(x))     # not copied in silence


def test_streaming_on_the_gpu_returns_host_arrays_as_encode():
    """stream().update returned the device array: on a real GPU it has no NumPy methods."""
    model = ng.nn.MultiTaskSequenceModel(TASKS[:1], input_size=4, hidden_size=3,
                                         attn_size=3).eval()
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    want = model.encode(x)
    stream = model.to("cuda").stream(2)
    stream.update(x[:, :2])
    got = stream.update(x[:, 2:])
    assert type(got) is np.ndarray and type(model.encode(x)) is np.ndarray
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_predict_takes_a_feature_tensor_on_the_gpu_as_encode_does():
    """predict(model, features on cuda) was a TypeError from deep in the dataset ("a tensor
    on cuda does not convert to a NumPy array implicitly"), while encode took it."""
    from nongate_np.training import predict
    model = ng.nn.MultiTaskSequenceModel(TASKS[:2], input_size=4, hidden_size=3, attn_size=3,
                                         dtype=np.float64).eval()
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    want = predict(model, x)
    model.to("cuda")
    got = predict(model, ng.tensor(x, device="cuda"), lengths=[3, 3])
    assert got["cls"].tolist() == want["cls"].tolist()
    np.testing.assert_allclose(got["reg"], want["reg"], rtol=1e-12, atol=1e-12, err_msg="reg")
    with pytest.raises(DeviceError, match="input is on cpu, the model on cuda"):
        predict(model, ng.tensor(x))


def test_functional_call_on_the_gpu_moves_host_arrays_and_names_a_host_tensor():
    """A host weight given to functional_call on a GPU model read "LSTM: input is on cuda,
    the module's parameters on cpu; move it with input.to('cpu')": the wrong thing named
    and the wrong fix. Arrays are now moved, as the modules move host input; a host Tensor
    is a DeviceError naming the weight and .to('cuda')."""
    model = ng.nn.MultiTaskSequenceModel(TASKS[:2], input_size=4, hidden_size=3, attn_size=3,
                                         dtype=np.float64).to("cuda")
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    w = np.random.default_rng(5).standard_normal((12, 32))
    want = ng.nn.functional_call(model, {"lstm.weight_ih_l0": ng.tensor(w, device="cuda")},
                                 (x,))["reg"].numpy()
    got = ng.nn.functional_call(model, {"lstm.weight_ih_l0": w}, (x,))["reg"]
    assert got.device == "cuda"
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=0, err_msg="reg")
    with pytest.raises(DeviceError, match=r"^functional_call: 'lstm.weight_ih_l0' is on cpu, "
                                          r"the module's on cuda; move it with .to\('cuda'\)"):
        ng.nn.functional_call(model, {"lstm.weight_ih_l0": ng.tensor(w)}, (x,))
    from numba import cuda
    with pytest.raises(DeviceError, match=r"^functional_call: 'lstm.weight_ih_l0' is a cuda "
                                          r"array, the module's on cpu"):
        ng.nn.functional_call(model.to("cpu"), {"lstm.weight_ih_l0": cuda.to_device(w)}, (x,))


def test_targets_and_lengths_may_be_tensors_on_the_gpu():
    """Targets and lengths given as Tensors on the model's device (as torch users keep
    them) were a TypeError from inside the loss ("a tensor on cuda does not convert to a
    NumPy array implicitly"); they are read as their host values."""
    ng.seed(0)
    model = ng.nn.MultiTaskSequenceModel(TASKS, vocab_size=7, embed_size=4, hidden_size=3,
                                         attn_size=3, dtype=np.float64).to("cuda")
    rng = np.random.default_rng(6)
    x, lengths = rng.integers(1, 7, (2, 3)), np.array([3, 2])
    targets = {"cls": rng.integers(0, 3, 2), "reg": rng.standard_normal((2, 2)),
               "tag": rng.integers(0, 4, (2, 3))}
    want, want_parts = model.loss(model(x, lengths=lengths), targets)
    on_gpu = {name: ng.tensor(y, device="cuda") for name, y in targets.items()}
    got, parts = model.loss(model(x, lengths=ng.tensor(lengths, device="cuda")), on_gpu)
    assert abs(got.item() - want.item()) <= 1e-12
    assert parts.keys() == want_parts.keys()
    np.testing.assert_allclose(model.encode(x, ng.tensor(lengths, device="cuda")),
                               model.encode(x, lengths), rtol=0, atol=0, err_msg="encode")


def test_modules_have_cuda_and_cpu_as_tensors_do():
    """Tensor.cuda() and .cpu() existed, Module's did not ("'Linear' object has no
    attribute 'cuda'"), though a torch user moves a model with model.cuda()."""
    model = ng.nn.MultiTaskSequenceModel(TASKS[:1], input_size=4, hidden_size=3, attn_size=3,
                                         normalize_input=True)
    assert model.cuda() is model
    assert all(type(b) is not np.ndarray for b in model.buffers())
    assert {str(p.device) for p in model.parameters()} == {"cuda"}
    assert model.cpu() is model
    assert {str(p.device) for p in model.parameters()} == {"cpu"}
    assert all(type(b) is np.ndarray for b in model.buffers())


def test_a_deep_copy_of_a_model_on_the_gpu_stays_there():
    """copy.deepcopy (a training loop's "best model so far") of a model on the GPU came back
    on the CPU: a numba.cuda device array has no deep copy of its own (the simulator's
    gave its host array). The copy is on the GPU, independent of the original, with the
    same weights, buffers and gradients."""
    import copy
    model = ng.nn.MultiTaskSequenceModel(TASKS[:2], input_size=4, hidden_size=3, attn_size=3,
                                         normalize_input=True, dtype=np.float64).to("cuda")
    x = np.random.default_rng(7).standard_normal((2, 3, 4))
    total, _ = model.loss(model(x), {"cls": np.array([0, 2]), "reg": np.ones((2, 2))})
    total.backward()
    twin = copy.deepcopy(model)
    assert {str(p.device) for p in twin.parameters()} == {"cuda"}
    assert all(type(b) is not np.ndarray for b in twin.buffers())
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert q is not p and q.data is not p.data, name
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=0, atol=0, err_msg=name)
        np.testing.assert_allclose(q.grad.copy_to_host(), p.grad.copy_to_host(), rtol=0,
                                   atol=0, err_msg=f"{name}.grad")
    twin.lstm.weight_hh_l0.data = ng.tensor(np.zeros((12, 3)), device="cuda").data
    assert np.abs(model.lstm.weight_hh_l0.numpy()).max() > 0
    assert copy.deepcopy(model.to("cpu")).lstm.weight_hh_l0.device == "cpu"


def test_a_model_on_the_gpu_pickles_to_the_gpu():
    """pickle.loads(pickle.dumps(model)) of a model on the GPU recursed without end on the
    simulator (the buffers' and parameters' device arrays do not pickle). It unpickles on
    the GPU, with the weights, buffers and gradients, and computes what the original does."""
    import pickle
    model = ng.nn.MultiTaskSequenceModel(TASKS[:2], input_size=4, hidden_size=3, attn_size=3,
                                         normalize_input=True, dtype=np.float64)
    x = np.random.default_rng(8).standard_normal((2, 3, 4))
    model.set_input_normalization(x.mean(axis=(0, 1)), x.std(axis=(0, 1)))
    model.to("cuda")
    total, _ = model.loss(model(x), {"cls": np.array([0, 2]), "reg": np.ones((2, 2))})
    total.backward()
    twin = pickle.loads(pickle.dumps(model))
    assert {str(p.device) for p in twin.parameters()} == {"cuda"}
    assert all(type(b) is type(model.input_mean) for b in twin.buffers())
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_array_equal(q.grad.copy_to_host(), p.grad.copy_to_host(),
                                      err_msg=f"{name}.grad")
    for (name, b), c in zip(model.named_buffers(), twin.buffers()):
        np.testing.assert_array_equal(c.copy_to_host(), b.copy_to_host(), err_msg=name)
    np.testing.assert_array_equal(twin.eval().encode(x), model.eval().encode(x),
                                  err_msg="encode")


def _step(model, opt, seed):
    """One optimiser step of ``model`` on a fixed batch: the same gradients for a twin."""
    x = np.random.default_rng(seed).standard_normal((2, 4))
    opt.zero_grad()
    model(ng.tensor(x, device="cuda")).sum().backward()
    opt.step()


@pytest.mark.parametrize("make", [lambda ps: ng.optim.Adam(ps, lr=0.1, amsgrad=True),
                                  lambda ps: ng.optim.SGD(ps, lr=0.1, momentum=0.9)],
                         ids=["Adam", "SGD"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_an_optimizer_of_a_model_on_the_gpu_pickles_and_copies_to_the_gpu(how, make):
    """pickle.loads(pickle.dumps(opt)) recursed without end on the simulator (its state's
    device arrays do not pickle) and copy.deepcopy(opt) gave host state (moved back only
    by the next step). The copy's state is on the GPU, equal to the original's and
    independent of it: a step of each with the same gradients gives the same weights."""
    import copy
    import pickle
    model = ng.nn.Linear(4, 3, dtype=np.float64).to("cuda")
    opt = make(model.parameters())
    _step(model, opt, 0)
    pair = (model, opt)
    twin, twin_opt = pickle.loads(pickle.dumps(pair)) if how == "pickle" else \
        copy.deepcopy(pair)
    assert list(twin_opt.state) == list(twin.parameters())
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert twin_opt.state[q].keys() == opt.state[p].keys(), name
        for key, value in opt.state[p].items():
            copied = twin_opt.state[q][key]
            if isinstance(value, int):
                assert copied == value, f"{name} {key}"
                continue
            assert type(copied) is type(value) and copied is not value, f"{name} {key}"
            np.testing.assert_array_equal(copied.copy_to_host(), value.copy_to_host(),
                                          err_msg=f"{name} {key}")
    _step(model, opt, 1)
    _step(twin, twin_opt, 1)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_array_equal(q.numpy(), p.numpy(), err_msg=name)


def _host_copies(call) -> int:
    """How many times numba.cuda copied a device array to the host during ``call()``, seen by
    a profiler (nothing replaced): ``copy_to_host`` and NumPy's implicit conversions of a
    device array (a GPU array's ``__array__``, the simulator's ``__array_struct__``)."""
    import sys
    seen = []

    def profile(frame, event, arg):
        if event != "call" or "devicearray" not in frame.f_code.co_filename:
            return
        name = frame.f_code.co_name
        if name in ("copy_to_host", "__array__") or (
                name == "__getattr__" and frame.f_locals.get("attrname") in (
                    "__array__", "__array_struct__", "__array_interface__")):
            seen.append(name)
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return len(seen)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_input_on_the_gpu_copies_no_statistics_to_the_host(dtype):
    """A model on the GPU given host features with normalize_input computed x − mean on the
    host: NumPy copied the (F,) input_mean and input_std buffers to the host at every batch.
    The features now move to the GPU first and are standardised there: a forward pass
    copies to the host what the same model without normalize_input copies, and gives
    the CPU model's outputs."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    models = {}
    for normalize in (True, False):
        ng.seed(0)
        models[normalize] = ng.nn.MultiTaskSequenceModel(
            TASKS[:2], input_size=4, hidden_size=3, attn_size=3, normalize_input=normalize,
            dtype=dtype).eval()
    models[True].set_input_normalization(rng.standard_normal(4), rng.uniform(0.5, 2.0, 4))
    want = models[True](x)
    for model in models.values():
        model.to("cuda")
    got = models[True](x)
    for name in ("cls", "reg"):
        np.testing.assert_allclose(got[name].numpy(), want[name].numpy(), rtol=TOL[dtype],
                                   atol=TOL[dtype], err_msg=name)
    for lengths in (None, np.array([3, 2])):
        assert _host_copies(lambda: models[True](x, lengths=lengths)) == \
            _host_copies(lambda: models[False](x, lengths=lengths)), f"lengths={lengths}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_targets_on_the_gpu_copies_no_statistics_to_the_host(dtype):
    """A regression loss with normalize_targets divided the host targets by the target_std
    buffer moved to the host: a copy from the GPU at every training step. The targets now
    move to the GPU and are divided there: a training step copies to the host what the
    same model without normalize_targets copies, and gives the CPU model's loss and
    gradients."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    targets = {"cls": np.array([0, 2]), "reg": rng.standard_normal((2, 2)) * 10 + 5}
    models = {}
    for normalize in (True, False):
        ng.seed(0)
        models[normalize] = ng.nn.MultiTaskSequenceModel(
            TASKS[:2], input_size=4, hidden_size=3, attn_size=3, normalize_targets=normalize,
            dtype=dtype)
    models[True].set_target_normalization("reg", [4.0, 6.0], [8.0, 12.0])

    def step(model):
        model.zero_grad()
        total, _ = model.loss(model(x), targets)
        total.backward()
        return total

    def gradients(model):
        return {name: p.grad.copy_to_host() if p.device == "cuda" else p.grad
                for name, p in model.named_parameters()}

    want_loss = step(models[True]).item()
    want = gradients(models[True])
    for model in models.values():
        model.to("cuda")
    got_loss = step(models[True]).item()
    got = gradients(models[True])
    np.testing.assert_allclose(got_loss, want_loss, rtol=TOL[dtype], err_msg="loss")
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=TOL[dtype], atol=TOL[dtype],
                                   err_msg=name)
    assert _host_copies(lambda: step(models[True])) == \
        _host_copies(lambda: step(models[False]))


class _OneRank:
    """A communicator of one rank: DataParallel's checks before its first collective."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1


def test_data_parallel_refuses_a_model_on_the_gpu():
    """DataParallel reduces host arrays (np.copyto into the parameters, one host buffer for
    MPI): a GPU model is a DeviceError naming a parameter and model.cpu(), before any
    collective, not a NumPy error at the first broadcast."""
    pytest.importorskip("mpi4py")
    from nongate_np.distributed import DataParallel
    model = ng.nn.Linear(3, 2, dtype=np.float64).to("cuda")
    with pytest.raises(DeviceError, match=r"DataParallel: runs on the CPU only, and the "
                                          r"model's parameter weight is on cuda(:0)?: call "
                                          r"model\.cpu\(\) first"):
        DataParallel(model, _OneRank(), share_cores=False)


def test_zero_padded_features_on_the_gpu_without_lengths_warn_as_on_the_host():
    """encode of a zero-padded x without lengths warned for a host array only: a GPU
    tensor's padding was read as data without a word."""
    model = ng.nn.MultiTaskSequenceModel(TASKS[:1], input_size=3, hidden_size=3,
                                         attn_size=3).to("cuda")
    rng = np.random.default_rng(0)
    x, lengths = ng.data.pad_sequences([rng.standard_normal((n, 3)).astype(np.float32)
                                        for n in (5, 3, 4, 5)])
    with pytest.warns(UserWarning, match=r"2 of 4 sequences end in all-zero steps, read as "
                                         r"data: .* pass lengths=") as caught:
        model.encode(ng.tensor(x, device="cuda"))
    assert [w.filename for w in caught] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.encode(ng.tensor(x, device="cuda"), lengths=lengths)
