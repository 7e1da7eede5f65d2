"""Progress lines from inside compiled training loops, and the divergence check after them.

Training runs are one `jit`-compiled `lax.scan`, so progress is reported through
`jax.debug.callback` about ten times per run; the label comes from `progress.task(...)`
on the host. Printing is off unless `enable()` was called (the CLI does; tests do not).
"""

from __future__ import annotations

import contextlib
import sys

import jax
import numpy as np

_state = {"enabled": False, "label": ""}


class DivergenceError(RuntimeError):
    """A training loss turned NaN or infinite; `step` is the first bad step (0-based)."""

    def __init__(self, what: str, step: int):
        super().__init__(f"{what}: loss became NaN/inf at step {step}; stopping (no results written)")
        self.step = step


def enable(on: bool = True) -> None:
    _state["enabled"] = on


@contextlib.contextmanager
def task(label: str):
    """Name the training run whose progress lines are printed inside this block."""
    previous = _state["label"]
    _state["label"] = label
    try:
        yield
    finally:
        _state["label"] = previous


def _print_progress(step, total, loss) -> None:
    if not _state["enabled"]:
        return
    loss = np.asarray(loss)
    spread = f" (min {loss.min():.4g}, max {loss.max():.4g} over {loss.size} runs)" if loss.size > 1 else ""
    print(f"  {_state['label']} step {int(step) + 1}/{int(total)} loss {loss.mean():.4g}{spread}", file=sys.stderr, flush=True)


def report(step: jax.Array, total_steps: int, loss: jax.Array) -> None:
    """Inside a scan body: print (step, loss over all runs) about ten times per run."""
    every = max(total_steps // 10, 1)
    due = (step % every == every - 1) | (step == total_steps - 1)
    jax.lax.cond(
        due,
        lambda: jax.debug.callback(_print_progress, step, total_steps, loss),
        lambda: None,
    )


def check_finite(losses, what: str) -> None:
    """Raise DivergenceError naming the first step (axis 0) where any loss is not finite."""
    finite = np.isfinite(np.asarray(losses)).reshape(len(losses), -1).all(axis=1)
    if not finite.all():
        raise DivergenceError(what, int(np.argmin(finite)))

