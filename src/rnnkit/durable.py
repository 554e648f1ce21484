"""Durable writes: every file rnnkit writes goes through here, so a crash, a kill or a full disk leaves either the
old file or the new one, never half of one, and never a stray temporary file.

    with atomic_path("run/eval.json") as tmp:   # a temp name in the same folder
        tmp.write_text(...)                     # (or save_file(tensors, tmp), fig.savefig(tmp), ...)
    # on success: tmp fsynced, renamed over the target, the folder fsynced; on failure: tmp removed

``write_bytes`` / ``write_text`` are the one-liners. ``exchange(a, b)`` swaps two paths in one atomic rename where
the OS can (Linux ``renameat2(RENAME_EXCHANGE)``), which is how checkpoint folders are replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

TMP_TAG = ".tmp-"  # every temp name holds it: `.<name>.tmp-<pid>`; clean_stale() removes leftovers of killed runs


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is synced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - e.g. some network file systems
        pass
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """The temp name ``path`` is written under first: same folder (so the rename is atomic), hidden, pid-tagged."""
    return path.with_name(f".{path.name}{TMP_TAG}{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path to write; then fsync it, rename it over ``path`` and fsync the folder. If the block
    raises (or the rename fails), the temp file is removed and ``path`` is left as it was."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(p)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(p.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` durably (temp file, fsync, rename, fsync the folder)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` durably (temp file, fsync, rename, fsync the folder)."""
    return write_bytes(path, text.encode(encoding))


def _renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - not glibc >= 2.28
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap ``a`` and ``b`` (files or folders, both existing) in one atomic step; False where the OS or the file
    system cannot (the caller then falls back to two renames)."""
    fn = _renameat2()
    if fn is None:  # pragma: no cover
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):  # pragma: no cover
        return False
    raise OSError(err, os.strerror(err), os.fspath(a), None, os.fspath(b))


def clean_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove the temp files / folders (``.*.tmp-<pid>``, ``.*.old-<pid>``) that killed writers left in ``folder``.
    Call it only while holding the folder's run lock (nobody else writes there); returns what was removed."""
    d = Path(folder)
    removed = []
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        if p.name.startswith(".") and (TMP_TAG in p.name or ".old-" in p.name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
            removed.append(p)
    return removed
