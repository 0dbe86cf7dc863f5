"""The documentation holds together: every equation number the code cites exists in
docs/math.md, the README's first example runs, and no Markdown file, docstring or comment
points at a file that is not in the repository."""

import ast
import fnmatch
import io
import os
import pathlib
import re
import tokenize

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nongate_np"
# A citation: "docs/math.md E3", "(E3)", "(E3; ...)", "# E3", a label with a letter ("G2a"),
# ranges such as "E13-E15" or "E13-15", and lists such as "(A10, A11)" or "(L3 and L4)".
LABEL = r"[ELAGKMR]\d+[a-z]?"
CITATION = re.compile(rf"(?:math\.md\s+|\(|#\s*)({LABEL}(?:\s*,\s*{LABEL}|\s+and\s+{LABEL}"
                      rf"|-[ELAGKMR]?\d+\b)*)")


def _labels(citation: str) -> list[str]:
    """The labels of one citation, its ranges expanded: "E13-15, A2" -> E13, E14, E15, A2."""
    labels, letter, previous = [], "", 0
    for dash, part, number, suffix in re.findall(r"(-)?([ELAGKMR]?)(\d+)([a-z]?)", citation):
        letter = part or letter
        first = previous + 1 if dash else int(number)
        labels += [f"{letter}{k}" for k in range(first, int(number))]
        labels.append(f"{letter}{number}{suffix}")
        previous = int(number)
    return labels


def _defined_numbers() -> set[str]:
    text = (ROOT / "docs" / "math.md").read_text(encoding="utf-8")
    return set(re.findall(r"\*\*([ELAGKMR]\d{1,2}[a-z]?)[ .*]", text))


def _cited_numbers() -> dict[str, set[str]]:
    cited = {}
    for path in PACKAGE.rglob("*.py"):
        for citation in CITATION.findall(path.read_text(encoding="utf-8")):
            for label in _labels(citation):
                cited.setdefault(label, set()).add(path.name)
    return cited


def test_citations_are_parsed_with_their_ranges_lists_and_letters():
    assert _labels("E13-E15") == _labels("E13-15") == ["E13", "E14", "E15"]
    found = [_labels(c) for c in CITATION.findall("(A10, A11) # G2a, docs/math.md L3 and L4 "
                                                  "(E3, 4 µs)")]
    assert found == [["A10", "A11"], ["G2a"], ["L3", "L4"], ["E3"]]


def test_every_cited_equation_exists():
    defined = _defined_numbers()
    assert len(_cited_numbers()) >= 17, "citations in the code are not parsed"
    assert {"E1", "E10", "E17", "G2", "G2a"} <= defined, "math.md headings are not parsed"
    missing = {n: sorted(files) for n, files in _cited_numbers().items() if n not in defined}
    assert not missing, f"cited in code but not defined in docs/math.md: {missing}"


def test_every_op_cites_its_equation():
    """Every Function of every module of nongate_np.ops, each defined there."""
    import importlib
    import inspect
    import pkgutil

    import nongate_np.ops as ops_pkg
    from nongate_np.autograd import Function
    checked, uncited = 0, []
    for info in pkgutil.iter_modules(ops_pkg.__path__):
        module = importlib.import_module(f"nongate_np.ops.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Function) and cls.__module__ == module.__name__:
                checked += 1
                if not re.search(rf"\b{LABEL}\b", cls.__doc__ or ""):
                    uncited.append(f"{info.name}.{name}")
    assert checked >= 50, f"only {checked} ops found: the walk over nongate_np.ops is broken"
    assert not uncited, f"ops whose docstring cites no equation of docs/math.md: {uncited}"


def test_readme_first_example_runs():
    """The README's first Python block runs as written and fills every gradient."""
    import nongate_np as ng
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    leaves = [v for v in namespace.values()
              if isinstance(v, ng.Tensor) and v.requires_grad and v.is_leaf]
    assert leaves, "the README's first example has no tensor that requires grad"
    for leaf in leaves:
        assert leaf.grad is not None and leaf.grad.shape == leaf.shape
        assert np.all(np.isfinite(leaf.grad))


def test_readme_gradcheck_failure_is_what_its_example_prints():
    """The README's gradcheck example with a planted bug raises, and every line of the
    failure it shows (the elided ones aside) is in the message the code gives."""
    import nongate_np as ng
    from nongate_np.check import GradcheckError
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = next(b.split("```", 1)[0] for b in readme.split("```python\n")[1:]
                if "f_vjp" in b)
    shown = readme.split(code, 1)[1].split("```", 3)[2]   # the plain block after it
    namespace = {"ng": ng, "np": np, "x": ng.tensor(np.ones((2, 3))),
                 "w": ng.tensor(np.ones((3, 2)))}
    with pytest.raises(GradcheckError) as info:
        exec(compile(code, "README.md", "exec"), namespace)
    message = f"{type(info.value).__module__}.GradcheckError: {info.value}"
    lines = [line for line in shown.splitlines() if line.strip() not in ("", "...")]
    assert len(lines) >= 4
    for line in lines:
        assert line in message.splitlines(), (line, message)


def test_readme_gunpoint_example_learns(monkeypatch):
    """The README's Python block on GunPoint runs as written (its placeholder ragged arrays
    and their labels given) and beats the majority class, 0.493 on the test file, which a
    model that had not learned (ln 2 loss) scored in an earlier version of the block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    code = next(b for b in blocks if "GunPoint_TRAIN.ts" in b)
    monkeypatch.chdir(ROOT)                      # the block's paths are the checkout's
    namespace = {"list_of_arrays": [np.ones((5, 1)), np.ones((3, 1))],
                 "labels": np.array([1, 0])}
    exec(compile(code, "README.md", "exec"), namespace)
    scores = namespace["evaluate"](namespace["model"], namespace["test"])
    majority = np.bincount(namespace["test"].targets["label"]).max() / len(namespace["test"])
    assert scores["label/accuracy"] > majority + 0.05
    assert namespace["names"] == namespace["train"].tasks[0]["classes"] == ["1", "2"]
    assert namespace["x"].shape == (2, 5, 1) and list(namespace["lengths"]) == [5, 3]
    assert len(namespace["mine"]) == 2 and list(namespace["mine"].targets["label"]) == [1, 0]


# ---------------------------------------------------------------------------------------------
# References to files
# ---------------------------------------------------------------------------------------------
# What counts as a reference to a file: a name with one of these extensions, with or without
# folders (docs/math.md, kernels/cpu/lstm.py, ../README.md), not preceded by a character that
# would make it part of something longer (a URL's tail, <name>.py, *.md, $VAR.json).
FILE_REF = re.compile(r"(?<![\w./<>{}*$%~@:\\-])((?:\.\.?/)*[\w-]+(?:[./][\w-]+)*"
                      r"\.(?:py|md|toml|json|ts|csv|npz))(?![\w/-])")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
# [text](target) and a reference definition "[label]: target".
MD_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*)?\)"
                     r"|^\s*\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
# A bare data-file name (model.npz, summary.json, TRAIN.ts) is a user's file or one a run
# writes; a bare name of one of these kinds is a file of the repository (a sibling module,
# README.md).
SOURCE_SUFFIXES = {".py", ".md", ".toml"}
# Metavariables of usage lines, as in "python examples/NAME.py --help".
PLACEHOLDER_STEMS = {"NAME", "FILE", "X", "INPUT", "OUTPUT", "CHECKPOINT", "TRAIN", "TEST"}
# Folders that hold no documentation: tools' caches, build outputs, virtual environments.
SKIP_DIRS = {"__pycache__", "build", "dist", "node_modules"}
PYTHON_DIRS = ("nongate_np", "tests", "examples", "bench")
# References in other people's files that are broken now, as (file, reference); each one is
# to be fixed and then removed from here.
KNOWN_BROKEN: set[tuple[str, str]] = set()


def _ignore_patterns() -> list[str]:
    """The repository's .gitignore patterns: what a run writes (runs/, latest.json)."""
    path = ROOT / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line.strip().strip("/") for line in lines
            if line.strip() and not line.startswith(("#", "!"))]


def _ignored(ref: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(ref, p) or fnmatch.fnmatch(ref, p + "/*") for p in patterns)


def _repository_files() -> list[pathlib.Path]:
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                   and not d.endswith(".egg-info")]
        files += [pathlib.Path(folder, n) for n in names]
    return files


def _inside(path: pathlib.Path) -> bool:
    """``path`` exists and lies in the repository (``../`` may not leave it)."""
    path = path.resolve()
    return path.exists() and (path == ROOT or ROOT in path.parents)


def _python_texts(path: pathlib.Path):
    """(first line, text) of every docstring and comment of a Python file."""
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                yield node.body[0].lineno, doc
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def broken_file_references(path: pathlib.Path, texts, names: set[str], patterns: list[str]):
    """(file, line, reference) for each reference in ``texts`` ((first line, text) pairs of
    the file ``path``) to a file that is not in the repository.

    A reference with folders must exist relative to the referring file's folder, the
    repository root or the package's folder (the docs write ``ops/lstm.py``); a bare
    ``.py``/``.md``/``.toml`` name must be the name of a repository file (``names``).
    Not checked: URLs, paths .gitignore covers (``patterns``: what a run writes), bare
    data-file names and placeholders (``examples/NAME.py``).
    """
    rel = path.relative_to(ROOT).as_posix()
    for first_line, text in texts:
        text = URL.sub(lambda m: " " * len(m.group()), text)
        for match in FILE_REF.finditer(text):
            ref = match.group(1)
            target = pathlib.PurePosixPath(ref)
            if target.stem in PLACEHOLDER_STEMS or _ignored(ref.lstrip("./"), patterns):
                continue
            if "/" not in ref:
                found = target.suffix not in SOURCE_SUFFIXES or ref in names
            else:
                found = any(_inside(base / ref) for base in (path.parent, ROOT, PACKAGE))
            if not found:
                yield rel, first_line + text.count("\n", 0, match.start()), ref


def broken_markdown_links(path: pathlib.Path, text: str):
    """(file, line, target) for each relative link of a Markdown file whose target (taken
    from the file's folder, as GitHub does; ``/x`` from the root) does not exist."""
    rel = path.relative_to(ROOT).as_posix()
    for match in MD_LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if target.startswith("#") or re.match(r"[a-zA-Z][\w+.-]*:", target):
            continue                    # an anchor in this file, a URL, mailto:
        local = target.split("#", 1)[0].split("?", 1)[0]
        base = ROOT if local.startswith("/") else path.parent
        if not _inside(base / local.lstrip("/")):
            yield rel, text.count("\n", 0, match.start()) + 1, target


def _documents():
    """The Markdown files anywhere in the repository, and the Python files of the package,
    the tests, the examples and the benchmark, each with its texts to check."""
    patterns = _ignore_patterns()
    for path in _repository_files():
        rel = path.relative_to(ROOT).as_posix()
        if _ignored(rel, patterns):
            continue
        if path.suffix == ".md":
            yield path, [(1, path.read_text(encoding="utf-8"))]
        elif path.suffix == ".py" and rel.split("/")[0] in PYTHON_DIRS:
            yield path, list(_python_texts(path))


def _broken_references() -> list[tuple[str, int, str]]:
    names = {p.name for p in _repository_files()}
    patterns = _ignore_patterns()
    broken, scanned = [], set()
    for path, texts in _documents():
        scanned.add(path.relative_to(ROOT).as_posix())
        broken += broken_file_references(path, texts, names, patterns)
        if path.suffix == ".md":
            broken += broken_markdown_links(path, texts[0][1])
    assert {"docs/math.md", "README.md", "nongate_np/kernels/cpu/lstm.py",
            "tests/test_docs.py"} <= scanned, "the scan missed files it must read"
    return list(dict.fromkeys(broken))          # a link is also a file name: report it once


def test_every_referenced_file_exists():
    """No Markdown file, docstring or comment names a file, or links to a path, that is not
    in the repository (KNOWN_BROKEN aside, and each of those must still be broken)."""
    broken = _broken_references()
    new = [f"{file}:{line}: {ref}" for file, line, ref in broken
           if (file, ref) not in KNOWN_BROKEN]
    assert not new, "references to files that are not in the repository:\n" + "\n".join(new)
    fixed = KNOWN_BROKEN - {(file, ref) for file, _, ref in broken}
    assert not fixed, f"fixed: remove these from KNOWN_BROKEN: {sorted(fixed)}"


@pytest.mark.parametrize("text, broken", [
    ("the naming table of DESIGN.md", ["DESIGN.md"]),
    ("see `docs/maths.md` E3", ["docs/maths.md"]),
    ("kernels/cpu/lstms.py and ../shared/STYLE.md", ["kernels/cpu/lstms.py",
                                                      "../shared/STYLE.md"]),
    ("docs/math.md, ops/lstm.py, kernels/cpu/lstm.py, README.md, gemm.py, "
     "bench/RESULTS.md, tests/data/GunPoint_TRAIN.ts", []),
    ("model.npz, summary.json, TRAIN.ts, runs/text/model.npz, examples/NAME.py, "
     "bench/results/latest.json, https://example.org/DESIGN.md, test_<op>.py", []),
])
def test_file_reference_check_finds_what_is_missing(text, broken):
    """The check on planted text: it flags exactly the references to files that are not here
    (tests/test_docs.py stands for the referring file)."""
    names = {p.name for p in _repository_files()}
    found = list(broken_file_references(ROOT / "tests" / "test_docs.py", [(7, "\n" + text)],
                                        names, _ignore_patterns()))
    assert [ref for _, _, ref in found] == broken
    assert all((file, line) == ("tests/test_docs.py", 8) for file, line, _ in found)


def test_markdown_link_check_finds_what_is_missing():
    text = ("[math](docs/math.md) [E3](docs/math.md#part-e) [site](https://example.org/x) "
            "[top](#layout) [bench](bench/) [root](/README.md)\n"
            "[design](DESIGN.md) and [style](../shared/STYLE.md)\n"
            "[ref]: docs/missing.md\n")
    found = list(broken_markdown_links(ROOT / "README.md", text))
    assert found == [("README.md", 2, "DESIGN.md"), ("README.md", 2, "../shared/STYLE.md"),
                     ("README.md", 3, "docs/missing.md")]
