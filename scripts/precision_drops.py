"""The FP16 and INT8 mIoU drop of each published model, through the export stage and its accuracy gate.

    python scripts/precision_drops.py                       # every models/camvid_*.pt
    python scripts/precision_drops.py --models enet,lednet --data ../shared/data/camvid

For each ``models/camvid_NAME.pt``: ``edgeseg export`` to an FP32 ONNX, then
``edgeseg quantize`` to FP16 and to INT8 (entropy calibration on
``calib_data/camvid``), each scored against the FP32 ONNX on val through
onnxruntime by the export stage's gate (``export/gate.py``). The gate here
is opened wide (``--max-miou-drop`` 100) so the drop is always measured; whether
the variant passes the stage's default limits (``edgeseg/gates.py``: FP16 0.2,
INT8 1.0 points) is recorded beside it. Writes ``models/camvid_NAME.precision.json``
(atomically); ``scripts/zoo_table.py`` reads it for the zoo table's FP16 and
INT8 columns. The ONNX files stay in a temporary folder (the repository keeps
weights only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "camvid"
WIDE_OPEN = 100.0  # mIoU points: measure the drop, never refuse


def measure(name: str, data: Path, calib: Path, limit: int, workdir: Path) -> dict:
    """{"fp32_miou", "fp16": {...}, "int8": {...}} for ``models/camvid_NAME.pt`` (mIoU in %)."""
    from edgeseg.export.onnx_from_torch import export_checkpoint
    from edgeseg.export.quantize import quantize_onnx
    from edgeseg.gates import MAX_MIOU_DROP_BY_CLASS

    fp32 = workdir / f"{name}.onnx"
    export_checkpoint(ROOT / "models" / f"camvid_{name}.pt", fp32)
    record: dict = {"model": f"models/camvid_{name}.pt", "data": os.path.relpath(data.resolve(), ROOT), "split": "val", "limit": limit}
    for precision, gate_class in (("fp16", "f16"), ("int8", "int8")):
        result = quantize_onnx(fp32, workdir / f"{name}.{precision}.onnx", precision,
                               calib=calib if precision == "int8" else None, eval_data=data,
                               max_miou_drop=WIDE_OPEN, eval_limit=limit)
        assert result.gate is not None  # eval_data was given
        comparison = result.gate.comparison
        limit_points = MAX_MIOU_DROP_BY_CLASS[gate_class]
        record["fp32_miou"] = round(100 * comparison.miou_a, 2)
        record[precision] = {
            "miou": round(100 * comparison.miou_b, 2),
            "drop_points": round(comparison.miou_drop_points, 2) + 0.0,  # + 0.0: no "-0.0"
            "label_agreement": round(comparison.agreement, 5),
            "default_gate_points": limit_points,
            "passes_default_gate": comparison.miou_drop_points <= limit_points,
        }
        print(f"{name} {precision}: {comparison.describe()}", file=sys.stderr)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="", help="comma-separated names (default: every models/camvid_*.pt)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CamVid root with val/ and valannot/")
    p.add_argument("--calib", type=Path, default=ROOT / "calib_data" / "camvid")
    p.add_argument("--limit", type=int, default=0, help="score only the first N val images (0: all 101)")
    args = p.parse_args(argv)
    if not (args.data / "val").is_dir():
        p.error(f"--data {args.data}: no val/ folder (CamVid, SegNet tutorial layout)")
    names = ([n for n in args.models.split(",") if n] or
             sorted(path.stem.removeprefix("camvid_") for path in (ROOT / "models").glob("camvid_*.pt")))
    from edgeseg.atomic import atomic_write_text

    for name in names:
        if not (ROOT / "models" / f"camvid_{name}.pt").is_file():
            p.error(f"models/camvid_{name}.pt does not exist (publish it first: scripts/publish_checkpoint.py)")
        with tempfile.TemporaryDirectory() as tmp:
            record = measure(name, args.data, args.calib, args.limit, Path(tmp))
        target = ROOT / "models" / f"camvid_{name}.precision.json"
        atomic_write_text(target, json.dumps(record, indent=2) + "\n")
        print(f"{target.relative_to(ROOT)}: FP16 {record['fp16']['drop_points']:+.2f}, "
              f"INT8 {record['int8']['drop_points']:+.2f} points (drop)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
