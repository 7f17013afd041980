"""Measure onnxslim, onnxsim and no simplification over the zoo and the imported test models.

For each model and simplifier: the node count, the parity with PyTorch (or
the foreign model), whether the FP16 conversion still finds its
``/preprocess/`` and ``/postprocess/`` scopes and agrees with FP32, the
TensorRT operator check for 8.5 and 10.3, and the seconds taken (JSON only:
they include the parity runs and vary with the machine's load). Prints a
Markdown table (the one in docs/own_model.md) and writes JSON.

    .venv/bin/python scripts/measure_simplifiers.py --json simplifiers.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def zoo_exporter(checkpoint: Path):
    from edgeseg.export.onnx_from_torch import export_checkpoint

    def run(out: Path, simplifier: str):
        result = export_checkpoint(checkpoint, out, with_logits=True, parity_count=4, simplifier=simplifier)
        return result.parity
    return run


def foreign_importer(name: str):
    import foreign_models as fm

    from edgeseg.export.import_model import export_module

    h, w = fm.IMPORT_SIZE
    mean = [float(v) for v in fm.CAMVID_MEAN.split(",")]
    std = [float(v) for v in fm.CAMVID_STD.split(",")]
    classes = [f"c{i}" for i in range(11)]
    specs = {
        "import: SegFormer-like": (fm.TinySegFormer, {"mean": fm.IMAGENET_MEAN, "std": fm.IMAGENET_STD}),
        "import: float-RGB ENet": (fm.FloatRgbEnet, {"scale": 1 / 255}),
        "import: NHWC BGR ENet": (fm.NhwcBgrEnet, {"mean": mean, "std": std, "channel_order": "bgr", "layout": "nhwc"}),
        "import: two-output ENet": (fm.TwoHeadEnet, {"mean": mean, "std": std, "logits_output": "output1"}),
    }
    factory, kwargs = specs[name]

    def run(out: Path, simplifier: str):
        result = export_module(factory(), (h, w), output=out, classes=classes, with_logits=True, parity_count=4,
                               simplifier=simplifier, **kwargs)
        return result.parity
    return run, specs


def fp16_agreement(fp32: Path) -> float | str:
    import onnx
    import onnxruntime as ort

    from edgeseg.errors import EdgesegError
    from edgeseg.export.fp16 import fp16_from_fp32
    from edgeseg.images import load_image_folder

    try:
        fp16 = fp16_from_fp32(onnx.load(str(fp32)))
    except EdgesegError as exc:
        return f"fails: {exc}"[:80]
    a = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(fp16.SerializeToString(), providers=["CPUExecutionProvider"])
    shape = a.get_inputs()[0].shape
    images = load_image_folder(ROOT / "samples" / "camvid" / "val", shape[1], shape[2], count=4).images
    same = [np.mean(a.run(["labels"], {"image": f[None]})[0] == b.run(["labels"], {"image": f[None]})[0]) for f in images]
    return float(np.mean(same))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--only", help="substring of the model names to measure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import onnx

    from edgeseg.engines.op_compat import op_issues

    models = {f"zoo: {p.stem}": zoo_exporter(p) for p in sorted((ROOT / "models").glob("*.pt"))}
    _, specs = foreign_importer("import: SegFormer-like")
    models.update({name: foreign_importer(name)[0] for name in specs})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in models.items():
            if args.only and args.only not in name:
                continue
            for simplifier in ("none", "onnxslim", "onnxsim"):
                out = Path(tmp) / f"{len(rows)}.onnx"
                started = time.perf_counter()
                try:
                    parity = run(out, simplifier)
                except Exception as exc:  # a simplifier failure is a measurement, not a crash
                    rows.append({"model": name, "simplifier": simplifier, "error": str(exc)[:200]})
                    print(f"{name} {simplifier}: FAILED {exc}", flush=True)
                    continue
                seconds = time.perf_counter() - started
                graph = onnx.load(str(out))
                row = {
                    "model": name, "simplifier": simplifier, "nodes": len(graph.graph.node),
                    "parity_max_abs": parity.measures["logits_max_abs"],
                    "label_agreement": parity.measures["label_agreement"],
                    "passed": parity.passed,
                    "trt85_ops": sorted({i.op for i in op_issues(graph, (8, 5))}),
                    "trt103_ops": sorted({i.op for i in op_issues(graph, (10, 3))}),
                    "fp16_agreement": fp16_agreement(out), "seconds": round(seconds, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(markdown(rows))
    return 0


def markdown(rows: list[dict]) -> str:
    base = {r["model"]: r["nodes"] for r in rows if r["simplifier"] == "none" and "nodes" in r}
    lines = ["| model | simplifier | nodes (removed) | parity: max abs logit error, label agreement | FP16 label agreement "
             "| ops TensorRT 8.5 / 10.3 cannot parse |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['simplifier']} | failed: {r['error'][:60]} | | | |")
            continue
        removed = base.get(r["model"], r["nodes"]) - r["nodes"]
        fp16 = r["fp16_agreement"]
        fp16_text = f"{100 * fp16:.2f} %" if isinstance(fp16, float) else fp16
        ops = f"{', '.join(r['trt85_ops']) or 'none'} / {', '.join(r['trt103_ops']) or 'none'}"
        lines.append(f"| {r['model']} | {r['simplifier']} | {r['nodes']} ({removed}) | {r['parity_max_abs']:.1e}, "
                     f"{100 * r['label_agreement']:.3f} % | {fp16_text} | {ops} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
