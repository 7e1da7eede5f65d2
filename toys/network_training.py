"""The training loop shared by the toy networks that learn from sampled batches.

S networks (one per key) train together: `jax.vmap` over networks inside one
`lax.scan` over steps; each step's batch is drawn inside the loss from a key folded
from the network's key and the step, so nothing is materialised. Call it inside a
jit-compiled function.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from sae import progress


def train_networks(init_state, loss, optimizer: optax.GradientTransformation, keys: jax.Array, steps: int):
    """Train one network per key [S]; returns (states with leaves [S, ...], loss curve [steps, S]).

    init_state(key) -> parameters of one network (a pytree, e.g. an nnx.State);
    loss(state, key) -> scalar: draws its own batch from `key` and scores the network.
    """

    def init(key):
        state = init_state(jax.random.fold_in(key, 0))
        return state, optimizer.init(state)

    def step_one(state, opt_state, key):
        value, grads = jax.value_and_grad(loss)(state, key)
        updates, opt_state = optimizer.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, value

    state, opt_state = jax.vmap(init)(keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)

    def body(carry, step):
        state, opt_state = carry
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(data_keys)
        state, opt_state, value = jax.vmap(step_one)(state, opt_state, step_keys)
        progress.report(step, steps, value)
        return (state, opt_state), value

    (state, _), curve = jax.lax.scan(body, (state, opt_state), jnp.arange(steps))
    return state, curve


def select(state, index: int):
    """Network `index` of a stacked state (leaves [S, ...] → [...])."""
    return jax.tree.map(lambda leaf: leaf[index], state)
