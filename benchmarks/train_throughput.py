"""Training throughput: today's loop against the trainer's new defaults, data pipeline included.

Each variant is a full training step as the trainer runs it: the next batch
from a DataLoader over CamVid's real training images (augmented per sample),
conversion to the model's input, forward, loss, backward and an AdamW step.
Variants run in interleaved rounds in one process, so a noisy machine slows
them alike; the figure is the median over rounds of each round's images/s,
and the speed-up is the median of the per-round ratios.

- ``today``: the loop before the speed work (eager FP32, contiguous tensors,
  the step-by-step augmentation and per-image numpy normalisation in the
  data set, no prefetching), reproduced here from its parts.
- ``new``: what ``edgeseg train`` does with its default config on this
  machine (:func:`edgeseg.train.speed.plan_speed`: torch.compile, bf16
  autocast where the CPU has it, channels-last where measured faster,
  one-warp augmentation, device-side normalisation, a prefetch thread).
- with ``--channels-last``: ``new`` with the other memory format, the
  measurement behind ``CHANNELS_LAST_FASTER_ON_CPU``; with ``--ablations``:
  ``new`` without each of prefetching, bf16 and compile, one at a time.

    python benchmarks/train_throughput.py --json out/train_throughput.json
    python benchmarks/train_throughput.py --models ddrnet23_slim --channels-last --ablations

Compile time is reported apart (it is paid once per run, and from the
on-disk cache on a resume).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from edgeseg.atomic import atomic_write_text
from edgeseg.preprocess import normalize_image
from edgeseg.train.aux_loss import segmentation_loss_sum
from edgeseg.train.config import DataConfig, TrainConfig
from edgeseg.train.data.batches import model_input
from edgeseg.train.data.datasets import TrainDataset, class_weights, dataset_info, load_split
from edgeseg.train.data.prefetch import Prefetcher
from edgeseg.train.data.transforms import augment_reference
from edgeseg.train.models import build_model
from edgeseg.train.speed import SpeedPlan, compiled, make_optimizer, plan_speed
from edgeseg.train.step_loss import ForwardLoss

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "camvid"


class TodaysDataset(Dataset):
    """The data set as it was: step-by-step augmentation, float32 CHW normalised per image in numpy."""

    def __init__(self, split, cfg: TrainConfig, ignore_index: int):
        self.split, self.cfg, self.ignore_index = split, cfg, ignore_index

    def __len__(self) -> int:
        return len(self.split.images)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.cfg.seed, 0, index])
        image, mask = augment_reference(self.split.images[index], self.split.masks[index], rng, self.cfg.augment,
                                        self.ignore_index)
        x = normalize_image(image, self.cfg.data.mean, self.cfg.data.std)
        return torch.from_numpy(x), torch.from_numpy(mask.astype(np.int64))


@dataclass
class Variant:
    """One training loop: ``step()`` trains on the next batch and returns its size."""

    name: str
    step: Callable[[], int]
    compile_seconds: float = 0.0
    plan: dict | None = None


def _endless(make_iterator: Callable[[], Iterator]) -> Iterator:
    while True:
        yield from make_iterator()


def _todays_step(model, optimizer, x, y, weight, ignore_index) -> None:
    """Today's step: eager FP32 forward, the loss, backward and the (per-tensor) AdamW step."""
    total, norm = segmentation_loss_sum(model(x), y, weight, ignore_index, getattr(model, "aux_loss_weight", 0.4))
    optimizer.zero_grad(set_to_none=True)
    (total / norm.clamp_min(1e-12)).backward()
    optimizer.step()


def todays_loop(cfg: TrainConfig, split, num_classes: int, ignore_index: int, weight) -> Variant:
    torch.manual_seed(0)
    model = build_model(cfg.model.name, num_classes)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    dataset = TodaysDataset(split, cfg, ignore_index)
    batches = _endless(lambda: iter(DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True)))

    def step() -> int:
        x, y = next(batches)
        _todays_step(model, optimizer, x, y, weight, ignore_index)
        return len(x)

    return Variant("today", step)


def new_loop(name: str, cfg: TrainConfig, plan: SpeedPlan, split, num_classes: int, ignore_index: int,
             weight) -> Variant:
    torch.manual_seed(0)
    model = build_model(cfg.model.name, num_classes)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    aux_weight = getattr(model, "aux_loss_weight", 0.4)
    forward_loss = ForwardLoss(model, lambda out, y: segmentation_loss_sum(out, y, weight, ignore_index, aux_weight),
                               "cpu", plan.torch_dtype())
    step_loss = compiled(forward_loss) if plan.compile else forward_loss
    optimizer = make_optimizer(model.parameters(), cfg, plan)
    dataset = TrainDataset(split, cfg.augment, cfg.data, ignore_index, cfg.seed)
    batches = _endless(lambda: iter(Prefetcher(
        DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True), plan.prefetch_batches)))

    def step() -> int:
        images, y = next(batches)
        x = model_input(images, cfg.data.mean, cfg.data.std, plan.channels_last)
        total, norm = step_loss(x, y.long())
        optimizer.zero_grad(set_to_none=True)
        (total / norm.clamp_min(1e-12)).backward()
        optimizer.step()
        return len(images)

    return Variant(name, step, plan=plan.record())


def warm_up(variant: Variant, steps: int) -> None:
    started = time.perf_counter()
    variant.step()  # compiles, where the variant compiles
    variant.compile_seconds = time.perf_counter() - started
    for _ in range(steps - 1):
        variant.step()


def measure(variants: list[Variant], rounds: int, steps: int) -> dict[str, list[float]]:
    """images/s of each variant per round; within a round, variants run one after another, order rotating."""
    rates: dict[str, list[float]] = {v.name: [] for v in variants}
    for r in range(rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for variant in order:
            started, images = time.perf_counter(), 0
            for _ in range(steps):
                images += variant.step()
            rates[variant.name].append(images / (time.perf_counter() - started))
    return rates


def benchmark_model(name: str, args, split, info, weight) -> dict:
    cfg = TrainConfig()
    cfg.model.name = name
    cfg.batch_size = args.batch
    cfg.threads = args.threads
    cfg.data = replace(DataConfig(), root=str(args.data), height=args.height, width=args.width)
    cfg.augment = replace(cfg.augment, crop_height=args.height, crop_width=args.width)
    plan = plan_speed(cfg, torch.device("cpu"))
    num_classes = len(info.classes)
    variants = [todays_loop(cfg, split, num_classes, info.ignore_index, weight),
                new_loop("new", cfg, plan, split, num_classes, info.ignore_index, weight)]
    if args.channels_last:
        variants.append(new_loop(f"new, channels_last {'off' if plan.channels_last else 'on'}", cfg,
                                 replace(plan, channels_last=not plan.channels_last), split, num_classes,
                                 info.ignore_index, weight))
    if args.ablations:  # each speed knob taken away from the new loop, one at a time
        for label, change in (("new, no prefetch", {"prefetch_batches": 0}), ("new, FP32", {"autocast_dtype": None}),
                              ("new, eager", {"compile": False}),
                              ("new, per-tensor optimizer", {"fused_optimizer": False})):
            variants.append(new_loop(label, cfg, replace(plan, **change), split, num_classes, info.ignore_index,
                                     weight))
    for variant in variants:
        warm_up(variant, args.warmup)
        print(f"  {name}: {variant.name} warmed up (first step {variant.compile_seconds:.1f} s)", file=sys.stderr)
    rates = measure(variants, args.rounds, args.steps)
    base = rates["today"]
    result = {"model": name, "plan": plan.record(), "variants": {}}
    for variant in variants:
        ratios = [a / b for a, b in zip(rates[variant.name], base)]
        result["variants"][variant.name] = {
            "images_per_s": statistics.median(rates[variant.name]), "rounds": rates[variant.name],
            "speedup_vs_today": statistics.median(ratios), "first_step_s": variant.compile_seconds,
        }
    return result


def table(results: list[dict]) -> str:
    lines = ["| model | variant | images/s | ms/image | x today | first step (compile) |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for res in results:
        for name, v in res["variants"].items():
            lines.append(f"| {res['model']} | {name} | {v['images_per_s']:.2f} | {1000 / v['images_per_s']:.0f} | "
                         f"{v['speedup_vs_today']:.2f} | {v['first_step_s']:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="enet,lednet,ddrnet23_slim")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CamVid root (SegNet tutorial layout)")
    p.add_argument("--images", type=int, default=48, help="training images decoded into memory")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--width", type=int, default=480)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3, help="steps before measuring (the first compiles)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=4, help="steps per variant per round")
    p.add_argument("--channels-last", action="store_true",
                   help="also measure new with the other memory format (the measurement behind CHANNELS_LAST_FASTER_ON_CPU)")
    p.add_argument("--ablations", action="store_true", help="also measure new without prefetch, without bf16, eager, and with the per-tensor optimizer")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    if not (args.data / "train").is_dir():
        p.error(f"--data {args.data}: no train/ folder (CamVid, SegNet tutorial layout)")
    torch.set_num_threads(args.threads)
    data_cfg = replace(DataConfig(), root=str(args.data))
    info = dataset_info(data_cfg)
    split = load_split(data_cfg, "train", info, args.images)
    weight = torch.from_numpy(class_weights(split.masks, len(info.classes), "median_frequency"))
    results = []
    load_before = os.getloadavg()
    for name in args.models.split(","):
        results.append(benchmark_model(name, args, split, info, weight))
        print(table(results[-1:]), file=sys.stderr)
    report = {
        "torch": torch.__version__, "threads": args.threads, "batch": args.batch, "size": [args.height, args.width],
        "rounds": args.rounds, "steps_per_round": args.steps, "cpu_count": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "results": results,
    }
    print(table(results))
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {report['load_average_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
