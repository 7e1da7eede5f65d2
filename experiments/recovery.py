"""Shared machinery of recovery experiments: train or build dictionaries, score them alike.

A `Recovery` holds one toy with planted features (superposition by default; any toy
with `directions`, `config.d` and `sample`/`sample_activations` functions), the eval
key and the seeds; each
dictionary of a kind and size, trained or baseline, is scored by `sae.evaluate` on the
same eval samples and recorded as an entry
    {"name", "kind", "size", "seed", "metrics"}
in the `dictionaries` list of results.json.
"""

from __future__ import annotations

import jax
import numpy as np

from sae import architectures, classical, evaluate, progress, random_dictionaries, train
from toys import superposition as toy_lib

TRAINED_KINDS = ("topk", "batchtopk", "jumprelu", "matryoshka", "relu", "gated")
BASELINE_KINDS = ("random", "gaussian", "darts", "untrained", "pca")
BASELINE_FIT_SAMPLES = 20_000  # samples that darts' decoder and PCA are fitted on


def seed_keys(key, size: int, seeds: list[int]) -> jax.Array:
    """One key per seed for dictionaries of one size: fold_in(fold_in(key, size), seed)."""
    key = jax.random.fold_in(key, size)
    return jax.vmap(lambda s: jax.random.fold_in(key, s))(np.asarray(seeds, np.uint32))


class Recovery:
    def __init__(self, toy, seeds: list[int], key: jax.Array, n_eval: int, k: int, toy_module=toy_lib, parents=None):
        """toy_module provides sample / sample_activations for `toy`; given the planted
        hierarchy (parents [F]), every score adds the absorption metrics."""
        self.toy = toy
        self.sample = toy_module.sample
        self.sample_activations = toy_module.sample_activations
        self.parents = parents
        self.seeds = seeds
        self.k = k
        self.n_eval = n_eval
        self.key_train, self.key_baseline, self.key_eval, self.key_fit = jax.random.split(key, 4)
        self.entries: list[dict] = []
        self._fit_sample = None

    @property
    def fit_sample(self):
        """The sample darts' decoder and PCA are fitted on: drawn once, for all sizes, when first needed."""
        if self._fit_sample is None:
            self._fit_sample = self.sample_activations(self.toy, self.key_fit, BASELINE_FIT_SAMPLES)
        return self._fit_sample

    def score(self, kind: str, arch_name: str, size: int, params, hps) -> list[dict]:
        scores = evaluate.evaluate(
            arch_name, params, hps, self.sample, self.toy, self.toy.directions, self.key_eval, self.n_eval,
            k_max=self.k, parents=self.parents,
        )
        for seed, metrics in zip(self.seeds, scores):
            self.entries.append({"name": f"{kind}-{size}", "kind": kind, "size": size, "seed": seed, "metrics": metrics})
        return scores

    def train(self, kind: str, size: int, hparams, steps: int, batch_size: int, auxk: bool = False):
        """Train one dictionary per seed (one vmapped call), score them; returns the params."""
        hps = train.stack_hparams([hparams] * len(self.seeds))
        config = train.TrainConfig(kind, self.toy.config.d, size, steps=steps, batch_size=batch_size, k_max=self.k, auxk=auxk)
        with progress.task(f"{kind} m={size}"):
            result = train.train(config, self.sample_activations, self.toy, hps, seed_keys(self.key_train, size, self.seeds))
        self.score(kind, kind, size, result.params, hps)
        return result.params

    def baseline(self, kind: str, size: int):
        """Build one baseline dictionary per seed (encoded by TopK with the same k), score them."""
        d = self.toy.config.d
        keys = seed_keys(self.key_baseline, size, self.seeds)
        build = {
            "random": lambda key: random_dictionaries.rademacher(key, d, size),
            "gaussian": lambda key: random_dictionaries.gaussian(key, d, size),
            "untrained": lambda key: random_dictionaries.untrained_sae(key, d, size),
            "darts": lambda key: random_dictionaries.darts(key, self.fit_sample, size, self.k),
            "pca": lambda key: classical.pca(self.fit_sample, size),
        }[kind]
        params = jax.tree.map(lambda *leaves: jax.numpy.stack(leaves), *[build(key) for key in keys])
        hps = train.stack_hparams([architectures.hparams(k=self.k)] * len(self.seeds))
        self.score(kind, "topk", size, params, hps)
        return params


def metric_by_kind(results: dict, metric: str) -> dict:
    """{kind: (sizes, mean, min, max)} of a metric over seeds."""
    table = {}
    for entry in results["dictionaries"]:
        table.setdefault(entry["kind"], {}).setdefault(entry["size"], []).append(entry["metrics"][metric])
    out = {}
    for kind, by_size in table.items():
        sizes = sorted(by_size)
        values = [np.asarray(by_size[s]) for s in sizes]
        out[kind] = (sizes, [v.mean() for v in values], [v.min() for v in values], [v.max() for v in values])
    return out


def summary_table(results: dict, columns: tuple[str, ...]) -> str:
    """One row per (kind, size): the mean of each metric over seeds; baselines after trained kinds."""
    header = f"{'kind':<11}{'size':>6}  " + "  ".join(f"{c[:10]:>10}" for c in columns)
    lines = [header, "-" * len(header)]
    rows = {}
    for entry in results["dictionaries"]:
        rows.setdefault((entry["kind"], entry["size"]), []).append(entry["metrics"])
    order = {kind: i for i, kind in enumerate([*TRAINED_KINDS, *BASELINE_KINDS])}
    n_seeds = 1
    for (kind, size), group in sorted(rows.items(), key=lambda item: (item[0][1], order.get(item[0][0], 99))):
        means = [np.mean([g[c] for g in group]) for c in columns]
        lines.append(f"{kind:<11}{size:>6}  " + "  ".join(f"{v:>10.3f}" for v in means))
        n_seeds = len(group)
    lines.append(f"(means over {n_seeds} seed(s); baselines — random, darts, untrained, pca — are encoded by TopK "
                 "with the same k and read as chance)")
    return "\n".join(lines)


def plot_metric_panels(ax_row, results: dict, metrics: tuple[str, ...], labels: tuple[str, ...], x_scale: float = 1.0):
    """Each metric against size (divided by x_scale) per kind; baselines dashed grey-ish."""
    for ax, metric, label in zip(ax_row, metrics, labels):
        for kind, (sizes, mean, low, high) in metric_by_kind(results, metric).items():
            baseline = kind in BASELINE_KINDS
            style = dict(linestyle="--", marker="x") if baseline else dict(marker="o")
            err = [np.subtract(mean, low), np.subtract(high, mean)]
            ax.errorbar(np.asarray(sizes) / x_scale, mean, yerr=err, label=kind, capsize=3, **style)
        ax.set_xscale("log", base=2)
        ax.set_title(label)
        ax.grid(alpha=0.3)
