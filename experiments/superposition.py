"""Experiment `superposition`: do SAEs recover planted features, and how far is chance?

F = 512 planted features in d = 64 (mean true L0 ≈ 5). TopK (k = 8) and ReLU+L1 SAEs
at sizes 256 … 2048, each beside a random ±1/√d dictionary of the same size (encoded
by TopK with the same k), all scored with the same code against the truth.
Seeds of one kind and size train together in one vmapped, compiled call.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from sae import architectures, evaluate, metrics, progress, random_dictionaries, train
from toys import superposition as toy_lib
from toys.validation import check_choice, check_each, check_range

NAME = "superposition"
DESCRIPTION = "TopK and ReLU+L1 SAEs vs random dictionaries on 512 planted features in 64 dims"
TRAINED_KINDS = ("topk", "relu")
HEATMAP_FEATURES = 48  # a 512 × 512 diagonal is a hairline; the zoom makes the point visible


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    n_seeds: int = 3
    toy: toy_lib.SuperpositionConfig = toy_lib.SuperpositionConfig()
    kinds: tuple[str, ...] = TRAINED_KINDS
    sizes: tuple[int, ...] = (256, 512, 1024, 2048)
    k: int = 8
    l1_coefficient: float = 1.0
    learning_rate: float = 3e-3
    steps: int = 10_000
    batch_size: int = 1024
    n_eval: int = evaluate.MIN_EVAL_SAMPLES
    heatmap_size: int = 1024

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=1, steps=6000, batch_size=256)

    def validate(self) -> None:
        check_range("seed", self.seed, low=0)
        check_range("n_seeds", self.n_seeds, low=1)
        self.toy.validate(prefix="toy.")
        for kind in self.kinds:
            check_choice("kinds", kind, TRAINED_KINDS)
        check_each("sizes", self.sizes, low=1)
        check_range("k", self.k, low=1, high=min(self.sizes))
        check_range("l1_coefficient", self.l1_coefficient, low=0)
        check_range("learning_rate", self.learning_rate, low=0, low_open=True)
        check_range("steps", self.steps, low=1)
        check_range("batch_size", self.batch_size, low=1)
        check_range("n_eval", self.n_eval, low=evaluate.MIN_EVAL_SAMPLES)
        check_choice("heatmap_size", self.heatmap_size, self.sizes)


def _matched_cosines(C: np.ndarray) -> np.ndarray:
    """C restricted to each true feature's Hungarian-matched latent, [F, F] (diagonal = match)."""
    rows, cols = metrics.matching(C)
    order = np.argsort(rows)
    return C[:, cols[order]][rows[order]]


def _seed_keys(key, size: int, seeds: list[int]) -> jax.Array:
    """One key per seed for dictionaries of one size: fold_in(fold_in(key, size), seed)."""
    key = jax.random.fold_in(key, size)
    return jax.vmap(lambda s: jax.random.fold_in(key, s))(np.asarray(seeds, np.uint32))


def run(config: Config) -> dict:
    key_toy, key_train, key_random, key_eval = jax.random.split(jax.random.key(config.seed), 4)
    toy = toy_lib.build(config.toy, key_toy)
    d = config.toy.d
    seeds = [config.seed * 1000 + i for i in range(config.n_seeds)]
    entries, heatmaps = [], {}

    def score(kind, arch_name, size, params, hps):
        scores = evaluate.evaluate(
            arch_name, params, hps, toy_lib.sample, toy, toy.directions, key_eval, config.n_eval, k_max=config.k
        )
        for seed, metrics_ in zip(seeds, scores):
            entries.append({"name": f"{kind}-{size}", "kind": kind, "size": size, "seed": seed, "metrics": metrics_})
        if size == config.heatmap_size:
            C = np.asarray(metrics.abs_cosine(toy.directions, params.W_dec[0]))
            heatmaps[f"matched_cosine_{kind}"] = _matched_cosines(C).astype(np.float16)

    for kind in config.kinds:
        hparams = architectures.hparams(config.learning_rate, config.l1_coefficient if kind == "relu" else 0.0, config.k)
        hps = train.stack_hparams([hparams] * config.n_seeds)
        for size in config.sizes:
            train_config = train.TrainConfig(
                kind, d, size, steps=config.steps, batch_size=config.batch_size, k_max=config.k
            )
            keys = _seed_keys(key_train, size, seeds)
            with progress.task(f"{kind} m={size}"):
                result = train.train(train_config, toy_lib.sample_activations, toy, hps, keys)
            score(kind, kind, size, result.params, hps)

    hps = train.stack_hparams([architectures.hparams(k=config.k)] * config.n_seeds)
    for size in config.sizes:
        keys = _seed_keys(key_random, size, seeds)
        params = jax.vmap(lambda k: random_dictionaries.rademacher(k, d, size))(keys)
        score("random", "topk", size, params, hps)

    return {
        "dictionaries": entries,
        "toy": {
            "n_features": config.toy.n_features,
            "d": config.toy.d,
            "expected_true_l0": float(np.sum(toy_lib.firing_probabilities(config.toy))),
        },
        "arrays": heatmaps,
    }


def _by_kind(results: dict, metric: str) -> dict:
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


def plot(results: dict, arrays: dict, folder) -> list:
    import matplotlib.pyplot as plt

    from experiments.runfolder import save_figure

    paths = []
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    titles = ("MMCS", "MCC (Hungarian, over min(F, m) pairs)")
    for ax, metric, label in zip(axes, ("mmcs", "mcc"), titles):
        for kind, (sizes, mean, low, high) in _by_kind(results, metric).items():
            style = dict(color="0.5", linestyle="--", marker="x") if kind == "random" else dict(marker="o")
            err = [np.subtract(mean, low), np.subtract(high, mean)]
            ax.errorbar(sizes, mean, yerr=err, label=kind, capsize=3, **style)
        ax.axvline(results["toy"]["n_features"], color="0.75", lw=1, zorder=0)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("dictionary size m (grey line: F true features)")
        ax.set_title(label)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score (mean over seeds; bars = min–max)")
    axes[1].legend(loc="lower right")
    toy = results["toy"]
    figure.suptitle(
        y=1.03, t=f"Trained SAEs recover {toy['n_features']} planted features in {toy['d']} dims; random dictionaries do not"
    )
    paths.append(save_figure(figure, folder / "mmcs_mcc_vs_size.png"))

    order = {kind: i for i, kind in enumerate([*TRAINED_KINDS, "random"])}
    names = sorted((n for n in arrays if n.startswith("matched_cosine_")),
                   key=lambda n: order.get(n.removeprefix("matched_cosine_"), 99))
    if names:
        shown = min(HEATMAP_FEATURES, len(arrays[names[0]]))
        figure, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.7), squeeze=False)
        for ax, name in zip(axes[0], names):
            block = np.asarray(arrays[name], np.float32)[:shown, :shown]
            image = ax.imshow(block, vmin=0, vmax=1, cmap="viridis")
            ax.set_title(name.removeprefix("matched_cosine_"))
            ax.set_xlabel("matched latent")
        axes[0][0].set_ylabel("true feature")
        figure.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="|cos|")
        figure.suptitle(f"|cos| of true features with their Hungarian-matched latents "
                        f"(first {shown} of {len(arrays[names[0]])} features; a bright diagonal = recovered)", y=1.02)
        paths.append(save_figure(figure, folder / "matched_cosine_heatmap.png"))
    return paths


def summary(results: dict) -> str:
    columns = ("mmcs", "mcc", "uniqueness", "f1", "explained_variance", "l0", "dead_fraction", "shrinkage")
    header = f"{'kind':<8}{'size':>6}  " + "  ".join(f"{c[:10]:>10}" for c in columns)
    lines = [header, "-" * len(header)]
    rows = {}
    for entry in results["dictionaries"]:
        rows.setdefault((entry["kind"], entry["size"]), []).append(entry["metrics"])
    order = {kind: i for i, kind in enumerate([*TRAINED_KINDS, "random"])}
    for (kind, size), group in sorted(rows.items(), key=lambda item: (item[0][1], order.get(item[0][0], 99))):
        means = [np.mean([g[c] for g in group]) for c in columns]
        lines.append(f"{kind:<8}{size:>6}  " + "  ".join(f"{v:>10.3f}" for v in means))
    lines.append(f"(means over {len(group)} seed(s); each size's random row is the chance baseline; true L0 ≈ "
                 f"{results['toy']['expected_true_l0']:.2f})")
    return "\n".join(lines)
