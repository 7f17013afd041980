"""Each task's training part (:class:`~.base.TrainTask`), under the names of :data:`edgeseg.tasks.TASKS`."""

from __future__ import annotations

from edgeseg.tasks import get_task

from ..models import get_entry
from .base import TaskRun, TrainTask, input_spec_from_config
from .proposals import ProposalsTraining
from .semantic import SemanticTraining

TRAIN_TASKS: dict[str, TrainTask] = {
    "semantic": SemanticTraining(),
    "proposals": ProposalsTraining(),
}


def task_name(architecture: str) -> str:
    """The task of registry architecture ``architecture`` (its ``ModelEntry.task``), checked against :data:`TASKS`.

    Raises:
        KeyError: unknown architecture (the message lists the valid names).
    """
    return get_task(get_entry(architecture).task).name


def train_task(architecture: str) -> TrainTask:
    """The training part of the task of registry architecture ``architecture``."""
    return TRAIN_TASKS[task_name(architecture)]


__all__ = ["TRAIN_TASKS", "TaskRun", "TrainTask", "input_spec_from_config", "task_name", "train_task"]
