"""Stop a diverging training run cleanly: a NaN or infinite loss, or weights that are no longer finite.

The trainer checks each step's loss before the optimizer step and the
weights before each save, so ``last.pt`` and ``best.pt`` only ever hold
finite weights: the last good checkpoint is left as it was, and the error
says where the run stopped and what to try.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from edgeseg.errors import EdgesegError


class TrainingDiverged(EdgesegError):
    """The loss or the weights stopped being finite; nothing of the failing epoch was saved."""

    exit_code = 4


def first_non_finite(state: Mapping[str, object]) -> tuple[str, int] | None:
    """``(name, count)`` of the first floating tensor in ``state`` with NaN or infinite values, or None."""
    import torch

    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                return name, bad
    return None


def diverged_message(*, what: str, epoch: int, step: int, global_step: int, last_finite: float | None,
                     lr: float, out: object, completed: int) -> str:
    """The stop message: where (epoch, step), the last finite loss, what was kept, what to try."""
    previous = f"the last finite loss was {last_finite:.4g}" if last_finite is not None and math.isfinite(last_finite) \
        else "no step of this run had a finite loss"
    last_good = (f"{out}/last.pt (epoch {completed}) is the last good checkpoint and was left as it was."
                 if completed else "No epoch had finished, so no checkpoint was written.")
    return (
        f"training diverged at epoch {epoch}, step {step} (global step {global_step}): {what}; {previous}. "
        f"{last_good} Try a lower learning rate (the peak lr is {lr:g}: --set lr={lr / 10:g}), a longer warm-up "
        "(--set warmup_epochs=...), amp = false, or check the data for broken masks; then start a new run or "
        "--resume --allow-changes from the last good checkpoint"
    )
