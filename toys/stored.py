"""A toy built from stored arrays: bring your own activations (and, optionally, their codes).

Axes: N stored rows, d activation dimensions, F true features.

`StoredToy(x [N, d], codes [N, F] | None, features [F, d] | None)` follows the toy
protocol: `sample(key, n)` draws n rows uniformly with replacement (the training
stream); evaluation on the fixed rows goes through `sae.pipeline.evaluate((x, codes))`.
`from_npy` opens `.npy` files memory-mapped (never unpickled). Network toys use it to
expose a layer's activations (`toys.modular.layer_toy`; the circuits experiment's
per-layer toys). A stack of StoredToys with a leading [G] axis is G toys at once (one
per run of a `per_run_data` fit).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from toys.engine.config import ConfigError
from toys.protocol import Batch


@struct.dataclass
class StoredToy:
    x: jax.Array  # [N, d]
    codes: jax.Array | None = None  # [N, F]
    features: jax.Array | None = None  # [F, d] true directions, when known

    @property
    def d(self) -> int:
        return self.x.shape[-1]

    @property
    def n_rows(self) -> int:
        return self.x.shape[-2]

    def sample(self, key: jax.Array, n: int) -> Batch:
        """n rows drawn uniformly with replacement (the same rows for x and codes)."""
        rows = jax.random.randint(key, (n,), 0, self.x.shape[-2])
        return Batch(self.x[rows], None if self.codes is None else self.codes[rows])


def _real_finite(name: str, array) -> np.ndarray:
    """The array as it is, if its dtype is real (bool, integer or float) and every entry finite in float32;
    ConfigError naming it otherwise (a string array, complex data that float32 would silently
    cut to its real part, a NaN/inf row that would only fail in training)."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ConfigError(f"{name}: got dtype {array.dtype}, expected real numbers (bool, integer or float)")
    if array.dtype.kind == "f":
        # finite in float32, the dtype the lab computes in: 1e300 in float64 (or 1e4000 in longdouble) is inf there
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(array) <= np.finfo(np.float32).max)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1)) if bad.ndim else np.array([0])
            raise ConfigError(f"{name}: {int(bad.sum())} NaN/inf entries (first in row {int(rows[0])}); allowed: finite values")
    return array


def from_arrays(x, codes=None, features=None) -> StoredToy:
    """A stored toy from in-memory arrays; checks the dtypes (real, finite) and that the shapes
    agree (ConfigError naming the array)."""
    x = _real_finite("x", x)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ConfigError(f"x: got shape {x.shape}, expected [N ≥ 1, d ≥ 1]")
    if codes is not None:
        codes = _real_finite("codes", codes)
        if codes.ndim != 2 or codes.shape[0] != x.shape[0]:
            raise ConfigError(f"codes: got shape {codes.shape}, expected [N={x.shape[0]}, F]")
    if features is not None:
        features = _real_finite("features", features)
        if features.ndim != 2 or features.shape[1] != x.shape[1]:
            raise ConfigError(f"features: got shape {features.shape}, expected [F, d={x.shape[1]}]")
        if codes is not None and features.shape[0] != codes.shape[1]:
            raise ConfigError(f"features: got {features.shape[0]} rows, expected F={codes.shape[1]} (the codes' columns)")
    as_jax = lambda a: None if a is None else jnp.asarray(a, jnp.float32)  # noqa: E731
    return StoredToy(as_jax(x), as_jax(codes), as_jax(features))


def from_npy(path: str | Path, codes_path: str | Path | None = None, features_path: str | Path | None = None) -> StoredToy:
    """A stored toy from `.npy` files (memory-mapped; never unpickled)."""

    def load(name, file):
        if file is None:
            return None
        import os
        import stat

        try:
            if not stat.S_ISREG(os.stat(file).st_mode):  # a FIFO or a device would block or stream forever
                raise ConfigError(f"{name}: {file} is not a regular file")
            return np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ConfigError(f"{name}: cannot read {file} as a .npy array ({error})") from None

    return from_arrays(load("x", path), load("codes", codes_path), load("features", features_path))
