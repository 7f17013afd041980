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
                   help="out.mp4 / out.avi, an image folder, display://0, http://127.0.0.1:8080[?token=T], null; repeatable")
    p.add_argument("--live", action="store_true",
                   help="treat a file as a live camera: play it at its frame rate and drop frames the model cannot keep up with")
    p.add_argument("--loop", type=int, nargs="?", const=0, default=None, metavar="N",
                   help="replay a file source N times (no N: until stopped); for demos and soak tests")
    p.add_argument("--reconnect", type=int, nargs="?", const=0, default=None, metavar="N",
                   help="reopen a live source that fails or stops, with back-off 0.5 s .. 10 s; give up after N "
                        "attempts in a row (no N: never)")
    p.add_argument("--max-frames", type=int, default=0, metavar="N", help="stop after reading N frames (0: all)")
    p.add_argument("--stats", metavar="FILE.json", help="write the run's summary (frames, dropped, fps, latency_ms, ...) here")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the class colours over the frame, 0..1 (default 0.5)")
    p.add_argument("--overlay", choices=("blend", "none"), default="blend",
                   help="blend: colours over the frame with FPS text; none: the colourised label map alone")
    p.add_argument("--legend", action="store_true", help="draw the names of the classes in view")
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
