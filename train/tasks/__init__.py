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


def train_task(architecture: str) -> TrainTask:
    """The training part of the task of registry architecture ``architecture`` (its ``ModelEntry.task``).

    Raises:
        KeyError: unknown architecture (the message lists the valid names).
    """
    return TRAIN_TASKS[get_task(get_entry(architecture).task).name]


__all__ = ["TRAIN_TASKS", "TaskRun", "TrainTask", "input_spec_from_config", "train_task"]
