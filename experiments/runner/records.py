"""Run records and interruption: status.json, and Ctrl-C / SIGTERM that stop a run at once.

Every run folder holds `status.json`, rewritten atomically at each change:
    state        running | finished | diverged | interrupted | failed
    started, ended (UTC, ISO 8601), duration_s
    host, device, command
    stage, step, steps   (interrupted: what was running; from the run's progress)
    error        (diverged / failed: the one-line message)
    headline     (finished: the study's one number, what `toylab runs` shows without importing it)
A folder whose state is "running" and whose process is gone was killed without notice
(SIGKILL, a power cut); `toylab runs` shows it as such.

Interruption. From the process's start `experiments.runner.entry` handles SIGINT, SIGTERM and
SIGHUP (one line, exit 130, or 129 for SIGHUP); a run folder's status, once written, records a signal
during setup as "interrupted" at "setup". A compiled JAX call cannot be interrupted from Python: the signal handler
only runs when the interpreter regains control. So the run executes in a worker thread
while the main thread waits in short, signal-aware joins; on SIGINT or SIGTERM the main
thread records the state, prints one line — `interrupted at <stage>, step N of M; no
results written` — and ends the process with exit code 130 at once. The run's last act is one
commit (`RunStatus.commit`): results.json (written atomically) and the state "finished", under a lock
the interruption takes as well, so a signal lands before both (no results.json, "interrupted") or
after both (finished, every record agreeing; the line says the results are complete).
"""

from __future__ import annotations

import datetime
import os
import platform
import signal
import sys
import threading
import time
from pathlib import Path

from experiments.runner import entry, runfolder
from toys.engine import guarded

EXIT_INTERRUPTED = 130
STATES = ("running", "finished", "diverged", "interrupted", "failed")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class RunStatus:
    """status.json of one run folder."""

    def __init__(self, folder: Path, experiment: str, progress=None):
        """progress: the run's `toys.engine.progress.Progress` (what an interruption names)."""
        import jax

        from toys.engine.progress import Progress

        self.progress = progress or Progress()
        self.path = Path(folder) / "status.json"
        self._started = time.time()
        # the commit (results.json and the state "finished") and an interruption's record exclude each other
        self._commit = threading.Lock()
        device = jax.devices()[0]
        self.record = {
            "state": "running",
            "experiment": experiment,
            "started": _now(),
            "ended": None,
            "duration_s": None,
            "host": platform.node(),
            "pid": os.getpid(),
            "device": f"{device.platform}:{device.device_kind} ×{jax.device_count()}",
            "command": sys.argv,
        }
        # until the run's own handler takes over (`run`), a signal records the folder as interrupted at setup
        entry.on_signal(self._interrupted_at_setup)
        self._write()

    def _interrupted_at_setup(self, signal_name: str) -> str:
        with self._commit:
            if self.record["state"] == "running":
                self.end("interrupted", signal=signal_name, stage="setup")
        return f"toylab: interrupted ({signal_name}) at setup; no results written"

    @property
    def duration(self) -> float:
        return round(time.time() - self._started, 2)

    def _write(self) -> None:
        try:
            runfolder.write_json(self.path, self.record)
        except OSError as error:  # a full disk must not hide the run's own error behind this one
            if self.record["state"] == "running":
                raise
            print(
                f"toylab: could not record state {self.record['state']!r} in {self.path} "
                f"({os.strerror(error.errno) if error.errno else error})",
                file=sys.stderr,
            )

    def note(self, **details) -> None:
        """Fields recorded with the next write (the run's end)."""
        self.record.update(details)

    def end(self, state: str, **details) -> None:
        assert state in STATES, state
        entry.pop_signal_action(self._interrupted_at_setup)
        self.record.update(state=state, ended=_now(), duration_s=self.duration, **details)
        self._write()

    def commit(self, write_results) -> None:
        """The run's last act, all or nothing: `write_results()` (results.json, written atomically) and the
        state "finished", under the lock an interruption takes too, so that a signal lands before both
        (no results.json; state "interrupted") or after both (finished; every record agrees)."""
        with self._commit:
            write_results()
            self.end("finished")

    def run(self, work, stage=lambda: "running"):
        """work() in the interruptible worker (run_interruptibly); the status follows it.

        Ends finished, diverged (a DivergenceError, with its step), failed (any other
        error, re-raised) or interrupted (the signal, and the stage: the training task and step
        from the run's progress, else `stage()`), printing the one-line message for the last.
        """
        from toys.engine.progress import DivergenceError

        def on_interrupt(signal_name):
            with self._commit:  # waits out a commit underway (milliseconds), then decides
                if self.record["state"] == "finished":
                    print(
                        f"toylab: interrupted ({signal_name}) after the run finished; its results are complete in {self.path.parent}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return
                label, step, total = self.progress.current()
                where = label or stage()
                self.end("interrupted", signal=signal_name, stage=where, step=step, steps=total)
            at = f"{where}, step {step} of {total}" if step is not None else where
            print(f"toylab: interrupted ({signal_name}) at {at}; no results written", file=sys.stderr, flush=True)

        try:
            value = run_interruptibly(work, on_interrupt)
        except DivergenceError as error:
            self.end("diverged", error=str(error), step=error.step)
            raise
        except BaseException as error:
            self.end("failed", error=f"{type(error).__name__}: {error}".splitlines()[0])
            raise
        if self.record["state"] == "running":  # (a work that did not commit itself)
            self.end("finished")
        return value


def run_interruptibly(work, on_interrupt):
    """Run work() in a worker thread and return its result (or raise its exception).

    On SIGINT/SIGTERM/SIGHUP: on_interrupt(signal_name) runs in the main thread, then the process
    exits at once with EXIT_INTERRUPTED (129 for SIGHUP: `entry.EXIT_CODES`).
    """
    # figures are drawn in the worker thread: a non-interactive backend (set without importing
    # matplotlib where it is not loaded yet: `runs` and `report` draw nothing)
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as error:  # re-raised in the main thread
            outcome["error"] = error

    def handler(signum, frame):
        try:
            on_interrupt(signal.Signals(signum).name)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(entry.exit_code(signum))

    previous = {s: signal.signal(s, handler) for s in entry.EXIT_CODES}
    try:
        worker = threading.Thread(target=target, name="toylab-run", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.1)  # short waits: the handler runs between them
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def _read(path: Path):
    """A JSON record through the guarded reader (toys.engine.guarded), None when it cannot be one."""
    try:
        return guarded.read_json(path, path.name, allow_nonfinite=True, expect=None)
    except guarded.GuardedReadError:
        return None


class Unreadable(ValueError):
    """A run folder whose records are not what toylab writes (hand-edited, another program's)."""


def _record(path: Path) -> dict | None:
    """A JSON object file: None when absent; Unreadable when it is there but not a JSON object."""
    if not os.path.lexists(path):
        return None
    try:
        return guarded.read_json(path, path.name, allow_nonfinite=True)
    except guarded.GuardedReadError as error:
        raise Unreadable(str(error).replace(f"{path.name}: {path}", path.name, 1)) from None


def run_rows(out: Path) -> list[dict]:
    """Every run folder under OUT (OUT/<experiment>/<run-id>/), newest first.

    A row: experiment, run id, state, duration_s, started, headline (from the experiment's
    `headline(results)` when results.json exists), folder. A folder left "running" by a
    process that no longer exists on this host is reported as "killed" (it never wrote
    its end state); one without status.json (written before status files existed) is
    "finished" when results.json exists, else "unknown"; one whose records cannot be read
    (not JSON objects, fields of the wrong type) is "unreadable", with the reason as its
    headline, and the listing goes on.
    """
    rows = []
    for folder in sorted(Path(out).glob("*/*/")):
        try:
            row = _run_row(folder)
        except (Unreadable, OSError, TypeError, ValueError, AttributeError) as error:
            row = {
                "experiment": folder.parent.name,
                "run": folder.name,
                "state": "unreadable",
                "duration_s": None,
                "started": "",
                "headline": f"unreadable: {str(error).splitlines()[0][:100] if str(error) else type(error).__name__}",
                "folder": str(folder),
            }
        if row is not None:
            rows.append(row)
    return sorted(rows, key=lambda row: row["run"], reverse=True)  # run ids start with their UTC start time


def _run_row(folder: Path) -> dict | None:
    from experiments.runner import registry

    status = _record(folder / "status.json")
    config = _record(folder / "config.json")
    if status is None and config is None:
        return None
    status = status or {}
    experiment = status.get("experiment") or (config or {}).get("experiment") or folder.parent.name
    if not isinstance(experiment, str):
        raise Unreadable(f"experiment is {type(experiment).__name__}, not a name")
    state = status.get("state") or ("finished" if (folder / "results.json").exists() else "unknown")
    if state not in STATES + ("unknown",):
        raise Unreadable(f"state {str(state)[:30]!r} is none of {', '.join(STATES)}")
    if state == "running" and status.get("host") == platform.node() and not _alive(status.get("pid")):
        state = "killed"
    headline = "—"
    results = _read(folder / "results.json") if state == "finished" else None
    if isinstance(status.get("headline"), str) and results is not None:
        headline = status["headline"]  # written at the run's end: no study to import
    elif results is not None:
        # a study's run from before headlines were recorded (commands such as `theory` record theirs)
        read = registry.get(experiment).headline if experiment in registry.EXPERIMENTS else None
        try:
            headline = read(results) if read is not None else "—"
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            headline = "— (results from another version)"
    duration = status.get("duration_s") or (results.get("duration_s") if isinstance(results, dict) else None)
    return {
        "experiment": experiment,
        "run": folder.name,
        "state": state,
        "duration_s": duration if isinstance(duration, (int, float)) else None,
        "started": str(status.get("started") or ""),
        "headline": headline,
        "folder": str(folder),
    }


def runs_table(rows: list[dict]) -> str:
    if not rows:
        return "(no runs)"
    header = f"{'experiment':<14}{'run':<38}{'state':<12}{'duration':>10}  headline"
    lines = [header, "-" * (len(header) + 30)]
    for row in rows:
        duration = f"{row['duration_s']:.1f} s" if isinstance(row["duration_s"], (int, float)) else "—"
        lines.append(f"{row['experiment']:<14}{row['run']:<38}{row['state']:<12}{duration:>10}  {row['headline']}")
    return "\n".join(lines)
