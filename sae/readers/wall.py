"""The wall between methods and graders.

A *method* gets what a researcher has on a real model: activations x, a dictionary (its
parameters: encoder, decoder) and the codes it gives, and its own settings. It never gets
a toy's truth (true codes, planted planes, phases, labels, the hierarchy). A *grader* gets
the method's answer and the truth. Experiments compose the two: observe → method → grade.

`observe(batch, ...)` is the only road from a toy's sample to a method: it reads `batch.x`
and nothing else. `sealed(batch)` replaces the batch's truth with `SealedTruth`, which
raises `TruthAccessed` on any use, so a test can run every method behind the wall and
check its answer is unchanged (tests/test_wall.py lists the methods it covers).

A sealed batch only catches a method that reads the batch. `run_isolated(method, arrays,
settings)` catches the other roads: it runs the method in a fresh Python process that receives
the arrays (a safetensors file) and the settings (JSON) and nothing else, and cannot import a
toy or a study (`toys.*` other than `toys.engine`, and `experiments.*`, raise ImportError).
A method that imports a toy fails there (`WallBreached`); one that reads a global its caller
set (a module-level reference to the toy) finds it unset and answers differently from the
same call in the caller's process, which a test compares. What it cannot catch is a value
chosen with the truth and passed in as a setting (a K, a sample): that is the caller's, and a
study must take settings from its config.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np


class TruthAccessed(RuntimeError):
    """A method touched the truth."""


class SealedTruth:
    """Stands in for a toy's truth behind the wall: any use raises TruthAccessed."""

    def _refuse(self, *args, **kwargs):
        raise TruthAccessed("a method read the truth")

    __getattr__ = __getitem__ = __iter__ = __len__ = __array__ = __bool__ = __float__ = __int__ = _refuse
    __eq__ = __lt__ = __gt__ = __add__ = __mul__ = __contains__ = _refuse
    __hash__ = None


def sealed(batch):
    """The same batch (a `toys.protocol.Batch`) with its true codes and truth sealed."""
    return dataclasses.replace(batch, codes=SealedTruth(), truth=SealedTruth())


class Observation(NamedTuple):
    """What a method gets: activations, the dictionary's codes on them, its decoder and encoder."""

    x: np.ndarray  # [n, d]
    codes: np.ndarray  # [n, m] the dictionary's latent activations
    decoder: np.ndarray  # [m, d]
    encoder: np.ndarray | None  # [d, m]


def observe(batch, arch: str, params, hps, index: int = 0) -> Observation:
    """Encode a batch's activations (batch.x only) with one dictionary of a stacked grid."""
    from sae import pipeline

    x = np.asarray(batch.x)
    codes = np.asarray(pipeline.encode(arch, params, hps, x))
    return Observation(x, codes[index], np.asarray(params.W_dec[index]), np.asarray(params.W_enc[index]))


class WallBreached(RuntimeError):
    """A method run behind the process wall failed there: it reached for what the wall keeps out."""


SEALED_PACKAGES = ("toys", "experiments")  # blocked in the isolated process, except toys.engine
ISOLATED_TIMEOUT_S = 300

_BOOTSTRAP = """
import importlib, json, sys

class Wall:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in SEALED and name != "toys" and not name.startswith("toys.engine"):
            raise ImportError(f"behind the wall: {name}")
        return None

sys.meta_path.insert(0, Wall())
from safetensors.numpy import load_file, save_file
from sae.readers.wall import flatten_answer, storable

module, name = sys.argv[1].rsplit(":", 1)
method = getattr(importlib.import_module(module), name)
arrays = load_file(sys.argv[2])
with open(sys.argv[3]) as file:
    settings = json.load(file)
answer = method(*[arrays[str(i)] for i in range(len(arrays))], **settings)
save_file(storable(flatten_answer(answer)), sys.argv[4])
"""

TEXT = "#json"  # suffix of a text answer stored as JSON bytes (safetensors holds numbers only)


def flatten_answer(answer) -> dict[str, np.ndarray]:
    """A method's answer as the isolated process returns it: arrays keyed by their path in the answer
    (NamedTuples and dicts by field, sequences of non-numbers by index)."""
    out: dict[str, np.ndarray] = {}

    def flat(value, prefix):
        if hasattr(value, "_asdict"):
            value = value._asdict()
        if isinstance(value, dict):
            for key, item in value.items():
                flat(item, f"{prefix}{key}.")
        elif isinstance(value, (list, tuple)) and not all(isinstance(v, (int, float, np.number)) for v in value):
            for index, item in enumerate(value):
                flat(item, f"{prefix}{index}.")
        else:
            out[prefix.rstrip(".") or "answer"] = np.ascontiguousarray(np.asarray(value))

    flat(answer, "")
    return out


def storable(flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A flattened answer safetensors can hold: text arrays as JSON bytes under key + TEXT."""
    import json

    stored = {}
    for key, value in flat.items():
        if value.dtype.kind in "OUS":
            stored[key + TEXT] = np.frombuffer(json.dumps(value.tolist()).encode(), np.uint8).copy()
        else:
            stored[key] = value
    return stored


def run_isolated(method, arrays, settings: dict | None = None, timeout: float = ISOLATED_TIMEOUT_S) -> dict[str, np.ndarray]:
    """`method(*arrays, **settings)` in a fresh process behind the wall (module docstring); its answer as
    `flatten_answer` gives it. method: a module-level function; arrays: positional NumPy arrays; settings:
    JSON values. Raises WallBreached with the process's last line when the method fails there."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from safetensors.numpy import load_file, save_file

    target = f"{method.__module__}:{method.__qualname__}"
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        save_file({str(i): np.ascontiguousarray(np.asarray(a)) for i, a in enumerate(arrays)}, str(folder / "in"))
        (folder / "settings.json").write_text(json.dumps(settings or {}))
        bootstrap = f"SEALED = {SEALED_PACKAGES!r}\n" + _BOOTSTRAP
        # the caller's import path, so that the method's own module imports as it did here
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run([sys.executable, "-c", bootstrap, target, str(folder / "in"), str(folder / "settings.json"),
                               str(folder / "out")], capture_output=True, text=True, timeout=timeout, env=environment)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise WallBreached(f"{target} failed behind the wall: {last}")
        answer = {}
        for key, value in load_file(str(folder / "out")).items():
            if key.endswith(TEXT):
                answer[key[: -len(TEXT)]] = np.asarray(json.loads(value.tobytes().decode()))
            else:
                answer[key] = value
        return answer
