"""Object proposals (DeepMask, SharpMask), training part: windows, the DeepMask loss, mask IoU.

Instances come from ``data.kind``:

- ``camvid`` / ``folder``: connected components of the car, pedestrian,
  bicyclist, sign and pole classes of the semantic masks
  (:func:`~edgeseg.train.data.instances.instances_from_semantic`);
- ``coco``: ``ROOT/images/SPLIT/`` with ``ROOT/annotations/SPLIT.json``
  (COCO instance format, polygons or RLE).

Loss (DeepMask paper, eq. 1): per window, the mean logistic (BCE) loss of the
mask over its pixels, counted for positive windows only, plus ``score_weight``
(the config's; the paper's 1/32 by default) times the logistic loss of the objectness score. Validation windows are the canonical
(unjittered) positives and negatives of the val split; the metrics are the mean
mask IoU over positives (threshold 0.5) and the score accuracy (threshold 0).
The checkpoint's ``best_miou`` holds the best val mask IoU, so its keys match
segmentation runs.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

import edgeseg
from edgeseg.datasets import read_image
from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata
from edgeseg.preprocess import normalize_bgr

from ..config import TrainConfig
from ..data.datasets import dataset_info, load_split
from ..data.instances import Instance, instances_from_semantic, read_coco_instances
from ..data.proposal_patches import ProposalPatches
from ..distributed import DistContext
from ..models import get_entry
from ..speed import SpeedPlan, fused_optimizer_choice, plan_speed
from .base import TaskRun, TrainTask, input_spec_from_config

log = logging.getLogger("edgeseg.train")

SCORE_WEIGHT = TrainConfig.score_weight
"""lambda of the DeepMask loss: the weight of the objectness term."""


def proposal_loss(mask_logits: torch.Tensor, score_logits: torch.Tensor, mask_target: torch.Tensor,
                  labels: torch.Tensor, score_weight: float = SCORE_WEIGHT) -> torch.Tensor:
    """DeepMask loss. mask_* N x M x M, score_logits and labels N (1 positive, 0 negative).

    Mask targets smaller or larger than the logits are resized (nearest) to them.
    """
    if mask_target.shape[1:] != mask_logits.shape[1:]:
        mask_target = F.interpolate(mask_target[:, None], size=mask_logits.shape[1:], mode="nearest")[:, 0]
    per_window = F.binary_cross_entropy_with_logits(mask_logits, mask_target, reduction="none").mean(dim=(1, 2))
    positives = labels.sum()
    mask_loss = (per_window * labels).sum() / positives.clamp(min=1.0)
    return mask_loss + score_weight * F.binary_cross_entropy_with_logits(score_logits, labels)


def load_instances(cfg: TrainConfig, split: str, limit: int,
                   prefixes: list[str] | None = None) -> tuple[list[np.ndarray], list[Instance]]:
    """Decoded images (uint8 BGR) of ``split`` and their instances.

    ``prefixes`` keeps the images whose file name starts with one of them (a held-out drive, docs/protocol.md).
    """
    data = cfg.data
    if data.kind == "coco":
        if prefixes:
            raise EdgesegError("data.train_prefixes/val_prefixes select CamVid drives by file name; "
                               "a coco data set holds its own splits: leave them empty")
        root = Path(data.root)
        paths, instances = read_coco_instances(root / "annotations" / f"{split}.json", root / data.images_dir / split)
        if limit > 0:
            paths = paths[:limit]
            instances = [i for i in instances if i.image_index < limit]
        images = [read_image(p) for p in paths]
    elif data.kind in ("camvid", "folder"):
        info = dataset_info(data)
        loaded = load_split(data, split, info, limit, prefixes)
        images, instances = list(loaded.images), []
        for index, mask in enumerate(loaded.masks):
            instances += instances_from_semantic(mask, list(info.classes), image_index=index)
    else:
        raise EdgesegError(f"data.kind {data.kind!r} has no instances; proposal models take camvid, folder or coco")
    if not instances:
        raise EdgesegError(f"split {split!r} of {data.root} holds no object instances to train proposals on")
    return images, instances


@torch.no_grad()
def evaluate_proposals(model: nn.Module, dataset: ProposalPatches, device: torch.device) -> dict[str, float]:
    """Mean mask IoU over positive windows (mask > 0.5) and score accuracy over all windows."""
    model.eval()
    ious, correct, total = [], 0, 0
    for x, target, labels in DataLoader(dataset, batch_size=16):
        mask_logits, score_logits = model(x.to(device))
        if target.shape[1:] != mask_logits.shape[1:]:
            target = F.interpolate(target[:, None], size=mask_logits.shape[1:], mode="nearest")[:, 0]
        predicted = (mask_logits.cpu() > 0).numpy()
        truth = target.numpy() > 0.5
        for p, t, label in zip(predicted, truth, labels.numpy()):
            if label > 0.5:
                union = np.logical_or(p, t).sum()
                ious.append(np.logical_and(p, t).sum() / union if union else 1.0)
        correct += int(((score_logits.cpu() > 0).float() == labels).sum())
        total += len(labels)
    return {"val_mask_iou": float(np.mean(ious)) if ious else 0.0, "val_score_accuracy": correct / max(1, total)}


class ProposalsRun(TaskRun):
    def __init__(self, cfg: TrainConfig, model: Any):  # a DeepMask/SharpMask: window, mask_size, grid_stride
        self.score_weight = cfg.score_weight
        train_images, train_instances = load_instances(cfg, cfg.data.train_split, cfg.max_train_images,
                                                       cfg.data.train_prefixes)
        val_images, val_instances = load_instances(cfg, cfg.data.val_split, cfg.max_val_images, cfg.data.val_prefixes)
        log.info("%d training and %d validation instances", len(train_instances), len(val_instances))
        self.train_instances = len(train_instances)
        self.train_set = ProposalPatches(train_images, train_instances, model.window, model.mask_size, cfg.data.mean,
                                         cfg.data.std, seed=cfg.seed, hflip=cfg.augment.hflip)
        self.val_set = ProposalPatches(val_images, val_instances, model.window, model.mask_size, cfg.data.mean,
                                       cfg.data.std, seed=cfg.seed + 1, jitter=False)

    def inputs(self, batch: Any, device: torch.device, channels_last: bool) -> tuple[torch.Tensor, Any]:
        x, target, labels = batch
        return x.to(device), (target.to(device), labels.to(device))

    def loss_sum(self, outputs: Any, targets: Any, model: nn.Module) -> tuple[torch.Tensor, float]:
        # The loss is a mean per batch: each rank's counts once (DDP averages the gradients).
        mask_logits, score_logits = outputs
        mask_target, labels = targets
        return proposal_loss(mask_logits, score_logits, mask_target, labels, score_weight=self.score_weight), 1.0

    def evaluate(self, model: nn.Module, device: torch.device, ctx: DistContext) -> dict[str, Any]:
        return evaluate_proposals(model, self.val_set, device)

    def metadata(self, cfg: TrainConfig, model: Any, record: dict[str, Any], best: float) -> ModelMetadata:
        entry = get_entry(cfg.model.name)
        args = dict(cfg.model.args)
        # The runtime cuts windows from frames by this geometry: record it even where the config left defaults.
        args.update(window=model.window, stride=model.grid_stride)
        if "mask_size" in inspect.signature(entry.factory).parameters:
            args["mask_size"] = model.mask_size
        extra = {"epoch": record["epoch"], "val_mask_iou": record.get("val_mask_iou"),
                 "val_score_accuracy": record.get("val_score_accuracy"), "train_instances": self.train_instances}
        spec = input_spec_from_config(cfg)
        return ModelMetadata(
            architecture=cfg.model.name, arch_args=args, classes=["object"], palette=[[255, 255, 0]],
            # a checkpoint's input is one window; the deployed frame size is the export's (edgeseg.export.tasks)
            input=InputSpec(height=model.window, width=model.window, mean=spec.mean, std=spec.std,
                            multiple=spec.multiple),
            tool_versions={"edgeseg": edgeseg.__version__, "torch": str(torch.__version__)},
            training={**extra, "task": "proposals", "mask_size": model.mask_size},
        )


class ProposalsTraining(TrainTask):
    name = "proposals"
    best_metric = "val_mask_iou"
    best_metric_text = "val mask IoU"
    scalar_metrics = ("val_mask_iou", "val_score_accuracy")

    def check_config(self, cfg: TrainConfig, *, qat: bool) -> None:
        if qat:
            raise EdgesegError("--qat-from supports semantic segmentation models only, not proposal models")

    def speed(self, cfg: TrainConfig, device: torch.device) -> SpeedPlan:
        plan = plan_speed(cfg, device)  # threads and the fused optimizer as for any model
        _, fused_reason = fused_optimizer_choice(cfg, device)
        return replace(plan, compile=False, autocast_dtype=None, grad_scaler=False, channels_last=False,
                       prefetch_batches=0,
                       reasons=("proposal models train eagerly in FP32 (compile, autocast and channels-last are "
                                f"not measured for them); {plan.threads} intra-op thread(s)", fused_reason))

    def num_outputs(self, cfg: TrainConfig) -> int:
        return 1

    def item_size(self, model: Any, height: int, width: int) -> tuple[int, int]:
        return int(model.window), int(model.window)  # one square window per item

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]  # SharpMask may freeze its DeepMask trunk

    def start(self, cfg: TrainConfig, model: nn.Module, ctx: DistContext, device: torch.device) -> TaskRun:
        return ProposalsRun(cfg, model)

    def reference_outputs(self, model: nn.Module, meta: ModelMetadata, inputs: np.ndarray,
                          device: torch.device | None = None) -> dict[str, np.ndarray]:
        """``mask_logits`` float32 K x M x M and ``scores`` (sigmoid of the score logits) for uint8 ``windows``."""
        x = torch.from_numpy(normalize_bgr(inputs, meta.input.mean, meta.input.std))
        with torch.no_grad():
            masks, score_logits = model(x if device is None else x.to(device))
        return {"mask_logits": masks.float().cpu().numpy(), "scores": torch.sigmoid(score_logits).float().cpu().numpy()}
