"""The kernel registry: the contract, selection, and no silent fallback."""

import warnings

import pytest

from nongate_np.kernels import reference, registry
from nongate_np.kernels.contract import Backend, backend_members


def test_every_backend_that_loads_implements_the_protocol():
    members = backend_members()
    assert {"lstm_forward", "lstm_backward", "attention_forward", "attention_backward",
            "attention_online"} <= set(members)
    for name in registry.available_backends():
        with registry.backend(name) as module:
            assert isinstance(module, Backend), name
            missing = [m for m in members if not callable(getattr(module, m, None))]
            assert not missing, (name, missing)


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown backend 'cupy'; expected one of 'numpy', "
                                         "'numba', 'cuda'"):
        with registry.backend("cupy"):
            pass


def test_context_manager_selects_and_restores():
    before = registry.get_backend()
    with registry.backend("numpy") as mod:
        assert mod is reference and registry.get_backend() == "numpy"
        assert registry.kernels() is reference
    assert registry.get_backend() == before


def test_unavailable_backend_raises_unless_fallback_is_asked_for():
    unavailable = [n for n in ("numba", "cuda") if n not in registry.available_backends()]
    if not unavailable:
        pytest.skip("every backend loads here")
    name = unavailable[0]
    with pytest.raises(registry.BackendUnavailable, match=f"backend '{name}' is unavailable"):
        with registry.backend(name):
            pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with registry.backend(name, only=False) as mod:
            assert mod is reference
    assert len(caught) == 1 and "falling back to 'numpy'" in str(caught[0].message)


def test_set_global_backend_validates():
    before = registry.get_backend()
    with pytest.raises(ValueError, match="unknown backend"):
        registry.set_global_backend("nope")
    try:
        registry.set_global_backend("numpy")
        assert registry.get_backend() == "numpy"
    finally:
        registry.set_global_backend(before)


def test_default_is_numba_when_installed_without_importing_it():
    import importlib.util
    import subprocess
    import sys
    code = ("import sys, nongate_np as ng; print(ng.get_backend(), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    expected = "numba" if importlib.util.find_spec("numba") else "numpy"
    assert out == [expected, "False"]


def test_top_level_selection_runs_the_numba_kernels():
    import numpy as np

    import nongate_np as ng
    if "numba" not in ng.available_backends():
        pytest.skip("numba backend unavailable")
    lstm = ng.nn.LSTM(3, 4, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    with ng.backend("numba"):
        assert ng.get_backend() == "numba"
        y_numba = lstm(x)[0]
        assert y_numba.grad_fn.ctx.kernels.__name__ == "nongate_np.kernels.cpu"
    with ng.backend("numpy"):
        y_ref = lstm(x)[0]
    np.testing.assert_allclose(y_numba.data, y_ref.data, rtol=1e-12, atol=1e-15)
