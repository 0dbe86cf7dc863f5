"""How to install what an optional feature needs. nongate-np is not on PyPI, so pip cannot
install it with an extra by name: a hint names the third-party packages, which pip installs
anywhere, and the extra of ``pyproject.toml`` for a checkout."""

from __future__ import annotations

__all__ = ["EXTRAS", "install_hint"]

#: each extra of pyproject.toml and the packages a hint names (those the feature imports),
#: pinned where pyproject.toml pins them (tests/test_extras.py checks them against it)
EXTRAS = {"plot": ["matplotlib"],
          "safetensors": ["safetensors"],
          "dask": ["dask[distributed]"],
          "mpi": ["mpi4py", "mpich"],
          "cuda": ["numba-cuda[cu13]"],
          "torch": ["torch==2.13.0"],
          "bench": ["torch==2.13.0", "onnx==1.23.1", "onnxruntime==1.30.0", "threadpoolctl"],
          "test": ["hypothesis"]}

#: PyTorch's index of CPU builds: from PyPI alone, Linux gets the CUDA build (several GB)
_TORCH_CPU = "https://download.pytorch.org/whl/cpu"


def install_hint(extra: str) -> str:
    """"pip install matplotlib (or, in the checkout, pip install -e '.[plot]')" for the
    extra ``extra``; KeyError for one pyproject.toml does not have."""
    if extra not in EXTRAS:
        raise KeyError(f"install_hint: no extra {extra!r}; the extras are {list(EXTRAS)}")
    # NOTE: a name with brackets is quoted: zsh expands them as a pattern
    names = " ".join(f"'{p}'" if "[" in p else p for p in EXTRAS[extra])
    index = f" --extra-index-url {_TORCH_CPU}" if any(
        p.startswith("torch") for p in EXTRAS[extra]) else ""
    return f"pip install {names}{index} (or, in the checkout, pip install -e '.[{extra}]')"
