"""Video sources named by URI, as jetson-inference's ``videoSource`` names them.

=================================  ==========================================
URI                                what
=================================  ==========================================
``file://clip.mp4`` or a bare path  a video file, an image, an image folder or a glob
``v4l2:///dev/video0``, ``0``       a V4L2 / USB camera (by device or index)
``csi://0``                         a Jetson CSI camera (``nvarguscamerasrc``; needs GStreamer)
``rtsp://host/path``                an RTSP stream, read with low-latency settings
``http(s)://...``                   a network video stream (e.g. an MJPEG IP camera)
``gst:PIPELINE``                    a GStreamer pipeline ending in ``appsink`` (needs GStreamer)
``synthetic://?fps=30``             a moving test pattern at a set rate (no camera needed)
=================================  ==========================================

Camera, CSI and synthetic URIs take ``?width=W&height=H&fps=F`` options.

Every source's :meth:`Source.read` returns a uint8 H x W x 3 BGR frame, or
None at the end of the stream, and raises :class:`SourceError` when a stream
fails part-way (camera unplugged, network lost, damaged file). A source is
*live* when frames arrive at the camera's pace whether or not anyone reads
them (cameras, streams, the synthetic pattern); the pipeline then keeps only
the newest frame. Files are not live: every frame is processed, in order.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from edgeseg.datasets import IMAGE_SUFFIXES
from edgeseg.errors import EdgesegError
from edgeseg.paths import local_path  # noqa: F401  (re-exported: run and bench import it from here)

log = logging.getLogger("edgeseg.sources")

# Containers whose header states the frame count exactly; for others (.mkv, .ts, ...)
# OpenCV may estimate it from duration x rate, so a shortfall is not proof of damage.
EXACT_COUNT_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".flv", ".wmv")
SOURCE_SCHEMES = ("file", "v4l2", "csi", "rtsp", "rtsps", "http", "https", "gst", "synthetic")
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000


class SourceError(EdgesegError):
    """A source that stopped delivering frames part-way through a run."""


def gstreamer_available() -> bool:
    """Whether this OpenCV build can open GStreamer pipelines."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


def gstreamer_missing_message(uri: str) -> str:
    return (
        f"{uri} needs OpenCV with GStreamer, but this OpenCV ({cv2.__version__}) was built without it "
        "(cv2.getBuildInformation() says 'GStreamer: NO'). On a Jetson, use the system OpenCV that comes with "
        "JetPack (apt install python3-opencv) and remove pip's opencv-python / opencv-python-headless from this "
        "environment (pip uninstall opencv-python opencv-python-headless); a virtual environment needs "
        "--system-site-packages to see it. Elsewhere, build OpenCV with -DWITH_GSTREAMER=ON."
    )


class Source(ABC):
    """A stream of uint8 H x W x 3 BGR frames.

    Attributes:
        uri: what the user asked for, for messages.
        live: frames arrive at their own pace (drop stale ones) rather than on demand.
        fps: nominal frame rate, or None if unknown (used for video sinks and pacing).
        frame_count: frames in a file, or None for streams and unknown lengths.
        frame_path: the file the frame last read came from (image sources), else None.
    """

    uri: str = ""
    live: bool = False
    fps: float | None = None
    frame_count: int | None = None
    frame_path: str | None = None

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of the stream; :class:`SourceError` if the stream failed."""

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _quiet_opencv() -> None:
    # OpenCV prints its own warnings for every failed open; our errors say more.
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # pragma: no cover - very old OpenCV
        pass


class CaptureSource(Source):
    """A ``cv2.VideoCapture``: video file, camera, network stream or GStreamer pipeline."""

    def __init__(self, uri: str, target: str | int, api: int, *, live: bool, what: str, hint: str,
                 params: list[int] | None = None, fps: float | None = None, pace: bool = False,
                 settings: dict[int, float] | None = None, exact_count: bool = True):
        """Open ``target`` with OpenCV backend ``api``.

        Args:
            uri: the user's URI, for messages.
            target: file name, device, URL, pipeline or camera index.
            api: ``cv2.CAP_*`` backend.
            live: see :class:`Source`.
            what: e.g. "camera", "video file", used in messages.
            hint: how to fix a failed open.
            params: ``VideoCapture`` open parameters (``[prop, value, ...]``).
            fps: nominal rate to report when the stream does not say.
            pace: deliver frames no faster than ``fps`` (a file played as if live).
            settings: ``cap.set`` properties applied after opening (camera size, rate, buffer).
            exact_count: the reported frame count is exact, so ending short of it is an error.
        """
        _quiet_opencv()
        self.uri = uri
        self.live = live
        self.what = what
        cap = cv2.VideoCapture(target, api, params or [])
        if not cap.isOpened():
            cap.release()
            raise EdgesegError(f"cannot open {what} {uri}: {hint}")
        for prop, value in (settings or {}).items():
            cap.set(prop, value)
        self.cap: cv2.VideoCapture | None = cap
        reported = cap.get(cv2.CAP_PROP_FPS)
        self.fps = reported if 0 < reported < 1000 else fps
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if (not live or pace) and count > 0 else None
        self.frames_read = 0
        self.exact_count = exact_count
        self._pace = 1.0 / self.fps if pace and self.fps else 0.0
        self._next_due = 0.0

    def read(self) -> np.ndarray | None:
        if self._pace:
            now = time.perf_counter()
            if self._next_due > now:
                time.sleep(self._next_due - now)
            self._next_due = max(now, self._next_due) + self._pace
        if self.cap is None:
            raise SourceError(f"{self.what} {self.uri} was closed")
        ok, frame = self.cap.read()
        if not ok or frame is None:
            self._ended()
            return None
        self.frames_read += 1
        if frame.ndim == 2:  # some cameras deliver grey frames
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        return frame

    def _ended(self) -> None:
        """At a failed read: return quietly at a real end of stream, else raise :class:`SourceError`."""
        if self.frame_count is not None:
            if self.frames_read < self.frame_count and not self.exact_count:
                log.warning("%s: decoded %d frames; the container estimated %d", self.uri, self.frames_read, self.frame_count)
            elif self.frames_read < self.frame_count:
                raise SourceError(
                    f"{self.what} {self.uri} ended after {self.frames_read} of its {self.frame_count} frames: "
                    "the file is truncated or damaged"
                )
            return
        if self.live:
            raise SourceError(
                f"{self.what} {self.uri} stopped delivering frames after {self.frames_read} "
                "(unplugged, network lost, or the stream ended)"
            )

    def close(self) -> None:
        cap, self.cap = getattr(self, "cap", None), None
        if cap is not None:
            cap.release()


class ImageSource(Source):
    """A list of still images (one file, a folder or a glob), each read once, in sorted order."""

    def __init__(self, uri: str, paths: list[Path]):
        self.uri = uri
        self.paths = paths
        self.frame_count = len(paths)
        self.fps = None
        self._next = 0

    def read(self) -> np.ndarray | None:
        if self._next >= len(self.paths):
            return None
        path = self.paths[self._next]
        self._next += 1
        self.frame_path = str(path)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot read image {path} (image {self._next} of {len(self.paths)} from {self.uri})")
        return image


class SyntheticSource(Source):
    """A moving colour pattern with the frame number drawn on it, delivered at ``fps``.

    A live source with a known rate: lets the pipeline, sinks and web viewer be
    exercised without a camera. ``frames=0`` means endless.
    """

    def __init__(self, uri: str = "synthetic://", *, width: int = 640, height: int = 480, fps: float = 30.0,
                 frames: int = 0):
        if not (width > 0 and height > 0 and fps > 0 and frames >= 0):  # also refuses NaN
            raise EdgesegError(f"{uri}: width, height and fps must be positive and frames >= 0")
        self.uri = uri
        self.live = True
        self.fps = self.rate = fps
        self.width, self.height, self.frames = width, height, frames
        self.frame_count = None
        self._index = 0
        self._t0: float | None = None
        yy, xx = np.mgrid[0:height, 0:width]
        self._base = ((xx * 255 // max(width - 1, 1)) ^ (yy * 255 // max(height - 1, 1))).astype(np.uint8)

    def read(self) -> np.ndarray | None:
        if self.frames and self._index >= self.frames:
            return None
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._index / self.rate
        if due > now:
            time.sleep(due - now)
        shift = (self._index * 8) % self.width
        moving = np.roll(self._base, shift, axis=1)
        frame = np.dstack([moving, np.roll(moving, self.height // 3, axis=0), 255 - moving])
        cv2.putText(frame, f"{self._index}", (10, self.height - 12), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        self._index += 1
        return frame


# Larger values are typos, and a huge width/height would allocate frames of petabytes.
OPTION_LIMITS = {"width": 16384, "height": 16384, "fps": 1000, "frames": 10**12}


def _options(query: str, uri: str, allowed: tuple[str, ...]) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, items in parse_qs(query, keep_blank_values=True).items():
        if key not in allowed:
            raise EdgesegError(f"{uri}: unknown option {key!r}; options here: {', '.join(allowed) or 'none'}")
        try:
            values[key] = float(items[-1])
        except ValueError:
            raise EdgesegError(f"{uri}: option {key}={items[-1]!r} is not a number") from None
        limit = OPTION_LIMITS.get(key, 10**12)
        if not math.isfinite(values[key]) or not 0 <= values[key] <= limit:
            raise EdgesegError(f"{uri}: option {key}={items[-1]!r} must be a number from 0 to {limit}")
    return values


def _camera_settings(opts: dict[str, float]) -> dict[int, float]:
    settings = {cv2.CAP_PROP_BUFFERSIZE: 1.0}  # hold one frame, not a queue of stale ones
    if "width" in opts:
        settings[cv2.CAP_PROP_FRAME_WIDTH] = opts["width"]
    if "height" in opts:
        settings[cv2.CAP_PROP_FRAME_HEIGHT] = opts["height"]
    if "fps" in opts:
        settings[cv2.CAP_PROP_FPS] = opts["fps"]
    return settings


def open_camera(uri: str, device: str | int, opts: dict[str, float]) -> Source:
    """A V4L2 camera by device path (``/dev/video0``) or index."""
    if isinstance(device, int) and sys.platform.startswith("linux") and not Path(f"/dev/video{device}").exists():
        device = f"/dev/video{device}"  # V4L2 numbers cameras like their device nodes: name the missing one
    if isinstance(device, str) and not Path(device).exists():
        present = sorted(glob.glob("/dev/video*"))
        raise EdgesegError(
            f"cannot open camera {uri}: {device} does not exist (video devices here: "
            f"{', '.join(present) if present else 'none'}); check the cable, or list cameras with 'v4l2-ctl --list-devices'"
        )
    api = cv2.CAP_V4L2 if os.name == "posix" and hasattr(cv2, "CAP_V4L2") else cv2.CAP_ANY
    return CaptureSource(
        uri, device, api, live=True, what="camera", fps=opts.get("fps", 30.0), settings=_camera_settings(opts),
        hint="the device exists but OpenCV could not start it: it may be in use by another program, "
        "need permission (add your user to the 'video' group), or not support the requested size",
    )


def csi_pipeline(sensor: int, width: int, height: int, fps: int) -> str:
    """The nvarguscamerasrc pipeline jetson-inference uses, ending in a BGR appsink that keeps one frame."""
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={fps}/1, format=NV12 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! "
        "video/x-raw, format=BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def rtsp_pipeline(url: str) -> str:
    """An RTSP GStreamer pipeline with no jitter buffer delay and a one-frame appsink."""
    return (f"rtspsrc location={url} latency=0 ! decodebin ! videoconvert ! video/x-raw, format=BGR ! "
            "appsink drop=true max-buffers=1 sync=false")


def open_network_stream(uri: str) -> Source:
    """RTSP or HTTP: GStreamer with latency=0 where OpenCV has it, else FFmpeg with buffering off."""
    hint = "check the address, that the server is up and reachable, and any user:password in the URI"
    if uri.startswith(("rtsp://", "rtsps://")) and gstreamer_available():
        return CaptureSource(uri, rtsp_pipeline(uri), cv2.CAP_GSTREAMER, live=True, what="stream", hint=hint, fps=30.0)
    # OpenCV's FFmpeg backend reads this variable when a capture opens: TCP (no
    # lost UDP packets smearing frames), no input buffering, low-delay decoding.
    # Set only around this open: low_delay makes FFmpeg drop frames of ordinary
    # video files opened later in the same process.
    key = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
    previous = os.environ.get(key)
    os.environ[key] = previous or "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay"
    try:
        return CaptureSource(
            uri, uri, cv2.CAP_FFMPEG, live=True, what="stream", hint=hint, fps=30.0,
            params=[cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS],
            settings={cv2.CAP_PROP_BUFFERSIZE: 1.0},
        )
    finally:
        if previous is None:
            del os.environ[key]
        else:
            os.environ[key] = previous


def open_path(uri: str, target: str, *, live: bool) -> Source:
    """A video file, an image, an image folder or a glob of images."""
    if any(ch in target for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(target) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise EdgesegError(f"no images match {target} (image types: {', '.join(IMAGE_SUFFIXES)})")
        return ImageSource(uri, paths)
    path = Path(target)
    if not path.exists():
        raise EdgesegError(f"source {uri}: {path} does not exist; give a video file, an image, an image folder or a glob")
    if path.is_dir():
        paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise EdgesegError(f"source folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageSource(uri, paths)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageSource(uri, [path])
    if path.stat().st_size == 0:
        raise EdgesegError(f"video file {path} is empty (0 bytes)")
    source = CaptureSource(
        uri, str(path), cv2.CAP_FFMPEG, live=live, pace=live, what="video file", fps=30.0,
        exact_count=suffix in EXACT_COUNT_SUFFIXES,
        hint="the file is damaged or not a video OpenCV's FFmpeg can decode "
        f"(known video types: {', '.join(VIDEO_SUFFIXES)})",
    )
    return source


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' and other digits int() refuses."""
    return text.isascii() and text.isdigit()


def open_source(uri: str, *, live: bool = False) -> Source:
    """Open the source named by ``uri`` (see the module docstring).

    Args:
        uri: a URI or bare path.
        live: treat a file as a live source: play it at its own frame rate and
            drop frames the pipeline cannot keep up with (as a camera would).
    """
    uri = str(uri).strip()
    if not uri:
        raise EdgesegError("empty --source; give a file, folder, camera (v4l2:///dev/video0, 0), csi://0, rtsp://..., or gst:PIPELINE")
    if uri.startswith("gst:"):
        if not gstreamer_available():
            raise EdgesegError(gstreamer_missing_message("gst: sources"))
        pipeline = uri[4:].strip()
        if "appsink" not in pipeline:
            raise EdgesegError(f"GStreamer source {pipeline!r} must end in an appsink (e.g. '... ! videoconvert ! appsink')")
        return CaptureSource(uri, pipeline, cv2.CAP_GSTREAMER, live=True, what="GStreamer pipeline", fps=30.0,
                             hint="check the pipeline with gst-launch-1.0 (replace appsink with fakesink)")
    if _is_number(uri):
        return open_camera(uri, int(uri), {})
    if "\0" in uri:
        raise EdgesegError(f"source {uri!r} contains a NUL character; give a file, folder, camera or URI")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket: http://[::1
        raise EdgesegError(f"source {uri}: not a valid URI ({exc}); check the address") from None
    scheme = parts.scheme.lower() if "://" in uri else ""
    if not scheme:
        if uri.startswith("/dev/video"):
            return open_camera(uri, uri, {})
        return open_path(uri, uri, live=live)
    if scheme == "file":
        return open_path(uri, uri[len("file://"):], live=live)
    if scheme == "v4l2":
        opts = _options(parts.query, uri, ("width", "height", "fps"))
        device = parts.path or parts.netloc
        return open_camera(uri, int(device) if _is_number(device) else device, opts)
    if scheme == "csi":
        if not gstreamer_available():
            raise EdgesegError(gstreamer_missing_message(uri))
        opts = _options(parts.query, uri, ("width", "height", "fps"))
        sensor = parts.netloc or "0"
        if not _is_number(sensor):
            raise EdgesegError(f"{uri}: the CSI sensor must be a number (csi://0, csi://1)")
        width, height, fps = int(opts.get("width", 1280)), int(opts.get("height", 720)), int(opts.get("fps", 30))
        return CaptureSource(
            uri, csi_pipeline(int(sensor), width, height, fps), cv2.CAP_GSTREAMER, live=True, what="CSI camera",
            fps=float(fps), hint="check the ribbon cable and sensor id, and that nvargus-daemon is running "
            "(sudo systemctl restart nvargus-daemon)",
        )
    if scheme in ("rtsp", "rtsps", "http", "https"):
        return open_network_stream(uri)
    if scheme == "synthetic":
        opts = _options(parts.query, uri, ("width", "height", "fps", "frames"))
        return SyntheticSource(uri, width=int(opts.get("width", 640)), height=int(opts.get("height", 480)),
                               fps=opts.get("fps", 30.0), frames=int(opts.get("frames", 0)))
    raise EdgesegError(f"unknown source scheme {scheme}:// in {uri}; known: {', '.join(s + '://' for s in SOURCE_SCHEMES)} or a path")


__all__ = ["SOURCE_SCHEMES", "CaptureSource", "ImageSource", "Source", "SourceError", "SyntheticSource",
           "gstreamer_available", "open_source"]
