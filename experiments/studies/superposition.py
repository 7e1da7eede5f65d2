"""Experiment `superposition`: do SAEs recover planted features, and how far is chance?

F = 512 planted features in d = 64 (mean true L0 ≈ 5). TopK (k = 8) and ReLU+L1 SAEs
at sizes 256 … 2048, each beside a random ±1/√d dictionary of the same size (encoded
by TopK with the same k), all scored with the same code against the truth.
Seeds of one kind and size train together in one vmapped, compiled call.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments.kernel import Arms, SparseToyFacts, standard_study
from experiments.runner import facts, memory, panels, table
from sae import metrics
from toys import superposition
from toys.engine.config import setting

TRAINED_KINDS = ("topk", "relu")
HEATMAP_FEATURES = 48  # a 512 × 512 diagonal is a hairline; the zoom makes the point visible


NAME = "superposition"
DESCRIPTION = "TopK and ReLU+L1 SAEs vs random dictionaries on 512 planted features in 64 dims"


@dataclasses.dataclass(frozen=True)
class Config(Arms):
    n_seeds: int = setting(3, low=1)
    kinds: tuple[str, ...] = setting(TRAINED_KINDS, choices=TRAINED_KINDS)
    sizes: tuple[int, ...] = setting((256, 512, 1024, 2048), low=1)
    k: int = setting(8, low=1, high="min(sizes)")
    steps: int = setting(10_000, low=1)
    batch_size: int = setting(1024, low=1)
    toy: superposition.SuperpositionConfig = superposition.SuperpositionConfig()
    heatmap_size: int = setting(1024, "the size whose matched-cosine heatmap is drawn; follows `sizes` unless set", choices="sizes")

    FOLLOWS = {"heatmap_size": "sizes"}  # a dependent setting the user did not set follows its source

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=1, steps=6000, batch_size=256)


def _matched_cosines(C: np.ndarray) -> np.ndarray:
    """C restricted to each true feature's Hungarian-matched latent, [F, F] (diagonal = match)."""
    rows, cols = metrics.matching(C)
    order = np.argsort(rows)
    return C[:, cols[order]][rows[order]]


def keep_heatmap(config: Config, toy, kind: str, size: int, params) -> dict:
    """The first seed's matched-cosine matrix at `heatmap_size` (float16: a figure, not a score)."""
    if size != config.heatmap_size:
        return {}
    C = np.asarray(metrics.abs_cosine(toy.directions, params.W_dec[0]))
    return {f"matched_cosine_{kind}": _matched_cosines(C).astype(np.float16), "heatmap_size": np.asarray(size)}


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes (the largest dictionary size's training and evaluation) and the field behind them."""
    return memory.sae_training_bytes(
        runs=config.n_seeds,
        d=config.toy.d,
        m=max(config.sizes),
        batch=config.batch_size,
        n_features=config.toy.n_features,
        fields={"n_features": "toy.n_features", "d": "toy.d", "m": "sizes", "batch": "batch_size", "runs": "n_seeds"},
    )


@dataclasses.dataclass(frozen=True)
class Facts:
    toy: SparseToyFacts


def recovery_figure(results: dict, arrays: dict, folder):
    toy = facts.read(results, Facts).toy
    figure, axes = panels.panels(2, sharey=True)
    for ax, metric, title in zip(axes, ("mmcs", "mcc"), ("MMCS", "MCC (Hungarian, over min(F, m) pairs)")):
        panels.metric_by_size(ax, table.read(results), metric, title)
        panels.reference_line(ax, toy.n_features)
        ax.set_ylim(0, 1.02)
    return panels.finish(
        figure,
        axes,
        f"Recovery of {toy.n_features} planted features in {toy.d} dims: trained SAEs vs random dictionaries (chance)",
        folder / "mmcs_mcc_vs_size.png",
        xlabel="dictionary size m (grey line: F true features)",
        ylabel="score (mean over seeds; bars = min–max)",
    )


def heatmap_figure(results: dict, arrays: dict, folder):
    order = {kind: i for i, kind in enumerate([*TRAINED_KINDS, "random"])}
    names = sorted((n for n in arrays if n.startswith("matched_cosine_")), key=lambda n: order.get(n.removeprefix("matched_cosine_"), 99))
    if not names:
        return None
    shown = min(HEATMAP_FEATURES, len(arrays[names[0]]))
    figure, axes = panels.panels(len(names), width=3.4, height=3.7)
    for ax, name in zip(axes, names):
        image = panels.matrix(
            ax, np.asarray(arrays[name], np.float32)[:shown, :shown], name.removeprefix("matched_cosine_"), xlabel="matched latent"
        )
    axes[0].set_ylabel("true feature")
    figure.colorbar(image, ax=axes, shrink=0.8, label="|cos|")
    size = f"m = {int(arrays['heatmap_size'])} latents, " if "heatmap_size" in arrays else ""
    return panels.finish(
        figure,
        axes,
        f"|cos| of true features with their Hungarian-matched latents ({size}first {shown} "
        f"of {len(arrays[names[0]])} features; a bright diagonal = recovered)",
        folder / "matched_cosine_heatmap.png",
        legend=False,
        tight=False,  # the shared colour bar spans every panel
    )


STUDY = standard_study(
    NAME,
    DESCRIPTION,
    Config,
    lambda config, key: superposition.build(config.toy, key),
    describe_toy=lambda config, toy: SparseToyFacts.of(config.toy),
    keep=keep_heatmap,
    figures=(recovery_figure, heatmap_figure),
    memory_estimate=memory_estimate,
    summary_metrics=("mmcs", "mcc", "uniqueness", "f1", "f1_live", "explained_variance", "l0", "dead_fraction", "shrinkage"),
    summary_note=lambda results: f"true L0 ≈ {facts.read(results, Facts).toy.expected_true_l0:.2f}",
)
