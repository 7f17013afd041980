"""Segmentation architectures. Importing this package registers all of them.

Each architecture lives in its own module and is imported here by name, so
the registry's contents are exactly the modules listed below.
"""

from . import (
    bisenetv2,  # noqa: F401  (registers "bisenetv2")
    ddrnet,  # noqa: F401  (registers "ddrnet23_slim")
    deepmask,  # noqa: F401  (registers "deepmask")
    enet,  # noqa: F401  (registers "enet")
    lraspp,  # noqa: F401  (registers "lraspp_mobilenetv3")
    lstmcf,  # noqa: F401  (registers "lstmcf")
    reseg,  # noqa: F401  (registers "reseg")
    sharpmask,  # noqa: F401  (registers "sharpmask")
)
from .registry import ModelEntry, build_model, get_entry, model_names, register_model

__all__ = ["ModelEntry", "build_model", "get_entry", "model_names", "register_model"]
