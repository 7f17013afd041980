"""A frame source pairing a colour video with depth, for RGB-D models (LSTM-CF).

numpy and OpenCV only. The contract:

- iterating an :class:`RGBDSource` yields uint8 H x W x 4 arrays: B, G, R (the
  colour frame as OpenCV decodes it) and the 8-bit depth channel
  ``clip(round(mm / depth_scale), 0, 255)`` (0 = no reading), exactly the input
  an RGB-D model's ONNX takes (``input.channels == 4``, see :mod:`edgeseg.metadata`);
  ``frame[..., :3]`` is the colour frame for drawing;
- H x W is the colour frame's size; depth of another size is resized to it
  with nearest-neighbour interpolation (no registration between the cameras is
  done: give depth already registered to the colour camera);
- the i-th colour frame is paired with the i-th depth frame; the source ends
  when either stream ends, and :attr:`RGBDSource.frames` counts what it yielded.
- it is a :class:`~.sources.Source` (a file source: not live, every frame is
  processed), so ``edgeseg run --source COLOUR --depth DEPTH`` feeds it to the
  normal pipeline; the overlay is drawn on ``frame[..., :3]``.

Depth comes from either:

- an image sequence: a folder of single-channel 16-bit PNGs in millimetres,
  taken in name order (``depth/000000.png``, ...), converted with ``depth_scale``;
- a video: lossy codecs hold 8 bits, so its frames are taken as depth that is
  already 8-bit in ``depth_scale`` units (the first channel of each frame).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.preprocess import depth_to_u8

from .sources import Source

log = logging.getLogger("edgeseg.sources")


def _open_video(path: str | Path, what: str) -> cv2.VideoCapture:
    if not Path(path).is_file():
        raise EdgesegError(f"{what} {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise EdgesegError(f"cannot open {what} {path}: not a video OpenCV can decode (try an .mp4 with mp4v or MJPG)")
    return capture


class DepthSequence:
    """16-bit PNG depth maps (millimetres) of a folder, in name order."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() == ".png")
        if not self.paths:
            raise EdgesegError(f"depth folder {self.folder} holds no .png depth maps")
        self.index = 0

    def read(self) -> np.ndarray | None:
        """uint16 H x W millimetres, or None at the end."""
        if self.index >= len(self.paths):
            return None
        path = self.paths[self.index]
        self.index += 1
        depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if depth is None:
            raise EdgesegError(f"cannot read depth map {path}")
        if depth.ndim != 2 or depth.dtype != np.uint16:
            raise EdgesegError(
                f"depth map {path} is {depth.dtype} with shape {depth.shape}; depth sequences must be "
                "single-channel 16-bit PNGs in millimetres"
            )
        return depth


class RGBDSource(Source):
    """Colour video + depth (folder of 16-bit PNGs or an 8-bit depth video) -> uint8 H x W x 4 frames.

    Args:
        colour: colour video file.
        depth: folder of 16-bit PNGs (mm) or a depth video file (8-bit, ``depth_scale`` units).
        depth_scale: millimetres per step of the 8-bit depth channel; use the model's
            ``metadata.input.depth_scale``.
    """

    def __init__(self, colour: str | Path, depth: str | Path, depth_scale: float):
        if depth_scale <= 0:
            raise EdgesegError(f"depth_scale must be positive (millimetres per step), got {depth_scale}")
        self.depth_scale = float(depth_scale)
        self.colour = _open_video(colour, "colour video")
        depth = Path(depth)
        try:
            if depth.is_dir():
                self.depth_frames: DepthSequence | None = DepthSequence(depth)
                self.depth_video = None
            else:
                self.depth_frames = None
                self.depth_video = _open_video(depth, "depth video")
        except BaseException:
            self.colour.release()  # a bad depth stream must not leak the colour capture
            raise
        self.frames = 0
        self.uri = f"{colour} + depth {depth}"
        self.live = False
        reported = self.colour.get(cv2.CAP_PROP_FPS)
        self.fps = reported if 0 < reported < 1000 else None
        counts = [int(self.colour.get(cv2.CAP_PROP_FRAME_COUNT)),
                  len(self.depth_frames.paths) if self.depth_frames is not None
                  else int(self._depth_capture().get(cv2.CAP_PROP_FRAME_COUNT))]
        if all(c > 0 for c in counts):
            self.frame_count = min(counts)
            if counts[0] != counts[1]:
                log.warning("colour video %s has %d frames and depth %s has %d: using the first %d of each",
                            colour, counts[0], depth, counts[1], self.frame_count)

    def _depth_capture(self) -> cv2.VideoCapture:
        """The depth video (where depth is not a folder of PNGs: __init__ opens one of the two)."""
        if self.depth_video is None:
            raise EdgesegError(f"{self.uri}: no depth video is open")
        return self.depth_video

    def _read_depth(self) -> np.ndarray | None:
        """uint8 depth in ``depth_scale`` units, or None at the end."""
        if self.depth_frames is not None:
            mm = self.depth_frames.read()
            return None if mm is None else depth_to_u8(mm, self.depth_scale)
        ok, frame = self._depth_capture().read()
        if not ok:
            return None
        return frame if frame.ndim == 2 else np.ascontiguousarray(frame[..., 0])

    def read(self) -> np.ndarray | None:
        """The next uint8 H x W x 4 frame (B, G, R, depth), or None when either stream ends."""
        ok, colour = self.colour.read()
        if not ok:
            return None
        depth = self._read_depth()
        if depth is None:
            return None
        if depth.shape != colour.shape[:2]:
            depth = cv2.resize(depth, (colour.shape[1], colour.shape[0]), interpolation=cv2.INTER_NEAREST)
        self.frames += 1
        return np.dstack([colour, depth])

    def __iter__(self):
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self.colour.release()
        if self.depth_video is not None:
            self.depth_video.release()

    def __enter__(self) -> RGBDSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
