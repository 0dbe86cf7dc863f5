"""Crash-safe replacement of a file: the writer behind ``nongate_np.save``,
``save_safetensors`` and the training job's ``summary.json``.

A crash (or SIGKILL) at any point leaves either the previous file or the new one at the
target path, never a mix; at worst a stale ``.<name>.*.tmp`` file beside it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["replacing", "write_npz_atomically", "write_text_atomically"]


@contextlib.contextmanager
def replacing(path: str, caller: str = "save"):
    """Yield a binary file that replaces ``path`` when the block ends, all or nothing: a
    temporary file in the same directory is written, flushed, fsync'ed, given the
    permissions the target has (or a new file would get) and renamed over the target; the
    directory is fsync'ed after the rename. An exception in the block removes the temporary
    file and leaves ``path`` as it was."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{caller}: the directory {directory!r} for {path!r} does not "
                                "exist")
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def write_npz_atomically(path: str, arrays: dict) -> None:
    """Write ``arrays`` (name -> ndarray) as an uncompressed ``.npz`` at ``path`` through
    :func:`replacing`."""
    with replacing(path) as f:
        # NOTE: uncompressed, as np.savez; zip64 so members over 4 GiB work.
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, arr in arrays.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(arr),
                                              allow_pickle=False)


def write_text_atomically(path, text: str, caller: str = "save") -> None:
    """UTF-8 ``text`` at ``path`` through :func:`replacing`."""
    with replacing(os.fspath(path), caller) as f:
        f.write(text.encode("utf-8"))


def _new_file_mode(path: str) -> int:
    """The replaced file's permissions, or what ``open()`` would give a new file (mkstemp
    makes 0o600)."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o7777
    umask = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/status") as status:     # Linux: read without changing it
            umask = int(next(l for l in status if l.startswith("Umask:")).split()[1], 8)
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
