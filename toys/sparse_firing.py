"""Sparse, exact draws of which features fire under a Gaussian copula, and the sparse codes.

Axes: n samples, F features, r copula factors, A active slots per sample, d dims.

The firing model (shared by `toys.superposition` and `toys.synthetic_model`):
    z = ε Φᵀ + η ⊙ √δ,   ε ~ N(0, I_r),  η ~ N(0, I_F),  δ_f = 1 − ‖Φ_f‖²,
and feature f fires when z_f > t_f = Φ⁻¹(1 − p_f), so P(f fires) = p_f exactly and the
dependence between features is the Gaussian copula with correlation Φ Φᵀ off the
diagonal. With r = 0 the features fire independently.

`active_set` draws the firing set of each sample in O(r·F/BLOCK + events) instead of the
O(F) of a dense [n, F] draw:
- Given ε, features fire independently with q_f(ε) = Φ((u_f − t_f)/√δ_f), u = εΦᵀ
  (the copula conditioned on its factors).
- The `head` (features with p_f ≥ HEAD_PROBABILITY) draw one Bernoulli each.
- The rest are a thinned Poisson process: f fires when a Poisson process of rate
  λ_f = −log(1 − q_f) has at least one event (probability q_f). Features are grouped in
  blocks of similar t_f; per sample, a block's envelope rate λ̄ = −log Φ((min t − max u)/√δ)
  bounds λ_f for every f in it; events are drawn at the envelope rates (a Poisson count,
  then a block by its rate and a feature uniformly in it) and each is kept with
  probability λ_f/λ̄. A thinned Poisson process is a Poisson process with the thinned rate,
  independent across features, so each fires with probability q_f(ε), independently —
  exactly as in the dense draw.
- The sets live in fixed buffers whose sizes (`events_cap`, `accepted_cap`, `active_cap`)
  come from a pilot draw. A sample that would overflow a buffer is reported
  (`overflow`), and the caller redraws that batch with its dense reference sampler
  (`redraw_if`), so the distribution stays exact.

`SparseCodes` holds codes as per-sample (index, value) lists; `embed` computes
x = Σ value · w_index + b from them in O(n·A·d).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Self

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import log_ndtr, ndtr
from scipy import special

BLOCK = 8  # tail features per thinning block
HEAD_PROBABILITY = 0.02  # features at least this frequent draw one Bernoulli each
PILOT_SAMPLES = 4096
SPARSE_EVENT_COST = 32  # dense features that one sparse event costs as much as (`sparse_pays`)


@struct.dataclass
class SparseCodes:
    """Codes as per-sample active lists: indices [n, A] (F marks an empty slot), values [n, A].

    `dense()` gives the [n, F] array (also `np.asarray(codes)`); `active_count()` and
    `on_at(columns)` are what the streamed metrics read (`sae.metrics`), the latter through
    an [n, F] boolean mask.
    """

    indices: jax.Array
    values: jax.Array
    num_features: int = struct.field(pytree_node=False)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.indices.shape[0], self.num_features)

    def dense(self) -> jax.Array:
        rows = jnp.arange(self.indices.shape[0])[:, None]
        out = jnp.zeros((self.indices.shape[0], self.num_features + 1), self.values.dtype)
        return out.at[rows, self.indices].add(self.values)[:, : self.num_features]

    def __array__(self, dtype=None, copy=None):
        dense = np.asarray(self.dense())
        return dense if dtype is None else dense.astype(dtype)

    @classmethod
    def from_dense(cls, dense: jax.Array, capacity: int) -> tuple["SparseCodes", jax.Array]:
        """The `capacity` largest entries of each row of dense codes [n, F], and whether any row had
        more active entries than that (those would be lost)."""
        values, indices = jax.lax.top_k(dense, capacity)
        truncated = jnp.any(jnp.sum(dense > 0, axis=1) > capacity)
        return cls(jnp.where(values > 0, indices, dense.shape[1]), values, dense.shape[1]), truncated

    def active_count(self) -> jax.Array:
        return jnp.sum((self.values > 0) & (self.indices < self.num_features))

    def on_at(self, columns: jax.Array) -> jax.Array:
        rows = jnp.arange(self.indices.shape[0])[:, None]
        mask = jnp.zeros((self.indices.shape[0], self.num_features + 1), bool)
        mask = mask.at[rows, self.indices].max(self.values > 0)
        return mask[:, columns]


@struct.dataclass
class CopulaFiring:
    """The firing model of F features (module docstring) and the plan of its sparse draw.

    Arrays have one padding entry at index F (an empty slot that never fires)."""

    if TYPE_CHECKING:  # flax.struct.dataclass adds it at run time; declared here for the type checker

        def replace(self, **changes: Any) -> Self: ...

    thresholds: jax.Array  # [F + 1] t_f = Φ⁻¹(1 − p_f); +inf for the empty slot
    diag_sqrt: jax.Array  # [F + 1] √δ_f
    factor: jax.Array  # [F + 1, r] Φ (zero row for the empty slot)
    head: jax.Array  # [H] features drawn one Bernoulli each
    blocks: jax.Array  # [nb, BLOCK] the other drawn features, padded with F
    block_threshold: jax.Array  # [nb] min t over the block
    block_scale_low: jax.Array  # [nb] min √δ over the block
    block_scale_high: jax.Array  # [nb] max √δ over the block
    events_cap: int = struct.field(pytree_node=False)  # thinning events per sample
    accepted_cap: int = struct.field(pytree_node=False)  # accepted thinning events per sample
    active_cap: int = struct.field(pytree_node=False)  # firing features per sample

    @property
    def num_features(self) -> int:
        return self.thresholds.shape[0] - 1


def plan(probabilities: np.ndarray, diag_sqrt: np.ndarray, factor: np.ndarray, candidates: np.ndarray) -> CopulaFiring:
    """The firing model of F features with firing probabilities p [F], √δ [F] and factor
    Φ [F, r], drawn sparsely over `candidates` (indices; the other features are the
    caller's business, e.g. children of a hierarchy). Caps are 1: set them with
    `with_pilot_caps` or `replace`."""
    probabilities = np.asarray(probabilities, np.float64)
    thresholds = special.ndtri(1.0 - probabilities)  # NumPy: building compiles nothing
    n = thresholds.shape[0]
    candidates = np.asarray(candidates, np.int64)
    is_head = probabilities[candidates] >= HEAD_PROBABILITY
    head, tail = candidates[is_head], candidates[~is_head]
    tail = tail[np.argsort(-thresholds[tail], kind="stable")[::-1]]  # by threshold: similar t share a block
    n_blocks = max(1, -(-len(tail) // BLOCK))
    blocks = np.full(n_blocks * BLOCK, n, np.int32)
    blocks[: len(tail)] = tail
    blocks = blocks.reshape(n_blocks, BLOCK)
    t_pad, s_pad = pad(thresholds, np.inf), pad(np.asarray(diag_sqrt, np.float64), 1.0)
    return CopulaFiring(
        thresholds=jnp.asarray(t_pad, jnp.float32),
        diag_sqrt=jnp.asarray(s_pad, jnp.float32),
        factor=jnp.asarray(pad(np.asarray(factor, np.float32), 0.0)),
        head=jnp.asarray(head, jnp.int32),
        blocks=jnp.asarray(blocks),
        block_threshold=jnp.asarray(t_pad[blocks].min(axis=1), jnp.float32),
        block_scale_low=jnp.asarray(s_pad[blocks].min(axis=1), jnp.float32),
        block_scale_high=jnp.asarray(s_pad[blocks].max(axis=1), jnp.float32),
        events_cap=1,
        accepted_cap=1,
        active_cap=1,
    )


def pad(a, value) -> np.ndarray:
    """a with one more entry along its first axis, filled with `value` (the empty slot F)."""
    a = np.asarray(a)
    return np.concatenate([a, np.full((1,) + a.shape[1:], value, a.dtype)])


def cap(counts: np.ndarray) -> int:
    """A buffer size well above a pilot's counts: mean + 8 sd + 4, and at least the largest + 4."""
    counts = np.asarray(counts, np.float64)
    return int(max(math.ceil(counts.mean() + 8 * counts.std() + 4), counts.max() + 4))


def dense_firing(firing: CopulaFiring, key: jax.Array, n: int) -> jax.Array:
    """The reference draw of the firing model: fired [n, F] from a dense z."""
    f = firing.num_features
    key_eps, key_eta = jax.random.split(key)
    eps = jax.random.normal(key_eps, (n, firing.factor.shape[1]))
    z = eps @ firing.factor[:f].T + jax.random.normal(key_eta, (n, f)) * firing.diag_sqrt[:f]
    return z > firing.thresholds[:f]


def with_pilot_caps(firing: CopulaFiring, key: jax.Array) -> CopulaFiring:
    """Caps from a pilot of PILOT_SAMPLES dense draws (only speed depends on them: a batch
    that overflows is redrawn by the caller's dense sampler)."""
    key_codes, key_events = jax.random.split(key)
    on = np.asarray(dense_firing(firing, key_codes, PILOT_SAMPLES))
    drawn = np.zeros(firing.num_features, bool)
    drawn[np.asarray(firing.head)] = True
    tail = np.asarray(firing.blocks).ravel()
    tail = tail[tail < firing.num_features]
    drawn[tail] = True
    # No buffer needs more slots than it has candidates (but keep one, so shapes stay non-empty).
    return firing.replace(
        events_cap=events_cap(firing, key_events),
        accepted_cap=min(cap(on[:, tail].sum(axis=1)), max(len(tail), 1)),
        active_cap=min(cap(on[:, drawn].sum(axis=1)), max(int(drawn.sum()), 1)),
    )


def with_caps(firing: CopulaFiring, probabilities: np.ndarray, key: jax.Array) -> CopulaFiring:
    """Caps for the sparse draw: from the exact count distributions where firing is
    independent (r = 0: no draw, nothing compiled), else from a pilot (`with_pilot_caps`).

    Independent firing: the number of firing candidates is Poisson-binomial (mean Σp,
    variance Σp(1 − p)) and the thinning events are Poisson with the fixed envelope rate R;
    each cap is mean + 8 sd + 4 (and no more than the candidates)."""
    if firing.factor.shape[1]:
        return with_pilot_caps(firing, key)
    p = np.asarray(probabilities, np.float64)
    tail = np.asarray(firing.blocks).ravel()
    tail = tail[tail < firing.num_features]
    drawn = np.concatenate([np.asarray(firing.head), tail])
    bound = lambda q: int(math.ceil(q.sum() + 8 * math.sqrt((q * (1 - q)).sum()) + 4))  # noqa: E731
    threshold = np.asarray(firing.block_threshold, np.float64) / np.asarray(firing.block_scale_high, np.float64)
    rate = float(BLOCK * -special.log_ndtr(threshold).sum())
    return firing.replace(
        events_cap=int(math.ceil(rate + 8 * math.sqrt(rate) + 4)),
        accepted_cap=min(bound(p[tail]), max(len(tail), 1)),
        active_cap=min(bound(p[drawn]), max(len(drawn), 1)),
    )


def events_cap(firing: CopulaFiring, key: jax.Array) -> int:
    """Thinning events per sample: the envelope's Poisson rate, maximised over a pilot of ε,
    plus 8 of its standard deviations and 4."""
    eps = jax.random.normal(key, (PILOT_SAMPLES, firing.factor.shape[1]))
    rate = float(np.asarray(envelope_totals(firing, eps)).max())
    return int(math.ceil(rate + 8 * math.sqrt(rate) + 4))


def fire_probability(firing: CopulaFiring, eps: jax.Array, index: jax.Array) -> jax.Array:
    """q_f(ε) = Φ((u_f − t_f)/√δ_f) at indices [n, k] for factors ε [n, r]."""
    u = 0.0 if firing.factor.shape[1] == 0 else jnp.einsum("nr,nkr->nk", eps, firing.factor[index])
    return ndtr((u - firing.thresholds[index]) / firing.diag_sqrt[index])


def block_envelope(firing: CopulaFiring, eps: jax.Array):
    """Per sample and block: the envelope rate λ̄ [n, nb] and the factor scores u [n, nb, BLOCK]
    (None without factors, where u = 0 and λ̄ is the same for every sample)."""
    n = eps.shape[0]
    if firing.factor.shape[1] == 0:
        # No factors: nothing depends on the sample (and a zero u would be an [n, nb, BLOCK]
        # constant that XLA spends seconds folding).
        rate = -log_ndtr(firing.block_threshold / firing.block_scale_high)
        return jnp.broadcast_to(rate, (n, rate.shape[0])), None
    u = jnp.einsum("nr,bkr->nbk", eps, firing.factor[firing.blocks])
    numerator = firing.block_threshold - u.max(axis=-1)
    scale = jnp.where(numerator >= 0, firing.block_scale_high, firing.block_scale_low)
    return -log_ndtr(numerator / scale), u


def envelope_totals(firing: CopulaFiring, eps: jax.Array) -> jax.Array:
    rate, _ = block_envelope(firing, eps)
    return BLOCK * rate.sum(axis=-1)


def compact(indices: jax.Array, values: jax.Array, keep: jax.Array, cap: int, empty: int):
    """The kept (index, value) pairs of each row first, in `cap` slots; and whether any row had more.

    A prefix sum gives each kept entry its slot (O(row length), no sort); extras go to a
    discarded slot."""
    n = indices.shape[0]
    slot = jnp.cumsum(keep, axis=1) - 1
    slot = jnp.where(keep & (slot < cap), slot, cap)
    rows = jnp.arange(n)[:, None]
    out_index = jnp.full((n, cap + 1), empty, indices.dtype).at[rows, slot].set(jnp.where(keep, indices, empty))
    out_value = jnp.zeros((n, cap + 1), values.dtype).at[rows, slot].set(jnp.where(keep, values, 0.0))
    return out_index[:, :cap], out_value[:, :cap], jnp.any(keep.sum(axis=1) > cap)


def active_set(firing: CopulaFiring, key: jax.Array, eps: jax.Array):
    """(index [n, active_cap], overflow): the candidates that fire given factors ε [n, r],
    first in each row and padded with F; exact (module docstring) unless `overflow`.

    Uses the first five of `jax.random.split(key, 6)`; the sixth is free for the caller."""
    n, f = eps.shape[0], firing.num_features
    key_head, key_count, key_where, key_slot, key_keep, _ = jax.random.split(key, 6)
    head = jnp.broadcast_to(firing.head, (n, firing.head.shape[0]))
    head_fires = jax.random.uniform(key_head, head.shape) < fire_probability(firing, eps, head)
    rate, u = block_envelope(firing, eps)
    total = BLOCK * rate.sum(axis=-1)
    count = jax.random.poisson(key_count, total)
    events = firing.events_cap
    cumulative = jnp.cumsum(BLOCK * rate, axis=-1)
    target = jax.random.uniform(key_where, (n, events)) * total[:, None]
    block = jnp.minimum(jax.vmap(jnp.searchsorted)(cumulative, target), rate.shape[1] - 1)
    slot = jax.random.randint(key_slot, (n, events), 0, BLOCK)
    feature = firing.blocks[block, slot]
    u_event = 0.0 if u is None else u[jnp.arange(n)[:, None], block, slot]
    feature_rate = -log_ndtr((firing.thresholds[feature] - u_event) / firing.diag_sqrt[feature])
    envelope = jnp.take_along_axis(rate, block, axis=1)
    accepted = (jnp.arange(events) < count[:, None]) & (jax.random.uniform(key_keep, (n, events)) * envelope < feature_rate)
    accepted &= feature < f
    # A feature fires when it has at least one accepted event: sort the few accepted, drop repeats.
    tail, _, overflow = compact(feature, jnp.zeros(feature.shape), accepted, firing.accepted_cap, f)
    tail = jnp.sort(tail, axis=1)
    repeat = jnp.concatenate([jnp.zeros((n, 1), bool), tail[:, 1:] == tail[:, :-1]], axis=1)
    candidates = jnp.concatenate([jnp.where(head_fires, head, f), jnp.where(repeat, f, tail)], axis=1)
    index, _, more = compact(candidates, jnp.zeros(candidates.shape), candidates < f, firing.active_cap, f)
    return index, overflow | more | jnp.any(count > events)


def sparse_pays(firing: CopulaFiring) -> bool:
    """Whether the sparse draw is worth it: per sample it costs about as much as 32 features
    of a dense draw for each head Bernoulli and each thinning event (Poisson count, sort,
    compaction), measured on a 2-core CPU (superposition toy, n = 1024, d = 16–256: equal
    at F ≈ 1024 with 27 events; 5.5× faster at F = 2048, d = 64; 1.5× slower at F = 512).
    Dense or strongly correlated firing (many head features, loose envelopes) fails it."""
    return SPARSE_EVENT_COST * (firing.head.shape[0] + firing.events_cap) <= firing.num_features


EMBED_UNROLL = 8  # slots added per loop iteration (one fused pass over x instead of eight)


def embed(directions: jax.Array, bias: jax.Array | None, codes: SparseCodes) -> jax.Array:
    """x = Σ_slots value · w_index (+ b), [n, d]: a loop over the slots, each gathering n rows
    (O(n A d); on CPU several times faster than one [n, A, d] gather).

    The loop stops after the last slot that some row of the batch uses (the caps are set for the
    rare full row, so most draws use a fraction of them), and adds `EMBED_UNROLL` slots per
    iteration, which XLA fuses into one pass over x. The slots are added in order, one at a
    time, so the sum is the slot-by-slot sum bit for bit (measured at SynthSAEBench-16k's
    shape, 133 slots, n = 1024, d = 768: 19.6 ms one slot per pass, 11.5 ms eight)."""
    f, d = directions.shape
    n, slots = codes.indices.shape
    chunks = -(-slots // EMBED_UNROLL)
    padding = ((0, chunks * EMBED_UNROLL - slots), (0, 0))
    present = jnp.pad(codes.indices.T < f, padding)  # [slots', n]
    index = jnp.pad(jnp.minimum(codes.indices.T, f - 1), padding)
    values = jnp.where(present, jnp.pad(codes.values.T, padding), 0.0)
    used_slots = jnp.max(jnp.where(jnp.any(present, axis=1), jnp.arange(present.shape[0]) + 1, 0))
    used_chunks = -(-used_slots // EMBED_UNROLL)

    def add_chunk(state):
        chunk, x = state
        start = chunk * EMBED_UNROLL
        chunk_index = jax.lax.dynamic_slice_in_dim(index, start, EMBED_UNROLL)
        chunk_values = jax.lax.dynamic_slice_in_dim(values, start, EMBED_UNROLL)
        for slot in range(EMBED_UNROLL):
            x = x + chunk_values[slot][:, None] * directions[chunk_index[slot]]
        return chunk + 1, x

    start = jnp.zeros((n, d), directions.dtype) if bias is None else jnp.broadcast_to(bias, (n, d)).astype(directions.dtype)
    _, x = jax.lax.while_loop(lambda state: state[0] < used_chunks, add_chunk, (jnp.int32(0), start))
    return x


def redraw_if(overflow: jax.Array, sparse, dense_fn: Callable[[], object]):
    """`sparse` unless `overflow`, else `dense_fn()` (a pytree of the same structure).

    A `lax.while_loop` that runs the dense draw at most once, rather than `lax.cond`:
    under `vmap` (one draw per run of a trained grid) a cond with a batched predicate
    becomes a select that computes both branches every time, while a while loop runs its
    body only when some element of the batch needs it."""

    def body(state):
        _, value = state
        return jnp.bool_(False), jax.tree.map(lambda new, old: new.astype(old.dtype), dense_fn(), value)

    _, value = jax.lax.while_loop(lambda state: state[0], body, (overflow, sparse))
    return value
