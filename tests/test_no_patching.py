"""No test replaces a piece of the library (issue 13): tests force a path through public seams
(``ng.backend``, ``kernels.cpu.tuning``, keyword arguments, environment variables, a module
made unimportable through ``sys.modules``), never by assigning to a module global of
``nongate_np`` or replacing one of its functions.

The scan reads tests/*.py and tests/ops/*.py as syntax trees (and the scripts they hold in
strings for a subprocess) and reports

* ``monkeypatch.setattr/delattr/setitem/delitem`` and the builtins ``setattr``/``delattr``
  whose target is a name imported from ``nongate_np`` (or an attribute or item of one), or
  a dotted string starting with ``nongate_np``;
* an assignment or ``del`` whose target is an attribute or item of such a name.
"""

from __future__ import annotations

import ast
import pathlib
import textwrap

import pytest

TESTS = pathlib.Path(__file__).parent
PACKAGE = "nongate_np"
PATCHING_CALLS = {"setattr", "delattr", "setitem", "delitem"}

# (file relative to tests/, the flagged line stripped) -> why it cannot use a public seam.
ALLOWED: dict[tuple[str, str], str] = {
    ("test_threads.py", 'm.setattr(threads._Worker, "join", interrupted_join)'):
        "an exception that leaves a split between two statements (a second Ctrl-C at that "
        "moment) cannot be produced on demand; the test raises one where it could come",
}


def _library_names(tree: ast.AST) -> set[str]:
    """The names a module binds to ``nongate_np`` modules and objects by importing them."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root(node: ast.AST) -> str | None:
    """The name an attribute or item chain starts from (``a`` in ``a.b[c].d``); None when
    the chain goes through a call (``ng.Tensor(x).grad`` is a new object, not the library)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        found = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        found = [node.target]
    elif isinstance(node, ast.Delete):
        found = list(node.targets)
    else:
        return []
    flat = []
    while found:            # a, b.c = ... unpacks into each target
        target = found.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            found.extend(target.elts)
        elif isinstance(target, ast.Starred):
            found.append(target.value)
        else:
            flat.append(target)
    return flat


def find_patching(source: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line number, stripped line) of every place in ``source`` that patches the library."""
    tree = ast.parse(source)
    library = _library_names(tree)
    lines = source.splitlines()
    found = []

    def report(node):
        found.append((node.lineno + first_line - 1, lines[node.lineno - 1].strip()))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else None
            target = node.args[0]
            if name in PATCHING_CALLS and (
                    _root(target) in library or
                    isinstance(target, ast.Constant) and isinstance(target.value, str) and
                    target.value.split(".")[0] == PACKAGE):
                report(node)
        elif any(isinstance(t, (ast.Attribute, ast.Subscript)) and _root(t) in library
                 for t in _targets(node)):
            report(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                PACKAGE in node.value and "\n" in node.value:
            try:        # a script for a subprocess is scanned as code of its own
                inner = ast.parse(textwrap.dedent(node.value))
            except SyntaxError:
                continue
            if inner.body:
                found += find_patching(textwrap.dedent(node.value),
                                       first_line + node.lineno - 1)
    return found


def _test_files() -> list[pathlib.Path]:
    """Every test module but this one, whose planted cases patch on purpose."""
    return sorted(p for p in [*TESTS.glob("*.py"), *(TESTS / "ops").glob("*.py")]
                  if p.name != pathlib.Path(__file__).name)


def test_no_test_patches_the_library():
    found = {}
    for path in _test_files():
        rel = path.relative_to(TESTS).as_posix()
        for line, code in find_patching(path.read_text()):
            found[(rel, code)] = f"tests/{rel}:{line}: {code}"
    patching = [where for key, where in found.items() if key not in ALLOWED]
    assert not patching, ("tests that patch nongate_np (use a public seam instead):\n" +
                          "\n".join(patching))
    stale = [key for key in ALLOWED if key not in found]
    assert not stale, f"allowed cases that no longer occur (remove them): {stale}"


def test_the_scan_reads_every_test_file():
    names = {p.relative_to(TESTS).as_posix() for p in _test_files()}
    assert {"test_io.py", "ops/test_matmul.py", "helpers.py"} <= names
    assert "test_no_patching.py" not in names


_HEADER = textwrap.dedent("""\
    import sys
    import nongate_np as ng
    import nongate_np.kernels.cpu
    from nongate_np.training import progress
    from nongate_np.kernels import registry as reg
    from nongate_np.training.progress import ProgressBar
""")


@pytest.mark.parametrize("planted", [
    'monkeypatch.setattr(reg, "_global", "numpy")',
    'monkeypatch.setattr("nongate_np.training.progress.time.perf_counter", lambda: 0.0)',
    'monkeypatch.delattr(ng.kernels, "cpu")',
    'monkeypatch.setitem(reg._loaded, "numpy", None)',
    'mp.setattr(progress.time, "perf_counter", lambda: 0.0)',
    'setattr(progress, "ProgressBar", None)',
    "progress.time = None",
    "nongate_np.kernels.cpu.PARALLEL_MIN_MACS = 0",
    "ProgressBar.line = lambda self: ''",
    "reg._loaded['numpy'] = None",
    "ng.kernels.registry._global += 'x'",
    "a, progress.ProgressBar = 1, None",
    "del reg._loaded",
    "script = '''\n    from nongate_np.io import atomic\n    atomic.replacing = None\n'''",
])
def test_a_planted_patch_is_found(planted):
    source = _HEADER + planted + "\n"
    found = find_patching(source)
    assert len(found) == 1, found
    (line, code), = found
    assert code in planted and source.splitlines()[line - 1].strip() == code, found


def test_public_seams_and_objects_of_ones_own_are_not_reported():
    clean = _HEADER + textwrap.dedent("""\
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
        monkeypatch.setattr(mod.Softplus, "backward", None)
        model = ng.nn.Linear(2, 2)
        model.weight.requires_grad = False
        ng.Tensor([1.0]).grad = None
        bar = ProgressBar(3, clock=lambda: 0.0)
        bar.count = 2
        text = '''
            print("nongate_np")
        '''
    """)
    assert find_patching(clean) == []
