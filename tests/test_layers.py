"""The package's import graph follows its layers: no module imports from a layer above it.

Every import statement of every module (at module level or inside a function) is read from
its syntax tree and resolved to a module of nongate_np; the layer of the importing module must
be at least the layer of the imported one.
"""

import ast
from pathlib import Path

import nongate_np

PACKAGE = Path(nongate_np.__file__).parent

# Lowest first. A module belongs to the layer of its longest listed prefix.
LAYERS = [
    # stand-alone helpers and the data pipeline: they import nothing of the engine
    ["rng", "arguments", "extras", "casting", "io.atomic", "check.foreign",
     "training.progress", "training.plot", "check.testing", "check.report", "data",
     "sharedlib", "cores", "defaults", "userline", "dtypes", "torch_names"],
    ["kernels"],
    ["device", "tensor", "anomaly", "autograd", "factories", "cuda"],
    ["ops", "linalg"],
    # data parallelism hooks into the backward of a module's parameters
    ["nn", "optim", "distributed"],
    # checking, persistence and the API fuzz strategies, built on the modules and the ops
    ["check", "io", "testing"],
    ["training"],
    [""],                                    # the package's __init__: the public facade
    # the command line; Dask encoding reads its inputs as the command line does
    ["cli", "benchmark", "__main__", "dask"],
]

# (importer, imported): upward imports that stay for now, each with its reason.
EXCEPTIONS = {
    # the checkpoint records the package version, defined in the package's __init__; a
    # version module below both would remove this
    ("io.checkpoint", ""),
}


def layer_of(module: str) -> int:
    """The index in LAYERS of ``module`` (dotted, relative to the package; "" is its
    __init__)."""
    best, best_len = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".") or prefix == ""
            if matches and len(prefix) > best_len and (prefix or module == ""):
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"module nongate_np.{module} is in no layer: add it to LAYERS")
    return best


def modules():
    """(dotted name relative to the package, path) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split(".")) if dotted else PACKAGE
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(module: str, path: Path):
    """The package modules that ``module`` imports, relative to the package."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "nongate_np"]
            yield from (n.partition(".")[2] for n in names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = parts[:len(parts) - (node.level - 1)]
            elif (node.module or "").split(".")[0] == "nongate_np":
                base, node.module = [], node.module.partition(".")[2] or None
            else:
                continue
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:      # `from . import io` imports a module, not a name
                sub = f"{target}.{alias.name}".lstrip(".")
                yield sub if is_module(sub) else target


def upward_imports():
    found = set()
    for module, path in modules():
        for imported in imports(module, path):
            if layer_of(imported) > layer_of(module):
                found.add((module, imported))
    return found


def test_no_module_imports_from_a_layer_above():
    upward = upward_imports() - EXCEPTIONS
    assert not upward, "imports from a higher layer (importer -> imported): " + ", ".join(
        f"{a or 'nongate_np'} -> {b or 'nongate_np'}" for a, b in sorted(upward))


def test_every_exception_is_still_needed():
    assert EXCEPTIONS <= upward_imports(), "remove the exceptions that no longer occur"


def test_an_upward_import_is_found(tmp_path):
    tree = ast.parse("def f():\n    from ..ops import add\n")
    path = tmp_path / "autograd_probe.py"
    path.write_text(ast.unparse(tree))
    assert list(imports("nn.x", path)) == ["ops"]
    assert layer_of("ops") > layer_of("autograd")
    assert layer_of("ops.methods") == layer_of("ops") > layer_of("tensor")
