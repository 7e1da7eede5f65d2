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

from experiments.runner import memory, seeding
from experiments.recovery import Recovery, eval_key, headline, summary_table
from experiments.runner import panels
from experiments.runner.study import Result, Study
from sae import architectures, evaluate, metrics
from toys import superposition
from toys.engine.config import check_choice, check_fields, check_range, setting
from toys.engine.runtime import Runtime

NAME = "superposition"
DESCRIPTION = "TopK and ReLU+L1 SAEs vs random dictionaries on 512 planted features in 64 dims"
TRAINED_KINDS = ("topk", "relu")
HEATMAP_FEATURES = 48  # a 512 × 512 diagonal is a hairline; the zoom makes the point visible


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(3, low=1)
    toy: superposition.SuperpositionConfig = superposition.SuperpositionConfig()
    kinds: tuple[str, ...] = setting(TRAINED_KINDS, choices=TRAINED_KINDS)
    sizes: tuple[int, ...] = setting((256, 512, 1024, 2048), low=1)
    k: int = setting(8, allowed="[1, min(sizes)]")
    l1_coefficient: float = setting(1.0, low=0)
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    steps: int = setting(10_000, low=1)
    batch_size: int = setting(1024, low=1)
    n_eval: int = setting(evaluate.MIN_EVAL_SAMPLES, low=evaluate.MIN_EVAL_SAMPLES)
    heatmap_size: int = setting(1024, "the size whose matched-cosine heatmap is drawn; follows `sizes` unless set",
                                allowed="one of sizes")

    FOLLOWS = {"heatmap_size": "sizes"}  # a dependent setting the user did not set follows its source

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=1, steps=6000, batch_size=256)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        check_range("k", self.k, low=1, high=min(self.sizes))
        check_choice("heatmap_size", self.heatmap_size, self.sizes, source="sizes")


def _matched_cosines(C: np.ndarray) -> np.ndarray:
    """C restricted to each true feature's Hungarian-matched latent, [F, F] (diagonal = match)."""
    rows, cols = metrics.matching(C)
    order = np.argsort(rows)
    return C[:, cols[order]][rows[order]]


def _keys(config: Config):
    return jax.random.split(seeding.root_key(config.seed))  # (toy, dictionaries)


def evaluation_source(config: Config) -> dict:
    """The run's toy and eval samples, rebuilt from its config (for `toylab evaluate`)."""
    key_toy, key_dictionaries = _keys(config)
    return {"toy": superposition.build(config.toy, key_toy), "key": eval_key(key_dictionaries), "n_eval": config.n_eval}


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes (the largest dictionary size's training and evaluation) and the field behind them."""
    return memory.sae_training_bytes(runs=config.n_seeds, d=config.toy.d, m=max(config.sizes), batch=config.batch_size,
                                     n_features=config.toy.n_features,
                                     fields={"n_features": "toy.n_features", "m": "sizes", "batch": "batch_size",
                                             "runs": "n_seeds"})


def run(config: Config, runtime: Runtime | None = None) -> dict:
    key_toy, key_dictionaries = _keys(config)
    toy = superposition.build(config.toy, key_toy)
    seeds = [config.seed * 1000 + i for i in range(config.n_seeds)]
    recovery = Recovery(toy, seeds, key_dictionaries, config.n_eval, config.k, runtime=runtime)
    heatmaps = {}

    def keep_heatmap(kind, size, params):
        if size == config.heatmap_size:
            C = np.asarray(metrics.abs_cosine(toy.directions, params.W_dec[0]))
            heatmaps[f"matched_cosine_{kind}"] = _matched_cosines(C).astype(np.float16)

    for kind in config.kinds:
        l1 = config.l1_coefficient if architectures.get(kind).penalty == "l1" else 0.0
        for size in config.sizes:
            params = recovery.train(
                kind, size, architectures.hparams(config.learning_rate, l1, config.k), config.steps, config.batch_size
            )
            keep_heatmap(kind, size, params)
    for size in config.sizes:
        keep_heatmap("random", size, recovery.baseline("random", size))

    return Result({
        "dictionaries": recovery.entries,
        "toy": {
            "n_features": config.toy.n_features,
            "d": config.toy.d,
            "expected_true_l0": float(np.sum(superposition.firing_probabilities(config.toy))),
        },
    }, arrays=heatmaps, dictionaries=recovery.saved)


def plot(results: dict, arrays: dict, folder) -> list:
    import matplotlib.pyplot as plt

    from experiments.runner.runfolder import save_figure

    paths = []
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, metric, title in zip(axes, ("mmcs", "mcc"), ("MMCS", "MCC (Hungarian, over min(F, m) pairs)")):
        panels.metric_by_size(ax, results["dictionaries"], metric, title)
    for ax in axes:
        ax.axvline(results["toy"]["n_features"], color="0.75", lw=1, zorder=0)
        ax.set_xlabel("dictionary size m (grey line: F true features)")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("score (mean over seeds; bars = min–max)")
    axes[1].legend(loc="lower right")
    toy = results["toy"]
    figure.suptitle(
        y=1.03, t=f"Recovery of {toy['n_features']} planted features in {toy['d']} dims: trained SAEs vs random dictionaries (chance)"
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
    columns = ("mmcs", "mcc", "uniqueness", "f1", "f1_live", "explained_variance", "l0", "dead_fraction", "shrinkage")
    return summary_table(results, columns) + f"\ntrue L0 ≈ {results['toy']['expected_true_l0']:.2f}"


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source)
