"""SAELens' synthetic-model files: read and write a model folder as `SyntheticModel.save` does.

A folder holds:
- `synthetic_model_config.json`: `SyntheticModelConfig.to_dict()`;
- `synthetic_model.safetensors`: `feature_vectors` [F, d], `bias` [d],
  `firing_probabilities` [F] (after hierarchy compensation) and, with correlation,
  `correlation_factor` [F, r] and `correlation_diag` [F];
- `hierarchy.json` (with a hierarchy): `{"roots": [node, …]}`, each node
  `{feature_index, mutually_exclusive_children, scale_children_by_parent, feature_id, children}`.

The per-feature magnitudes are not stored: SAELens draws them again from the config's
seed when it loads a folder, and so does `load` (`toys.synthetic_model.magnitudes_of`).
A folder written by `save` loads in SAELens' `SyntheticModel.load_from_disk`, and a
downloaded one (e.g. SynthSAEBench-16k) loads here as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toys import synthetic_hierarchy as hierarchy_module
from toys.engine import guarded
from toys.engine.files import write_folder
from toys.synthetic_model import ModelParts, SyntheticModelConfig, base_seed, magnitudes_of

CONFIG_FILE = "synthetic_model_config.json"
WEIGHTS_FILE = "synthetic_model.safetensors"
HIERARCHY_FILE = "hierarchy.json"


def save(folder: str | Path, parts: ModelParts) -> Path:
    """Write a model folder (replaced atomically: a temporary folder, then a rename)."""
    from safetensors.numpy import save_file

    def write(temporary: Path) -> None:
        tensors = {
            "feature_vectors": np.ascontiguousarray(parts.feature_vectors, np.float32),
            "bias": np.ascontiguousarray(parts.bias, np.float32),
            "firing_probabilities": np.ascontiguousarray(parts.firing_probabilities, np.float32),
        }
        if parts.correlation_factor is not None:
            tensors["correlation_factor"] = np.ascontiguousarray(parts.correlation_factor, np.float32)
            tensors["correlation_diag"] = np.ascontiguousarray(parts.correlation_diag, np.float32)
        save_file(tensors, str(temporary / WEIGHTS_FILE))
        (temporary / CONFIG_FILE).write_text(json.dumps(parts.config.to_dict(), indent=2) + "\n", encoding="utf-8")
        if parts.roots:
            (temporary / HIERARCHY_FILE).write_text(json.dumps(hierarchy_module.to_dict(parts.roots), indent=2) + "\n", encoding="utf-8")

    return write_folder(folder, write)


def read_config(folder: str | Path) -> SyntheticModelConfig:
    """The folder's model config, checked as SAELens checks it (ConfigError: one line naming the field)."""
    from toys.engine.config import ConfigError

    path = Path(folder) / CONFIG_FILE
    raw = guarded.read_json(path, CONFIG_FILE, limit=2**20)
    try:
        config = SyntheticModelConfig.from_dict(raw)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: not a SAELens synthetic-model config ({error.__class__.__name__}: {error})") from None
    config.validate()
    return config


def load(folder: str | Path) -> ModelParts:
    """Read a model folder (SAELens' `load_from_disk`): stored arrays, magnitudes re-drawn from the seed."""
    from safetensors.numpy import load as load_safetensors

    folder = Path(folder)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder}: no {name} (a SAELens synthetic-model folder holds {CONFIG_FILE} and {WEIGHTS_FILE})")
    config = read_config(folder)
    try:
        weights = load_safetensors(guarded.read_bytes(folder / WEIGHTS_FILE, WEIGHTS_FILE, limit=2**34))
    except guarded.GuardedReadError:
        raise
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise guarded.GuardedReadError(
            f"{WEIGHTS_FILE}: {folder / WEIGHTS_FILE} is not a readable safetensors file ({error.__class__.__name__})"
        ) from None
    roots = []
    if (folder / HIERARCHY_FILE).exists():
        roots = hierarchy_module.from_dict(guarded.read_json(folder / HIERARCHY_FILE, HIERARCHY_FILE, limit=2**26, expect=None))
    mean, std = magnitudes_of(config, base_seed(config))
    return ModelParts(
        config=config,
        feature_vectors=weights["feature_vectors"].astype(np.float32),
        bias=weights["bias"].astype(np.float32),
        firing_probabilities=weights["firing_probabilities"].astype(np.float32),
        mean_magnitudes=mean,
        std_magnitudes=std,
        correlation_factor=weights.get("correlation_factor"),
        correlation_diag=weights.get("correlation_diag"),
        roots=roots,
    )
