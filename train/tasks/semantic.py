"""Semantic segmentation, training part: class-weighted cross-entropy (with aux heads), validation mIoU."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

import edgeseg
from edgeseg.datasets import DatasetInfo
from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata
from edgeseg.metrics import confusion_matrix, scores_from_confusion
from edgeseg.preprocess import normalize_image

from ..aux_loss import segmentation_loss_sum
from ..config import TrainConfig
from ..data.batches import model_input
from ..data.datasets import EvalDataset, TrainDataset, class_weights, dataset_info, load_split
from ..distributed import DistContext, all_reduce_array
from ..models import get_entry
from .base import TaskRun, TrainTask, input_spec_from_config


@torch.no_grad()
def evaluate_model(model: nn.Module, dataset: Dataset, num_classes: int, ignore_index: int, device: torch.device,
                   batch_size: int = 4) -> np.ndarray:
    """Confusion matrix (num_classes x num_classes) of ``model`` over ``dataset``."""
    model.eval()
    cm = np.zeros((num_classes, num_classes), np.int64)
    for x, y in DataLoader(dataset, batch_size=batch_size):
        predicted = model(x.to(device)).argmax(1).cpu().numpy()
        cm += confusion_matrix(y.numpy(), predicted, num_classes, ignore_index)
    return cm


class SemanticRun(TaskRun):
    def __init__(self, cfg: TrainConfig, info: DatasetInfo, ctx: DistContext, device: torch.device):
        self.cfg, self.info = cfg, info
        self.num_classes = len(info.classes)
        train_split = load_split(cfg.data, cfg.data.train_split, info, cfg.max_train_images, cfg.data.train_prefixes)
        val_split = load_split(cfg.data, cfg.data.val_split, info, cfg.max_val_images, cfg.data.val_prefixes)
        weights = class_weights(train_split.masks, self.num_classes, cfg.class_weighting) \
            if cfg.class_weighting != "none" else None
        self.train_set = TrainDataset(train_split, cfg.augment, cfg.data, info.ignore_index, cfg.seed)
        val_set = EvalDataset(val_split, cfg.data)
        self.val_shard = Subset(val_set, range(ctx.rank, len(val_set), ctx.world_size))
        self.loss_weight = torch.from_numpy(weights).to(device) if weights is not None else None

    def inputs(self, batch: Any, device: torch.device, channels_last: bool) -> tuple[torch.Tensor, Any]:
        images, y = batch
        x = model_input(images.to(device, non_blocking=True), self.cfg.data.mean, self.cfg.data.std, channels_last)
        return x, y.to(device, non_blocking=True).long()

    def loss_sum(self, outputs: Any, targets: Any, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | float]:
        aux_weight = getattr(model, "aux_loss_weight", 0.4)
        # The normaliser stays a (detached) tensor: float() here would split the compiled forward + loss graph.
        return segmentation_loss_sum(outputs, targets, self.loss_weight, self.info.ignore_index, aux_weight)

    def evaluate(self, model: nn.Module, device: torch.device, ctx: DistContext) -> dict[str, Any]:
        cm = all_reduce_array(evaluate_model(model, self.val_shard, self.num_classes, self.info.ignore_index, device), ctx)
        scores = scores_from_confusion(cm)
        return {"val_miou": scores.miou, "val_pixel_accuracy": scores.pixel_accuracy,
                "per_class_iou": {name: iou for name, iou in zip(self.info.classes, scores.per_class_iou)}}

    def metadata(self, cfg: TrainConfig, model: nn.Module, record: dict[str, Any], best: float) -> ModelMetadata:
        training = {"epoch": record["epoch"], "val_miou": record.get("val_miou"), "best_val_miou": best,
                    "val_split": cfg.data.val_split, "train_images": len(self.train_set)}
        return semantic_metadata(cfg, self.info, training)


def semantic_metadata(cfg: TrainConfig, info: DatasetInfo, training: dict[str, Any]) -> ModelMetadata:
    """A semantic checkpoint's metadata: the config's input spec and the data set's classes."""
    entry = get_entry(cfg.model.name)
    data = cfg.data
    multiple = entry.input_multiple
    if data.height % multiple or data.width % multiple:
        raise EdgesegError(
            f"data.height x data.width = {data.height}x{data.width} must be multiples of {multiple} for {entry.name}"
        )
    return ModelMetadata(
        architecture=cfg.model.name,
        arch_args=dict(cfg.model.args),
        classes=list(info.classes),
        palette=[list(c) for c in info.palette],
        ignore_index=info.ignore_index,
        input=input_spec_from_config(cfg),
        tool_versions={"edgeseg": edgeseg.__version__, "torch": str(torch.__version__)},
        training=training,
    )


class SemanticTraining(TrainTask):
    name = "semantic"
    best_metric = "val_miou"
    best_metric_text = "val mIoU"
    scalar_metrics = ("val_miou", "val_pixel_accuracy")

    def check_config(self, cfg: TrainConfig, *, qat: bool) -> None:
        if cfg.score_weight != TrainConfig.score_weight:
            raise EdgesegError(f"score_weight = {cfg.score_weight} is the objectness weight of proposal models "
                               f"(deepmask, sharpmask); {cfg.model.name} is a segmentation model: remove it")
        input_spec_from_config(cfg)

    def num_outputs(self, cfg: TrainConfig) -> int:
        return len(dataset_info(cfg.data).classes)

    def start(self, cfg: TrainConfig, model: nn.Module, ctx: DistContext, device: torch.device) -> TaskRun:
        return SemanticRun(cfg, dataset_info(cfg.data), ctx, device)

    def reference_outputs(self, model: nn.Module, meta: ModelMetadata, inputs: np.ndarray,
                          device: torch.device | None = None) -> dict[str, np.ndarray]:
        """``logits`` float32 N x C x H x W and ``labels`` (their argmax) for uint8 N x H x W x C ``image``."""
        x = torch.from_numpy(normalize_image(inputs, meta.input.mean, meta.input.std))
        with torch.no_grad():
            logits = model(x if device is None else x.to(device)).float().cpu().numpy()
        return {"labels": logits.argmax(1).astype(np.uint8), "logits": logits}


__all__ = ["SemanticTraining", "evaluate_model", "semantic_metadata"]
