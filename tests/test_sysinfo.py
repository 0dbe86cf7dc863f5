"""``nongate-np info``: every fact is gathered, printed, and a broken part never raises."""

import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

import nongate_np
from nongate_np.cli import sysinfo
from nongate_np.kernels import registry


@pytest.fixture(scope="module")
def facts():
    return sysinfo.info()


def test_info_names_versions_backends_and_cpu(facts):
    assert facts["nongate_np"] == nongate_np.__version__
    assert facts["python"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["packages"]["numpy"] == metadata.version("numpy")
    assert facts["packages"]["numba"] == metadata.version("numba")
    assert facts["packages"]["scipy"] == metadata.version("scipy")
    assert set(facts["packages"]) == set(sysinfo.PACKAGES)
    assert facts["backends"]["available"] == registry.available_backends()
    assert facts["backends"]["default"] == registry.get_backend()
    assert "numpy" in facts["backends"]["available"]
    assert "cuda" in facts["backends"]["unavailable"] or "cuda" in facts["backends"]["available"]
    cpu = facts["cpu"]
    assert cpu["isa"] in ("AVX-512", "AVX2", "AVX", "SVE", "NEON", "SSE", "unknown")
    assert cpu["logical_cpus"] == os.cpu_count() and 1 <= cpu["usable_cpus"] <= os.cpu_count()
    json.dumps(facts)                 # plain data, for a bug report


def test_info_names_threads_blas_cache_and_gpu(facts):
    import numba

    from nongate_np.kernels.cpu.threads import num_threads
    assert facts["threads"]["numba"] == num_threads()
    if not os.environ.get("NUMBA_NUM_THREADS"):   # Numba's default, capped by the limit
        assert facts["threads"]["numba"] <= numba.config.NUMBA_NUM_THREADS
    assert facts["blas"]["name"] and facts["blas"]["version"]
    kernels = facts["blas"]["kernels"]             # what the Numba kernels' products call
    assert kernels["library"] in ("scipy-openblas32", "scipy") and kernels["reason"]
    cache = facts["numba_cache"]
    assert set(cache) == {"path", "source", "reason"} and cache["source"] and cache["reason"]
    gpu = facts["gpu"]
    assert isinstance(gpu["usable"], bool) and gpu["reason"]


def test_format_info_mentions_every_fact(facts):
    text = sysinfo.format_info(facts)
    expected = [facts["nongate_np"], facts["python"], facts["python_executable"],
                *(f"{name}" for name in facts["packages"]),
                *facts["packages"].values(), *facts["backends"]["available"],
                f"default: {facts['backends']['default']}", facts["cpu"]["llvm_name"],
                facts["cpu"]["isa"], f"numba {facts['threads']['numba']}",
                facts["blas"]["name"], facts["blas"]["kernels"]["library"],
                facts["blas"]["kernels"]["reason"], facts["numba_cache"]["source"],
                facts["gpu"]["reason"]]
    if facts["numba_cache"]["path"]:
        expected.append(facts["numba_cache"]["path"])
    for item in expected:
        assert str(item) in text, f"{item!r} missing from:\n{text}"
    labels = [line.split()[0] for line in text.splitlines()]
    for label in ("nongate_np", "python", "backends", "cpu", "threads", "blas", "gpu"):
        assert label in labels, label


def test_a_missing_package_is_reported_as_not_installed():
    missing = "nongate-np-no-such-distribution"
    facts = sysinfo.info(packages=("numpy", missing))
    assert facts["packages"] == {"numpy": metadata.version("numpy"), missing: "not installed"}
    line = next(ln for ln in sysinfo.format_info(facts).splitlines() if ln.startswith(missing))
    assert line.split(None, 1)[1] == "not installed"


def test_a_failing_part_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)      # a broken install: import scipy fails
    facts = sysinfo.info()
    assert set(facts["blas"]) == {"error"}
    assert facts["blas"]["error"].startswith("ModuleNotFoundError: ")
    assert "scipy" in facts["blas"]["error"]
    assert facts["gpu"]["reason"]                     # the other parts are still there
    blas_line = next(ln for ln in sysinfo.format_info(facts).splitlines()
                     if ln.startswith("blas"))
    assert facts["blas"]["error"] in blas_line


def test_format_info_prints_an_info_where_every_part_failed():
    failed = {"error": "RuntimeError: boom"}
    text = sysinfo.format_info({"nongate_np": "0", **{part: failed for part in (
        "packages", "backends", "cpu", "threads", "blas", "numba_cache", "gpu")}})
    assert text.count("RuntimeError: boom") == 7


def test_gpu_without_numba_cuda_says_how_to_get_it():
    # a new process, so that numba-cuda can be made not to be found
    code = ("import json, sys\n"
            "sys.modules['numba_cuda'] = None\n"
            "from nongate_np.cli import sysinfo\n"
            "print(json.dumps(sysinfo.info()['gpu']))\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    gpu = json.loads(proc.stdout)
    assert gpu["usable"] is False and gpu["devices"] == []
    assert gpu["reason"] == ("numba-cuda is not installed (pip install 'numba-cuda[cu13]' "
                             "(or, in the checkout, pip install -e '.[cuda]'))")


def test_gpu_without_a_driver_or_on_the_simulator_says_which():
    code = ("import json\n"
            "from nongate_np.kernels import gpu\n"
            "print(json.dumps(gpu.probe()))\n")
    for simulator in ("0", "1"):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "NUMBA_ENABLE_CUDASIM": simulator})
        assert proc.returncode == 0, proc.stderr
        usable, reason, devices, on_simulator = json.loads(proc.stdout)
        assert on_simulator == (simulator == "1")
        if on_simulator:
            assert usable and "simulator" in reason
        elif not devices:                   # this machine has no GPU, or no driver
            assert not usable and ("no CUDA driver" in reason or "no CUDA device" in reason
                                   or "did not initialise" in reason), reason
        else:
            assert usable and reason.startswith("CUDA device found: ")


@pytest.mark.parametrize("flags, isa", [
    ({"sse2", "avx", "avx2", "avx512f"}, "AVX-512"),
    ({"sse2", "avx", "avx2", "fma"}, "AVX2"),
    ({"fp", "asimd", "crc32"}, "NEON"),
    ({"fp", "asimd", "sve"}, "SVE"),
    (set(), "unknown"),
])
def test_vector_isa_is_the_widest_flag(flags, isa):
    assert sysinfo._vector_isa(flags) == isa


def test_info_compiles_no_kernel(tmp_path):
    # a fresh cache folder stays without compiled code: info() only looks
    code = ("from nongate_np.cli.sysinfo import format_info, info; d = info(); "
            "print(format_info(d)); "
            "assert not [k for k, v in d.items() if isinstance(v, dict) and 'error' in v], d")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    compiled = [p.name for p in tmp_path.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert compiled == []
    assert str(tmp_path) in proc.stdout            # the cache it would use is the one set
    assert np.__version__ in proc.stdout
