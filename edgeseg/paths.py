"""No output over an input: one check that every command runs before any work.

A command names its inputs (checkpoint, model, source video, data set,
calibration folder, config, baseline) and its outputs (``-o``, ``--out``,
``--sink``, ``--json``, ``--stats``, ``--save-baseline``, ``--plot``).
:func:`check_outputs` refuses, naming both:

- an output that is the same file on disk as an input: compared by device and
  inode (``os.stat`` follows symbolic links, so a link, a hard link, ``./``
  and ``..`` spellings all count), not by the string;
- an output folder inside an input folder (a data set, an image folder, a
  calibration folder): its files would land among the input's files (eval's
  overlays named like the masks they would replace);
- two outputs that name the same file (the second would replace the first);
- an output whose folder does not exist, or an output folder that is a file.

The one rule for folders, the same in every command: the parent folder of an
output must exist (it is never created); an output *folder* itself
(``build -o``, ``train --out``, ``eval --overlay-dir``, an image-folder sink)
is created when missing. Numpy-free, import-light: the CLI runs it before a
handler imports its stage.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import EdgesegError

# The sink that writes nothing.
_NOT_FILES = ("null", "null://")


@dataclass(frozen=True)
class Named:
    """One path a command reads or writes.

    Attributes:
        flag: how the user gave it (``--sink``, ``-o``, ``checkpoint``), for messages.
        path: the path as given.
        folder: an output folder (created if missing) rather than a file.
    """

    flag: str
    path: str
    folder: bool = False


def local_path(uri: str) -> str | None:
    """The file-system path a source or sink URI names (a bare path or ``file://PATH``), or None
    for a camera (an index, ``/dev/video*``), a GStreamer pipeline (``gst:``) or a network stream."""
    uri = str(uri).strip()
    # ASCII digits only: str.isdigit() also accepts '²' and other digits int() refuses.
    if uri.startswith("gst:") or (uri.isascii() and uri.isdigit()) or uri.startswith("/dev/video"):
        return None
    if "://" not in uri:
        return uri
    return uri[len("file://"):] if uri.lower().startswith("file://") else None


def input_paths(flag: str, path: str | None) -> list[Named]:
    """The input :class:`Named` for ``path`` (a glob names its folder); none for None or a non-file URI."""
    local = None if path is None else local_path(path)
    if local is None:
        return []
    if glob.has_magic(local):
        return [Named(flag, os.path.dirname(local) or ".", folder=True)]
    return [Named(flag, local, folder=os.path.isdir(local))]


def sink_path(uri: str) -> Named | None:
    """The output :class:`Named` of a ``--sink`` URI: a video file, or an image folder (``dir/``, ``dir/%05d.png``)."""
    local = None if str(uri).strip() in _NOT_FILES else local_path(uri)
    if local is None:
        return None
    if "%" in os.path.basename(local):
        return Named("--sink", os.path.dirname(local) or ".", folder=True)
    # As open_sink reads it: a trailing slash, an existing folder or a name without a suffix is an image folder.
    if local.endswith(("/", os.sep)) or os.path.isdir(local) or not os.path.splitext(local)[1]:
        return Named("--sink", local, folder=True)
    return Named("--sink", local)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _how_same(output: str, source: str) -> str:
    """Why two paths that stat alike are one file, in words (for the message)."""
    if os.path.islink(output) or os.path.islink(source):
        return " (through a symbolic link)"
    if _real(output) != _real(source):
        return " (a hard link to it)"
    if output != source:
        return " (spelled differently)"
    return ""


def same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` exist and are the same file or folder on disk (device and inode)."""
    sa, sb = _stat(a), _stat(b)
    return sa is not None and sb is not None and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def inside(path: str, folder: str) -> bool:
    """True when ``path`` (existing or not) lies in ``folder`` or below it, after resolving links."""
    real, top = _real(path), _real(folder)
    return real != top and real.startswith(top.rstrip(os.sep) + os.sep)


def check_outputs(inputs: Iterable[Named], outputs: Iterable[Named]) -> None:
    """Refuse outputs that would destroy an input, collide, or have no folder to go in.

    Raises:
        EdgesegError: naming the output and the input (or the other output).
    """
    inputs = [i for i in inputs if i.path]
    outputs = [o for o in outputs if o.path]
    for out in outputs:
        for source in inputs:
            if same_file(out.path, source.path):
                kind = "folder" if os.path.isdir(source.path) else "file"
                raise EdgesegError(
                    f"{out.flag} {out.path} is the same {kind} as {source.flag} {source.path}{_how_same(out.path, source.path)}: "
                    f"writing it would destroy the input; choose another {out.flag} (nothing was written)"
                )
            if out.folder and source.folder and os.path.isdir(source.path) and inside(out.path, source.path):
                # Its files would land among the input's (overlays named like the masks they replace).
                raise EdgesegError(
                    f"{out.flag} {out.path} is inside {source.flag} {source.path}, which this command reads: "
                    f"write output folders outside the input folder (nothing was written)"
                )
        _check_place(out)
    seen: dict[str, Named] = {}
    for out in outputs:
        key = _real(out.path)
        if key in seen:
            first = seen[key]
            raise EdgesegError(f"{first.flag} {first.path} and {out.flag} {out.path} name the same file: "
                               "the second would replace the first; give each output its own name")
        seen[key] = out


def _check_place(out: Named) -> None:
    """The output's folder exists (never created); an output folder is not a file, an output file not a folder."""
    path = out.path
    if out.folder:
        if os.path.exists(path) and not os.path.isdir(path):
            raise EdgesegError(f"{out.flag} {path} is a file, but {out.flag} names a folder; choose a folder name")
        parent = os.path.dirname(os.path.abspath(path.rstrip(os.sep) or os.sep))
    else:
        if os.path.isdir(path):
            raise EdgesegError(f"{out.flag} {path} is a folder; give a file name (for example {os.path.join(path, 'out')}...)")
        parent = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(parent):
        raise EdgesegError(f"{out.flag} {path}: folder {parent} does not exist; create it first (edgeseg never creates "
                           "the folder an output goes in)")
    if not os.path.isdir(parent):
        raise EdgesegError(f"{out.flag} {path}: {parent} is not a folder")
