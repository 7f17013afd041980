"""What ``edgeseg train --resume`` continues: exactly the recorded run, or a change the user asked for.

The run folder's ``config.json`` is the run's config. On ``--resume`` the
config the command line asks for (TOML file plus ``--set``) is compared with
it key by key (dotted keys, ``augment.crop_height``):

- keys in :data:`SPEED_ONLY_KEYS` change how fast the run goes, not what it
  computes (threads, workers, device, compilation): the new value is taken;
- any other difference (data, model, crop, learning rate or its schedule,
  batch size, epochs, seed) is refused with the list of what differs, unless
  ``--allow-changes``: then the run continues with the new config, and the
  change is recorded in ``config.json`` (``config_changes``: at which epoch,
  old and new values) and on the first ``metrics.jsonl`` line after it.

A run whose ``last.pt`` already holds every epoch of the config is finished:
:func:`plan_resume` says so, and nothing is trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.atomic import atomic_write_text
from edgeseg.config import build_dataclass, config_to_dict
from edgeseg.errors import EdgesegError

from .config import TrainConfig

# Keys that change only the speed of a run, never its numbers. Extend this when a new
# key is of that kind (data.cache only changes where decoded samples are kept). Not here, as they change the numbers:
# amp and amp_dtype (bf16/fp16 arithmetic), augment.fast (another augmentation arithmetic).
# tests/train/test_resume.py checks that every name here is a key of TrainConfig.
SPEED_ONLY_KEYS: frozenset[str] = frozenset({
    "threads", "interop_threads", "num_workers", "prefetch_batches", "device", "compile", "compile_cache_dir",
    "channels_last", "fused_optimizer", "data.cache",
})
CHANGES_KEY = "config_changes"  # in config.json: the list of accepted changes, oldest first


@dataclass
class ResumePlan:
    """``config``: what to train with; ``changes``: ``{key: [old, new]}`` accepted (speed-only ones excluded)."""

    config: TrainConfig
    changes: dict[str, list[Any]] = field(default_factory=dict)
    speed_changes: dict[str, list[Any]] = field(default_factory=dict)
    finished_epoch: int | None = None  # set when the run already holds all its epochs


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"augment": {"crop_height": 360}}`` -> ``{"augment.crop_height": 360}`` (model.args included)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def config_differences(recorded: TrainConfig, requested: TrainConfig) -> dict[str, list[Any]]:
    """``{dotted key: [recorded value, requested value]}`` for every key whose value differs."""
    old, new = flatten(config_to_dict(recorded)), flatten(config_to_dict(requested))
    return {key: [old.get(key), new.get(key)] for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)}


def read_run_config(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's recorded config tree and its change history, from ``config.json``."""
    path = out / "config.json"
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgesegError(f"--resume: {path} does not exist, so the run's config is unknown; start a new run "
                           "(another --out) or restore config.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EdgesegError(f"--resume: {path} is not valid JSON ({exc}); restore it from a backup") from None
    if not isinstance(tree, dict):
        raise EdgesegError(f"--resume: {path} is not a config (expected a JSON object)")
    history = tree.pop(CHANGES_KEY, [])
    return tree, history if isinstance(history, list) else []


def _describe(changes: dict[str, list[Any]]) -> str:
    return "; ".join(f"{key}: {json.dumps(old)} (recorded) -> {json.dumps(new)} (now)" for key, (old, new) in changes.items())


def plan_resume(out: str | Path, requested: TrainConfig, *, allow_changes: bool, completed_epoch: int) -> ResumePlan:
    """Compare ``requested`` with the run in ``out`` (which has ``completed_epoch`` epochs in last.pt).

    Raises:
        EdgesegError: a difference beyond :data:`SPEED_ONLY_KEYS` without ``allow_changes``.
    """
    out = Path(out)
    tree, _ = read_run_config(out)
    try:
        recorded = build_dataclass(TrainConfig, tree)
    except EdgesegError as exc:
        raise EdgesegError(f"--resume: {out / 'config.json'}: {exc}") from None
    differences = config_differences(recorded, requested)
    speed = {k: v for k, v in differences.items() if k in SPEED_ONLY_KEYS}
    changes = {k: v for k, v in differences.items() if k not in SPEED_ONLY_KEYS}
    if changes and not allow_changes:
        raise EdgesegError(
            f"--resume continues the run recorded in {out / 'config.json'}, but this command asks for a different run: "
            f"{_describe(changes)}. Resume with the recorded values (drop those --set, or restore the config file), "
            "or pass --allow-changes to continue with the new ones (the change is recorded in config.json and "
            "metrics.jsonl)"
        )
    plan = ResumePlan(requested, changes, speed)
    if completed_epoch >= requested.epochs:
        plan.finished_epoch = completed_epoch
    return plan


def finished_message(out: str | Path, plan: ResumePlan) -> str:
    return (f"{out} is finished: last.pt holds epoch {plan.finished_epoch} of {plan.config.epochs}; nothing to train. "
            f"To train longer: --resume --set epochs=N --allow-changes (a new schedule), or start a new run")


def write_run_config(out: Path, cfg: TrainConfig, *, resume: bool, at_epoch: int,
                     changes: dict[str, list[Any]] | None) -> None:
    """Write ``config.json``: ``cfg`` plus the change history (on resume kept from the file, ``changes`` appended)."""
    history: list[dict[str, Any]] = []
    if resume and (out / "config.json").exists():
        try:
            history = read_run_config(out)[1]
        except EdgesegError:
            history = []
    if changes:
        history.append({"at_epoch": at_epoch, "changes": changes})
    tree = config_to_dict(cfg)
    if history:
        tree[CHANGES_KEY] = history
    atomic_write_text(out / "config.json", json.dumps(tree, indent=2))


def apply_config_to_optimizer(optimizer, scheduler, cfg: TrainConfig) -> None:
    """After loading a resumed optimizer and scheduler: take ``lr``, ``weight_decay`` and ``momentum`` from ``cfg``.

    Their state dicts carry the values the run started with; without this an
    accepted change of the learning rate (``--allow-changes``) would be silently
    ignored. The current rate is the new peak times the schedule's factor so far.
    """
    factors = [group["lr"] / base if base else 0.0 for group, base in zip(optimizer.param_groups, scheduler.base_lrs)]
    for group, factor in zip(optimizer.param_groups, factors):
        group["initial_lr"] = cfg.lr
        group["lr"] = cfg.lr * factor
        group["weight_decay"] = cfg.weight_decay
        if "momentum" in group:
            group["momentum"] = cfg.momentum
    scheduler.base_lrs = [cfg.lr] * len(optimizer.param_groups)
