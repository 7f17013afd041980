"""Semantic segmentation in the runtime: per-frame labels, drawn as class colours (:mod:`..overlay`)."""

from __future__ import annotations

import argparse

import numpy as np

from edgeseg.errors import EdgesegError

from ..backends.base import Backend
from ..overlay import OverlayRenderer
from .base import Predictor, Renderer, RuntimeTask


class LabelPredictor:
    """frame uint8 h x w x C at the model size -> uint8 h x w labels, checked against the class count."""

    def __init__(self, backend: Backend):
        backend.require_semantic("the label predictor")
        self.backend = backend
        self.num_classes = backend.metadata.num_classes

    def __call__(self, image: np.ndarray) -> np.ndarray:
        labels = self.backend.infer(image[None])[0]
        top = int(labels.max())
        if top >= self.num_classes:
            classes = self.backend.metadata.classes
            raise EdgesegError(
                f"the model output label {top}, but its metadata lists {self.num_classes} classes "
                f"({', '.join(classes[:5])}{', ...' if self.num_classes > 5 else ''}); "
                "the artifact's metadata does not match the model: re-export it"
            )
        return labels


class SemanticRuntime(RuntimeTask):
    name = "semantic"
    models = "semantic models"
    flags: dict[str, str] = {}  # its options (--legend, --alpha, ...) have defaults, so other tasks check them

    def predictor(self, backend: Backend, args: argparse.Namespace | None = None) -> Predictor:
        return LabelPredictor(backend)

    def renderer(self, backend: Backend, args: argparse.Namespace, view: str) -> Renderer:
        meta = backend.metadata
        return OverlayRenderer(meta.palette, meta.classes, alpha=args.alpha, mode=view, legend=args.legend,
                               filter=args.filter, ignore=args.ignore_class, legend_min_share=args.legend_min_share)

    def describe(self, backend: Backend, predictor: Predictor) -> str:
        return f"{backend.metadata.num_classes} classes"

    def sink_labels(self, prediction: np.ndarray) -> np.ndarray:
        return prediction
