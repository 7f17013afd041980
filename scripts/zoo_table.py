"""Generate the model-zoo table of docs/zoo.md from the registry.

For every registered architecture (default factory arguments, 11 CamVid
classes): paper, parameters, GFLOPs at 480x360 (rounded up to the model's
input multiple), onnxruntime CPU latency of its FP32 logits ONNX at that size
(median of ``--runs`` runs after one warm-up, ``--threads`` intra-op threads),
and, where a trained checkpoint ``models/camvid_<name>.pt`` exists, its
committed records (:mod:`edgeseg.train.published`: held-out-drive and val
mIoU, epochs, training hours, FP16 and INT8 drops),
and the factory docstring's summary of deviations from the paper.

The table is written between ``<!-- zoo-table:start -->`` and
``<!-- zoo-table:end -->`` in docs/zoo.md (atomically). Latencies depend on the
machine and its load, so the table records where it was measured.

    python scripts/zoo_table.py              # measure and update docs/zoo.md
    python scripts/zoo_table.py --dry-run    # print the table only
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"
NUM_CLASSES = 11


def onnx_latency_ms(name: str, height: int, width: int, runs: int, threads: int, workdir: Path) -> float:
    """Median onnxruntime CPU latency (ms) of architecture ``name``'s logits graph, batch 1."""
    import onnxruntime as ort
    import torch

    from edgeseg.train.models import build_model, get_entry

    torch.manual_seed(0)
    model = build_model(name, NUM_CLASSES).eval()
    sample = torch.randn(1, get_entry(name).in_channels, height, width)
    path = workdir / f"{name}.onnx"
    torch.onnx.export(model, (sample,), str(path), opset_version=17, dynamo=False, input_names=["input"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"input": sample.numpy().astype(np.float32)}
    session.run(None, feed)  # warm-up: allocations, kernel selection
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


TRAINED_HEADERS = ("held-out drive mIoU", "val mIoU", "epochs", "training h", "FP16 drop", "INT8 drop")


def _change(drop: float | None) -> str:
    """A recorded mIoU drop (positive = worse) as the signed change the table shows."""
    return "-" if drop is None else f"{-drop + 0.0:+.2f}"


def trained_columns(name: str) -> list[str]:
    """The zoo table's CamVid columns for ``models/camvid_<name>.pt`` (see TRAINED_HEADERS), from committed records.

    Val is marked optimistic always (docs/protocol.md) and "best epoch" where the
    weights are a best-val pick from before the protocol; held-out-drive is the
    recipe run's last epoch.
    """
    path = ROOT / "models" / f"camvid_{name}.pt"
    if not path.is_file():
        return ["not trained", "", "", "", "", ""]
    from edgeseg.train.published import published_record

    r = published_record(path)
    held_out = "no recipe run" if r.held_out_miou is None else f"{r.held_out_miou:.1f} % ({r.held_out_drive})"
    val = f"{r.val_miou:.1f} %" + ("" if r.last_epoch else f" (best epoch {r.epoch})")
    epochs = f"{r.epoch}" if r.last_epoch else f"{r.epoch} of {r.planned_epochs}"
    hours = "-" if r.hours is None else f"{r.hours:.1f}"
    if r.recipe_hours is not None:
        hours += f" + {r.recipe_hours:.1f} recipe"
    return [held_out, val, epochs, hours, _change(r.fp16_drop), _change(r.int8_drop)]


def summary(doc: str | None) -> str:
    """First paragraph of a docstring on one line, with ``|`` escaped for Markdown."""
    text = (doc or "").strip().split("\n\n")[0]
    return " ".join(text.split()).replace("|", "\\|")


def build_table(runs: int, threads: int) -> str:
    import onnxruntime
    import torch

    from edgeseg.train.models import get_entry, model_names
    from edgeseg.train.zoo import REFERENCE_HEIGHT, REFERENCE_WIDTH, model_cost

    torch.set_num_threads(threads)
    load_before = os.getloadavg()[0]
    rows = [
        "| architecture | paper | params | GFLOPs | ORT CPU latency | " + " | ".join(TRAINED_HEADERS)
        + " | notes (deviations from the paper) |",
        "| --- | --- | ---: | ---: | ---: | " + " | ".join("---" for _ in TRAINED_HEADERS) + " | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name in model_names():
            entry = get_entry(name)
            cost = model_cost(name, NUM_CLASSES)
            latency = onnx_latency_ms(name, cost.height, cost.width, runs, threads, Path(tmp))
            size = "" if (cost.height, cost.width) == (REFERENCE_HEIGHT, REFERENCE_WIDTH) else f" ({cost.width}x{cost.height})"
            rows.append(
                f"| `{name}` | {entry.paper} | {cost.params / 1e6:.2f} M | {cost.gflops:.1f}{size} | {latency:.0f} ms "
                f"| {' | '.join(trained_columns(name))} | {summary(entry.factory.__doc__)} |"
            )
            print(f"{name}: {latency:.0f} ms", file=sys.stderr)
    header = (
        f"Generated by `scripts/zoo_table.py` (do not edit by hand). Default factory arguments, {NUM_CLASSES} classes. "
        f"GFLOPs: 1 multiply-add = 2 FLOPs, convolutions and matrix products only, at {REFERENCE_WIDTH}x{REFERENCE_HEIGHT} "
        "(W x H) or the next size the model takes (in brackets). Latency: FP32 logits ONNX (opset 17), onnxruntime "
        f"{onnxruntime.__version__} CPUExecutionProvider, batch 1, {threads} thread(s), median of {runs} runs after a "
        f"warm-up, on {_cpu_name()} ({platform.machine()}, {_vector_isa()}, {os.cpu_count()} cores, 1-minute load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after measuring; a load near the core count means a "
        "busy machine, so treat latencies as relative). CamVid columns (models/camvid_<name>.*, docs/protocol.md): "
        "held-out drive: the recipe run (trained on the other two drives) at its last epoch; val: the published "
        "weights on val, optimistic (val is interleaved with training frames of its drive), marked where they are a "
        "best-val epoch from before the protocol; training h: the published run's wall time (+ the recipe run's); "
        "FP16 / INT8: mIoU change against the FP32 ONNX on val through the export gate (scripts/precision_drops.py)."
    )
    return header + "\n\n" + "\n".join(rows) + "\n"


def _vector_isa() -> str:
    """The widest vector instructions torch uses here (AVX2, AVX512): one CPU name covers generations that
    differ by 2-3x in these latencies (ENet: 48 ms on an AVX-512 EPYC, 116-142 ms on an AVX2 one)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def replace_between_markers(text: str, table: str, source: str) -> str:
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise SystemExit(f"{source}: no '{START}' ... '{END}' markers; add them where the table belongs")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "zoo.md", help="the page holding the markers")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per model (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime and torch intra-op threads")
    parser.add_argument("--dry-run", action="store_true", help="print the table instead of writing the page")
    args = parser.parse_args(argv)

    from edgeseg.atomic import atomic_write_text

    table = build_table(args.runs, args.threads)
    if args.dry_run:
        print(table)
        return 0
    text = replace_between_markers(args.page.read_text(encoding="utf-8"), table, str(args.page))
    atomic_write_text(args.page, text)
    print(f"updated {args.page}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
