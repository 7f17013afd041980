"""``labels://FOLDER/``: the raw label map of every frame, one uint8 PNG each.

Each pixel holds the class index the model output (0 .. classes-1, the
order of ``edgeseg info``), not a colour: the files are what an evaluation
script or a labelling tool reads. They are at the source frame's size (the
model's map resized nearest-neighbour, so no value is invented) unless
``?size=model`` asks for the model's own output size. Names follow
:class:`~.sinks.ImageFolderSink`: an image source's frames keep their input
names (``a.jpg`` -> ``a.png``), video frames are numbered.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np

from edgeseg.errors import EdgesegError

from .overlay import resize_labels
from .sinks import ImageFolderSink

LABEL_SIZES = ("frame", "model")


class LabelMapSink(ImageFolderSink):
    """uint8 single-channel PNG label maps in ``folder`` (lossless: PNG only)."""

    def __init__(self, folder: str, size: str = "frame"):
        if size not in LABEL_SIZES:
            raise EdgesegError(f"labels://{folder}: size={size!r} is not one of {', '.join(LABEL_SIZES)}")
        super().__init__(folder, what="label-map sink")
        self.uri = f"labels://{folder}"
        self.size = size

    def write(self, image: np.ndarray) -> None:
        raise EdgesegError(f"{self.uri} writes label maps; it needs the model's labels (use write_frame)")

    def write_frame(self, image: np.ndarray, *, labels: np.ndarray | None = None,
                    source_path: str | None = None, source_size: tuple[int, int] | None = None) -> None:
        if labels is None:
            raise EdgesegError(f"{self.uri}: label maps come from semantic models; this model has no label map "
                               "(proposal models: write the rendered video instead)")
        if self.size == "frame" and source_size is not None:
            labels = resize_labels(labels, *source_size)
        self._save(np.ascontiguousarray(labels, dtype=np.uint8), self.file_for(source_path))

    def close(self) -> str:
        return f"{self.uri} ({self.frames} label maps)"


def open_label_sink(uri: str) -> LabelMapSink:
    """``labels://FOLDER[?size=frame|model]`` -> :class:`LabelMapSink`."""
    parts = urlsplit(uri)
    folder = uri[len("labels://"):].split("?", 1)[0]
    if not folder:
        raise EdgesegError(f"{uri}: give a folder, e.g. labels://out/masks/")
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"size"})
    if unknown:
        raise EdgesegError(f"{uri}: unknown option(s) {unknown}; options: size=frame|model")
    return LabelMapSink(folder.rstrip("/") or "/", size=query.get("size", ["frame"])[-1])


__all__ = ["LABEL_SIZES", "LabelMapSink", "open_label_sink"]
