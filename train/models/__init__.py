"""Segmentation architectures. Importing this package registers all of them.

Each architecture lives in its own module and is imported here by name, so
the registry's contents are exactly the modules listed below.
"""

from . import (  # noqa: F401  (each module registers its architectures; grep register_model)
    bisenetv2,
    crfasrnn,
    ddrnet,
    deeplab,
    deepmask,
    enet,
    fcn,
    lednet,
    lraspp,
    lstmcf,
    parsenet,
    pspnet,
    refinenet,
    reseg,
    segnet,
    sharpmask,
)
from .registry import ModelEntry, build_model, get_entry, model_names, register_model

__all__ = ["ModelEntry", "build_model", "get_entry", "model_names", "register_model"]
