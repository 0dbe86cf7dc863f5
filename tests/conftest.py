"""Hypothesis profiles: ``ci`` (the default; derandomized and bounded so the suite is
reproducible and fits CI's time) and ``dev`` (explores more, and randomly: 12 times the
examples, so the API fuzz, tests/test_fuzz.py, makes about 250,000 checked calls instead of
22,000). Select with HYPOTHESIS_PROFILE=dev. Tests marked ``torch`` are skipped when torch
cannot be imported.

The CUDA tests run on a GPU where the driver reports one, else on numba's CUDA simulator:
the choice is made here, before anything imports numba.cuda (which fixes its target at
import), unless NUMBA_ENABLE_CUDASIM is set already."""

import os
import signal

import pytest
from hypothesis import HealthCheck, settings

from nongate_np.cores import affinity, usable_cores
from nongate_np.kernels import gpu

if not os.environ.get("NUMBA_NUM_THREADS", "").strip() and usable_cores() < len(affinity()):
    os.environ["NUMBA_NUM_THREADS"] = str(len(affinity()))

if "NUMBA_ENABLE_CUDASIM" not in os.environ and not gpu.probe().usable:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

# NOTE: a shell starts a background job (`pytest &`) with SIGINT ignored, and Python then
# raises no KeyboardInterrupt: the Ctrl-C tests (and the processes they start) need it
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config):
    return f"nongate_np CUDA backend: {gpu.probe().reason}"

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", deadline=None, max_examples=300, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_runtest_setup(item):
    # The skip happens before the test starts, so a torch-parity property is skipped whole;
    # the properties without torch never skip (tests/no_torch_plugin.py checks it).
    if item.get_closest_marker("torch") is not None:
        pytest.importorskip(
            "torch", reason="torch is not installed (tests marked torch compare with PyTorch)")
