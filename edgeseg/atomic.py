"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted or failed write never leaves a partial file under the final
name: the temporary file is removed on error, and ``os.replace`` is atomic on
POSIX and Windows when source and target are on the same file system.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import EdgesegError

_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _check_parent(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise EdgesegError(f"cannot write {path}: folder {parent} does not exist; create it or choose another path")
    if not parent.is_dir():
        raise EdgesegError(f"cannot write {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise EdgesegError(f"cannot write {path}: folder {parent} is not writable")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, make_parents: bool = False, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``path``, else delete it.

    Args:
        path: the final file name.
        make_parents: create missing parent folders first.
        keep_suffix: end the temporary name with ``path``'s suffix, for writers
            that pick the format from it (OpenCV's VideoWriter and imwrite).
    """
    final = Path(path)
    if make_parents:
        final.parent.mkdir(parents=True, exist_ok=True)
    _check_parent(final)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{final.suffix}" if keep_suffix else ".tmp",
                                    dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; give the file the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in _FULL:
            # A full disk or quota is the user's to fix: one message, not a traceback.
            raise EdgesegError(
                f"cannot write {final}: {exc.strerror or exc} on the file system of {final.parent}; "
                f"free some space (or pick another folder) and run again; {final.name} was left as it was"
            ) from exc
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, make_parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (fsync before the rename)."""
    with atomic_path(path, make_parents=make_parents) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str, *, make_parents: bool = False) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), make_parents=make_parents)
