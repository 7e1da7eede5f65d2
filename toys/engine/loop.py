"""The one training loop of the lab: a jit-compiled `lax.scan` over steps, run in host-visible segments.

Every trainer — SAE dictionaries (`sae.train`), the toy networks (`toys.network_training`),
the orthogonalisation of a synthetic model's features (`toys.synthetic_model`) — writes one
pure step and hands it here:

    step(context, carry, inputs, index) -> (carry, curves)

`context` is static and hashable (a frozen config, a module-level function; it keys the
compiled program, so equal contexts reuse it), `inputs` is traced and the same at every
step (data, hyperparameters, keys), `index` the global step number, and `curves` the
step's outputs (the loss, or a tuple whose first element is the loss). The steps run in
`segments` nearly equal segments, each one compiled scan with the carry handed on — the
numbers are those of one scan over every step — and between segments the host
- advances the run's progress (a bar on a terminal, a line elsewhere; `toys.engine.progress`),
- stops at the first segment whose loss is NaN/inf, naming the step (`DivergenceError`),
- lets Ctrl-C land, with the last finished step recorded for the message.
At most two segment lengths occur, so a run compiles at most two programs.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from toys.engine.progress import check_finite
from toys.engine.runtime import Runtime, or_default

SEGMENTS = 10  # host-visible segments per training run (progress, divergence, interruption points)


def segment_lengths(steps: int, segments: int) -> list[int]:
    """`segments` nearly equal lengths summing to `steps` (at most two distinct lengths: two compilations)."""
    if steps <= 0:
        return []
    segments = max(1, min(segments, steps))
    base, extra = divmod(steps, segments)
    return [base + 1] * extra + [base] * (segments - extra)


@functools.partial(jax.jit, static_argnames=("step", "context", "length"))
def _segment(step: Callable, context, carry, inputs, start, length: int):
    """Steps start … start + length − 1: one scan; returns (carry, curves [length, …])."""
    return jax.lax.scan(lambda c, index: step(context, c, inputs, index), carry, start + jnp.arange(length))


def _loss(curves):
    return curves[0] if isinstance(curves, tuple) else curves


def run(
    step: Callable,
    context,
    carry,
    inputs,
    steps: int,
    *,
    what: str,
    runtime: Runtime | None = None,
    segments: int = SEGMENTS,
    fetch: Callable = lambda tree: jax.tree.map(np.asarray, tree),
):
    """Run `steps` steps of `step` from `carry`; returns (carry, curves with a leading [steps] axis).

    what: names the training in progress lines and in a DivergenceError; fetch: brings one
    segment's curves to the host (`sae.sharding.to_host` gathers them across hosts).
    """
    runtime = or_default(runtime)
    pieces, start = [], 0
    with runtime.progress.task(what), runtime.progress.bar(steps) as advance:
        for length in segment_lengths(steps, segments):
            carry, curves = _segment(step, context, carry, inputs, start, length)
            pieces.append(fetch(curves))
            check_finite(_loss(pieces[-1]), what, first_step=start)  # stop at the first bad segment
            start += length
            advance(start, _loss(pieces[-1]))
    if not pieces:
        return carry, None
    return carry, jax.tree.map(lambda *parts: np.concatenate(parts), *pieces)
