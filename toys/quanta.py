"""Multitask sparse parity (Michaud et al., the quantization model): a network with discrete skills.

Axes: T tasks, n data bits, k bits per parity, G networks trained together (seeds),
N samples, P parameters.

Truth: task t owns a fixed k-subset S_t of the n data bits (drawn once, without
replacement within a task). A sample is (t, b): the task t is drawn with the Zipfian
probability P(t) ∝ (t + 1)^−α, the bits b ∈ {0, 1}^n uniformly; its input is
x = [control(t), b] and its label is the parity y = (Σ_{i∈S_t} b_i) mod 2. Each task is
one skill ("quantum"): frequent tasks are learned first, rare ones maybe never.

The control bits (`task_code`):
- "onehot" (Michaud et al.): control(t) = onehot_T(t) ∈ {0, 1}^T — the input names the task.
- "parity": the task is not readable from any single control bit. t is written in
  binary with B = ⌈log₂ T⌉ digits, and digit j is the XOR of its own group of g =
  `control_group` control bits (B·g bits in all): given t, each group is uniform over
  the 2^(g−1) patterns with the right parity. Every set of fewer than g control bits is
  then uniform and independent of t, so the inputs' coordinates carry no linear trace of
  the task, and from g = 3 no pairwise one either (with g = 2 each digit is x₁ XOR x₂ =
  (x₁ − x₂)², a product of two coordinates — hence the default g = 3): the network has to
  compute the XORs to know which parity to take.

Network: an MLP x → ReLU(x W₁ + b₁) → … → logits [2], trained on fresh samples
drawn inside one `lax.scan` (Adam, cross-entropy), G seeds under `jax.vmap`.

Per-example gradients (`per_example_gradients`): g(x) = ∇_θ m(x) with the output
margin m(x) = z₁(x) − z₀(x), flattened over every parameter and normalised to unit
length. Why the output and not the loss: ∇_θ loss = (σ(m) − y) ∇_θ m, so (i) its sign
flips with the label — two samples of one task that use the same circuit would point in
opposite directions — and (ii) its length vanishes for a confidently correct sample (in
float32 it is exactly 0 once σ saturates), leaving nothing to normalise. The margin's
gradient keeps the direction (which parameters the network uses on x) and drops both.
For clustering, each coordinate is then standardised over the sample (see
`per_example_gradients`), optionally followed by a Gaussian random projection
R ∈ R^{P×k}, R_ij ~ N(0, 1/k) (Johnson–Lindenstrauss, theory.projections), computed
chunk by chunk so the memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from toys import network_training, protocol
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime
from toys.network_training import train_networks

TASK_CODES = ("onehot", "parity")


@dataclasses.dataclass(frozen=True)
class QuantaConfig:
    """Static settings of the task family, the network and its training (hashable)."""

    n_tasks: int = setting(12, "T: parity tasks", low=2)
    n_bits: int = setting(24, "n: data bits", low=1)
    k: int = setting(3, "bits in each task's parity", low=1, high="n_bits")
    zipf_exponent: float = setting(1.0, "exponent of the tasks' Zipfian frequencies", low=0)
    hidden: int = setting(256, "hidden units per layer", low=1)
    n_layers: int = setting(1, "hidden layers", low=1)
    steps: int = setting(10_000, "training steps", low=1)
    batch_size: int = setting(512, "fresh samples per step", low=1)
    learning_rate: float = setting(1e-3, "Adam learning rate", low=0, low_open=True)
    weight_decay: float = setting(0.0, "weight decay", low=0)
    task_code: str = setting("onehot", 'how the control bits give the task: "onehot" or "parity" (XOR groups)', choices=TASK_CODES)
    control_group: int = setting(3, 'g: control bits whose XOR gives one binary digit of the task ("parity")', low=1)

    @property
    def task_digits(self) -> int:
        """B = ⌈log₂ T⌉ binary digits of the task index (the "parity" code)."""
        return max(1, int(np.ceil(np.log2(self.n_tasks))))

    @property
    def control_dim(self) -> int:
        return self.n_tasks if self.task_code == "onehot" else self.task_digits * self.control_group

    @property
    def input_dim(self) -> int:
        return self.control_dim + self.n_bits

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)


def task_probabilities(config: QuantaConfig) -> np.ndarray:
    """P(t) ∝ (t + 1)^−α, [T]."""
    weights = np.arange(1, config.n_tasks + 1, dtype=np.float64) ** -config.zipf_exponent
    return weights / weights.sum()


def draw_subsets(config: QuantaConfig, key: jax.Array) -> np.ndarray:
    """S_t for every task: [T, k] distinct bit indices per row (sorted)."""
    keys = jax.random.split(key, config.n_tasks)
    subsets = jax.vmap(lambda kk: jax.random.choice(kk, config.n_bits, (config.k,), replace=False))(keys)
    return np.sort(np.asarray(subsets), axis=1)


def parity_labels(subsets, tasks, bits):
    """y = (Σ_{i∈S_t} b_i) mod 2 for tasks [N] and bits [N, n] → [N] int32."""
    chosen = jnp.take_along_axis(jnp.asarray(bits, jnp.int32), jnp.asarray(subsets)[jnp.asarray(tasks)], axis=1)
    return jnp.sum(chosen, axis=1) % 2


def control_bits(config: QuantaConfig, tasks, key) -> jax.Array:
    """The control part of the inputs, [N, control_dim] float32 (module docstring): onehot_T(t),
    or for "parity" B groups of g bits, group j uniform among the patterns whose XOR is digit j of t."""
    tasks = jnp.asarray(tasks)
    if config.task_code == "onehot":
        return jax.nn.one_hot(tasks, config.n_tasks)
    digits = (tasks[:, None] >> jnp.arange(config.task_digits)) & 1  # [N, B]
    free = jax.random.bernoulli(key, 0.5, (tasks.shape[0], config.task_digits, config.control_group - 1)).astype(jnp.int32)
    last = digits ^ (jnp.sum(free, axis=-1) % 2)  # makes the group's XOR equal the digit
    return jnp.concatenate([free, last[..., None]], axis=-1).reshape(tasks.shape[0], -1).astype(jnp.float32)


def task_from_controls(config: QuantaConfig, controls) -> np.ndarray:
    """The task each control pattern encodes, [N] (the inverse of `control_bits`)."""
    controls = np.asarray(controls).astype(np.int64)
    if config.task_code == "onehot":
        return np.argmax(controls, axis=1)
    digits = controls.reshape(len(controls), config.task_digits, config.control_group).sum(-1) % 2
    return (digits << np.arange(config.task_digits)).sum(1)


def encode_inputs(config: QuantaConfig, tasks, bits, key):
    """x = [control(t), b] as float32, [N, control_dim + n]."""
    return jnp.concatenate([control_bits(config, tasks, key), jnp.asarray(bits, jnp.float32)], axis=1)


class Batch(NamedTuple):
    """Samples of the multitask parity: inputs x, each sample's task (the planted truth) and its parity
    label. The label is the training target, which a researcher has on a real model (a next token), so
    a method may read it (OBSERVABLE, `sae.readers.wall.observe_derived`); the task it may not.
    `chosen_with_truth`: the tasks were given to `sample` (a sample chosen with the truth)."""

    x: jax.Array  # [N, T + n]
    tasks: jax.Array  # [N]
    labels: jax.Array  # [N]
    chosen_with_truth: bool = False

    OBSERVABLE = ("x", "labels")


def sample(config: QuantaConfig, subsets, key, n: int, tasks=None) -> Batch:
    """n samples; tasks drawn from the Zipfian P(t) unless given ([n] ints)."""
    key_task, key_bits = jax.random.split(key)
    key_control = jax.random.fold_in(key, 2)  # (a key of its own: the one-hot draws stay as they were)
    chosen = tasks is not None
    if tasks is None:
        tasks = jax.random.choice(key_task, config.n_tasks, (n,), p=jnp.asarray(task_probabilities(config)))
    bits = jax.random.bernoulli(key_bits, 0.5, (n, config.n_bits)).astype(jnp.int32)
    return Batch(encode_inputs(config, tasks, bits, key_control), tasks, parity_labels(subsets, tasks, bits), chosen)


def balanced_tasks(tasks, per_task: int) -> np.ndarray:
    """Each of the given tasks repeated per_task times (a balanced clustering sample), [len·per_task]."""
    return np.repeat(np.asarray(tasks, np.int32), per_task)


class ParityMLP(nnx.Module):
    def __init__(self, config: QuantaConfig, *, rngs: nnx.Rngs):
        widths = [config.input_dim] + [config.hidden] * config.n_layers
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.out = nnx.Linear(config.hidden, 2, rngs=rngs)

    def hidden_activations(self, x: jax.Array) -> jax.Array:
        """The last hidden layer's activations, [N, hidden]."""
        for layer in self.layers:
            x = jax.nn.relu(layer(x))
        return x

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(self.hidden_activations(x))


def _build(config: QuantaConfig):
    return lambda rngs: ParityMLP(config, rngs=rngs)


def _graphdef(config: QuantaConfig):
    return network_training.definition(_build(config))


def initial_state(config: QuantaConfig, key) -> nnx.State:
    """The parameters of a freshly initialised network (an untrained control)."""
    return network_training.parameters(_build(config), key)


class Task(NamedTuple):
    """What a network is trained on: the config and each task's parity subset S_t, [T, k]."""

    config: QuantaConfig
    subsets: np.ndarray


def task(config: QuantaConfig, key: jax.Array) -> Task:
    """The config with parity subsets drawn from `key` (`draw_subsets`)."""
    return Task(config, draw_subsets(config, key))


class QuantaResult(NamedTuple):
    state: nnx.State  # leaves [G, ...]
    loss_curve: jax.Array  # [steps, G]
    task: Task  # what the networks were trained on


@dataclasses.dataclass(frozen=True)
class _Training:
    """AdamW on cross-entropy over fresh sparse-parity batches (a `network_training.NetworkTask`);
    per-run data: the task subsets."""

    config: QuantaConfig

    def init(self, key):
        return initial_state(self.config, key)

    def optimizer(self):
        return optax.adamw(self.config.learning_rate, weight_decay=self.config.weight_decay)

    def loss(self, state, key, subsets):
        batch = sample(self.config, subsets, key, self.config.batch_size)
        logits = network_training.bind(_graphdef(self.config), state)(batch.x)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch.labels))


def train(task: Task, keys: jax.Array, runtime: Runtime | None = None) -> QuantaResult:
    """Train one network per key [G] on the task together; raises DivergenceError naming the step."""
    config = task.config
    subsets = jnp.broadcast_to(jnp.asarray(task.subsets), (keys.shape[0], *np.shape(task.subsets)))
    state, curve = train_networks(
        _Training(config),
        keys,
        config.steps,
        data=subsets,
        runtime=runtime,
        what=f"sparse-parity MLP (T={config.n_tasks}, n={config.n_bits})",
    )
    return QuantaResult(state, jnp.asarray(curve), task)


@struct.dataclass
class HiddenToy:
    """A trained network's last hidden layer as a toy (toys.protocol): fresh multitask-parity samples
    carried there. Truth per sample: its task and its parity label."""

    state: nnx.State  # one network's parameters
    subsets: jax.Array  # [T, k]
    config: QuantaConfig = struct.field(pytree_node=False)

    @property
    def d(self) -> int:
        return self.config.hidden

    def sample(self, key: jax.Array, n: int) -> protocol.Batch:
        batch = sample(self.config, self.subsets, key, n)
        return protocol.Batch(
            model(self.config, self.state).hidden_activations(batch.x), None, {"tasks": batch.tasks, "labels": batch.labels}
        )


def layer_names(config: QuantaConfig) -> tuple[str, ...]:
    """The layers `layer` reads: the last hidden layer (the one the gradients and probes read)."""
    return ("hidden",)


def layer(network: QuantaResult, name: str = "hidden", index: int = 0) -> HiddenToy:
    """Network `index`'s last hidden layer as a toy."""
    network_training.check_layer(name, layer_names(network.task.config))
    return HiddenToy(network_training.select(network.state, index), jnp.asarray(network.task.subsets), network.task.config)


def model(config: QuantaConfig, state: nnx.State) -> ParityMLP:
    return network_training.bind(_graphdef(config), state)


def per_task_accuracy(config: QuantaConfig, state: nnx.State, subsets, key, per_task: int = 2000) -> np.ndarray:
    """Accuracy on `per_task` fresh samples of each task, [T]."""
    batch = sample(config, subsets, key, config.n_tasks * per_task, tasks=jnp.asarray(balanced_tasks(range(config.n_tasks), per_task)))
    correct = jnp.argmax(model(config, state)(batch.x), axis=-1) == batch.labels
    return np.asarray(jnp.mean(correct.reshape(config.n_tasks, per_task), axis=1))


def margin_fn(config: QuantaConfig):
    """m(state, x) = z₁(x) − z₀(x) for one input x [control_dim + n] (a scalar)."""
    graphdef = _graphdef(config)

    def margin(state, x):
        logits = network_training.bind(graphdef, state)(x[None])[0]
        return logits[1] - logits[0]

    return margin


def n_parameters(state: nnx.State) -> int:
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(state)))


def _chunked(x, chunk: int):
    """x [N, D] padded with zero rows to whole chunks → ([N/chunk, chunk, D], valid-row mask of the same leading shape)."""
    n = x.shape[0]
    pad = (-n) % chunk
    valid = jnp.arange(n + pad) < n
    return jnp.pad(x, ((0, pad), (0, 0))).reshape(-1, chunk, x.shape[1]), valid.reshape(-1, chunk)


@functools.partial(jax.jit, static_argnames="config")
def _unit_gradients(config: QuantaConfig, state, xc):
    """Unit-length ∇_θ m for a chunk of inputs [c, control_dim + n] → [c, P] (one vmapped grad)."""
    margin = margin_fn(config)

    def flat_gradient(xi):
        return jnp.concatenate([g.ravel() for g in jax.tree.leaves(jax.grad(margin)(state, xi))])

    g = jax.vmap(flat_gradient)(xc)
    return g / jnp.maximum(jnp.linalg.norm(g, axis=1, keepdims=True), 1e-30)


@functools.partial(jax.jit, static_argnames=("config", "chunk"))
def _gradient_moments(config: QuantaConfig, state, x, chunk: int):
    """Mean and standard deviation of every gradient coordinate over the N inputs, streamed."""
    chunks, valid = _chunked(x, chunk)

    def body(totals, item):
        xc, keep = item
        g = jnp.where(keep[:, None], _unit_gradients(config, state, xc), 0.0)
        return (totals[0] + g.sum(0), totals[1] + (g**2).sum(0)), None

    p = n_parameters(state)
    (total, total_sq), _ = jax.lax.scan(body, (jnp.zeros(p), jnp.zeros(p)), (chunks, valid))
    mean = total / x.shape[0]
    return mean, jnp.sqrt(jnp.maximum(total_sq / x.shape[0] - mean**2, 0.0))


@functools.partial(jax.jit, static_argnames=("config", "chunk"))
def _standardised_gradients(config: QuantaConfig, state, x, mean, std, projection, chunk: int):
    chunks, _ = _chunked(x, chunk)
    # a coordinate that never varies carries no information about the sample: weight 0
    inverse = jnp.where(std > 1e-12, 1.0 / jnp.maximum(std, 1e-12), 0.0)

    def one_chunk(xc):
        z = (_unit_gradients(config, state, xc) - mean) * inverse
        return z if projection is None else z @ projection

    out = jax.lax.map(one_chunk, chunks)
    return out.reshape(-1, out.shape[-1])[: x.shape[0]]


def per_example_gradients(config: QuantaConfig, state: nnx.State, x, projection=None, chunk: int = 256) -> np.ndarray:
    """Standardised per-example gradients, [N, P]; through `projection` R [P, k]: [N, k].

    Each example's ∇_θ m(x) (one `jax.vmap(jax.grad(m))` per chunk) is scaled to unit
    length; every coordinate is then standardised over the N examples, z = (g − mean) /
    std (0 where std = 0), and optionally projected, zR. Why standardise: the readout's
    gradient ∂m/∂W_out = ±h (the last hidden activations) is large and nearly the same
    for every example, so raw gradient directions mostly say "this network"; z-scoring
    each parameter's gradient over the sample (a diagonal, Fisher-like preconditioning)
    lets the parameters whose use differs between examples speak. Two streamed passes
    (moments, then standardise and project) keep at most chunk × P gradient entries
    alive at once, however large N is.
    """
    x = jnp.asarray(x, jnp.float32)
    chunk = min(chunk, x.shape[0])
    if projection is not None and projection.shape[0] != n_parameters(state):
        raise ConfigError(f"projection: got {projection.shape[0]} rows, expected the {n_parameters(state)} parameters")
    mean, std = _gradient_moments(config, state, x, chunk)
    return np.asarray(_standardised_gradients(config, state, x, mean, std, projection, chunk))


def raw_gradients(config: QuantaConfig, state: nnx.State, x) -> np.ndarray:
    """Unit-length ∇_θ m(x) without standardisation, [N, P] (a diagnostic; all at once)."""
    return np.asarray(_unit_gradients(config, state, jnp.asarray(x, jnp.float32)))
