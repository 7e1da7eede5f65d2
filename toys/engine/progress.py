"""Progress of a run: which task is running, its last finished step, and what the user sees.

A `Progress` belongs to one run (it sits on the run's `toys.engine.runtime.Runtime`; nothing
is kept at module level). Training runs as compiled segments (`toys.engine.loop`); between
segments the loop calls `advance(step, loss)` from `bar(...)`: a tqdm bar when printing is on
and stderr is a terminal, a plain line per segment when printing is on elsewhere, and always
the step recorded, so an interruption can say what was running (`current()`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np


class DivergenceError(RuntimeError):
    """A training loss turned NaN or infinite; `step` is the first bad step (0-based)."""

    def __init__(self, what: str, step: int):
        super().__init__(f"{what}: loss became NaN/inf at step {step}; stopping (no results written)")
        self.step = step


def check_finite(losses, what: str, first_step: int = 0) -> None:
    """Raise DivergenceError naming the first step where any loss is not finite (losses [steps, …]
    hold steps first_step, first_step + 1, …)."""
    finite = np.isfinite(np.asarray(losses)).reshape(len(losses), -1).all(axis=1)
    if not finite.all():
        raise DivergenceError(what, first_step + int(np.argmin(finite)))


def _terminal_columns() -> int:
    """Columns of the terminal stderr writes to; 0 when it is not a terminal or reports no size
    (tqdm draws nothing at 0 columns, so such a terminal gets plain lines)."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns if sys.stderr.isatty() else 0
    except (OSError, ValueError, AttributeError):
        return 0


class Progress:
    """What one run is doing. `show`: print progress (the CLI's runs do; tests and library calls don't)."""

    def __init__(self, show: bool = False):
        self.show = show
        self.label: str = ""
        self.step: int | None = None
        self.total: int | None = None

    @contextlib.contextmanager
    def task(self, label: str):
        """Name the task whose progress is shown inside this block."""
        previous = (self.label, self.step, self.total)
        self.label, self.step, self.total = label, None, None
        try:
            yield
        finally:
            self.label, self.step, self.total = previous

    def note(self, message: str) -> None:
        """One line on stderr (when shown), for host-side work outside training."""
        if self.show:
            print(f"  {message}", file=sys.stderr, flush=True)

    def current(self) -> tuple[str, int | None, int | None]:
        """(label, last finished step, total steps) of the task running now (steps None before its first segment)."""
        return self.label, self.step, self.total

    def counter(self, every_s: float = 10.0):
        """A callback report(what, done, total) for long host-side loops (a reader's groups, a
        report's runs): it records done/total (what an interruption names) and, when shown, prints
        `  <task>: <what> done/total` at most every `every_s` seconds and at the end."""
        last = [time.monotonic()]

        def report(what: str, done: int, total: int) -> None:
            self.step, self.total = int(done), int(total)
            now = time.monotonic()
            if self.show and (now - last[0] >= every_s or done == total):
                last[0] = now
                print(f"  {self.label}: {what} {done}/{total}", file=sys.stderr, flush=True)

        return report

    @contextlib.contextmanager
    def bar(self, total_steps: int):
        """Yields advance(step, losses), called after each segment with the steps done so far and
        that segment's losses [steps, …]; the task's label names the bar."""
        label = self.label
        live = None
        if self.show and _terminal_columns() > 0:  # a terminal without a size (0 columns) gets plain lines
            from tqdm import tqdm

            live = tqdm(total=total_steps, desc=f"  {label}", unit="step", file=sys.stderr, leave=False)
        self.step, self.total = 0, total_steps

        def advance(step: int, losses) -> None:
            last = np.asarray(losses)[-1]
            self.step, self.total = int(step), total_steps
            if live is not None:
                live.update(int(step) - live.n)
                live.set_postfix(loss=f"{float(np.mean(last)):.4g}")
            elif self.show:
                spread = f" (min {last.min():.4g}, max {last.max():.4g} over {last.size} runs)" if last.size > 1 else ""
                print(f"  {label} step {step}/{total_steps} loss {float(last.mean()):.4g}{spread}", file=sys.stderr, flush=True)

        try:
            yield advance
        finally:
            if live is not None:
                live.close()
