"""`toylab bench --profile`: where a training step's time goes, stage by stage, for bench's cases.

A step of `sae.train` is cut into cumulative stages, each compiled as its own `lax.scan` over
the same number of steps at the case's exact shapes (the G runs vmapped as in training):

1. draw       — the batch [G, b, d] drawn from the toy with the step's key (as in training);
2. encode     — + the dense pre-activations a = (x − b_dec) W_enc + b_enc [G, b, m];
3. select     — + the selection on ReLU(a) without gradient: per-sample top-k (TopK) or the
                batch-wide top-k·b (BatchTopK);
4. loss       — + the architecture's whole loss (what 2–3 did, the decode, the error);
5. gradient   — + the loss's gradient (`jax.value_and_grad`);
6. step       — the full training step (`sae.train._train_step`: + Adam, the decoder's
                renormalisation, firing counters).

Each stage's result is folded into the scan's carry, so XLA cannot drop it; the parameters are
held at their initial values (their values do not change the cost of any stage). The cost of
a stage is its time minus the previous stage's — an ablation, so the increments are
approximate (XLA fuses differently when a stage is added), but they name where a step spends
its time in a way a trace of a fused CPU program does not. Times are per step, best of
`repeats` calls after a compiling warm-up.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from experiments.bench import _best_time  # one timing rule for the bench and its profile
from sae import architectures, pipeline, train

STAGES = ("draw", "encode", "select", "loss", "gradient", "step")


def _selection(arch: architectures.Architecture):
    """The selection stage of an architecture: ReLU(a) [b, m] → its kept entries (values only matter for cost).
    The BatchTopK family (inference by a learned threshold) selects over the batch, TopK per sample."""
    if arch.inference == "threshold":
        return lambda a, hp, k_max: architectures.batch_top_k_entries(a, hp.k, k_max)[0]
    return lambda a, hp, k_max: architectures.top_k(a, hp.k, k_max)[0]


def stage_times(config: train.TrainConfig, sample_fn, data, hps, keys, repeats: int = 3) -> dict[str, float]:
    """Milliseconds per step of each cumulative stage (`STAGES`) of `config`'s training step."""
    config = dataclasses.replace(
        config, compute_dtype=config.compute_dtype or "float32", data_prng=config.data_prng or "threefry", mesh_shape=(1, 1)
    )
    arch = architectures.get(config.arch)
    carry = train._init_grid(config, sample_fn, data, hps, keys, None)
    params = carry[0]
    select = _selection(arch)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    per_run = jax.vmap(lambda p, hp, x, stage: _through(stage, arch, select, config, p, hp, x), in_axes=(0, 0, 0, None))

    def stage_program(stage: str):
        def body(total, step):
            x = train._draw_batches(config, sample_fn, data, jax.vmap(lambda k: jax.random.fold_in(k, step))(data_keys))
            if stage == "draw":
                return total + jnp.sum(x), None
            return total + jnp.sum(per_run(params, hps, x, stage)), None

        return jax.jit(lambda: jax.lax.scan(body, jnp.float32(0.0), jnp.arange(config.steps))[0])

    def step_program():
        def body(state, step):
            state, curves = train._train_step((config, sample_fn, False), state, (data, hps, keys), step)
            return state, curves[0]

        return jax.jit(lambda state: jax.lax.scan(body, state, jnp.arange(config.steps))[1])

    times = {}
    for stage in STAGES[:-1]:
        program = stage_program(stage)
        times[stage] = _best_time(lambda program=program: program().block_until_ready(), repeats)
    program = step_program()
    times["step"] = _best_time(lambda: jax.block_until_ready(program(carry)), repeats)
    return {stage: 1e3 * seconds / config.steps for stage, seconds in times.items()}


def _through(stage, arch, select, config, params, hp, x):
    """One run's work up to `stage`, reduced to a scalar."""
    k_max = config.k_max
    if stage in ("encode", "select"):
        if arch.scales_input:
            x = x / architectures.sample_scale(x)
        a = architectures.pre_activation(params, x)
        if stage == "encode":
            return jnp.sum(a)
        return jnp.sum(select(jax.nn.relu(a), hp, k_max))
    loss = lambda p: arch.loss(p, x, hp, k_max, None)[0]  # noqa: E731
    if stage == "loss":
        return loss(params)
    value, grads = jax.value_and_grad(loss)(params)
    return value + sum(jnp.sum(g) for g in jax.tree.leaves(grads))


def profile_cases(repeats: int = 3, steps: int = 50) -> list[dict]:
    """Stage times of bench's cases A, B (TopK on the superposition toy) and C (BatchTopK on the
    SynthSAEBench-16k-shaped synthetic model), `steps` steps per timed call."""
    from experiments import bench

    rows = []
    for case in bench.CASES:
        toy, hps, keys = bench.case_setup(case)
        config = train.TrainConfig("topk", case.d, case.m, steps=steps, batch_size=case.batch_size, k_max=case.k)
        rows.append({"case": case.name, **stage_times(config, pipeline.toy_activations, toy, hps, keys, repeats)})
    synthetic = bench.SYNTHETIC_CASE
    _, model = bench._synthetic_model(synthetic["features"], synthetic["dims"])
    config = train.TrainConfig(
        "batchtopk",
        synthetic["dims"],
        synthetic["width"],
        steps=max(steps // 5, 4),
        batch_size=synthetic["batch_size"],
        k_max=synthetic["k"],
        one_draw=True,
    )
    hps = pipeline.stack([architectures.hparams(3e-4, 0.0, synthetic["k"])])
    rows.append({"case": "C", **stage_times(config, pipeline.toy_activations, model, hps, jax.random.split(jax.random.key(1), 1), repeats)})
    return rows


def report(rows: list[dict]) -> str:
    """One line per case: each stage's cumulative ms/step and, in brackets, its increment."""
    lines = [
        "ms per step, cumulative by stage [increment over the previous stage]:",
        f"{'case':<6}" + "".join(f"{stage:>18}" for stage in STAGES),
    ]
    for row in rows:
        cells, previous = [], 0.0
        for stage in STAGES:
            cells.append(f"{row[stage]:>8.2f} [{row[stage] - previous:+6.2f}]")
            previous = row[stage]
        lines.append(f"{row['case']:<6}" + "".join(f"{cell:>18}" for cell in cells))
    return "\n".join(lines)
