"""Signals at instants across a tiny run's whole life keep the invariants of tests/signal_instants.py."""

import signal

import pytest
from signal_instants import trial

# instants spread over the run's life on the 2-core box (about 0.05 s: interpreter start; 0.3–2 s: imports;
# then config, training, scoring, figures and the commit); more in `python tests/signal_instants.py`
INSTANTS = [
    (signal.SIGTERM, 0.05),
    (signal.SIGINT, 0.4),
    (signal.SIGHUP, 1.5),
    (signal.SIGTERM, 4.0),
    (signal.SIGINT, 7.0),
    (signal.SIGTERM, 10.0),
]


@pytest.mark.parametrize("signum, delay", INSTANTS)
def test_a_signal_at_any_instant_leaves_one_line_and_a_consistent_folder(tmp_path, signum, delay):
    seen = trial(tmp_path, signum, delay)
    assert seen["broken"] == [], seen


def test_a_run_and_its_listing_survive_the_c_locale(tmp_path):
    """LC_ALL=C without Python's UTF-8 mode: the run writes its UTF-8 summary ("λ", "≈") and `runs` lists it;
    characters the terminal cannot show are replaced, not fatal."""
    import os
    import subprocess
    import sys

    from signal_instants import ROOT, TINY_RUN

    env = {
        **os.environ,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONIOENCODING": "",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PYTHONIOENCODING")
    entry = [sys.executable, "-m", "experiments.runner.entry"]
    done = subprocess.run([*entry, *TINY_RUN, "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode("ascii", "replace")[-500:]
    (folder,) = (tmp_path / "superposition").iterdir()
    (folder / "summary.txt").read_text(encoding="utf-8")
    listed = subprocess.run([*entry, "runs", str(tmp_path)], cwd=ROOT, env=env, capture_output=True)
    assert listed.returncode == 0 and b"finished" in listed.stdout, listed.stderr[-300:]
