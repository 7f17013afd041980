"""Where rendered frames go, named by URI (jetson-inference's ``videoOutput`` names).

=================================  ==========================================
URI                                what
=================================  ==========================================
``out.mp4``, ``file://out.avi``     a video file (.mp4/.m4v/.mov: H.264 through PyAV, NVENC where present,
                                   else libx264 -- browsers play it; .avi/.mkv: Motion JPEG)
``frames/``, ``frames/%05d.jpg``    an image folder: an image source's frames keep their input names
                                   (``a.jpg`` -> ``frames/a.png``), others are ``000000.png``, ...;
                                   a pattern always numbers them
``labels://masks/``                 the label map of each frame as a uint8 PNG (the model's class values,
                                   at the frame's size, nearest-neighbour), named like an image folder
``rtsp://127.0.0.1:8554/edgeseg``   H.264 published to an RTSP server (MediaMTX, ...): :mod:`.sinks_rtsp`
``webrtc://127.0.0.1:8081``         a page whose browser receives the video over WebRTC: :mod:`.sinks_webrtc`
``display://0``                     a window (needs a display and an OpenCV with a GUI)
``http://127.0.0.1:8080``           the web viewer: MJPEG stream plus live FPS, latency and drops
``null``                            nothing (for measuring)
=================================  ==========================================

pip's OpenCV has no H.264 encoder, so .mp4 goes through PyAV
(:mod:`.sinks_video`); ``codec="mp4v"`` keeps OpenCV's MPEG-4 Part 2. Every file is written under a
temporary name and renamed when the sink closes, so an interrupted run leaves
either a finished, playable file or none. The web viewer binds to the host in
its URI (127.0.0.1 by default); ``?token=SECRET`` makes it ask for the token,
which it should when bound to another address.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from edgeseg.atomic import atomic_path
from edgeseg.datasets import IMAGE_SUFFIXES
from edgeseg.errors import EdgesegError

log = logging.getLogger("edgeseg.sinks")

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
SINK_SCHEMES = ("file", "labels", "rtsp", "webrtc", "display", "http", "null")


class Sink(ABC):
    """Takes uint8 H x W x 3 BGR frames, in order.

    ``stop_requested`` becomes True when the sink wants the run to end (a
    window closed by the user).
    """

    uri: str = ""
    stop_requested: bool = False

    @abstractmethod
    def write(self, image: np.ndarray) -> None:
        """Consume one uint8 H x W x 3 BGR frame (the caller keeps ownership)."""

    def write_frame(self, image: np.ndarray, *, labels: np.ndarray | None = None,
                    source_path: str | None = None, source_size: tuple[int, int] | None = None) -> None:
        """What the pipeline calls: the rendered ``image`` plus what some sinks need.

        Args:
            image: the rendered uint8 H x W x 3 BGR frame.
            labels: the model's uint8 h x w label map (model size), None for proposal models.
            source_path: the input file this frame was read from (image sources), else None.
            source_size: (height, width) of the source frame.
        """
        self.write(image)

    def bind_stats(self, stats: Callable[[], dict[str, Any]]) -> None:
        """Give the sink a function returning the run's live statistics (the web viewer shows them)."""

    def close(self) -> str:
        """Finish the output (finalise files) and say what was written."""
        return self.uri

    def abort(self) -> None:
        """Give up after an error in the sink itself: remove partial files."""
        self.close()


class NullSink(Sink):
    uri = "null"

    def write(self, image: np.ndarray) -> None:
        pass


class AtomicVideoFile(Sink):
    """A video file written under a temporary name: renamed into place by :meth:`close`, removed
    by :meth:`abort` or when no frame came. Subclasses write frames to ``self._tmp`` and implement
    :meth:`_finish` (finalise the container) and :meth:`_discard` (release it, content lost)."""

    def _begin(self, path: str | os.PathLike, suffixes: Sequence[str]) -> None:
        self.path = Path(path)
        self.uri = str(path)
        suffix = self.path.suffix.lower()
        if suffix not in suffixes:
            raise EdgesegError(f"cannot write video {path}: unknown type {suffix}; use one of {', '.join(suffixes)}")
        if self.path.is_dir():
            raise EdgesegError(f"cannot write video {path}: it is a folder")
        self._atomic = atomic_path(self.path, keep_suffix=True)
        self._tmp = self._atomic.__enter__()  # checks the folder now, before the run starts
        self.frames = 0
        self._done = False

    def _finish(self) -> None:
        """Finalise the container (its index is written here: the file is playable from then on)."""

    def _discard(self) -> None:
        """Release the writer without finalising."""

    def close(self) -> str:
        if self._done:
            return f"{self.path} ({self.frames} frames)"
        self._done = True
        if self.frames == 0:
            self._discard()
            self._atomic.__exit__(EdgesegError, EdgesegError("no frames"), None)  # removes the empty temp file
            return f"{self.path}: not written (no frames)"
        try:
            self._finish()
        except BaseException as exc:
            self._atomic.__exit__(type(exc), exc, None)
            raise
        self._atomic.__exit__(None, None, None)
        return f"{self.path} ({self.frames} frames)"

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._discard()
        finally:
            self._atomic.__exit__(EdgesegError, EdgesegError("aborted"), None)


class VideoFileSink(AtomicVideoFile):
    """A video file written by OpenCV (MPEG-4 Part 2 or Motion JPEG), renamed into place on close.

    The writer opens on the first frame (it needs the size); later frames of
    another size are resized to it, since a VideoWriter silently drops frames
    whose size differs.
    """

    def __init__(self, path: str | os.PathLike, fps: float, fourcc: str | None = None):
        self._begin(path, tuple(VIDEO_CODECS))
        self.fourcc = fourcc or VIDEO_CODECS[self.path.suffix.lower()]
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, image: np.ndarray) -> None:
        height, width = image.shape[:2]
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, (width, height))
            if not self._writer.isOpened():
                raise EdgesegError(f"OpenCV cannot write {self.fourcc} video to {self.path}; try another type (.avi)")
            self._size = (width, height)
        elif (width, height) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def _finish(self) -> None:
        self._discard()  # release() writes the container's index

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class ImageFolderSink(Sink):
    """One image per frame in a folder; each written under a temporary name, then renamed.

    Names: with a ``pattern`` (``%05d.jpg``), frames are numbered. Without one,
    a frame read from an image file keeps that file's name with this sink's
    suffix (``street/a.jpg`` -> ``a.png``), so outputs pair with their inputs;
    frames of a video or camera are numbered ``000000.png``, ... A name taken
    twice (two inputs ``x/a.jpg`` and ``y/a.jpg``) gets the frame number
    appended; a name that is the input file itself is refused.
    """

    def __init__(self, folder: str | os.PathLike, pattern: str | None = None, *, what: str = "image sink"):
        self.folder = Path(folder)
        self.uri = str(folder)
        self.keep_names = pattern is None
        self.pattern = "%06d.png" if pattern is None else pattern
        self.what = what
        try:
            suffix = Path(self.pattern % 0).suffix.lower()
        except (TypeError, ValueError):
            raise EdgesegError(f"{what} pattern {pattern!r} needs exactly one integer field, e.g. %05d.png") from None
        if suffix not in IMAGE_SUFFIXES:
            raise EdgesegError(f"{what} {folder}/{pattern}: unknown image type {suffix or '(none)'}; use one of {', '.join(IMAGE_SUFFIXES)}")
        self.suffix = suffix
        if self.folder.exists() and not self.folder.is_dir():
            raise EdgesegError(f"{what} {folder} is a file, not a folder; choose a folder name or a video file (.mp4, .avi)")
        parent = self.folder.parent
        if not parent.is_dir():
            raise EdgesegError(f"cannot write images to {folder}: folder {parent} does not exist; create it first")
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise EdgesegError(f"cannot create image folder {folder}: {exc.strerror}") from None
        if not os.access(self.folder, os.W_OK):
            raise EdgesegError(f"cannot write images to {folder}: the folder is not writable")
        self.frames = 0
        self._names: set[str] = set()

    def file_for(self, source_path: str | None) -> Path:
        """Where the next frame goes (see the class docstring for the naming)."""
        if not (self.keep_names and source_path):
            return self.folder / (self.pattern % self.frames)
        name = Path(source_path).stem + self.suffix
        if name in self._names:
            name = f"{Path(source_path).stem}_{self.frames:06d}{self.suffix}"
        path = self.folder / name
        if path.resolve() == Path(source_path).resolve():
            raise EdgesegError(f"{self.what} {self.folder} would overwrite its input {source_path}; "
                               "write into another folder")
        self._names.add(name)
        return path

    def _save(self, image: np.ndarray, path: Path) -> None:
        ok, data = cv2.imencode(path.suffix, image)
        if not ok:
            raise EdgesegError(f"OpenCV cannot encode {path.suffix} images")
        with atomic_path(path, keep_suffix=True) as tmp:
            tmp.write_bytes(data.tobytes())
        self.frames += 1

    def write(self, image: np.ndarray) -> None:
        self._save(image, self.file_for(None))

    def write_frame(self, image: np.ndarray, *, labels: np.ndarray | None = None,
                    source_path: str | None = None, source_size: tuple[int, int] | None = None) -> None:
        self._save(image, self.file_for(source_path))

    def close(self) -> str:
        return f"{self.folder} ({self.frames} images)"


class DisplaySink(Sink):
    """An OpenCV window; closing it or pressing q / Esc ends the run."""

    def __init__(self, uri: str, title: str = "edgeseg"):
        self.uri = uri
        self.title = title
        gui = next((line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
                    if line.strip().startswith("GUI:")), "")
        if gui.upper() == "NONE":
            raise EdgesegError(
                f"{uri}: this OpenCV ({cv2.__version__}) has no GUI support (it is opencv-python-headless); "
                "install opencv-python, or on a Jetson the system python3-opencv, or watch in a browser with "
                "--sink http://127.0.0.1:8080"
            )
        if os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise EdgesegError(
                f"{uri}: no display here (DISPLAY is not set); run on a desktop session, use 'ssh -X', "
                "or watch in a browser with --sink http://127.0.0.1:8080"
            )
        self._opened = False

    def write(self, image: np.ndarray) -> None:
        cv2.imshow(self.title, image)
        self._opened = True
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        if key in (ord("q"), 27) or closed:
            self.stop_requested = True

    def close(self) -> str:
        if self._opened:
            cv2.destroyWindow(self.title)
        return self.uri


class WebSink(Sink):
    """The web viewer (:mod:`edgeseg.runtime.web`) as a sink."""

    def __init__(self, host: str, port: int, token: str | None = None, quality: int = 80):
        from .web import WebViewer

        self.viewer = WebViewer(host, port, token=token, quality=quality)
        self.viewer.start()
        self.uri = self.viewer.url

    def bind_stats(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.viewer.stats_provider = stats

    def write(self, image: np.ndarray) -> None:
        self.viewer.publish(image)

    def close(self) -> str:
        self.viewer.close()
        return self.uri


def open_video_file(path: str, fps: float, codec: str = "auto") -> Sink:
    """The video file sink for ``path``'s type and ``codec`` (see :func:`open_sink`)."""
    from .sinks_video import CODEC_CHOICES, H264_SUFFIXES, H264FileSink, av_available

    suffix = Path(path).suffix.lower()
    if codec not in CODEC_CHOICES:
        raise EdgesegError(f"video codec {codec!r} is not one of {', '.join(CODEC_CHOICES)}")
    if codec in ("mp4v", "mjpg"):
        return VideoFileSink(path, fps, fourcc=codec.upper() if codec == "mjpg" else codec)
    if codec == "auto" and suffix not in H264_SUFFIXES:
        return VideoFileSink(path, fps)
    if suffix not in H264_SUFFIXES:
        raise EdgesegError(f"{path}: H.264 is written into .mp4, .m4v or .mov files, not {suffix}")
    if codec == "auto" and not av_available():
        log.warning("%s: writing MPEG-4 Part 2 (mp4v), which browsers do not play; for H.264 install PyAV: "
                    "pip install 'edgeseg[video]'", path)
        return VideoFileSink(path, fps, fourcc="mp4v")
    return H264FileSink(path, fps, encoder=codec)


def _is_video_path(target: str) -> bool:
    return Path(target).suffix.lower() in VIDEO_CODECS


def open_sink(uri: str, *, fps: float | None = None, codec: str = "auto") -> Sink:
    """Open the sink named by ``uri`` (see the module docstring).

    Args:
        uri: a URI or bare path.
        fps: frame rate written into video files (the source's; 30 if None).
        codec: video files: ``auto`` (H.264 for .mp4/.m4v/.mov, Motion JPEG for
            .avi/.mkv), ``h264``, ``h264_nvenc``, ``libx264``, ``mp4v`` or ``mjpg``.
    """
    uri = str(uri).strip()
    if not uri:
        raise EdgesegError("empty --sink; give a video file, an image folder, display://0, http://127.0.0.1:8080 or null")
    if uri in ("null", "null://"):
        return NullSink()
    parts = urlsplit(uri)
    scheme = parts.scheme.lower() if "://" in uri else ""
    if scheme == "display":
        return DisplaySink(uri)
    if scheme in ("http", "web"):
        if parts.path not in ("", "/"):
            raise EdgesegError(f"web viewer {uri}: give only host and port, e.g. http://127.0.0.1:8080")
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"token", "quality"})
        if unknown:
            raise EdgesegError(f"web viewer {uri}: unknown option(s) {unknown}; options: token, quality")
        try:
            port = parts.port if parts.port is not None else 8080
            quality = int(query.get("quality", ["80"])[-1])
        except ValueError as exc:
            raise EdgesegError(f"web viewer {uri}: {exc}") from None
        token = query.get("token", [None])[-1] or os.environ.get("EDGESEG_WEB_TOKEN") or None
        return WebSink(parts.hostname or "127.0.0.1", port, token=token, quality=quality)
    if scheme == "rtsp":
        from .sinks_rtsp import RtspSink

        if codec in ("mp4v", "mjpg"):
            raise EdgesegError(f"{uri}: RTSP output is H.264; drop --video-codec {codec}")
        return RtspSink(uri, fps=fps, encoder=codec)
    if scheme == "webrtc":
        from .sinks_webrtc import open_webrtc_sink

        return open_webrtc_sink(uri)
    if scheme == "labels":
        from .sinks_labels import open_label_sink

        return open_label_sink(uri)
    if scheme and scheme != "file":
        raise EdgesegError(f"unknown sink scheme {scheme}:// in {uri}; known: {', '.join(s + '://' for s in SINK_SCHEMES)}, a path, or null")
    target = uri[len("file://"):] if scheme == "file" else uri
    if target.endswith(("/", os.sep)):
        return ImageFolderSink(target)
    if _is_video_path(target):
        return open_video_file(target, fps or 30.0, codec)
    if "%" in Path(target).name:
        return ImageFolderSink(Path(target).parent, Path(target).name)
    if Path(target).suffix.lower() in IMAGE_SUFFIXES:
        raise EdgesegError(f"sink {uri} names one image; give a folder (frames/) or a pattern (frames/%05d.png) for images")
    if Path(target).suffix and not Path(target).is_dir():
        raise EdgesegError(f"sink {uri}: unknown video type {Path(target).suffix}; use one of {', '.join(VIDEO_CODECS)}, or a folder for images")
    return ImageFolderSink(target)


__all__ = ["SINK_SCHEMES", "AtomicVideoFile", "DisplaySink", "ImageFolderSink", "NullSink", "Sink", "VideoFileSink", "WebSink", "open_sink", "open_video_file"]
