"""Experiment `circle-null`: the null family behind the blind circle claim (sae.readers.manifold_ranking).

Cells are drawn exactly as `circles-grid` draws them (same ranges, another seed: the default
100 is apart from the grid's evaluation seeds), but every circle is zeroed: each cell is
a TopK SAE trained on sparse features alone, plus a random dictionary of the same size.
Each is run through the blind method (the finder's candidates, ranked by circle evidence)
and its top evidence is recorded. A dictionary without a circle should not reach high
evidence; the claim's p-value for a top evidence e is
(1 + #{null tops ≥ e}) / (1 + N_null). The sorted tops of the default run are stored in
`sae.readers.manifold_ranking.NULL_TOP_EVIDENCE`; `circles-grid` then checks the false-claim rate
on *other* nulls (its null twins, random dictionaries, a random plane, shuffled labels).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments import circle_cells
from experiments.runner import seeding
from experiments.recovery import seed_keys
from experiments.runner.study import Result, Study
from sae.readers import manifold_ranking
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "circle-null"
DESCRIPTION = "null dictionaries (no circle) through the blind circle ranking: the distribution behind its claim"


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(100, low=0, high=seeding.SEED_MAX)
    cells: int = setting(40, "null cells, each one trained SAE and one random dictionary", low=1)
    grid: circle_cells.Config = setting(circle_cells.Config.quick(), "the ranges and training settings cells are drawn with")

    @classmethod
    def quick(cls) -> "Config":
        return cls(cells=6)

    def validate(self) -> None:
        check_fields(self)
        self.grid.validate()
        default = circle_cells.Config.quick()
        for field, source in (("seed", "seed"), ("cells", "cells")):
            if getattr(self.grid, field) != getattr(default, field):
                raise ConfigError(f"grid.{field}: got {getattr(self.grid, field)}, allowed only the default "
                                  f"{getattr(default, field)} (circle-null sets it from `{source}`)")


def memory_estimate(config: Config) -> tuple[int, str]:
    return circle_cells.memory_estimate(config.grid)


def run(config: Config, runtime: Runtime | None = None) -> dict:
    grid = dataclasses.replace(config.grid, seed=config.seed, cells=config.cells)
    root = seeding.root_key(config.seed)
    cells, drawn = [], circle_cells.draw_cells(grid)
    for index, cell in enumerate(drawn):
        or_default(runtime).progress.note(f"null cell {index + 1}/{len(drawn)}: {circle_cells.cell_label(cell)}")
        cells.append(circle_cells.null_cell_top_evidence(grid, cell, seed_keys(root, index, [0])[0], runtime))
    tops = sorted([c["trained_top_evidence"] for c in cells] + [c["random_top_evidence"] for c in cells])
    alpha = manifold_ranking.CLAIM_ALPHA
    claimable = [e for e in np.linspace(0, 1, 1001) if manifold_ranking.p_value(e, tops) <= alpha]
    return Result({
        "cells": cells,
        "null_top_evidence": tops,
        "alpha": alpha,
        "smallest_claimable_evidence": float(min(claimable)) if claimable else None,
        "quantiles": {q: float(np.quantile(tops, float(q))) for q in ("0.5", "0.9", "0.95", "0.99")},
    })


def _claimable(results: dict) -> str:
    """Where a claim starts, or why none can be made (too few nulls: the smallest p-value a
    candidate can reach against n nulls is about 1/(n + 1))."""
    smallest = results["smallest_claimable_evidence"]
    if smallest is None:
        return f"nothing claimable at p ≤ {results['alpha']} against {len(results['null_top_evidence'])} nulls"
    return f"claimable from {smallest:.3f}"


def headline(results: dict) -> str:
    return f"{len(results['null_top_evidence'])} null tops, 95%: {results['quantiles']['0.95']:.3f}; {_claimable(results)}"


def plot(results: dict, arrays: dict, folder) -> list:
    import matplotlib.pyplot as plt

    from experiments.runner.runfolder import save_figure

    figure, ax = plt.subplots(figsize=(6.0, 3.2))
    trained = [c["trained_top_evidence"] for c in results["cells"]]
    chance = [c["random_top_evidence"] for c in results["cells"]]
    bins = np.linspace(0, 1, 41)
    ax.hist([trained, chance], bins=bins, stacked=True, color=["#b5533c", "#999999"],
            label=["SAE on sparse features alone", "random dictionary"])
    if results["smallest_claimable_evidence"] is not None:
        ax.axvline(results["smallest_claimable_evidence"], color="k", ls="--", lw=1,
                   label=f"claimed from here (p ≤ {results['alpha']})")
    ax.set_xlabel("top circle evidence of a dictionary without a circle")
    ax.set_ylabel("dictionaries")
    ax.legend(fontsize=7)
    ax.set_title("What dictionaries without a circle reach", fontsize=9)
    figure.tight_layout()
    return [save_figure(figure, folder / "null_top_evidence.png")]


def summary(results: dict) -> str:
    lines = [f"{'cell':<42}{'SAE top':>10}{'random top':>12}"]
    for cell in results["cells"]:
        lines.append(f"{circle_cells.cell_label(cell):<42}{cell['trained_top_evidence']:>10.3f}"
                     f"{cell['random_top_evidence']:>12.3f}")
    q = results["quantiles"]
    lines += ["", f"null top evidence over {len(results['null_top_evidence'])} dictionaries: median {q['0.5']:.3f}, "
                  f"90% {q['0.9']:.3f}, 95% {q['0.95']:.3f}, 99% {q['0.99']:.3f}",
              f"claims: {_claimable(results)}",
              "sorted tops (for sae.readers.manifold_ranking.NULL_TOP_EVIDENCE): "
              + ", ".join(f"{e:.4f}" for e in results["null_top_evidence"])]
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
