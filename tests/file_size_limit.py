"""A full disk, made real for the save tests: the OS refuses writes past a size (POSIX
``RLIMIT_FSIZE``), so the library's own code meets the failure, nothing of it replaced."""

from __future__ import annotations

import contextlib
import errno

import pytest


@contextlib.contextmanager
def file_size_limit(n_bytes: int):
    """Inside the block, a write that would take any file past ``n_bytes`` fails with
    ``OSError(EFBIG)`` (CPython ignores SIGXFSZ, so the write raises instead of killing the
    process). Skips where the platform has no ``resource`` module."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def is_file_too_large(err: BaseException) -> bool:
    """True for the error :func:`file_size_limit` causes."""
    return isinstance(err, OSError) and err.errno == errno.EFBIG
