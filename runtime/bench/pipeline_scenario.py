"""The ``pipeline`` scenario: the whole runtime on a video file, as deployed.

Decode, preprocess, infer, overlay and encode (an mp4v file in a temporary
folder) run in the runtime's threaded :class:`~edgeseg.runtime.pipeline.Pipeline`
on a looping file source, so the measurement lasts as long as the plan asks.

What is timed: the interval between consecutive frames leaving the pipeline
(the steady-state time per frame, whose inverse is the FPS), after the
warm-up. These intervals are the series the regression statistics use. The
capture-to-output latency (which includes queueing, since a file source keeps
the queues full) and the mean time per stage are reported beside them.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .measure import Samples, TimingPlan


def measure_pipeline(backend, source_uri: str, plan: TimingPlan) -> tuple[Samples, dict[str, Any]]:
    """Run the pipeline until the plan is met; returns the per-frame intervals and the run's summary."""
    from ..overlay import OverlayRenderer
    from ..pipeline import Pipeline
    from ..resilient_sources import LoopingSource
    from ..sinks import open_sink
    from ..sources import open_source

    meta = backend.metadata
    with tempfile.TemporaryDirectory(prefix="edgeseg-bench-") as tmp:
        source = LoopingSource(lambda: open_source(source_uri))
        sink = open_sink(str(Path(tmp) / "bench.mp4"), fps=source.fps)
        pipeline = Pipeline(source, backend, [sink], OverlayRenderer(meta.palette, meta.classes))
        started = time.perf_counter()
        measure_from = started + plan.warmup_s

        def watch() -> None:
            # Stop once both the time and the frame count of the plan are reached after warm-up.
            while not pipeline.stopping:
                now = time.perf_counter()
                timed = sum(1 for t in list(pipeline.stats.finished) if t.output >= measure_from)
                if now - measure_from >= plan.min_time_s and timed >= plan.min_iters:
                    pipeline.stop("benchmark plan met")
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        summary = pipeline.run()
        watcher.join()
    outputs = np.array([t.output for t in pipeline.stats.finished if t.output >= measure_from])
    intervals_ms = np.diff(outputs) * 1000.0
    samples = Samples(latencies_ms=intervals_ms.tolist(), images_per_call=1,
                      wall_s=float(outputs[-1] - outputs[0]) if outputs.size > 1 else 0.0)
    return samples, {"stage_ms": summary["stage_ms"], "pipeline_latency_ms": summary["latency_ms"],
                     "frames": summary["frames"], "fps": summary["fps"]}
