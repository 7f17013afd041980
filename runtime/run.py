"""``edgeseg run``: segment a video source into one or more sinks.

The model's task (:mod:`.tasks`) gives the per-frame predictor and the
renderer: a semantic model draws its class colours, a proposals model
(DeepMask, SharpMask) the outlines and scores of its best object proposals,
through the same pipeline, sinks and statistics.

Opens the backend first, then the source, then the sinks (so a bad source
never leaves an output file behind), runs the :class:`~.pipeline.Pipeline`
with Ctrl-C / SIGTERM stopping it cleanly, prints the summary and writes it
as JSON with ``--stats``.

Exit codes: 0 when the run ended normally (end of stream, ``--max-frames``,
a signal, the window closed); 2 with a message when the source, the model or
a sink failed, after the output written so far has been finalised.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from edgeseg.atomic import atomic_write_text
from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata

from .backend_flags import check_backend_flags
from .backends import Backend, open_backend
from .pipeline import Pipeline, stop_on_signals
from .resilient_sources import LoopingSource, ReconnectingSource
from .run_stats import format_summary
from .run_status import DEFAULT_INTERVAL_S, StatusReporter
from .sinks import Sink, open_sink
from .sources import local_path, open_source
from .tasks import Predictor, Renderer, RuntimeTask, other_tasks, runtime_task

log = logging.getLogger("edgeseg.run")


def _open_sinks(uris: list[str], fps: float | None, codec: str = "auto") -> list[Sink]:
    sinks: list[Sink] = []
    try:
        for uri in uris:
            sinks.append(open_sink(uri, fps=fps, codec=codec))
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    return sinks


def check_depth_args(args: argparse.Namespace, artifact: str, meta: ModelMetadata) -> None:
    """Refuse a 4-channel model without ``--depth``, ``--depth`` with a BGR model, and depth with live sources."""
    depth = getattr(args, "depth", None)
    if meta.input.channels == 4 and depth is None:
        raise EdgesegError(
            f"{artifact} ({meta.architecture}): this model takes BGR + depth: pass --depth DEPTH.mp4 (8-bit depth "
            "video) or --depth DEPTH_FOLDER (16-bit PNGs in millimetres), paired frame by frame with --source COLOUR.mp4"
        )
    if depth is None:
        if getattr(args, "depth_scale", None) is not None:
            raise EdgesegError("--depth-scale converts the --depth stream; it needs --depth")
        return
    if meta.input.channels != 4:
        raise EdgesegError(f"--depth is for RGB-D models (4 input channels); {artifact} ({meta.architecture}) "
                           "takes BGR only: drop --depth")
    if args.live or args.reconnect is not None:
        raise EdgesegError("--depth pairs two recorded files frame by frame; --live and --reconnect are not supported with it")
    colour = local_path(args.source)
    if colour is None:
        raise EdgesegError(f"--depth needs a colour video file as --source; {args.source} is a live source, and live "
                           "cameras with depth are not supported: record both streams to files first")
    if Path(colour).is_dir():
        raise EdgesegError(f"--depth needs a colour video file as --source; {colour} is a folder")
    if args.depth_scale is not None and not args.depth_scale > 0:
        raise EdgesegError(f"--depth-scale {args.depth_scale} must be a positive number of millimetres per step")


def _open_source(args: argparse.Namespace, meta: ModelMetadata):
    """The source, wrapped for ``--loop`` or ``--reconnect`` when asked."""
    if args.loop is not None and args.reconnect is not None:
        raise EdgesegError("--loop replays files and --reconnect reopens live streams: choose one")
    depth = getattr(args, "depth", None)

    def opener():
        if depth is not None:
            return open_rgbd_source(args.source, depth, args.depth_scale, meta)
        return open_source(args.source, live=args.live)

    if args.loop is not None:
        return LoopingSource(opener, args.loop)
    if args.reconnect is not None:
        return ReconnectingSource(opener, args.reconnect)
    return opener()


def overlay_view(args: argparse.Namespace) -> str:
    """``--view``, or the deprecated ``--overlay`` it replaced (refusing both at once)."""
    from .overlay import VIEW_ALIASES

    view, old = getattr(args, "view", None), getattr(args, "overlay", None)
    if view is not None and old is not None:
        raise EdgesegError(f"--overlay is the old name of --view: give only --view {view}")
    if old is not None:
        print(f"edgeseg: warning: --overlay {old} is deprecated; use --view {VIEW_ALIASES[old]}", file=sys.stderr)
        return VIEW_ALIASES[old]
    return view or "overlay"


def _task_parts(args: argparse.Namespace, backend: Backend) -> tuple[RuntimeTask, Renderer, Predictor]:
    """The model's task (runtime part) with its renderer and predictor; refuses options of other tasks."""
    view = overlay_view(args)
    task = runtime_task(backend.metadata)
    task.check_flags(args, str(args.artifact), other_tasks(task))
    renderer = task.renderer(backend, args, view)
    return task, renderer, task.predictor(backend, args)


def open_rgbd_source(colour: str, depth: str, depth_scale: float | None, meta: ModelMetadata):
    """:class:`~.rgbd_source.RGBDSource` with the model's ``depth_scale`` unless one is given."""
    from .rgbd_source import RGBDSource

    colour = local_path(colour) or colour
    if depth_scale is not None and not Path(depth).is_dir():
        log.warning("--depth-scale is ignored for a depth video: its frames are already 8-bit depth in the model's units")
    return RGBDSource(colour, depth, meta.input.rgbd_depth_scale if depth_scale is None else depth_scale)


def run_video(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg run``."""
    # --status-every, --max-frames, --stats and the sinks were checked by edgeseg.command_checks before this ran
    # (a range, and no output over an input or in a missing folder), not after a long run.
    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    check_backend_flags(args.artifact, args.backend, providers, args.threads)
    with open_backend(args.artifact, args.backend, providers=providers, threads=args.threads) as backend:
        meta = backend.metadata
        check_depth_args(args, str(args.artifact), meta)
        task, renderer, predictor = _task_parts(args, backend)
        source = _open_source(args, meta)
        try:
            sinks = _open_sinks(args.sink, source.fps, getattr(args, "video_codec", "auto"))
        except BaseException:
            source.close()
            raise
        what = task.describe(backend, predictor)
        log.info("%s (%s, input %dx%d, %s) on %s (%s%s) -> %s", args.artifact, backend.name,
                 meta.input.width, meta.input.height, what, args.source,
                 "live" if source.live else "every frame",
                 f", {source.frame_count} frames" if source.frame_count else "", ", ".join(s.uri for s in sinks))
        pipeline = Pipeline(source, backend, sinks, renderer, max_frames=args.max_frames, predictor=predictor)
        total = min(filter(None, (source.frame_count, args.max_frames)), default=None)
        reporter = StatusReporter(pipeline.live_stats, live=source.live, total=total,
                                  interval_s=getattr(args, "status_every", DEFAULT_INTERVAL_S)).start()
        try:
            with stop_on_signals(pipeline):
                summary = pipeline.run()
        finally:
            reporter.stop()
    report: dict[str, Any] = {"artifact": str(args.artifact), "backend": backend.name, "source": args.source,
                              "sinks": args.sink, **summary}
    print(format_summary(summary), file=sys.stderr)
    for written in summary["written"]:
        print(f"wrote {written}", file=sys.stderr)
    if args.stats:
        atomic_write_text(args.stats, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.stats}", file=sys.stderr)
    if pipeline.error is not None:
        if not isinstance(pipeline.error, EdgesegError):
            raise pipeline.error  # a bug, not a user's problem: keep the traceback
        kept = f"; kept what was written: {', '.join(summary['written'])}" if summary["written"] else ""
        raise EdgesegError(f"{pipeline.error}{kept}")
    return 0
