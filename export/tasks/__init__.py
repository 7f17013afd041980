"""Each task's export part (:class:`~.base.ExportTask`), under the names of :data:`edgeseg.tasks.TASKS`."""

from __future__ import annotations

from edgeseg.tasks import get_task

from .base import ExportPlan, ExportTask, ParityInputs
from .proposals import ProposalsExport
from .semantic import SemanticExport

EXPORT_TASKS: dict[str, ExportTask] = {
    "semantic": SemanticExport(),
    "proposals": ProposalsExport(),
}


def export_task(architecture: str) -> ExportTask:
    """The export part of the task of registry architecture ``architecture`` (its ``ModelEntry.task``).

    Raises:
        KeyError: unknown architecture (the message lists the valid names).
    """
    from edgeseg.train.models import get_entry

    return EXPORT_TASKS[get_task(get_entry(architecture).task).name]


__all__ = ["EXPORT_TASKS", "ExportPlan", "ExportTask", "ParityInputs", "export_task"]
