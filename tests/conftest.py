"""Hypothesis profiles: ``ci`` (the default; derandomized and bounded so the suite is
reproducible and fits CI's time) and ``dev`` (explores more). Select with
HYPOTHESIS_PROFILE=dev. Tests marked ``torch`` are skipped when torch cannot be imported."""

import os

import pytest
from hypothesis import HealthCheck, settings

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
