"""LSTM-CF depth ablation on the SYNTHETIC RGB-D scenes: the same model, schedule and seeds with and without depth.

    python scripts/synthetic_rgbd_ablation.py --data ../data18 --runs ../data18/runs --seeds 0 1

Steps, each skipped when its output already exists (so a rerun only summarises):

1. ``DATA/rgbd``: ``make_synthetic_rgbd.py --train 300 --val 60 --size 96x128 --seed 0``;
   ``DATA/rgb``: the same scenes with ``--zero-depth`` (every depth reading 0).
2. ``RUNS/{rgbd,rgb}_s{SEED}``: ``edgeseg train configs/synthetic_rgbd_lstmcf.toml``
   with ``data.root`` set to the variant and ``seed`` to SEED, one run at a time.
3. ``models/ablations/lstmcf_synthetic_{rgbd,rgb}.s{SEED}.metrics.jsonl``: each run's record, and
   ``models/ablations/lstmcf_synthetic_depth.json``: every run's last-epoch val mIoU and per-class IoU,
   the fraction of each near_*/far_* class's val pixels its last.pt labels as the depth twin
   (``edgeseg eval``'s confusion matrix), and the with-minus-without mIoU difference per seed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from edgeseg.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "synthetic_rgbd_lstmcf.toml"
OUT = ROOT / "models" / "ablations"
VARIANTS = {"rgbd": [], "rgb": ["--zero-depth"]}


def last_record(run: Path) -> dict | None:
    """The last line of ``run/metrics.jsonl`` if the run finished its schedule (its config's ``epochs``), else None."""
    metrics, config = run / "metrics.jsonl", run / "config.json"
    if not metrics.is_file() or not config.is_file():
        return None
    record = json.loads(metrics.read_text(encoding="utf-8").splitlines()[-1])
    return record if record["epoch"] == json.loads(config.read_text(encoding="utf-8"))["epochs"] else None


def depth_twin_confusion(checkpoint: Path, data: Path) -> dict[str, float]:
    """Of the val pixels of each near_*/far_* class, the fraction the model labels as its depth twin
    (near_box <-> far_box, near_sphere <-> far_sphere): the mistake only depth can prevent."""
    from edgeseg.runtime.backends import open_backend
    from edgeseg.runtime.eval import evaluate
    from edgeseg.train.data.synthetic_rgbd import CLASSES

    with open_backend(checkpoint) as backend:
        confusion = evaluate(backend, data, "val").confusion  # rows: truth, columns: prediction
    out = {}
    for shape in ("box", "sphere"):
        near, far = CLASSES.index(f"near_{shape}"), CLASSES.index(f"far_{shape}")
        for truth, twin in ((near, far), (far, near)):
            out[CLASSES[truth]] = round(float(confusion[truth, twin] / max(confusion[truth].sum(), 1)), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder for the two generated data sets")
    parser.add_argument("--runs", type=Path, required=True, help="folder for the run folders")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds (default 0 1)")
    args = parser.parse_args(argv)
    for variant, flags in VARIANTS.items():
        if not (args.data / variant).exists():
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_synthetic_rgbd.py"), str(args.data / variant),
                            "--train", "300", "--val", "60", "--size", "96x128", "--seed", "0", *flags], check=True)
    summary: dict = {"synthetic": True, "config": str(CONFIG.relative_to(ROOT)), "runs": {}, "depth_gain": {}}
    for seed in args.seeds:
        for variant in VARIANTS:
            run = args.runs / f"{variant}_s{seed}"
            if last_record(run) is None:
                subprocess.run([sys.executable, "-m", "edgeseg", "train", str(CONFIG), "--out", str(run),
                                "--no-progress", "--set", f'data.root="{(args.data / variant).resolve()}"',
                                "--set", f"seed={seed}", *(["--resume"] if (run / "last.pt").is_file() else [])],
                               check=True)
            record = last_record(run)
            assert record is not None, run
            atomic_write_text(OUT / f"lstmcf_synthetic_{variant}.s{seed}.metrics.jsonl",
                              (run / "metrics.jsonl").read_text(encoding="utf-8"), make_parents=True)
            summary["runs"][f"{variant}_s{seed}"] = {
                "epoch": record["epoch"], "val_miou": round(record["val_miou"], 4),
                "val_pixel_accuracy": round(record["val_pixel_accuracy"], 4),
                "per_class_iou": {k: round(v, 4) for k, v in record["per_class_iou"].items()},
                "labelled_as_depth_twin": depth_twin_confusion(run / "last.pt", args.data / variant),
                "seconds": round(sum(json.loads(line)["seconds"] for line in
                                     (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()), 1)}
        runs = summary["runs"]
        summary["depth_gain"][f"s{seed}"] = round(runs[f"rgbd_s{seed}"]["val_miou"] - runs[f"rgb_s{seed}"]["val_miou"],
                                                  4)
    target = OUT / "lstmcf_synthetic_depth.json"
    atomic_write_text(target, json.dumps(summary, indent=1) + "\n", make_parents=True)
    for name, run in summary["runs"].items():
        print(f"{name}: epoch {run['epoch']}, val mIoU {100 * run['val_miou']:.2f} %")
    print(f"depth gain (mIoU points): {summary['depth_gain']}; wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
