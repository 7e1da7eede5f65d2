"""Experiment `circle-null`: the null family behind the blind circle claim (sae.readers.manifold_ranking).

Cells are drawn exactly as `circles-grid` draws them (same ranges, another seed: the default
100 is apart from the grid's evaluation seeds), but every circle is zeroed: each cell trains
a TopK SAE at every k of `grid.ks` (one vmapped call) on sparse features alone, and reads a
random dictionary of the same size by TopK at each k. Each is run through the blind method
(the finder's candidates, ranked by circle evidence) and its top evidence is recorded.

The null is **stratified**: by k (dense co-firing at large k draws near-planar loops, so the
upper tail moves with k), and by the training budget and sample count (`grid.steps`,
`grid.batch_size`, `grid.n_geometry`: a stratum, `manifold_ranking.Stratum`). The claim
threshold of a stratum and k comes from the trained null SAEs alone; random dictionaries are
reported beside it, not pooled. Each threshold carries a bootstrap interval (the nulls
resampled), and the summary measures whether d, m or the number of sparse features move the
null within a k (Spearman's ρ); an offset cannot (the null twin zeroes it with the circle).
`results.json`'s `record` is the stratum as `sae/readers/circle_null.json` stores it
(`tools/store_circle_null.py RUN` writes it there); `tests/test_circle_null_reproduced.py`
recomputes a slice of it with the current code.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.stats

from experiments import circle_cells
from experiments.recovery import seed_keys
from experiments.runner import facts, panels, seeding, table
from experiments.runner.study import Result, Study
from sae.readers import manifold_ranking
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "circle-null"
DESCRIPTION = "null dictionaries (no circle) through the blind circle ranking: the distribution behind its claim"


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(100, low=0, high=seeding.SEED_MAX)
    cells: int = setting(40, "null cells, each a TopK SAE per k of grid.ks and a random dictionary", low=1)
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
                raise ConfigError(
                    f"grid.{field}: got {getattr(self.grid, field)}, allowed only the default "
                    f"{getattr(default, field)} (circle-null sets it from `{source}`)"
                )


def memory_estimate(config: Config) -> tuple[int, str]:
    return circle_cells.memory_estimate(config.grid)


def run(config: Config, runtime: Runtime | None = None) -> Result:
    grid = dataclasses.replace(config.grid, seed=config.seed, cells=config.cells)
    root = seeding.root_key(config.seed)
    cells, drawn = [], circle_cells.draw_cells(grid)
    for index, cell in enumerate(drawn):
        or_default(runtime).progress.note(f"null cell {index + 1}/{len(drawn)}: {_label(cell)}")
        cells.append(circle_cells.null_cell_top_evidence(grid, cell, seed_keys(root, index, [0])[0], runtime))
    alpha = manifold_ranking.CLAIM_ALPHA
    stratum = circle_cells.stratum(grid)
    record = {"stratum": stratum._asdict(), "seed": config.seed, "learning_rate": grid.learning_rate, "cells": cells}
    per_k = {}
    for k in grid.ks:
        trained = manifold_ranking.stratum_tops(record, k)
        chance = manifold_ranking.stratum_tops(record, k, "random")
        interval = manifold_ranking.threshold_interval(trained, alpha)
        per_k[str(k)] = {
            "trained": sorted(trained.tolist()),
            "random": sorted(chance.tolist()),
            "threshold": manifold_ranking.claim_threshold(trained, alpha),
            "threshold_interval": list(interval) if interval else None,
            "quantiles": {q: float(np.quantile(trained, float(q))) for q in ("0.5", "0.9", "0.95")},
            "random_max": float(chance.max()),
            "moves_with": _dependence(cells, trained),
        }
    results = {"cells": cells, **facts.write(circle_cells.ClaimFacts(alpha, stratum)), "per_k": per_k, "record": record}
    return Result(results, table=null_rows(cells, per_k, config.seed))


def null_rows(cells: list[dict], per_k: dict, seed: int) -> list[table.Row]:
    """The results table: each null cell's top circle evidence per k, trained (the null SAE) beside the
    random dictionary of its size (chance); and each k's claim threshold with its bootstrap interval."""
    rows = []
    for index, cell in enumerate(cells):
        for k, top in cell["trained_top_evidence"].items():
            rows.append(
                table.Row(
                    "null sae",
                    "top_evidence",
                    top,
                    cell["random_top_evidence"][k],
                    size=cell["m"],
                    seed=seed,
                    reader="blind ranking",
                    setting={"cell": index, "k": int(k), "d": cell["d"], "n_sparse": cell["n_sparse"], "period": cell["period"]},
                )
            )
    for k, entry in per_k.items():
        low, high = entry["threshold_interval"] or (None, None)
        for metric, value in (("threshold", entry["threshold"]), ("threshold_low", low), ("threshold_high", high)):
            rows.append(
                table.Row(
                    "null sae",
                    metric,
                    value,
                    entry["random_max"] if metric == "threshold" else None,
                    seed=seed,
                    reader="null family",
                    setting={"k": int(k)},
                )
            )
    return rows


def _dependence(cells: list[dict], tops: np.ndarray) -> dict:
    """Spearman's ρ (and its p-value) of one k's null tops with each cell setting that varies."""
    found = {}
    for field in ("d", "m", "n_sparse"):
        values = np.asarray([cell[field] for cell in cells], np.float64)
        if len(cells) >= 3 and np.ptp(values) > 0 and np.ptp(tops) > 0:
            rho, p = scipy.stats.spearmanr(values, tops)
            found[field] = {"rho": float(rho), "p_value": float(p)}
    return found


def _label(cell: dict) -> str:
    period = f"P={cell['period']}" if cell["period"] else "cont."
    return f"{period} d={cell['d']} F={cell['n_sparse']} m={cell['m']}"


def _threshold(entry: dict) -> str:
    """Where a claim starts, or why none can be made (too few nulls: the smallest p-value a
    candidate can reach against n nulls is 1/(n + 1))."""
    if entry["threshold"] is None:
        return f"nothing claimable (needs ≥ {int(np.ceil(1 / manifold_ranking.CLAIM_ALPHA)) - 1} nulls)"
    low, high = entry["threshold_interval"]
    return f"claimed above {entry['threshold']:.3f} (bootstrap 95% {low:.3f}–{high:.3f})"


def headline(results: dict) -> str:
    rows = table.select(table.read(results), reader="null family")
    per_k = {}
    for k in dict.fromkeys(row.setting["k"] for row in rows):
        value = {metric: table.mean(rows, {"k": k}, metric=metric) for metric in ("threshold", "threshold_low", "threshold_high")}
        interval = None if value["threshold_low"] is None else [value["threshold_low"], value["threshold_high"]]
        per_k[k] = {"threshold": value["threshold"], "threshold_interval": interval}
    n = len({row.setting["cell"] for row in table.select(table.read(results), reader="blind ranking")})
    return f"{n} null cells per k; " + "; ".join(f"k={k}: {_threshold(e)}" for k, e in per_k.items())


def plot(results: dict, arrays: dict, folder) -> list:
    """Per k, the null SAEs' top evidence beside the random dictionaries' (the table's chance), the claim
    threshold dashed."""
    rows = table.read(results)
    ks = sorted({row.setting["k"] for row in table.select(rows, reader="blind ranking")})
    figure, axes = panels.panels(len(ks), width=3.0, height=3.0, sharey=True)
    for ax, k in zip(axes, ks):
        panels.histogram(
            ax,
            table.select(rows, {"k": k}, reader="blind ranking"),
            "top_evidence",
            f"k = {k}",
            labels=("SAE on sparse features alone", "random dictionary (beside, not pooled)"),
            bins=np.linspace(0, 1, 41),
            level=table.mean(rows, {"k": k}, metric="threshold"),
            level_label=f"claimed above (p ≤ {facts.read(results, circle_cells.ClaimFacts).alpha})",
        )
    axes[0].set_ylabel("null dictionaries")
    axes[0].legend(fontsize=6)
    return [
        panels.finish(
            figure,
            axes,
            "What dictionaries without a circle reach, by k",
            folder / "null_top_evidence.png",
            "top circle evidence",
            legend=False,
        )
    ]


def summary(results: dict) -> str:
    """From the results table (the stratum from the run's record)."""
    rows = table.read(results)
    tops = table.select(rows, reader="blind ranking", metric="top_evidence")
    ks = sorted({row.setting["k"] for row in tops})
    cells = sorted({row.setting["cell"] for row in tops})
    by = {(row.setting["cell"], row.setting["k"]): row for row in tops}
    lines = [f"{'cell':<34}" + "".join(f"{'SAE k=' + str(k):>10}" for k in ks) + "".join(f"{'rand k=' + str(k):>10}" for k in ks)]
    for index in cells:
        first = by[(index, ks[0])]
        label = _label({**first.setting, "m": first.size})
        lines.append(
            f"{label:<34}" + "".join(f"{by[(index, k)].value:>10.3f}" for k in ks) + "".join(f"{by[(index, k)].chance:>10.3f}" for k in ks)
        )
    stratum = facts.read(results, circle_cells.ClaimFacts).stratum
    lines += [
        "",
        f"stratum: steps {stratum.steps}, batch_size {stratum.batch_size}, n_geometry {stratum.n_geometry}; "
        f"{len(cells)} trained null SAEs per k",
    ]
    for k in ks:
        mine = [by[(index, k)] for index in cells]
        trained = np.asarray([row.value for row in mine], np.float64)
        q = {level: float(np.quantile(trained, float(level))) for level in ("0.5", "0.9", "0.95")}
        settings = [{"d": row.setting["d"], "m": row.size, "n_sparse": row.setting["n_sparse"]} for row in mine]
        moves = ", ".join(f"{field} ρ={m['rho']:+.2f} (p={m['p_value']:.2f})" for field, m in _dependence(settings, trained).items())
        level = {
            metric: table.mean(rows, {"k": k}, reader="null family", metric=metric)
            for metric in ("threshold", "threshold_low", "threshold_high")
        }
        interval = None if level["threshold_low"] is None else [level["threshold_low"], level["threshold_high"]]
        entry = {"threshold": level["threshold"], "threshold_interval": interval}
        random_max = max(float(row.chance or 0.0) for row in mine)
        lines.append(
            f"k={k}: median {q['0.5']:.3f}, 90% {q['0.9']:.3f}, 95% {q['0.95']:.3f}; {_threshold(entry)}; "
            f"random dictionaries' max {random_max:.3f}; with the cell: {moves or 'n/a'}"
        )
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
