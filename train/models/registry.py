"""The model registry: a decorator on plain factory functions.

Each architecture module decorates its factory with ``@register_model(name)``;
``edgeseg.train.models`` imports every architecture module explicitly, so the
registry is complete once that package is imported (no import side effects
hidden elsewhere). ``grep -rn register_model train/models`` lists the zoo.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    """A registered architecture.

    Attributes:
        name: registry name, the ``name`` that :func:`build_model` takes.
        factory: ``factory(num_classes, **kwargs) -> nn.Module``.
        paper: short citation shown by ``edgeseg models``.
        input_multiple: H and W must be multiples of this.
        in_channels: input channels the model takes by default (3: RGB; 4: RGB-D).
        task: ``semantic`` (N x C x H x W logits) or ``proposals``
            (class-agnostic masks and objectness scores, DeepMask-style).
    """

    name: str
    factory: Callable[..., nn.Module]
    paper: str
    input_multiple: int
    in_channels: int = 3
    task: str = "semantic"


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, *, paper: str, input_multiple: int = 1, in_channels: int = 3,
                   task: str = "semantic") -> Callable:
    """Register ``factory`` under ``name``; a second registration is an error."""

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model name {name!r} registered twice")
        _MODELS[name] = ModelEntry(name, factory, paper, input_multiple, in_channels, task)
        return factory

    return decorate


def model_names() -> list[str]:
    """Sorted registry names."""
    return sorted(_MODELS)


def get_entry(name: str) -> ModelEntry:
    """The entry for ``name``; unknown names raise with the list of valid ones."""
    try:
        return _MODELS[name]
    except KeyError:
        raise KeyError(
            f"unknown architecture {name!r}; valid names: {', '.join(model_names())}"
        ) from None


def build_model(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build architecture ``name`` with ``num_classes`` outputs.

    ``None`` values in ``kwargs`` mean "the factory's default" and are dropped.

    Raises:
        KeyError: unknown ``name`` (the message lists the valid names).
        TypeError: a keyword the factory does not take (the message lists those it does).
    """
    entry = get_entry(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    accepted = [p for p in inspect.signature(entry.factory).parameters if p != "num_classes"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"{name} takes no argument {', '.join(map(repr, unknown))}; its arguments: {', '.join(accepted)}")
    return entry.factory(num_classes, **kwargs)
