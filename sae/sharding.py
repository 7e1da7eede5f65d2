"""Spreading training over devices: the run axis and the batch axis on one mesh.

The trainer (`sae.train`) holds every array with a leading run axis G (one dictionary per
seed or hyperparameter) and draws batches [G, b, d]. On a mesh of shape (r, s) with axes
("runs", "batch") — r·s devices —
- run-axis leaves (dictionaries, Adam state, hyperparameters, keys, counters) are split
  over "runs": each device row trains G/r of the dictionaries (r divides G);
- each run's batch is split over "batch": the s devices of a row hold b/s samples each
  and the same dictionaries (s divides b), and XLA's partitioner adds the all-reduce of
  the gradient (data parallelism for a single large SAE).
Nothing else changes: the program is the one-device program with sharding annotations
(`jax.lax.with_sharding_constraint`, `NamedSharding`), so the numbers agree with one
device up to the order of floating-point sums.

Several hosts (`jax.distributed.initialize`, the CLI's `--distributed`): the mesh spans
every process's devices, each process holds its shards, and `to_host` gathers a result
onto every host (`multihost_utils.process_allgather`) before NumPy reads it; only
process 0 writes the run folder (`is_writer`).

`plan(G, b, n)` puts as many devices as divide G on the run axis and the rest, where
they divide b, on the batch axis. The number of devices n is the run's
`toys.engine.runtime.Runtime.devices` (the CLI's `--devices N|all`; default 1), which also
records the mesh each training used.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec

RUNS, BATCH = "runs", "batch"


def plan(n_runs: int, batch_size: int, n_devices: int) -> tuple[int, int]:
    """Mesh shape (r, s): r = the largest divisor of n_devices that divides n_runs, then s = the
    largest divisor of n_devices / r that divides the batch size. Devices that fit neither idle."""
    runs = math.gcd(n_runs, n_devices)
    rest = n_devices // runs
    batch = max(d for d in range(1, rest + 1) if rest % d == 0 and batch_size % d == 0)
    return runs, batch


def mesh(shape: tuple[int, int]) -> jax.sharding.Mesh:
    """The ("runs", "batch") mesh over the first r·s devices."""
    count = shape[0] * shape[1]
    return jax.make_mesh(shape, (RUNS, BATCH), axis_types=(AxisType.Auto, AxisType.Auto), devices=jax.devices()[:count])


def over_runs(grid_mesh, tree):
    """Place (or, inside jit, constrain) every leaf's leading axis G over "runs"."""
    sharding = NamedSharding(grid_mesh, PartitionSpec(RUNS))
    return jax.tree.map(lambda leaf: _place(leaf, sharding), tree)


def batches(grid_mesh, x: jax.Array) -> jax.Array:
    """x [G, b, d]: runs over "runs", each run's samples over "batch"."""
    return _place(x, NamedSharding(grid_mesh, PartitionSpec(RUNS, BATCH)))


def to_host(tree):
    """Every leaf as a NumPy array on this host: gathered from all processes when the run
    spans several hosts (a leaf sharded over other hosts' devices is not addressable here)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)


def is_writer() -> bool:
    """Whether this process writes results (process 0 of a multi-host run; always on one host)."""
    return jax.process_index() == 0


def _place(leaf, sharding):
    if isinstance(leaf, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(leaf, sharding)
    if jax.process_count() == 1:
        return jax.device_put(leaf, sharding)
    # Several hosts: every process holds the whole (identical) value; each builds its own
    # shards of the global array from it (device_put cannot address other hosts' devices).
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_place(jax.random.key_data(leaf), sharding), impl=jax.random.key_impl(leaf))
    host = np.asarray(leaf)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
