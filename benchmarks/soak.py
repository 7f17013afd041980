"""Soak test of the runtime: tens of thousands of frames, memory and file descriptors sampled.

Runs ``edgeseg run``'s pipeline in this process on a looping file source (the
bundled clip by default) into the given sinks, samples resident memory
(VmRSS) and open file descriptors every few seconds, and reports their growth
after warm-up and the FPS at the start and the end::

    python benchmarks/soak.py MODEL.onnx --frames 20000 [--sink null] [--sink out.mp4] [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.overlay import OverlayRenderer
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.resilient_sources import LoopingSource
from edgeseg.runtime.sinks import open_sink
from edgeseg.runtime.sources import open_source

ROOT = Path(__file__).resolve().parent.parent


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifact")
    parser.add_argument("--source", default=str(ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"))
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--sink", action="append", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every-s", type=float, default=2.0, help="sampling period")
    parser.add_argument("--json")
    args = parser.parse_args()
    sinks_uris = args.sink or ["null"]

    samples: list[dict] = []
    stop = threading.Event()
    with open_backend(args.artifact, threads=args.threads) as backend:
        meta = backend.metadata
        source = LoopingSource(lambda: open_source(args.source))
        sinks = [open_sink(uri, fps=source.fps) for uri in sinks_uris]
        pipeline = Pipeline(source, backend, sinks, OverlayRenderer(meta.palette, meta.classes), max_frames=args.frames)
        started = time.perf_counter()

        def sampler() -> None:
            while not stop.wait(args.every_s):
                snap = pipeline.live_stats()
                samples.append({"t": time.perf_counter() - started, "frames": snap.get("frames", 0),
                                "rss_mib": rss_mib(), "fds": open_fds()})

        thread = threading.Thread(target=sampler, daemon=True)
        samples.append({"t": 0.0, "frames": 0, "rss_mib": rss_mib(), "fds": open_fds()})
        thread.start()
        summary = pipeline.run()
        stop.set()
        thread.join()
    samples.append({"t": time.perf_counter() - started, "frames": summary["frames"], "rss_mib": rss_mib(), "fds": open_fds()})

    # Warm-up: the first 10 % of the run (allocators, caches, queues reach their size).
    warm = [s for s in samples if s["frames"] >= 0.1 * args.frames] or samples
    tenth = max(2, len(samples) // 10)

    def fps(window: list[dict]) -> float:
        return (window[-1]["frames"] - window[0]["frames"]) / max(1e-9, window[-1]["t"] - window[0]["t"])

    report = {
        "frames": summary["frames"], "seconds": samples[-1]["t"], "sinks": sinks_uris, "artifact": args.artifact,
        "rss_mib_start": samples[0]["rss_mib"], "rss_mib_after_warmup": warm[0]["rss_mib"],
        "rss_mib_end": samples[-1]["rss_mib"], "rss_growth_after_warmup_mib": samples[-1]["rss_mib"] - warm[0]["rss_mib"],
        "rss_max_mib": max(s["rss_mib"] for s in samples),
        "fds_after_warmup": warm[0]["fds"], "fds_end": samples[-1]["fds"], "fds_max": max(s["fds"] for s in samples),
        "fps_first_tenth": fps(samples[:tenth]), "fps_last_tenth": fps(samples[-tenth:]),
        "dropped": summary.get("dropped"), "samples": samples,
    }
    printable = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in report.items() if k != "samples"}
    print(json.dumps(printable, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
