"""Average recall (AR@10, AR@100, mask IoU 0.5:0.95) of DeepMask/SharpMask checkpoints and of the baseline.

    python scripts/proposal_recall.py training_state/deepmask/last.pt training_state/sharpmask/last.pt \\
        --baseline models/camvid_enet.pt --data ../shared/data/camvid --split val \\
        --json models/ablations/proposals_recall.json

The ground truth is CamVid's instances as the proposal models train on them: 8-connected components of
Car, Pedestrian, Bicyclist, SignSymbol and Pole, 64 px and larger. The baseline (``--baseline``, a semantic
checkpoint) proposes the connected components of its own prediction; it is strong on CamVid because the
ground-truth instances are exactly such components. See ``edgeseg.train.tasks.proposal_recall``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _load(path: Path):
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    return model_from_checkpoint(load_checkpoint(path), str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path, help="DeepMask/SharpMask checkpoints (.pt)")
    parser.add_argument("--baseline", type=Path, help="a semantic CamVid checkpoint: its connected components")
    parser.add_argument("--data", default="../shared/data/camvid", help="CamVid root (SegNet tutorial layout)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--prefixes", nargs="*", default=[], help="keep frames whose name starts with these")
    parser.add_argument("--limit", type=int, default=0, help="first N frames only (0: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not args.models and args.baseline is None:
        parser.error("give proposal checkpoints, --baseline, or both")

    import torch

    from edgeseg.atomic import atomic_write_text
    from edgeseg.errors import EdgesegError
    from edgeseg.preprocess import normalize_image
    from edgeseg.train.config import DataConfig
    from edgeseg.train.data.datasets import dataset_info, load_split
    from edgeseg.train.data.instances import instances_from_semantic
    from edgeseg.train.tasks.proposal_recall import average_recall, component_proposals, model_proposals

    if args.threads:
        torch.set_num_threads(args.threads)
    data = DataConfig(kind="camvid", root=args.data)
    info = dataset_info(data)
    split = load_split(data, args.split, info, args.limit, args.prefixes)
    if not split.images:
        raise SystemExit(f"error: no frames in split {args.split!r} of {args.data}")
    shape = split.images[0].shape[:2]
    truth = [instances_from_semantic(mask, list(info.classes), image_index=i) for i, mask in enumerate(split.masks)]
    report: dict = {"data": args.data, "split": args.split, "prefixes": args.prefixes, "frames": len(truth),
                    "instances": sum(len(t) for t in truth), "iou_thresholds": "0.5:0.05:0.95", "results": {}}
    for path in args.models:
        model, meta = _load(path)
        if meta.training.get("task") != "proposals":
            raise EdgesegError(f"{path} is a segmentation checkpoint ({meta.architecture}), not a proposals model; "
                               "pass semantic models as --baseline")
        started = time.perf_counter()
        found = [model_proposals(model, image, meta.input.mean, meta.input.std) for image in split.images]
        report["results"][str(path)] = {"architecture": meta.architecture, "epoch": meta.training.get("epoch"),
                                        **average_recall(truth, found, shape),
                                        "seconds_per_frame": round((time.perf_counter() - started) / len(truth), 2)}
        print(path, report["results"][str(path)], flush=True)
    if args.baseline is not None:
        model, meta = _load(args.baseline)
        if list(meta.classes) != list(info.classes):
            raise EdgesegError(f"--baseline {args.baseline} has classes {meta.classes}, not the data set's {info.classes}")
        import cv2

        found = []
        with torch.no_grad():
            for image in split.images:
                resized = cv2.resize(image, (meta.input.width, meta.input.height), interpolation=cv2.INTER_LINEAR)
                logits = model(torch.from_numpy(normalize_image(resized[None], meta.input.mean, meta.input.std)))
                probabilities = torch.softmax(logits.float(), 1)[0].numpy()
                if probabilities.shape[1:] != shape:
                    probabilities = np.stack([cv2.resize(p, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
                                              for p in probabilities])
                found.append(component_proposals(probabilities, list(info.classes)))
        key = f"connected components of {args.baseline}"
        report["results"][key] = {"architecture": meta.architecture, **average_recall(truth, found, shape),
                                  "proposals_per_frame": round(float(np.mean([len(f) for f in found])), 1)}
        print(key, report["results"][key], flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n", make_parents=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
