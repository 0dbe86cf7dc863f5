"""pytest plugin: run the tests as if torch were not installed, and fail the session when a
Hypothesis property not marked ``torch`` runs fewer than its ``max_examples`` examples.

A skip raised inside a property (``pytest.importorskip("torch")`` after its other checks)
ends it after the first example and reports it "skipped"; this plugin makes that visible.
Use it from the repository root::

    python -m pytest -p tests.no_torch_plugin tests/ops

``--examples-json=FILE`` also writes, per test, its outcome, whether it is marked ``torch``
and (for a property) how many examples ran to the end, and the ``max_examples`` it had.
"""

from __future__ import annotations

import functools
import json
import sys

import pytest
from hypothesis import settings

# None in sys.modules makes `import torch` raise ModuleNotFoundError, as when it is absent
sys.modules["torch"] = None

_runs: dict[str, dict] = {}


def pytest_addoption(parser):
    parser.addoption("--examples-json", default=None, metavar="FILE",
                     help="write each test's outcome and examples run to FILE (JSON)")


def _max_examples(item) -> int:
    # the settings Hypothesis's own pytest plugin reads for this test
    return getattr(item.obj, "_hypothesis_internal_use_settings", settings.default).max_examples


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None:
        return (yield)
    inner = handle.inner_test
    done = 0

    # Hypothesis calls `inner_test` once per example; counting the calls that return counts
    # the examples that ran every check.
    @functools.wraps(inner)
    def counted(*args, **kwargs):
        nonlocal done
        result = inner(*args, **kwargs)
        done += 1
        return result

    handle.inner_test = counted
    try:
        return (yield)
    finally:
        handle.inner_test = inner
        _runs[item.nodeid].update(examples=done, max_examples=_max_examples(item))


def pytest_collection_modifyitems(items):
    for item in items:
        _runs[item.nodeid] = {"examples": None, "max_examples": None, "outcome": None,
                              "torch": item.get_closest_marker("torch") is not None}


def pytest_runtest_logreport(report):
    # the first report that is not a passed setup decides: the call's, or a skip or error
    run = _runs[report.nodeid]
    if run["outcome"] is None and (report.when == "call" or report.outcome != "passed"):
        run["outcome"] = report.outcome


def short_properties(runs: dict[str, dict]) -> list[str]:
    """The properties not marked torch that did not pass with every example, one line each."""
    return [f"{nodeid}: {run['outcome']}, {run['examples']} of {run['max_examples']} "
            f"examples ran"
            for nodeid, run in runs.items()
            if not run["torch"] and run["examples"] is not None
            and (run["outcome"] != "passed" or run["examples"] < run["max_examples"])]


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--examples-json")
    if path:
        with open(path, "w") as f:
            json.dump(_runs, f, indent=1)
    if short_properties(_runs) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    short = short_properties(_runs)
    if short:
        terminalreporter.section("properties cut short without torch")
        for line in short:
            terminalreporter.line(line)
