"""A signal at a chosen instant of a tiny run's life, and the invariants it must keep (tests/test_signals.py;
run as a script for many instants: `python tests/signal_instants.py --trials 60`).

Invariants, whatever the instant (import, config, training, scoring, figures, the commit):
- the process ends with the signal's exit code (130 for SIGINT and SIGTERM, 129 for SIGHUP), or 0 when the
  run finished before the signal arrived;
- stderr holds no traceback, and its last line is toylab's own (`toylab: …`);
- the run folder, if one was made, is finished (results.json, and status.json says "finished") or not
  finished (no results.json; status.json, where written, says "interrupted"), and `toylab runs` lists it
  as finished or interrupted, never running, killed or unknown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cli_args import sets

ROOT = Path(__file__).resolve().parent.parent
TINY_RUN = [
    "run",
    "superposition",
    "--quick",
    *sets("toy.n_features=16", "toy.d=8", "toy.mean_l0=1", "sizes=16", "k=2", "steps=40", "batch_size=32"),
]
EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 130, signal.SIGHUP: 129}


def trial(out: Path, signum: int, delay: float, timeout: float = 120.0) -> dict:
    """Start the tiny run, send `signum` after `delay` seconds, and return what was seen, with the list of
    broken invariants under "broken" (empty when all hold)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.runner.entry", *TINY_RUN, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    time.sleep(delay)
    process.send_signal(signum)
    _, err = process.communicate(timeout=timeout)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    broken = []
    finished_early = process.returncode == 0
    if process.returncode not in (EXPECTED_EXIT[signum], 0):
        broken.append(f"exit {process.returncode}")
    if "Traceback" in err:
        broken.append("a traceback")
    if not finished_early and (not lines or not lines[-1].startswith("toylab: ")):
        broken.append(f"last line {lines[-1] if lines else '(none)'!r}")
    folders = sorted((out / "superposition").glob("*/")) if (out / "superposition").exists() else []
    state = None
    for folder in folders:
        status = json.loads((folder / "status.json").read_text()) if (folder / "status.json").exists() else None
        has_results = (folder / "results.json").exists()
        state = status and status.get("state")
        if has_results and state != "finished":
            broken.append(f"results.json with state {state!r}")
        if not has_results and state not in (None, "interrupted"):
            broken.append(f"no results.json, state {state!r}")
        if status is None and (folder / "config.json").exists():
            broken.append("config.json without status.json")
    from experiments.runner import records

    listed = [row["state"] for row in records.run_rows(out)]
    if any(s not in ("finished", "interrupted") for s in listed):
        broken.append(f"listed as {listed}")
    return {
        "signal": signal.Signals(signum).name,
        "delay": delay,
        "exit": process.returncode,
        "state": state,
        "last_line": lines[-1] if lines else "",
        "broken": broken,
    }


def main(argv: list[str]) -> int:
    import argparse
    import random

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--longest", type=float, default=None, help="latest instant, s (default: one full run's time)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        started = time.time()
        subprocess.run(
            [sys.executable, "-m", "experiments.runner.entry", *TINY_RUN, "--out", folder], cwd=ROOT, capture_output=True, check=True
        )
        longest = args.longest or (time.time() - started) * 1.1
    rng = random.Random(args.seed)
    failures = 0
    for index in range(args.trials):
        signum = rng.choice(list(EXPECTED_EXIT))
        delay = rng.uniform(0.0, longest)
        with tempfile.TemporaryDirectory() as folder:
            seen = trial(Path(folder), signum, delay)
        failures += bool(seen["broken"])
        print(
            f"{index + 1:>3} {seen['signal']:<8} at {delay:6.2f} s: exit {seen['exit']}, state {seen['state']}, "
            f"{'BROKEN: ' + '; '.join(seen['broken']) if seen['broken'] else 'ok'} | {seen['last_line'][:90]}",
            flush=True,
        )
    print(f"{args.trials - failures}/{args.trials} trials kept every invariant (instants in [0, {longest:.1f}] s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
