"""The ``edgeseg run`` options, importable without OpenCV or any backend (for ``edgeseg --help``)."""

from __future__ import annotations

import argparse


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The ``edgeseg run`` options (kept here so the CLI module stays small)."""
    p.add_argument("artifact", help="model: ONNX .onnx (onnxruntime), checkpoint .pt (torch), engine (TensorRT)")
    p.add_argument("--source", required=True, metavar="SRC",
                   help="video/image/folder/glob path or file://, v4l2:///dev/video0 or a camera index, csi://0, "
                        "rtsp://..., gst:PIPELINE, synthetic://?fps=30")
    p.add_argument("--depth", metavar="DEPTH",
                   help="RGB-D models: depth paired frame by frame with a colour video --source: a depth video (8-bit, "
                        "in the model's depth units) or a folder of 16-bit PNGs in millimetres, registered to the colour camera")
    p.add_argument("--depth-scale", type=float, metavar="MM",
                   help="millimetres per 8-bit depth step for 16-bit PNG depth (default: the model's input.depth_scale)")
    p.add_argument("--sink", required=True, action="append", metavar="SINK",
                   help="out.mp4 (H.264) / out.avi, an image folder (keeps input names), labels://FOLDER/ (uint8 PNG "
                        "label maps), rtsp://SERVER:8554/PATH (publish H.264 to an RTSP server such as MediaMTX), "
                        "webrtc://127.0.0.1:8081 (a page receiving WebRTC), "
                        "display://0, http://127.0.0.1:8080[?token=T], null; repeatable")
    p.add_argument("--video-codec", default="auto", metavar="CODEC",
                   choices=("auto", "h264", "h264_nvenc", "libx264", "mp4v", "mjpg"),
                   help="video files: auto (H.264 for .mp4/.m4v/.mov, NVENC where present else libx264; Motion JPEG "
                        "for .avi/.mkv), h264, h264_nvenc, libx264, mp4v (OpenCV, not browser-playable), mjpg")
    p.add_argument("--live", action="store_true",
                   help="treat a file as a live camera: play it at its frame rate and drop frames the model cannot keep up with")
    p.add_argument("--loop", type=int, nargs="?", const=0, default=None, metavar="N",
                   help="replay a file source N times (no N: until stopped); for demos and soak tests")
    p.add_argument("--reconnect", type=int, nargs="?", const=0, default=None, metavar="N",
                   help="reopen a live source that fails or stops, with back-off 0.5 s .. 10 s; give up after N "
                        "attempts in a row (no N: never)")
    p.add_argument("--max-frames", type=int, default=0, metavar="N", help="stop after reading N frames (0: all)")
    p.add_argument("--status-every", type=float, default=5.0, metavar="S",
                   help="when stderr is not a terminal, log a one-line status (frames, in, dropped, fps, latency) "
                        "every S seconds (0: never; on a terminal a progress bar shows instead)")
    p.add_argument("--stats", metavar="FILE.json", help="write the run's summary (frames, dropped, fps, latency_ms, ...) here")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the class colours over the frame, 0..1 (default 0.5)")
    p.add_argument("--view", choices=("overlay", "mask", "side-by-side"), default=None,
                   help="overlay: colours over the frame with FPS text (default); mask: the colourised label map "
                        "alone; side-by-side: the frame and the mask next to each other (twice as wide)")
    p.add_argument("--overlay", choices=("blend", "none"), default=None,
                   help="deprecated name of --view: blend = overlay, none = mask")
    p.add_argument("--filter", choices=("point", "linear"), default="point",
                   help="how labels are resized to a larger frame: point (nearest, blocky edges) or linear (smooth "
                        "label upsampling: each class's indicator map resized bilinearly, highest wins; not a "
                        "resampling of class scores, which the model does not output)")
    p.add_argument("--ignore-class", action="append", default=[], metavar="CLASS",
                   help="do not draw this class (name or index; the frame shows through) nor list it; repeatable")
    p.add_argument("--legend", action="store_true",
                   help="draw the classes in view (those above --legend-min-share), scaled to the frame, on a panel")
    p.add_argument("--legend-min-share", type=float, default=0.01, metavar="F",
                   help="smallest share of the frame a class needs to be listed in the legend (default 0.01)")
    p.add_argument("--backend", default="auto", help="auto (by file type), onnxruntime, openvino, tensorrt, torch (default: auto)")
    p.add_argument("--providers", default="cpu",
                   help="onnxruntime execution providers in order of preference, comma-separated: cpu, cuda, tensorrt (default: cpu)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime/OpenVINO inference threads (0: the runtime's default)")
    proposals = p.add_argument_group("proposal models (DeepMask, SharpMask)")
    proposals.add_argument("--top-k", type=int, default=None, metavar="K",
                           help="most proposals drawn per frame, best first (default 10)")
    proposals.add_argument("--score-threshold", type=float, default=None, metavar="P",
                           help="minimum objectness probability of a proposal, 0..1 (default 0.5)")
    proposals.add_argument("--nms-iou", type=float, default=None, metavar="IOU",
                           help="drop a proposal whose mask overlaps a better one by more than this IoU (default 0.5)")
    proposals.add_argument("--mask-threshold", type=float, default=None, metavar="P",
                           help="mask probability above which a pixel belongs to the object (default 0.5)")
