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


# The named key streams a study draws apart from the keys it splits: each name's fold-in constant,
# fixed here once (a study asks by name, `stream`, and never folds in a constant of its own). The
# constants are those the studies used before the names existed, so that every number drawn from
# them stands; a new stream takes a new name. Names say what the stream draws.
STREAMS: dict[str, int] = {
    "circuit": 7,  # circuits: the random circuit, a function of the seed alone
    "evaluation sample": 7,  # tms: the evaluation sample every setting is scored on
    "circle scores": 11,  # circles: the streamed circle scores, apart from the run's four split keys
    "clustering samples": 7,  # quanta: QDG's natural sample and the input probe's, per task code
    "splitting ladder": 7,  # trees: the splitting ladder's dictionaries and their random twins
    "chance dictionaries": 2,  # sweep: the random dictionaries beside each swept value
    "networks": 0,  # modular-clock: the addition and null networks and their SAEs; knockoff: the modular network
    "second network": 1,  # knockoff: the calendar network
    "knockoff placement": 1,  # modular-clock: the random placements of the knockoff
    "knockoff heads": 2,  # modular-clock: the fresh heads trained on each knockoff space
}


def stream(key: jax.Array, name: str) -> jax.Array:
    """The key of the named stream `name` under `key` (`STREAMS`): fold_in(key, its constant)."""
    import jax

    if name not in STREAMS:
        raise ValueError(f"key stream: got {name!r}, allowed one of {', '.join(sorted(STREAMS))}")
    return jax.random.fold_in(key, STREAMS[name])
