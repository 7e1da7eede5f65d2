"""Exact top-k along the last axis, faster on CPU for the small k SAEs use.

`top_k(values, k)` returns what `jax.lax.top_k(values, k)` returns — the k largest entries
of each row in descending order and their indices, ties going to the lower index — for
rows without NaN.

On CPU it selects in two levels. The row of n entries is cut into n/g groups of g
consecutive entries (padded with −∞) and each group's maximum is taken (one pass). Every
one of the row's k largest entries lies in a group whose maximum is at least the k-th
largest value v_k, and at most k groups have such a maximum (their maxima are distinct
entries ≥ v_k). So the k groups with the largest maxima — ties to the lower group, as
`lax.top_k` breaks them — hold the answer: their k·g entries, gathered in increasing group
order (so increasing original index), go through `lax.top_k`, whose tie rule then picks
the same entries as on the full row. Cost: one pass over the row plus two top-k calls on
n/g and k·g entries instead of one on n; XLA's CPU top-k costs about the same per entry
whatever k, so g ≈ √(n/k) is best (2·√(n·k) entries). Measured (2-core CPU, [1024, n]):
see `toylab bench` and the README.

On other backends (GPU, TPU) `lax.top_k` is used as it is.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def group_size(n: int, k: int) -> int:
    """g minimising the two top-k calls' n/g + k·g entries: the power of two nearest √(n/k)."""
    return max(2, 2 ** round(math.log2(max(n / k, 1.0)) / 2))


def top_k(values: jax.Array, k: int, group: int | None = None, two_level: bool | None = None) -> tuple[jax.Array, jax.Array]:
    """(values, indices) of the k largest entries of each row, exactly as `jax.lax.top_k`.

    group: entries per group (default `group_size(n, k)`). two_level: None chooses by
    backend (two levels on CPU when they see under a quarter of the row's entries); True/False
    force a choice (for tests and benchmarks).
    """
    n = values.shape[-1]
    group = group or group_size(n, k)
    if two_level is None:
        two_level = jax.default_backend() == "cpu" and -(-n // group) + k * group < n // 4
    if not two_level or k * group >= n:
        return jax.lax.top_k(values, k)
    n_groups = -(-n // group)
    padded = jnp.pad(values, [(0, 0)] * (values.ndim - 1) + [(0, n_groups * group - n)], constant_values=-jnp.inf)
    groups = padded.reshape(*values.shape[:-1], n_groups, group)
    _, chosen = jax.lax.top_k(jnp.max(groups, axis=-1), k)  # [..., k] group ids
    chosen = jnp.sort(chosen, axis=-1)  # increasing group order = increasing original index
    candidates = jnp.take_along_axis(groups, chosen[..., None], axis=-2)  # [..., k, group]
    candidates = candidates.reshape(*values.shape[:-1], k * group)
    top_values, position = jax.lax.top_k(candidates, k)
    group_of = jnp.take_along_axis(chosen, position // group, axis=-1)
    return top_values, group_of * group + position % group
