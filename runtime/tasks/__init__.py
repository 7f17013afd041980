"""Each task's runtime part (:class:`~.base.RuntimeTask`), under the names of :data:`edgeseg.tasks.TASKS`."""

from __future__ import annotations

from edgeseg.metadata import ModelMetadata
from edgeseg.tasks import task_of

from .base import Predictor, Renderer, RuntimeTask
from .proposals import ProposalsRuntime
from .semantic import SemanticRuntime

RUNTIME_TASKS: dict[str, RuntimeTask] = {
    "semantic": SemanticRuntime(),
    "proposals": ProposalsRuntime(),
}


def runtime_task(meta: ModelMetadata) -> RuntimeTask:
    """The runtime part of the task of a model with metadata ``meta``."""
    return RUNTIME_TASKS[task_of(meta).name]


def other_tasks(task: RuntimeTask) -> list[RuntimeTask]:
    """The runtime parts of every task but ``task`` (whose ``edgeseg run`` options ``task`` refuses)."""
    return [other for other in RUNTIME_TASKS.values() if other is not task]


__all__ = ["RUNTIME_TASKS", "Predictor", "Renderer", "RuntimeTask", "other_tasks", "runtime_task"]
