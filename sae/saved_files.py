"""The files of a saved dictionary (cfg.json and sae_weights.safetensors), read and checked for
everything that needs no architecture — with JSON, NumPy and safetensors only, so that
`toylab evaluate` refuses a hand-edited folder before it imports JAX.

`read(folder)` checks: the folder and both files exist; cfg.json is a JSON object; the weights are a
readable safetensors file of floating-point, finite arrays; toylab's own fields (the `"toylab"`
object: architecture, group, name, experiment, run as text, index a whole number ≥ 0, hparams finite
numbers; table, the dictionary's coordinates in the run's results table); d_in and d_sae positive
whole numbers; k, where given, a whole number ≥ 1. What depends on the architecture (its name, the
tensors it needs and their shapes, the normalisation, k ≤ d_sae) is checked by
`sae.saelens_format.load`, which starts here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from toys.engine import guarded

CONFIG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"
MAX_CONFIG_BYTES = 2**20
MAX_WEIGHTS_BYTES = 2**34  # 16 GiB: a dictionary of 2²⁰ latents over d = 4096 in float32
MAX_SIZE = 2**31 - 1
MAX_PURSUIT_STEPS = 2**16  # matching pursuit's greedy steps (SAELens' max_iterations; None: d_in)

# cfg.json's fields, as SAELens writes them, each with what it may hold (toys.engine.guarded.Field)
CFG_FIELDS = {
    "d_in": guarded.Field("int", 1, MAX_SIZE),
    "d_sae": guarded.Field("int", 1, MAX_SIZE),
    "k": guarded.Field("int", 1, MAX_SIZE),
    "max_iterations": guarded.Field("int", 1, MAX_PURSUIT_STEPS, nullable=True),
    "architecture": guarded.Field("text"),
    "normalize_activations": guarded.Field("text"),
    "reshape_activations": guarded.Field("text"),
    "apply_b_dec_to_input": guarded.Field("bool"),
    "rescale_acts_by_decoder_norm": guarded.Field("bool"),
    "stop_on_duplicate_support": guarded.Field("bool"),
    "residual_threshold": guarded.Field("number", 0),
    "toylab": guarded.Field("object"),
}
TOYLAB_FIELDS = {
    "architecture": guarded.Field("text"),
    "group": guarded.Field("text"),
    "name": guarded.Field("text"),
    "experiment": guarded.Field("text"),
    "run": guarded.Field("text"),
    "index": guarded.Field("int", 0, MAX_SIZE),
    "k": guarded.Field("int", 1, MAX_SIZE),
    "hparams": guarded.Field("object"),
    "table": guarded.Field("object"),
}


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
        if not path.exists() and not path.is_symlink():  # (what is there but is no regular file: the reader says so)
            raise FormatError(f"{path}: missing")
    try:
        cfg = guarded.read_json(config_path, "cfg.json", limit=MAX_CONFIG_BYTES)
        guarded.check_fields(cfg, CFG_FIELDS, str(config_path))
        if isinstance(cfg.get("toylab"), dict):
            guarded.check_fields(cfg["toylab"], TOYLAB_FIELDS, str(config_path), prefix="toylab.")
        raw = guarded.read_bytes(weights_path, "weights", limit=MAX_WEIGHTS_BYTES)
    except guarded.GuardedReadError as error:
        raise FormatError(str(error)) from None
    try:
        from safetensors.numpy import load

        tensors = load(raw)
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
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in hparams.values()
    ):
        raise FormatError(f"toylab.hparams: got {str(hparams)[:60]}, expected an object of finite numbers")
    where = extra.get("table", {"arm": "-", "size": 0, "seed": 0, "setting": {}})
    if not (
        isinstance(where, dict)
        and set(where) == {"arm", "size", "seed", "setting"}
        and isinstance(where["arm"], str)
        and where["arm"]
        and all(is_count(where[f]) and where[f] >= 0 for f in ("size", "seed"))
        and isinstance(where["setting"], dict)
        and all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) and (not isinstance(v, float) or math.isfinite(v))
            for v in where["setting"].values()
        )
    ):
        raise FormatError(
            f"toylab.table: got {str(where)[:60]}, expected {{arm: text, size and seed: whole numbers ≥ 0, "
            "setting: an object of text or finite numbers}"
        )
    for name, tensor in tensors.items():
        if tensor.dtype.kind != "f":
            raise FormatError(f"{name}: got dtype {tensor.dtype}, expected floating point (SAELens writes float32)")
        with np.errstate(over="ignore", invalid="ignore"):
            used = tensor.astype(np.float32)  # checked in the dtype it is used in: 1e300 in float64 is inf there
        if not np.all(np.isfinite(used)):
            raise FormatError(
                f"{weights_path}: {name}: {int(np.sum(~np.isfinite(used)))} entries are NaN/inf in "
                "float32, the dtype toylab uses; a dictionary's weights must be finite"
            )
    for field in ("d_in", "d_sae"):
        if not is_count(cfg.get(field)) or cfg[field] < 1:
            raise FormatError(f"{field}: got {cfg.get(field)!r}, expected a positive integer")
    for field, value in (("k", cfg.get("k")), ("toylab.k", extra.get("k"))):
        if value is not None and not (is_count(value) and value >= 1):
            raise FormatError(f"{field}: got {value!r}, expected a whole number ≥ 1")
    return cfg, tensors
