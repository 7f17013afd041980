"""Each task's export part (:class:`~.base.ExportTask`), under the names of :data:`edgeseg.tasks.TASKS`."""

from __future__ import annotations

from .base import ExportPlan, ExportTask, ParityInputs
from .proposals import ProposalsExport
from .semantic import SemanticExport

EXPORT_TASKS: dict[str, ExportTask] = {
    "semantic": SemanticExport(),
    "proposals": ProposalsExport(),
}


def export_task(architecture: str) -> ExportTask:
    """The export part of the task of registry architecture ``architecture`` (:func:`edgeseg.train.tasks.task_name`)."""
    from edgeseg.train.tasks import task_name

    return EXPORT_TASKS[task_name(architecture)]


__all__ = ["EXPORT_TASKS", "ExportPlan", "ExportTask", "ParityInputs", "export_task"]
