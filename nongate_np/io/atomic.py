"""Crash-safe replacement of a file: the writer behind ``nongate_np.save``,
``save_safetensors`` and the training job's ``summary.json``.

A crash (or SIGKILL) at any point leaves either the previous file or the new one at the
target path, never a mix; at worst a stale ``.<name>.<tag>-<pid>.<random>.tmp`` file beside
it, which the next write to the same path removes (see :func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import stat
import tempfile
import time
import zipfile

import numpy as np

__all__ = ["replacing", "write_npz_atomically", "write_text_atomically",
           "remove_stale_temporaries"]

# A temporary file from another machine or PID namespace, untouched this long, is a killed
# save's (its writer's pid cannot be checked from here).
STALE_AFTER_S = 3600.0


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
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"{caller}: {path!r} is a directory; give the "
                                              f"path of a file (in it, or beside it)")
    kind = _special_kind(path)
    if kind is not None:
        # NOTE: the rename would delete it (a FIFO, /dev/null itself when run as root)
        raise ValueError(f"{caller}: {path!r} is {kind}, not a regular file; a checkpoint "
                         f"is written to a new file that replaces the old one, which would "
                         f"remove it: give the path of a regular file")
    mode = _new_file_mode(path)
    remove_stale_temporaries(path)
    # NOTE: the writer's pid in the name lets a later save tell a killed writer's file from a
    # live one's.
    try:
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(path)}.{WRITER_TAG}-{os.getpid()}.",
            suffix=".tmp")
    except OSError as err:              # the user named the target, not our temporary file
        raise type(err)(err.errno, f"{caller}: cannot write {path!r}: a temporary file in "
                                   f"{directory!r} cannot be created ({err.strerror})") from err
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if err.filename is not None or str(path) in str(err):
            raise
        # a full disk (ENOSPC), a file-size limit: name the file, which stays as it was
        why = err.strerror or str(err)
        message = f"{caller}: cannot write {path!r} ({why}); the file there, if any, is " \
                  f"unchanged"
        raise (type(err)(err.errno, message) if err.errno is not None else
               type(err)(message)) from err
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _special_kind(path: str) -> str | None:
    """What ``path`` is where it exists and is not a regular file (a FIFO, a device, a
    socket); None for a regular file or no file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character "
                       "device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return None


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


def remove_stale_temporaries(path: str) -> list[str]:
    """Remove the temporary files that killed writers of ``path`` left beside it; return
    their paths.

    Only files named as :func:`replacing` names them, ``.<name>.<tag>-<pid>.<8 random>.tmp``,
    are considered, and only those whose writer process no longer exists. The tag says where
    the pid can be judged: one from this machine and PID namespace (the tag of this
    process) is removed as soon as its pid is gone; one from elsewhere (another machine on a
    shared file system, another container) only once nobody has modified it for
    ``STALE_AFTER_S`` seconds, as its pid means nothing here. Anything else, a user's file
    above all, is left alone; errors are ignored (a cleanup must never fail a save)."""
    directory, name = os.path.split(os.path.realpath(path))
    pattern = re.compile(rf"\.{re.escape(name)}\.([0-9a-f]{{8}})-(\d+)\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            match = pattern.fullmatch(entry)
            if match is None:
                continue
            tag, pid = match.group(1), int(match.group(2))
            if tag == WRITER_TAG and (pid == os.getpid() or _process_exists(pid)):
                continue
            temp = os.path.join(directory, entry)
            with contextlib.suppress(OSError):
                info = os.lstat(temp)
                if not stat.S_ISREG(info.st_mode) or (
                        tag != WRITER_TAG and time.time() - info.st_mtime < STALE_AFTER_S):
                    continue
                os.unlink(temp)
                removed.append(temp)
    return removed


def _writer_tag() -> str:
    """8 hex digits naming this machine and PID namespace: where a writer's pid is valid."""
    namespace = ""
    with contextlib.suppress(OSError, AttributeError):
        namespace = os.readlink("/proc/self/ns/pid")     # Linux: "pid:[4026531836]"
    return hashlib.sha1(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


WRITER_TAG = _writer_tag()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True          # someone else's live process, or a pid we cannot test
    return True


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
