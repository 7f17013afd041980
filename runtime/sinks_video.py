"""H.264 MP4 files that browsers play, written with PyAV (FFmpeg's libraries).

pip's OpenCV can only write MPEG-4 Part 2 ('mp4v') into an .mp4, which no
browser plays. PyAV's wheels ship FFmpeg with libx264, and with NVIDIA's
NVENC encoder (``h264_nvenc``), which works where a GPU and driver are present
(desktop GPUs; not on Jetson, whose encoder is reached through GStreamer).

The file is H.264 (High profile), yuv420p, in an MP4 with its index at the
front (``+faststart``), so a ``<video>`` element starts playing before the
whole file has arrived. It is written under a temporary name and renamed
when the sink closes.
"""

from __future__ import annotations

import functools
import logging
import os
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from edgeseg.errors import EdgesegError

from .sinks import AtomicVideoFile

log = logging.getLogger("edgeseg.sinks")

H264_SUFFIXES = (".mp4", ".m4v", ".mov")
# In order of preference for "auto": the GPU encoder costs the CPU nothing.
H264_ENCODERS = ("h264_nvenc", "libx264")
CODEC_CHOICES = ("auto", "h264", "h264_nvenc", "libx264", "mp4v", "mjpg")


def av_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _require_av() -> Any:
    try:
        import av
    except ImportError:
        raise EdgesegError("H.264 output needs PyAV: pip install 'edgeseg[video]' (or pip install av); "
                           "or write MPEG-4 Part 2 with --video-codec mp4v, which browsers do not play") from None
    return av


@functools.lru_cache(maxsize=None)  # noqa: UP033 - functools.cache needs Python 3.9; the runtime runs on 3.8 (JetPack 5)
def encoder_works(name: str) -> bool:
    """Whether FFmpeg's encoder ``name`` is built in and opens here (NVENC needs a GPU and driver)."""
    av = _require_av()
    try:
        context = av.CodecContext.create(name, "w")
        context.width, context.height, context.pix_fmt = 64, 64, "yuv420p"
        context.time_base = Fraction(1, 30)
        context.open()
    except Exception as exc:  # UnknownCodecError, PermissionError (no device), FFmpegError ...
        log.debug("encoder %s unavailable: %s", name, exc)
        return False
    return True


def pick_h264_encoder(requested: str = "auto") -> str:
    """The FFmpeg encoder for ``requested`` (auto/h264: NVENC where it opens, else libx264)."""
    _require_av()  # before the cached probes, which would not notice PyAV gone
    if requested in ("auto", "h264"):
        for name in H264_ENCODERS:
            if encoder_works(name):
                return name
        raise EdgesegError("this PyAV's FFmpeg has no working H.264 encoder (neither h264_nvenc nor libx264); "
                           "reinstall PyAV from pip (its wheels include libx264) or use --video-codec mp4v")
    if not encoder_works(requested):
        hint = " (NVENC needs an NVIDIA GPU with its driver)" if "nvenc" in requested else ""
        raise EdgesegError(f"H.264 encoder {requested} does not open here{hint}; use --video-codec auto")
    return requested


def _frame_rate(fps: float) -> Fraction:
    """The rate as a fraction, so 29.97 stays 30000/1001 (a float time base drifts)."""
    if not (fps > 0 and fps < 1000):
        fps = 30.0
    return Fraction(fps).limit_denominator(1001)


class H264Encoder:
    """An H.264 stream in a PyAV output container, opened on the first frame (it needs the size).

    H.264 in yuv420p needs an even width and height: an odd one is padded by
    one edge pixel. Later frames of another size are resized to the first one's.

    Args:
        target: file name or URL; fmt: FFmpeg muxer (``mp4``, ``rtsp``).
        encoder: an FFmpeg encoder name (from :func:`pick_h264_encoder`).
        rate: nominal frame rate; time_base: the unit of the ``pts`` given to :meth:`encode`.
        container_options, encoder_options: FFmpeg options (strings).
    """

    def __init__(self, target: str, fmt: str, encoder: str, rate: Fraction, time_base: Fraction, *,
                 container_options: dict[str, str] | None = None, encoder_options: dict[str, str] | None = None):
        self.target, self.fmt, self.encoder, self.rate, self.time_base = target, fmt, encoder, rate, time_base
        self.container_options, self.encoder_options = container_options or {}, encoder_options or {}
        self.container: Any = None
        self.stream: Any = None
        self.size: tuple[int, int] | None = None  # (width, height) of the frames given

    def _open(self, width: int, height: int) -> None:
        av = _require_av()
        self.container = av.open(self.target, "w", format=self.fmt, options=self.container_options)
        stream = self.container.add_stream(self.encoder, rate=self.rate, options=self.encoder_options)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"  # the one chroma layout every browser decodes
        # Frames count in time_base units; the muxer picks its own stream time base when the
        # header is written, so never read that one back as the frames' unit.
        stream.codec_context.time_base = self.time_base
        self.stream = stream
        self.size = (width, height)
        log.info("%s: H.264 %dx%d at %s FPS with %s", self.target, stream.width, stream.height, self.rate, self.encoder)

    def encode(self, image: np.ndarray, pts: int) -> None:
        """Encode one uint8 H x W x 3 BGR frame at ``pts`` (in ``time_base`` units, increasing)."""
        import av

        height, width = image.shape[:2]
        if self.stream is None:
            self._open(width, height)
        elif (width, height) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
            height, width = image.shape[:2]
        if width % 2 or height % 2:
            image = cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def finish(self) -> None:
        """Flush the encoder's delayed frames and close the container (a file's index is written here)."""
        if self.container is None:
            return
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()
            self.container = None

    def close(self) -> None:
        """Close without flushing (after an error)."""
        if self.container is not None:
            self.container.close()
            self.container = None


class H264FileSink(AtomicVideoFile):
    """An H.264 MP4, through PyAV (:class:`H264Encoder`), renamed into place on close.

    Args:
        path: ``.mp4``, ``.m4v`` or ``.mov`` file to write.
        fps: the frame rate stored in the file.
        encoder: ``auto``/``h264`` (NVENC where it works, else libx264), ``h264_nvenc`` or ``libx264``.
        crf: libx264 quality (lower is better; 18, near transparent, gives files no larger than OpenCV's
            mp4v at its default on CamVid frames).
    """

    def __init__(self, path: str | os.PathLike, fps: float, encoder: str = "auto", crf: int = 18):
        self.encoder = pick_h264_encoder(encoder)
        self._begin(path, H264_SUFFIXES)
        rate = _frame_rate(fps)
        options = {"crf": str(crf), "preset": "veryfast"} if self.encoder == "libx264" else {"preset": "p4"}
        self._encoder = H264Encoder(str(self._tmp), "mp4", self.encoder, rate, 1 / rate,
                                    container_options={"movflags": "+faststart"}, encoder_options=options)

    def write(self, image: np.ndarray) -> None:
        self._encoder.encode(image, self.frames)
        self.frames += 1

    def _finish(self) -> None:
        self._encoder.finish()

    def _discard(self) -> None:
        self._encoder.close()


__all__ = ["CODEC_CHOICES", "H264_SUFFIXES", "H264Encoder", "H264FileSink", "av_available", "encoder_works", "pick_h264_encoder"]
