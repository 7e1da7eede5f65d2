"""Experiment `circles-grid`: does the circle recipe generalise? Random cells, oracle, chance and nulls.

Each cell draws, with the run's seed, a circle (period P uniform in `periods`, or
continuous with probability `continuous_share`), a dimension d, an offset (‖c‖ =
`offset`·r, or none, with probability ½ each), a number of sparse features, a k from `ks`
and a dictionary size m (log-uniform in `sizes`). A TopK SAE is trained on the toy
(toys.manifolds: the circle plus the sparse features), and two more, in the same vmapped
call: on the **null twin** (the same sparse features and labels, the circle's vectors set to
zero) and on the **decoupled twin** (the same samples carry the circle's two coordinates, each
with its marginal law, but cos θ and sin θ' read independent phases: co-firing kept, the loop
gone; `toys.manifolds.decouple`).

**The method, blind** (`experiments.circle_cells.blind_answer`): on each dictionary, the manifold finder's candidate
groups, ranked by circle evidence and the top one tested against null dictionaries
(`sae.readers.manifold_ranking`); it reads codes and decoder only. The null is the stored
stratum for the cell's k when the run's training budget and sample count match one
(`manifold_ranking.stored_null`: the quick settings), else the run's own null twins at the
cell's k (`circle_cells.claim_cells`; leave one out for a null twin's own claim). **The
graders** (`sae.readers.manifold_grading`): recall@1 and recall@3 (the planted circle is the
blind top candidate, or among the top three) and true claims, on the oracle-recoverable
cells and on all cells, by offset and by the latents on the circle; false claims of the
blind top candidate on the null twin, the decoupled twin and a random dictionary, over all
cells and per k with exact 95% intervals (`circle_cells.blind_summary`). The cells
themselves (drawing, toys, training, scoring) live in `experiments.circle_cells`, which
circle-null shares.

**The ceiling and the older readings**, each scored against the planted circle with the
truth choosing among candidates (sae.readers.manifold_grading.score_circle):
- `recipe` (reported as *exists*): some finder candidate is found, the one nearest the
  planted plane that covers most of its samples — the truth picks it;
- `oracle`: the group of the latents whose decoder rows hold ≥ ½ of their energy in the
  circle's span: what the SAE actually learned;
- `random`: the finder on a random ±1/√d dictionary of the same size, encoded by TopK with
  the cell's k (chance);
- `null`: the finder on the SAE trained on the null toy, against the would-be circle's
  plane and the (meaningless) labels;
- `decoupled`: the finder on the SAE trained on the decoupled twin, against the plane and θ.

A method *finds* the circle when its best group's top-2 plane is within 10° of the
planted plane and its per-value centroids are in cyclic order (measure (a),
`sae.readers.geometry.cyclic_order`). Read: `recipe_recovery_given_oracle` (does the pipeline see
what the SAE has?), the false-positive rates of the controls, where the oracle fails (the
SAE did not represent the circle), and how the SAE held the circle (tiling or span) by k.
Beside them, the shape reader (`sae.readers.topology`) is checked on planted circles, spheres,
tori, helices and structureless clouds (`shape_confusion`).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.circle_cells import (
    CONTROLS,
    EXPECTED_SHAPE,
    METHODS,
    Config,
    blind_from_table,
    blind_summary,
    cell_label,
    cell_rows,
    claim_cells,
    draw_cells,
    memory_estimate,
    rate,
    score_cell,
    shape_confusion,
    stratum,
)
from experiments.recovery import seed_keys
from experiments.runner import facts, panels, seeding, table
from experiments.runner.study import Result, Study
from sae.readers import manifold_grading, manifold_ranking, topology
from toys.engine.runtime import Runtime, or_default

NAME = "circles-grid"
DESCRIPTION = (
    "randomly drawn circle cells (period, d, offset, sparse features, k, m): the blind ranking's recall "
    "and false claims beside the ceiling, chance and nulls"
)


def run(config: Config, runtime: Runtime | None = None) -> Result:
    key_cells, key_shapes = jax.random.split(seeding.root_key(config.seed))
    cells, drawn = [], draw_cells(config)
    for index, cell in enumerate(drawn):
        # a line per cell: the finder's and ranking's host-side work after each training is silent otherwise
        or_default(runtime).progress.note(f"cell {index + 1}/{len(drawn)}: {cell_label(cell)}")
        cells.append(score_cell(config, cell, seed_keys(key_cells, index, [0])[0], runtime))
    stored = {k: manifold_ranking.stored_null(k, stratum(config)) for k in sorted({c["k"] for c in cells})}
    null_source = claim_cells(cells, stored if all(tops is not None for tops in stored.values()) else None)
    seen = [c for c in cells if c["oracle"]["found"]]
    both = sum(bool(c["recipe"]["found"]) for c in seen)
    modes = {}
    for k in sorted({c["k"] for c in cells}):
        at_k = [c for c in cells if c["k"] == k and c["oracle"]["found"]]
        modes[str(k)] = {mode: sum(c["oracle"]["mode"] == mode for c in at_k) for mode in ("tiling", "span")}
    return Result(
        {
            "cells": cells,
            "blind": blind_summary(cells),
            "claim_alpha": manifold_ranking.CLAIM_ALPHA,
            "null_source": null_source,
            # the ceiling: some candidate matches, chosen with the truth (sae.readers.geometry.match_circle)
            "recipe_recovery_given_oracle": both / len(seen) if seen else None,
            "recipe_recovery_given_oracle_count": {"count": both, "of": len(seen)},
            "oracle_rate": rate(cells, "oracle"),
            "recipe_rate": rate(cells, "recipe"),
            "null_false_positive_rate": rate(cells, "null")["rate"],
            "random_false_positive_rate": rate(cells, "random")["rate"],
            "false_positives": {method: rate(cells, method) for method in ("null", "decoupled", "random")},
            # the shape reader alone, truth-free: controls whose best group reads as a circle
            "shape_circle_claims": {
                method: {"count": sum(c[method]["shape"] == "circle" for c in cells), "of": len(cells)} for method in ("null", "random")
            },
            "modes_by_k": modes,
            "shape_confusion": shape_confusion(config, key_shapes, runtime) if config.shape_clouds else {},
            "found_angle_deg": manifold_grading.FOUND_ANGLE_DEG,
        },
        table=cell_rows(cells, config.seed),
    )


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    claim_alpha: float
    found_angle_deg: float  # the ceiling's "found": the plane within this angle, in cyclic order
    null_source: str  # the null the claims were decided against


def ceiling_counts(rows: list[table.Row]) -> dict:
    """From the results table's ceiling rows: per reading (`METHODS`) the cells it finds the circle in,
    {"count", "of"}; and the recipe's finds among the cells the oracle finds ("recipe given oracle")."""
    found = {
        method: {row.setting["cell"]: bool(row.value) for row in table.select(rows, arm=method, reader="ceiling", metric="found")}
        for method in METHODS
    }
    counts = {method: {"count": sum(cells.values()), "of": len(cells)} for method, cells in found.items()}
    seen = [cell for cell, hit in found["oracle"].items() if hit]
    counts["recipe given oracle"] = {"count": sum(found["recipe"][cell] for cell in seen), "of": len(seen)}
    return counts


def _count(entry: dict) -> str:
    return f"{entry['count']}/{entry['of']}"


def blind_rates(rows: list[table.Row]) -> dict:
    """From the results table: the blind ranking's rates over the recoverable cells (those whose oracle
    group, the SAE's own latents on the circle, is found): exists (the recipe's ceiling), recall@1,
    recall@3, claimed and found; and each control's false claims over all cells."""
    seen = {row.setting["cell"] for row in table.select(rows, arm="oracle", metric="found", reader="ceiling") if row.value}

    def over_seen(arm: str, metric: str, reader: str) -> dict:
        return manifold_grading.rate(
            [row.value for row in table.select(rows, arm=arm, metric=metric, reader=reader) if row.setting["cell"] in seen]
        )

    return {
        "exists": over_seen("recipe", "found", "ceiling"),
        "recall_at_1": over_seen("sae", "recall_at_1", "blind ranking"),
        "recall_at_3": over_seen("sae", "recall_at_3", "blind ranking"),
        "claimed_found": over_seen("sae", "claimed_found", "blind ranking"),
        "false_claims": {
            control: manifold_grading.rate([row.value for row in table.select(rows, arm=control, metric="claimed")]) for control in CONTROLS
        },
    }


def headline(results: dict) -> str:
    rates = blind_rates(table.read(results))
    return (
        f"blind recall@1 {_count(rates['recall_at_1'])}, @3 {_count(rates['recall_at_3'])} "
        f"(exists {_count(rates['exists'])}); false claims " + ", ".join(f"{c} {_count(rates['false_claims'][c])}" for c in CONTROLS)
    )


def _interval(entry: dict) -> str:
    if entry["interval"] is None:
        return f"{_count(entry)}"
    low, high = entry["interval"]
    return f"{_count(entry)} [{low:.2f}, {high:.2f}]"


def blind_lines(blind: dict) -> list[str]:
    fc = blind["false_claims"]
    every = blind["all_cells"]
    lines = [
        f"blind method on the {blind['recoverable_cells']} oracle-recoverable cells: exists (ceiling, chosen with the truth) "
        f"{_count(blind['exists'])}; recall@1 {_count(blind['recall_at_1'])}; recall@3 {_count(blind['recall_at_3'])}; "
        f"top claimed {_count(blind['claimed'])}, claimed and found {_count(blind['claimed_found'])}",
        f"over all cells: recall@1 {_count(every['recall_at_1'])}, claimed and found {_count(every['claimed_found'])}",
        "claimed and found by offset: " + ", ".join(f"{name} {_count(e)}" for name, e in blind["claimed_found_by_offset"].items()),
        "claimed and found by latents on the circle (oracle group): "
        + ", ".join(f"{name}: {_count(e)}" for name, e in blind["claimed_found_by_latents"].items()),
        "blind false claims (top candidate claimed), exact 95% intervals: "
        + ", ".join(f"{control} {_interval(fc[control])}" for control in CONTROLS),
    ]
    for k, controls in blind["false_claims_by_k"].items():
        lines.append(f"  k={k}: " + ", ".join(f"{control} {_interval(entry)}" for control, entry in controls.items()))
    before = blind.get("on_evidence")
    if before is not None and before["claimed_found"]["of"]:  # a run from before the activation ring has none
        lines.append(
            "on evidence alone (p ≤ α, no ring in the activations asked): claimed and found "
            f"{_count(before['claimed_found'])} (all cells {_count(before['all_cells_claimed_found'])}); false claims "
            + ", ".join(f"{control} {_interval(before['false_claims'][control])}" for control in CONTROLS)
        )
    return lines


class Reading(NamedTuple):
    """A ceiling reading of one cell (chosen with the truth), as the summary lists it."""

    found: bool
    max_principal_angle_deg: float
    cyclic_order: bool | None
    shape: str
    mode: str | None


class Cell(NamedTuple):
    """A graded cell as results.json's "cells" holds it: its drawn coordinates and each reading."""

    period: int  # 0: a continuous circle
    d: int
    offset: bool
    n_sparse: int
    k: int
    m: int
    recipe: Reading
    oracle: Reading
    random: Reading
    null: Reading
    decoupled: Reading


@dataclasses.dataclass(frozen=True)
class Cells:
    cells: tuple[Cell, ...]
    shape_confusion: dict = dataclasses.field(default_factory=dict)  # {planted kind: {read shape: count}}


def _sorted_cells(results: dict) -> list[Cell]:
    return sorted(facts.read(results, Cells).cells, key=lambda c: (c.k, c.period, c.d))


def plot(results: dict, arrays: dict, folder) -> list:
    """From the results table: which ceiling reading found each cell's circle (and its largest principal
    angle); the blind ranking's rates beside its controls' false claims. And the shape reader's
    confusion on planted clouds."""
    rows = table.read(results)
    paths = []
    ceiling = table.select(rows, reader="ceiling")
    cells = len({row.setting["cell"] for row in ceiling})
    figure, axes = panels.panels(1, width=7.5, height=0.6 + 0.26 * cells)
    run = facts.read(results, Facts)
    title = f"Circle found (green: within {run.found_angle_deg:.0f}° of the plane and in cyclic order); text: largest principal angle"
    panels.heatmap_by_setting(
        axes[0],
        ceiling,
        "found",
        "cell",
        "arm",
        title,
        row_label=lambda row: cell_label({**row.setting, "m": row.size}),
        cmap=["#eeeeee", "#4c9a5a"],
        text=("max_principal_angle_deg", ".0f"),
    )
    axes[0].xaxis.tick_top()
    paths.append(panels.finish(figure, axes, "", folder / "recovery_map.png", legend=False))

    rates = blind_rates(rows)
    bars = [
        ("exists\n(ceiling)", rates["exists"], "#9bbf9f"),
        ("recall@3", rates["recall_at_3"], "#4c9a5a"),
        ("recall@1", rates["recall_at_1"], "#4c9a5a"),
        ("claimed\nand found", rates["claimed_found"], "#4c9a5a"),
    ] + [(f"{control.replace('_', ' ')}\n(false claims)", rates["false_claims"][control], "#b5533c") for control in CONTROLS]
    figure, axes = panels.panels(1, width=7.6, height=3.6)
    title = (
        "The blind ranking beside the oracle-selected ceiling (green: of the oracle-recoverable cells),\n"
        f"and its false claims on controls (red: of all cells; dashed: α = {run.claim_alpha})"
    )
    panels.rate_bars(axes[0], bars, title, level=run.claim_alpha)
    paths.append(panels.finish(figure, axes, "", folder / "false_positives.png", ylabel="share of cells", legend=False))

    confusion = facts.read(results, Cells).shape_confusion
    if confusion:
        kinds, reads = list(confusion), list(topology.SHAPES)
        counts = np.array([[confusion[kind].get(read, 0) for read in reads] for kind in kinds])
        figure, axes = panels.panels(1, width=7.2, height=3.6)
        panels.counts_matrix(
            axes[0], counts, reads, [f"{k} (expect {EXPECTED_SHAPE[k]})" for k in kinds], "Shape reader on planted and structureless clouds"
        )
        axes[0].set_xlabel("shape read by persistent homology")
        paths.append(panels.finish(figure, axes, "", folder / "shape_confusion.png", legend=False))
    return paths


def _cell_row(cell: Cell) -> str:
    parts = []
    for method in METHODS:
        score: Reading = getattr(cell, method)
        mark = "FOUND" if score.found else "-"
        cyclic = {True: "in order", False: "out of order", None: "n/a"}[score.cyclic_order]
        parts.append(f"{mark:>5} {score.max_principal_angle_deg:>5.1f}° {cyclic:<12} {score.shape[:7]:<7} {(score.mode or '-')[:6]:<6}")
    return f"{cell_label(cell._asdict()):<42}" + " | ".join(parts)


def summary(results: dict) -> str:
    header = f"{'cell':<42}" + " | ".join(f"{method:^36}" for method in METHODS)
    lines = [header, "-" * len(header)] + [_cell_row(cell) for cell in _sorted_cells(results)]
    run = facts.read(results, Facts)
    counts = ceiling_counts(table.read(results))
    count = counts["recipe given oracle"]
    rate = count["count"] / count["of"] if count["of"] else None
    cells = _sorted_cells(results)
    lines += ["", *blind_lines(blind_from_table(table.read(results)))]
    lines += [
        "",
        f"exists (the ceiling): recipe_recovery_given_oracle = {count['count']}/{count['of']}"
        + (f" = {rate:.3f}" if rate is not None else " (the oracle found no circle)"),
        f"oracle finds the circle in {counts['oracle']['count']}/{counts['oracle']['of']} cells; "
        f"the recipe in {counts['recipe']['count']}/{counts['recipe']['of']}",
        "controls whose best group (chosen with the truth) is found: "
        + ", ".join(f"{method} {counts[method]['count']}/{counts[method]['of']}" for method in ("null", "decoupled", "random")),
        f"claims decided against: {run.null_source}",
        "best groups of the controls that read as a circle by shape alone: "
        + ", ".join(f"{m} {sum(getattr(c, m).shape == 'circle' for c in cells)}/{len(cells)}" for m in ("null", "random")),
        "how the SAE holds the circles the oracle finds, by k: "
        + ", ".join(
            f"k={k}: {sum(c.oracle.mode == 'tiling' for c in at)} tiling / {sum(c.oracle.mode == 'span' for c in at)} span"
            for k in sorted({c.k for c in cells})
            for at in [[c for c in cells if c.k == k and c.oracle.found]]
        ),
    ]
    confusion = facts.read(results, Cells).shape_confusion
    if confusion:
        lines += ["", "shape reader (rows: planted; columns: read):", f"{'':<16}" + "".join(f"{read[:15]:>16}" for read in topology.SHAPES)]
        for kind, row in confusion.items():
            lines.append(f"{kind:<16}" + "".join(f"{row.get(read, 0):>16}" for read in topology.SHAPES))
    lines.append(
        f"(found: the best group's top-2 PCA plane within {run.found_angle_deg:.0f}° of the planted plane and "
        "its per-value centroids in cyclic order; cells drawn at random from the configured ranges)"
    )
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
