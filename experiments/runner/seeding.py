"""Seeds of any size in [0, SEED_MAX] as PRNG keys, without overflow or collisions.

`jax.random.key(seed)` keeps only the low 32 bits of a seed when 64-bit mode is off, so
seeds s and s + 2³² would draw the same numbers; `fold_in` takes a uint32. Here an
integer is split into 32-bit words (least significant first): the first word seeds the
key, each further word is folded in. For seeds below 2³² this is exactly
`jax.random.key(seed)` / `jax.random.fold_in(key, seed)`, so existing results stand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (annotations only)
    import jax

SEED_MAX = 2**63 - 1  # the documented range of --seed: [0, 2⁶³ − 1]
_WORD = 2**32


def _words(n: int) -> list[int]:
    if n < 0:
        raise ValueError(f"seed: got {n}, allowed range [0, {SEED_MAX}]")
    words = [n % _WORD]
    n //= _WORD
    while n:
        words.append(n % _WORD)
        n //= _WORD
    return words


def root_key(seed: int) -> jax.Array:
    """The run's master key for any non-negative integer seed."""
    import jax  # here, not at the top: the CLI reads SEED_MAX to refuse a bad seed before loading JAX

    first, *rest = _words(int(seed))
    key = jax.random.key(first)
    for word in rest:
        key = jax.random.fold_in(key, word)
    return key


def fold_in_int(key: jax.Array, n: int) -> jax.Array:
    """fold_in of a non-negative integer of any size (word by word)."""
    import jax
    import jax.numpy as jnp

    for word in _words(int(n)):
        key = jax.random.fold_in(key, jnp.uint32(word))
    return key


REPLICA_STRIDE = 1000  # a run's replicas are seeds seed·1000 + i: runs of neighbouring seeds never share one


def replica_seeds(seed: int, n: int) -> list[int]:
    """The seeds of a run's n replicas (dictionaries trained side by side): seed·1000 + i, i < n. The one
    rule every study uses, so that a replica's seed names it across studies and in saved dictionaries."""
    return [seed * REPLICA_STRIDE + i for i in range(n)]
