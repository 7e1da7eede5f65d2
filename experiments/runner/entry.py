"""The console script's first code: signal handlers before any heavy import.

`toylab` starts here (pyproject's `[project.scripts]`). Before the lab, NumPy or JAX is imported,
SIGINT, SIGTERM and SIGHUP get a handler that ends the process with one line and exit 130 (SIGINT,
SIGTERM) or 129 (SIGHUP), never a traceback or a silent death. What is underway decides what the
line says and what is recorded: code that has made something a signal must not leave half-made
(a run folder's status) pushes an action with `on_signal` and pops it when done; the handler runs
the latest one first. A run's own worker-thread handler (`records.run_interruptibly`) replaces this
one while the run works and puts it back after.

Text survives any locale: stdout and stderr replace a character they cannot encode
(`survive_any_locale`), and every file is written and read as UTF-8.

The only window left is the interpreter's own start (a few tens of milliseconds before this module
runs), where a signal has its default effect.
"""

from __future__ import annotations

import os
import signal
import sys

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 130, signal.SIGHUP: 129}
_ACTIONS: list = []  # callables(signal_name) -> the line to print, or None for the default line


def on_signal(action) -> None:
    """Run `action(signal_name)` (which may write a record and return the line to print) when a signal
    ends the process before `pop_signal_action` is called."""
    _ACTIONS.append(action)


def pop_signal_action(action) -> None:
    if action in _ACTIONS:
        _ACTIONS.remove(action)


def exit_code(signum: int) -> int:
    return EXIT_CODES.get(signum, 130)


def handle(signum, frame) -> None:
    """The early handler: the latest action's line (or the default one) on stderr, then exit at once."""
    name = signal.Signals(signum).name
    line = None
    try:
        for action in reversed(list(_ACTIONS)):
            line = action(name) or line
            break
    except BaseException:  # a failing record must not turn the exit into a traceback
        pass
    try:
        os.write(2, ((line or f"toylab: interrupted ({name}); nothing written") + "\n").encode("utf-8", "replace"))
    finally:
        os._exit(exit_code(signum))


def install() -> None:
    for signum in EXIT_CODES:
        signal.signal(signum, handle)


def survive_any_locale() -> None:
    """A terminal (or locale) that cannot encode a character gets a stand-in for it, not an error that ends
    the run (files are written as UTF-8 whatever the locale: `experiments.runner.runfolder`)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):  # not a text stream that can be reconfigured (a test's capture)
            pass


def main() -> int:
    install()
    survive_any_locale()
    from experiments.runner import cli

    code = cli.main()
    # the command is done and has said so; a signal during the interpreter's shutdown (which resets a Python
    # handler to the default action, and JAX's teardown can take a second) is ignored rather than killing a
    # process whose work is complete
    for signum in EXIT_CODES:
        signal.signal(signum, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(main())
