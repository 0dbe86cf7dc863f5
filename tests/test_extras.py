"""Install hints: nongate-np is not on PyPI, so ``pip install 'nongate-np[plot]'`` fails; a
hint names the third-party packages (which pip installs anywhere) and the extra for a
checkout, and its packages are the extra's in pyproject.toml."""

import pathlib
import re

import pytest

import nongate_np
from nongate_np.extras import EXTRAS, install_hint

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE = pathlib.Path(nongate_np.__file__).parent

# files that still print an extra of the package, each with its reason
EXCEPTIONS: dict[str, str] = {}    # file -> why it may


def _extras_of_pyproject() -> dict[str, list[str]]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # a requirement's name with its extras, without the version or the platform marker
    return {extra: [re.match(r"[A-Za-z0-9_.\-]+(\[[^]]*\])?", req.strip()).group(0)
                    for req in reqs]
            for extra, reqs in project["optional-dependencies"].items()}


def _pins_of_pyproject() -> dict[str, dict[str, str]]:
    """Per extra, each requirement pinned with == in pyproject.toml: its name -> the pin as
    written."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {extra: {req.split("==")[0]: req.split(";")[0].strip() for req in reqs
                    if "==" in req}
            for extra, reqs in project["optional-dependencies"].items()}


def test_each_hints_packages_are_in_the_extra_pyproject_lists_with_its_pins():
    """An unpinned torch from PyPI is the CUDA build (several GB) and another version than
    the one measured: a hint pins what pyproject.toml pins, torch with its CPU index."""
    declared, pins = _extras_of_pyproject(), _pins_of_pyproject()
    assert set(EXTRAS) == set(declared)
    for extra, packages in EXTRAS.items():
        names = [p.split("==")[0] for p in packages]
        assert names and set(names) <= set(declared[extra]), extra
        for name, package in zip(names, packages):
            assert package == pins[extra].get(name, name), (extra, package)
    assert install_hint("bench").startswith(
        "pip install torch==2.13.0 onnx==1.23.1 onnxruntime==1.30.0 threadpoolctl "
        "--extra-index-url https://download.pytorch.org/whl/cpu (or, in the checkout")


def test_a_hint_names_the_packages_and_the_checkouts_extra():
    assert install_hint("plot") == ("pip install matplotlib (or, in the checkout, "
                                    "pip install -e '.[plot]')")
    # brackets quoted for the shell (zsh expands them)
    assert install_hint("dask") == ("pip install 'dask[distributed]' (or, in the checkout, "
                                    "pip install -e '.[dask]')")
    assert install_hint("test") == ("pip install hypothesis (or, in the checkout, pip "
                                    "install -e '.[test]')")
    with pytest.raises(KeyError, match="no extra 'plots'; the extras are"):
        install_hint("plots")


def test_no_message_names_an_extra_of_the_package_pip_cannot_find():
    """pip install 'nongate-np[plot]' (or nongate_np[...]) fails outside a checkout."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in EXCEPTIONS:
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{name}: {m.group(0)}" for m in re.finditer(r"nongate[-_]np\[\w+\]", text)]
    assert not found, found
