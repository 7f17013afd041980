"""The model's training step alone (synthetic tensors, no data pipeline): eager against compiled, FP32 against bf16.

The issue behind the trainer's speed work measured this kind of step (forward +
loss + backward + AdamW on random input); ``train_throughput.py`` measures the
whole loop with CamVid's images. This one isolates what compile, autocast and
the memory format do to the model step on the machine at hand, which matters
because they depend on the CPU: bf16 autocast is fast only with AVX-512 BF16 or
AMX (``edgeseg.train.speed.cpu_has_fast_bf16``) and emulated, many times slower,
without.

Variants (comma-separated ``--variants``): ``eager`` (FP32, per-tensor AdamW:
today's step), ``eager_bf16``, ``compiled`` (forward + loss compiled as one graph,
FP32, fused AdamW), ``compiled_bf16``, and ``compiled_cl`` / ``compiled_bf16_cl``
(channels-last). All run in interleaved rounds in one process; the table gives
the median ms per image and the median of the per-round ratios to the first variant.

    python benchmarks/train_step_synthetic.py --model enet --variants eager,compiled --json out/step.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from edgeseg.atomic import atomic_write_text
from edgeseg.train.aux_loss import segmentation_loss_sum
from edgeseg.train.models import build_model
from edgeseg.train.speed import compiled, cpu_has_fast_bf16
from edgeseg.train.step_loss import ForwardLoss

VARIANTS = ("eager", "eager_bf16", "compiled", "compiled_bf16", "compiled_cl", "compiled_bf16_cl")


def make_step(variant: str, model_name: str, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor,
              num_classes: int) -> Callable[[], None]:
    """One training step of ``variant`` on the fixed batch ``x`` (float32 N x 3 x H x W), ``y`` (int64 N x H x W)."""
    if variant not in VARIANTS:
        raise SystemExit(f"--variants: unknown {variant!r}; choose from {', '.join(VARIANTS)}")
    torch.manual_seed(0)
    model = build_model(model_name, num_classes).train()
    channels_last = variant.endswith("_cl")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    dtype = torch.bfloat16 if "bf16" in variant else None
    aux = getattr(model, "aux_loss_weight", 0.4)
    step_loss: torch.nn.Module = ForwardLoss(model, lambda out, t: segmentation_loss_sum(out, t, weight, 255, aux),
                                             "cpu", dtype)
    fused = variant.startswith("compiled")
    if fused:
        step_loss = compiled(step_loss)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True if fused else None)

    def step() -> None:
        total, norm = step_loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        (total / norm.clamp_min(1e-12)).backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="enet")
    p.add_argument("--variants", default="eager,compiled,compiled_bf16")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--width", type=int, default=480)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="steps per variant per round")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    num_classes = 11
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.height, args.width, generator=g)
    y = torch.randint(0, num_classes, (args.batch, args.height, args.width), generator=g)
    weight = torch.rand(num_classes, generator=g) + 0.5
    names = [v for v in args.variants.split(",") if v]
    steps, first_step_s = {}, {}
    for name in names:
        started = time.perf_counter()
        steps[name] = make_step(name, args.model, x, y, weight, num_classes)
        steps[name]()  # compiles forward and backward, where the variant compiles
        steps[name]()
        first_step_s[name] = time.perf_counter() - started
        print(f"{name}: warmed up in {first_step_s[name]:.0f} s", file=sys.stderr)
    load_before = os.getloadavg()
    ms: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            started = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            ms[name].append(1000 * (time.perf_counter() - started) / (args.steps * args.batch))
    base = ms[names[0]]
    rows = {n: {"ms_per_image": statistics.median(v), "rounds": v,
                "speedup_vs_first": statistics.median(b / a for a, b in zip(v, base)),
                "warm_up_s": first_step_s[n]} for n, v in ms.items()}
    print(f"| variant | ms/image | x {names[0]} |\n| --- | ---: | ---: |")
    for n, row in rows.items():
        print(f"| {n} | {row['ms_per_image']:.0f} | {row['speedup_vs_first']:.2f} |")
    report = {"model": args.model, "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "fast_bf16": cpu_has_fast_bf16(), "threads": args.threads, "batch": args.batch,
              "size": [args.height, args.width], "load_average_before": load_before,
              "load_average_after": os.getloadavg(), "variants": rows}
    print(f"CPU capability {report['cpu_capability']}, native bf16: {report['fast_bf16']}; "
          f"load {load_before[0]:.1f} before, {report['load_average_after'][0]:.1f} after")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
