"""The files of a saved dictionary (cfg.json and sae_weights.safetensors), read and checked for
everything that needs no architecture — with JSON, NumPy and safetensors only, so that
`toylab evaluate` refuses a hand-edited folder before it imports JAX.

`read(folder)` checks: the folder and both files exist; cfg.json is a JSON object; the weights
are a readable safetensors file of floating-point, finite arrays; toylab's own fields (the
`"toylab"` object: architecture, group, name, experiment, run as text, index a whole number ≥ 0,
hparams finite numbers); d_in and d_sae positive whole numbers; k, where given, a whole number
≥ 1. What depends on the architecture (its name, the tensors it needs and their shapes, the
normalisation, k ≤ d_sae) is checked by `sae.saelens_format.load`, which starts here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

CONFIG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"


class FormatError(ValueError):
    """A folder that is not a loadable SAE; the message is one line naming the file or field."""


def is_count(value) -> bool:
    """A JSON whole number (true/false are not: Python counts bool as int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def read(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(cfg.json as read, the weights by name) of an SAE folder; FormatError (one line) when they
    cannot be a dictionary's."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not folder.is_dir():
        raise FormatError(f"--sae: {folder} is not a folder (expected {CONFIG_FILE} and {WEIGHTS_FILE} inside)")
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FormatError(f"{path}: missing")
    try:
        cfg = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(f"{config_path}: not valid JSON ({error.__class__.__name__})") from None
    if not isinstance(cfg, dict):
        raise FormatError(f"{config_path}: expected a JSON object")
    try:
        from safetensors.numpy import load_file

        tensors = load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise FormatError(f"{weights_path}: not a readable safetensors file ({error.__class__.__name__})") from None

    extra = cfg.get("toylab", {})
    if not isinstance(extra, dict):
        raise FormatError(f"toylab: got {type(extra).__name__}, expected a JSON object (toylab's own fields)")
    for field, kind in (("architecture", str), ("group", str), ("name", str), ("experiment", str), ("run", str)):
        if field in extra and not isinstance(extra[field], kind):
            raise FormatError(f"toylab.{field}: got {extra[field]!r}, expected a {kind.__name__}")
    if "index" in extra and not (is_count(extra["index"]) and extra["index"] >= 0):
        raise FormatError(f"toylab.index: got {extra['index']!r}, expected a whole number ≥ 0")
    hparams = extra.get("hparams", {})
    if not isinstance(hparams, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in hparams.values()):
        raise FormatError(f"toylab.hparams: got {str(hparams)[:60]}, expected an object of finite numbers")
    for name, tensor in tensors.items():
        if tensor.dtype.kind != "f":
            raise FormatError(f"{name}: got dtype {tensor.dtype}, expected floating point (SAELens writes float32)")
        if not np.all(np.isfinite(tensor)):
            raise FormatError(f"{name}: {int(np.sum(~np.isfinite(tensor)))} NaN/inf entries; a dictionary's weights "
                              "must be finite")
    for field in ("d_in", "d_sae"):
        if not is_count(cfg.get(field)) or cfg[field] < 1:
            raise FormatError(f"{field}: got {cfg.get(field)!r}, expected a positive integer")
    for field, value in (("k", cfg.get("k")), ("toylab.k", extra.get("k"))):
        if value is not None and not (is_count(value) and value >= 1):
            raise FormatError(f"{field}: got {value!r}, expected a whole number ≥ 1")
    return cfg, tensors
