"""Progress lines from inside compiled training loops, and the divergence check after them.

Training runs are one `jit`-compiled `lax.scan`, so progress is reported through
`jax.debug.callback`: recorded about a hundred times per run (`current()` names the task
and step, for an interruption message) and printed about ten times; the label comes
from `progress.task(...)` on the host. Printing is off unless `enable()` was called
(the CLI does; tests do not).
"""

from __future__ import annotations

import contextlib
import sys

import jax
import numpy as np

_state = {"enabled": False, "label": "", "step": None, "total": None}


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
    previous = (_state["label"], _state["step"], _state["total"])
    _state.update(label=label, step=None, total=None)
    try:
        yield
    finally:
        _state["label"], _state["step"], _state["total"] = previous


def note(message: str) -> None:
    """One progress line on stderr (when enabled), for host-side loops outside training."""
    if _state["enabled"]:
        print(f"  {message}", file=sys.stderr, flush=True)


def current() -> tuple[str, int | None, int | None]:
    """(label, last recorded step, total steps) of the task running now (steps None before the first record)."""
    return _state["label"], _state["step"], _state["total"]


def _print_line(step: int, total: int, loss) -> None:
    """`  <task> step N/M loss L (min, max over G runs)` on stderr."""
    loss = np.asarray(loss)
    spread = f" (min {loss.min():.4g}, max {loss.max():.4g} over {loss.size} runs)" if loss.size > 1 else ""
    print(f"  {_state['label']} step {step}/{total} loss {float(loss.mean()):.4g}{spread}", file=sys.stderr, flush=True)


def _record_progress(step, total, loss, print_now) -> None:
    _state["step"], _state["total"] = int(step) + 1, int(total)
    if not (_state["enabled"] and bool(print_now)):
        return
    _print_line(int(step) + 1, int(total), loss)


def report(step: jax.Array, total_steps: int, loss: jax.Array) -> None:
    """Inside a scan body: record the step about a hundred times per run (so an interruption can
    name it) and print (step, loss over all runs) about ten times."""
    last = step == total_steps - 1
    print_every, record_every = max(total_steps // 10, 1), max(total_steps // 100, 1)
    print_now = (step % print_every == print_every - 1) | last
    due = print_now | (step % record_every == record_every - 1)
    jax.lax.cond(
        due,
        lambda: jax.debug.callback(_record_progress, step, total_steps, loss, print_now),
        lambda: None,
    )


@contextlib.contextmanager
def bar(total_steps: int):
    """Host-side progress of a segmented loop: yields advance(step, loss), called after each segment.

    A tqdm bar when printing is on and stderr is a terminal; otherwise a plain line per call
    when printing is on; always records the step for `current()`.
    """
    show = _state["enabled"]
    live = None
    if show and sys.stderr.isatty():
        from tqdm import tqdm

        live = tqdm(total=total_steps, desc=f"  {_state['label']}", unit="step", file=sys.stderr, leave=False)
    _state.update(step=0, total=total_steps)

    def advance(step: int, loss) -> None:
        loss = np.asarray(loss)
        _state.update(step=int(step), total=total_steps)
        if live is not None:
            live.update(int(step) - live.n)
            live.set_postfix(loss=f"{float(np.mean(loss[-1])):.4g}")
        elif show:
            _print_line(int(step), total_steps, loss[-1])

    try:
        yield advance
    finally:
        if live is not None:
            live.close()


def check_finite(losses, what: str, first_step: int = 0) -> None:
    """Raise DivergenceError naming the first step where any loss is not finite (losses [steps, …]
    hold steps first_step, first_step + 1, …)."""
    finite = np.isfinite(np.asarray(losses)).reshape(len(losses), -1).all(axis=1)
    if not finite.all():
        raise DivergenceError(what, first_step + int(np.argmin(finite)))

