"""Segmentation architectures. Importing this package registers all of them.

Each architecture lives in its own module and is imported here by name, so
the registry's contents are exactly the modules listed below.
"""

from . import (  # noqa: F401  (each module registers its architectures)
    crfasrnn,  # crfasrnn
    deeplab,  # deeplab_largefov, deeplab_largefov_crf
    enet,  # enet
    fcn,  # fcn32s, fcn16s, fcn8s
    lednet,  # lednet
    parsenet,  # parsenet
    pspnet,  # pspnet
    refinenet,  # refinenet
    segnet,  # segnet
)
from .registry import ModelEntry, build_model, get_entry, model_names, register_model

__all__ = ["ModelEntry", "build_model", "get_entry", "model_names", "register_model"]
