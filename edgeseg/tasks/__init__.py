"""Tasks: what a deployed model computes (see :mod:`.base` and docs/architecture_tasks.md).

:data:`TASKS` is the one place a task name (a metadata's ``task``, a model
registry entry's ``task``) becomes a :class:`~.base.Task`; the stages' own
parts of each task are listed under the same names in ``edgeseg.runtime.tasks``,
``edgeseg.train.tasks`` and ``edgeseg.export.tasks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeseg.errors import EdgesegError

from .base import Dims, Task, TensorSpec
from .proposals import ProposalsTask
from .semantic import SemanticTask

if TYPE_CHECKING:
    from edgeseg.metadata import ModelMetadata

TASKS: dict[str, Task] = {
    "semantic": SemanticTask(),
    "proposals": ProposalsTask(),
}


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name raises with the list of known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise EdgesegError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def task_of(meta: ModelMetadata) -> Task:
    """The task of a deployed artifact (its metadata's ``task``)."""
    return get_task(meta.task)


__all__ = ["TASKS", "Dims", "ProposalsTask", "SemanticTask", "Task", "TensorSpec", "get_task", "task_of"]
