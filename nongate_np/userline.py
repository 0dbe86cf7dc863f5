"""Where a warning should point: the user's line, not the library's.

A warning issued deep inside the package (an op reached through a module's forward, a
kernel module imported on a model's first call) names the first frame outside it with the
``stacklevel`` this module computes. Stand-alone: it imports nothing of the package.
"""

from __future__ import annotations

import os
import sys

__all__ = ["callers_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def callers_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` in the function calling this one
    name the first line outside nongate_np and Python's import machinery: the user's call
    or ``import``, however deep inside the package the warning is issued."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        name = frame.f_code.co_filename
        if _importing(name):
            frame = frame.f_back        # not counted: warnings.warn skips these itself
        elif name.startswith(_PACKAGE):
            frame, level = frame.f_back, level + 1
        else:
            break
    return level


def _importing(filename: str) -> bool:
    """A frame of Python's import machinery, by the test ``warnings.warn`` uses to skip it."""
    return "importlib" in filename and "_bootstrap" in filename
