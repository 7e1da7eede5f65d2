"""The exact two-feature absorption study, shared by the `two-feature` and `trees` studies.

Chanin et al.'s toy (toys.trees.two_feature_config): a parent t_p and its child t_c in R², the
parent alone with probability p10 and with the child with probability p11. `study` gives the
closed-form expected L1 of the absorbed and not-absorbed dictionaries (theory.absorption),
the hand-built ones' L1 and squared error, and 2-latent SAEs trained from inside the data's
cone (ReLU + L1 and the same with nested prefix losses, `matryoshka_l1`), read by their
parent latent's activation on t_p alone and on t_p + t_c (absorbed: ≈ 0 on t_p + t_c).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import table
from sae import architectures, pipeline
from sae.params import from_decoder
from theory import absorption as absorption_theory
from toys import trees

ARCHS = ("relu", "matryoshka_l1")


def cone_init(key, t_p, t_c, m: int = 2):
    """Atoms at uniform angles between t_p and t_c (encoder = decoderᵀ, no biases).

    A 2-latent ReLU SAE whose atom starts pointing away from every sample never fires
    and never learns; starting inside the data's cone keeps both latents alive, so the
    outcome reflects the loss, not a dead start. Both losses start from the same atoms.
    """
    angle = jax.random.uniform(key, (m,), minval=0.0, maxval=jnp.pi / 2)
    return from_decoder(jnp.cos(angle)[:, None] * t_p + jnp.sin(angle)[:, None] * t_c)


def train_two_feature(
    arch: str,
    l1_coefficient: float,
    n_seeds: int,
    steps: int,
    key,
    p10: float = 0.3,
    p11: float = 0.2,
    learning_rate: float = 3e-3,
    runtime=None,
) -> dict:
    """Train n_seeds 2-latent SAEs (one vmapped call) on the two-feature toy, no decoder bias.

    Returns the parent latent (best decoder cosine with t_p) of each run: its cosine,
    its coefficient on t_p alone and on t_p + t_c, and each run's final squared error.
    """
    toy = trees.build(trees.two_feature_config(p10, p11), jax.random.key(0))
    t_p, t_c = toy.directions[0], toy.directions[1]
    keys = jax.random.split(key, n_seeds)
    hps = pipeline.stack([architectures.hparams(learning_rate, l1_coefficient)] * n_seeds)
    start = jax.vmap(lambda k: cone_init(k, t_p, t_c))(keys)
    result = pipeline.fit(
        arch,
        toy,
        hps,
        keys,
        n_latents=2,
        steps=steps,
        batch_size=256,
        decoder_bias=False,
        init_params=start,
        label=f"two-feature toy: {arch}",
        runtime=runtime,
    )
    codes = np.asarray(pipeline.encode(arch, result.params, hps, jnp.stack([t_p, t_p + t_c])))  # [G, 2 samples, 2]
    cosine = np.asarray(result.params.W_dec @ t_p)  # [G, 2]
    parent = np.argmax(cosine, axis=1)
    rows = np.arange(n_seeds)
    return {
        "parent_cosine": cosine[rows, parent].round(4).tolist(),
        "parent_on_parent": codes[rows, 0, parent].round(4).tolist(),
        "parent_on_both": codes[rows, 1, parent].round(4).tolist(),
        "final_mse": np.asarray(result.mse[-100:].mean(axis=0)).round(5).tolist(),
    }


def study(p10: float, p11: float, l1_coefficient: float, n_seeds: int, steps: int, learning_rate: float, key, runtime=None) -> dict:
    """Closed forms, the hand-built dictionaries' exact losses, and trained ReLU / Matryoshka SAEs."""
    t_p, t_c = absorption_theory.features()
    hand_built = {}
    for name, build in (("absorbed", absorption_theory.absorbed), ("not_absorbed", absorption_theory.not_absorbed)):
        losses = absorption_theory.exact_losses(build(t_p, t_c), t_p, t_c, p10, p11)
        hand_built[name] = {
            "mse": losses["mse"],
            "l1": losses["l1"],
            "matryoshka_loss": absorption_theory.matryoshka_loss(build(t_p, t_c), t_p, t_c, p10, p11, l1_coefficient),
        }
    trained = {arch: train_two_feature(arch, l1_coefficient, n_seeds, steps, key, p10, p11, learning_rate, runtime) for arch in ARCHS}
    return {
        "p10": p10,
        "p11": p11,
        "l1_coefficient": l1_coefficient,
        "expected_l1": {
            "absorbed": absorption_theory.expected_l1_absorbed(p10, p11),
            "not_absorbed": absorption_theory.expected_l1_not_absorbed(p10, p11),
        },
        "hand_built": hand_built,
        "matryoshka_prefers_not_absorbed": absorption_theory.matryoshka_prefers_not_absorbed(l1_coefficient),
        "trained": trained,
    }


def rows(two: dict, seed: int, setting: dict | None = None) -> list[table.Row]:
    """The study's measurements (`study`, `two`) as results-table rows: per trained architecture and
    replica, the parent latent's activation on parent + child (absorbed ≈ 0, not absorbed ≈ 1) and on
    the parent alone, and the final squared error; the hand-built dictionaries' exact L1, squared error
    and nested loss, and the closed-form expected L1 beside them. `setting`: coordinates every row
    carries (a study that embeds this one marks its rows)."""
    setting = setting or {}
    out = []
    for arch, trained in two["trained"].items():
        for metric in ("parent_on_both", "parent_on_parent", "final_mse"):
            for replica, value in enumerate(trained[metric]):
                at = {**setting, "replica": replica}
                out.append(table.Row(arch, metric, value, None, size=2, seed=seed, reader="trained", setting=at))
    for name, losses in two["hand_built"].items():
        arm = f"hand-built {name.replace('_', ' ')}"
        for metric in ("l1", "mse", "matryoshka_loss"):
            out.append(table.Row(arm, metric, losses[metric], None, size=2, seed=seed, reader="exact", setting=setting))
        out.append(table.Row(arm, "expected_l1", two["expected_l1"][name], None, size=2, seed=seed, reader="theory", setting=setting))
    return out


class Facts(NamedTuple):
    """The toy's probabilities and the L1 coefficient (results.json beside the table)."""

    p10: float
    p11: float
    l1_coefficient: float


def summary_text(table_rows: list[table.Row], facts: Facts, setting: dict | None = None) -> str:
    """The study's summary from the results table's `rows` (those carrying `setting`)."""
    mine = table.select(table_rows, setting or {})

    def value(arm: str, metric: str) -> float:
        return table.mean(mine, arm=arm, metric=metric) or 0.0

    def replicas(arm: str, metric: str) -> list[float]:
        return [row.value or 0.0 for row in sorted(table.select(mine, arm=arm, metric=metric), key=lambda row: row.setting["replica"])]

    lines = [
        f"two-feature toy (p10={facts.p10}, p11={facts.p11}, λ={facts.l1_coefficient}): expected L1 "
        f"absorbed {value('hand-built absorbed', 'expected_l1'):.4f} (hand-built {value('hand-built absorbed', 'l1'):.4f}, "
        f"mse {value('hand-built absorbed', 'mse'):.1e}), not absorbed {value('hand-built not absorbed', 'expected_l1'):.4f} "
        f"(hand-built {value('hand-built not absorbed', 'l1'):.4f}, mse {value('hand-built not absorbed', 'mse'):.1e})"
    ]
    trained = dict.fromkeys(row.arm for row in table.select(mine, reader="trained"))
    for arch in trained:
        lines.append(
            f"  trained {arch:<14} parent latent on parent+child: {', '.join(f'{v:.2f}' for v in replicas(arch, 'parent_on_both'))}"
            f"  (on parent alone: {', '.join(f'{v:.2f}' for v in replicas(arch, 'parent_on_parent'))}; "
            f"final squared error: {', '.join(f'{v:.3f}' for v in replicas(arch, 'final_mse'))})"
        )
    return "\n".join(lines)
