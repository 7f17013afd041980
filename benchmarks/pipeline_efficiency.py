"""How close the threaded pipeline gets to the backend's own speed (a measurement, not a test).

For one model and one video, in the same process and with the same
onnxruntime threads, it measures:

- backend alone: ``backend.infer`` on the decoded frames already in memory
  (resized to the model input), one frame a call;
- pipeline: ``edgeseg.runtime.pipeline.Pipeline`` from the video file to an
  overlay video (decode, inference, overlay, encode in three threads);
- sequential: a plain loop doing read, infer, overlay, write one after another.

and reports ``pipeline FPS / backend FPS`` and ``sequential FPS / backend FPS``,
plus the share of the pipeline's run its inference thread was busy (near
1.0: the backend never waited for a frame). On a machine shared with other
work the FPS ratios swing with the load; the busy share swings much less.
Each round measures backend, pipeline, sequential, backend again; a round's
ratios divide by the mean of its two backend runs, and the reported ratios
are the medians over ``--rounds`` rounds, so a background load that comes
and goes affects numerator and denominator alike.

The model is the committed ENet (``models/camvid_enet.pt``), exported here
with a minimal ``torch.onnx.export`` wrapper honouring the ONNX contract
(uint8 NHWC BGR in, uint8 labels out, metadata attached), unless ``--onnx``
names an edgeseg ONNX already exported. Needs ``edgeseg[export]`` for the export.

    python benchmarks/pipeline_efficiency.py [--video V] [--threads 1] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.overlay import OverlayRenderer
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.sinks import open_sink
from edgeseg.runtime.sources import open_source

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "models" / "camvid_enet.pt"
SHARED_VIDEO = ROOT.parent / "shared" / "data" / "video" / "camvid_0016E5_val.mp4"
SAMPLE_VIDEO = ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"


def export_checkpoint(checkpoint: Path, out: Path) -> Path:
    """The checkpoint as an edgeseg-contract ONNX (in-graph normalisation and argmax), for this benchmark only."""
    import onnx
    import torch

    from edgeseg.metadata import ONNX_METADATA_KEY
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    model, meta = model_from_checkpoint(load_checkpoint(checkpoint), str(checkpoint))
    spec = meta.input

    class Contract(torch.nn.Module):
        """uint8 N x H x W x 3 BGR -> uint8 N x H x W labels."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1))

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            rgb = image.permute(0, 3, 1, 2).flip(1).float()
            return self.model((rgb - self.mean) / self.std).argmax(1).to(torch.uint8)

    dummy = torch.zeros(1, spec.height, spec.width, 3, dtype=torch.uint8)
    with torch.no_grad():
        torch.onnx.export(Contract().eval(), (dummy,), str(out), input_names=["image"], output_names=["labels"],
                          opset_version=17, dynamo=False)
    proto = onnx.load(str(out))
    meta.opset = 17
    onnx.helper.set_model_props(proto, {ONNX_METADATA_KEY: meta.to_json()})
    onnx.save(proto, str(out))
    return out


def decode(video: Path, height: int, width: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame if frame.shape[:2] == (height, width) else cv2.resize(frame, (width, height)))
    return frames


def backend_fps(backend, frames: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for frame in frames:
        backend.infer(frame[None])
    return len(frames) / (time.perf_counter() - started)


def pipeline_fps(backend, renderer, video: Path, out: Path) -> tuple[float, dict]:
    """End-to-end FPS, and the summary with ``inference_busy``: the share of the run the
    inference thread spent inferring (1.0: the backend never waited for frames)."""
    pipeline = Pipeline(open_source(str(video)), backend, [open_sink(str(out), fps=10.0)], renderer)
    summary = pipeline.run()
    assert summary["error"] is None and summary["dropped"] == 0, summary
    busy = sum(t.infer for t in pipeline.stats.finished)  # a file source's frames are resized by the capture thread
    summary["inference_busy"] = busy / summary["seconds"]
    return summary["fps"], summary


def sequential_fps(backend, renderer, video: Path, out: Path) -> float:
    _, height, width, _ = backend.input_shape
    started = time.perf_counter()
    cap = cv2.VideoCapture(str(video))
    writer = None
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        small = frame if frame.shape[:2] == (height, width) else cv2.resize(frame, (width, height))
        labels = backend.infer(small[None])[0]
        image = renderer.render(frame, labels, None)
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (frame.shape[1], frame.shape[0]))
        writer.write(image)
        count += 1
    writer.release()
    cap.release()
    return count / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", help="an edgeseg ONNX, or a built artifact such as the cpu target's .blob "
                                       "(default: export models/camvid_enet.pt)")
    parser.add_argument("--backend", default="auto",
                        help="backend for every measurement: auto (by suffix), onnxruntime, openvino (default auto)")
    parser.add_argument("--video", help="video file (default: ../shared/data/video/camvid_0016E5_val.mp4, else the bundled clip)")
    parser.add_argument("--threads", type=int, default=1, help="inference threads (onnxruntime or OpenVINO) for every measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    video = Path(args.video) if args.video else (SHARED_VIDEO if SHARED_VIDEO.is_file() else SAMPLE_VIDEO)
    with tempfile.TemporaryDirectory(prefix="edgeseg-bench-") as tmp:
        onnx_path = Path(args.onnx) if args.onnx else export_checkpoint(CHECKPOINT, Path(tmp) / "camvid_enet.onnx")
        with open_backend(onnx_path, args.backend, threads=args.threads) as backend:
            _, height, width, _ = backend.input_shape
            frames = decode(video, height, width)
            meta = backend.metadata
            renderer = OverlayRenderer(meta.palette, meta.classes, alpha=0.5)
            backend_fps(backend, frames[:5])  # warm-up: first runs allocate
            rounds: dict[str, list[float]] = {"backend": [], "pipeline": [], "sequential": []}
            ratios: dict[str, list[float]] = {"pipeline": [], "sequential": []}
            busy: list[float] = []
            for index in range(args.rounds):
                before = backend_fps(backend, frames)
                fps, summary = pipeline_fps(backend, renderer, video, Path(tmp) / "pipeline.mp4")
                rounds["pipeline"].append(fps)
                busy.append(summary["inference_busy"])
                rounds["sequential"].append(sequential_fps(backend, renderer, video, Path(tmp) / "sequential.mp4"))
                after = backend_fps(backend, frames)
                rounds["backend"].append((before + after) / 2)
                for name in ratios:
                    ratios[name].append(rounds[name][-1] / rounds["backend"][-1])
                print(f"round {index + 1}: " + ", ".join(f"{k} {v[-1]:.1f} FPS" for k, v in rounds.items())
                      + f" (backend {before:.1f} before, {after:.1f} after); ratios pipeline "
                      f"{ratios['pipeline'][-1]:.3f}, sequential {ratios['sequential'][-1]:.3f}; "
                      f"pipeline inference thread busy {busy[-1]:.3f}", flush=True)
    median = {k: statistics.median(v) for k, v in rounds.items()}
    result = {
        "model": str(args.onnx or CHECKPOINT), "video": str(video), "frames": len(frames), "input": [height, width],
        "threads": args.threads, "backend": backend.name, "providers": getattr(backend, "providers", None),
        "load_average": {"before": load_before, "after": os.getloadavg()}, "rounds": rounds, "median_fps": median,
        "ratios_per_round": ratios,
        "pipeline_over_backend": statistics.median(ratios["pipeline"]),
        "sequential_over_backend": statistics.median(ratios["sequential"]),
        "pipeline_inference_busy": busy,
        "pipeline_stage_ms_last_round": summary["stage_ms"],
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                    "onnxruntime": __import__("onnxruntime").__version__, "opencv": cv2.__version__},
    }
    print(f"backend alone {median['backend']:.1f} FPS, pipeline {median['pipeline']:.1f} FPS "
          f"(ratio {result['pipeline_over_backend']:.3f}), sequential loop {median['sequential']:.1f} FPS "
          f"(ratio {result['sequential_over_backend']:.3f}); median of {args.rounds} rounds, {len(frames)} frames, "
          f"{args.threads} thread(s), {result['backend']}; pipeline inference thread busy {statistics.median(busy):.3f} of the run; "
          f"load average {load_before[0]:.2f} before, {result['load_average']['after'][0]:.2f} after")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
