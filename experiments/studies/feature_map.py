"""Experiment `feature-map`: does a dictionary's placement hold structure beyond what its latents'
co-firing statistics predict? Feature maps (UMAPs of decoder rows) with the answer known.

Toys (`toys.placements`), one per cell, F features in R^d:

- *placement with statistics*: features planted in clusters, on a circle or along trees (a child near
  its parent), firing with their placement neighbours (a copula that follows the placement);
- *placement only*: the same placements, features firing independently;
- *statistics only*: random directions, features firing in correlated groups;
- *neither*: random directions, independent firing.

Arms per cell: the planted directions read with the true codes (a ceiling: the truth used on
purpose, `wall.ceiling`), TopK SAEs (`n_seeds`, trained together) and random dictionaries of the same
shape (the chance baseline, read by TopK with the same k), both through the wall's one road.

Reader (`sae.readers.feature_map.placement_verdict`, codes and decoder only): the structure T of
the decoder's k-nearest-neighbour graph against (a) random placement of the same latents, and the
overlap of its neighbourhoods with (b) the placement the codes' correlations imply, against the same
overlap with (b)'s latents relabelled. Claimed ("placement carries structure beyond the statistics")
when the decoder is structured and the statistics do not predict its neighbourhoods. Expected: claimed
in *placement only*, not claimed in the other three families; false claims are counted on *statistics
only*, *neither* and the random dictionaries.

Figures: `verdict.png` (T against the random-placement band, and the share of neighbourhoods the
statistics explain, per cell and arm), `maps.png` (UMAPs of three toys' SAE decoders, blind and graded
by the planted structure each latent matches, beside a random dictionary's), `maps.html` (the same maps,
interactive: hover a latent for its index, best planted feature, |cosine| and firing rate; the run's
report shows it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from experiments.runner import facts, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, pipeline
from sae.readers import feature_map, wall
from toys import placements
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "feature-map"
DESCRIPTION = "feature maps with ground truth: does a decoder's placement hold structure beyond its co-firing statistics?"

# (cell name, placement, firing, family)
CELLS = (
    ("clusters, co-firing", "clusters", "placement", "placement with statistics"),
    ("circle, co-firing", "circle", "placement", "placement with statistics"),
    ("clusters, independent", "clusters", "independent", "placement only"),
    ("circle, independent", "circle", "independent", "placement only"),
    ("tree, co-firing", "tree", "placement", "placement with statistics"),
    ("tree, independent", "tree", "independent", "placement only"),
    ("random, correlated", "random", "shuffled", "statistics only"),
    ("random, independent", "random", "independent", "neither"),
)
EXPECTED = {"placement with statistics": False, "placement only": True, "statistics only": False, "neither": False}
MAPPED = ("circle, co-firing", "clusters, independent", "random, correlated")  # the maps drawn
ARMS = ("planted (ceiling)", "topk", "random")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: placements.PlacementConfig = placements.PlacementConfig()
    sae_size: int = setting(64, "m: latents of each SAE and random dictionary", low=4)
    k: int = setting(3, "TopK's k (and the random dictionaries' reading)", low=1, high="sae_size")
    n_seeds: int = setting(2, "SAEs and random dictionaries per cell", low=1)
    steps: int = setting(3000, low=1)
    batch_size: int = setting(256, low=1)
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    n_eval: int = setting(16_384, "samples the codes are read on", low=64)
    neighbours: int = setting(feature_map.DEFAULT_NEIGHBOURS, "k of the neighbour graph", low=1)
    n_null: int = setting(feature_map.DEFAULT_NULLS, "draws of each null", low=20)
    umap_neighbors: int = setting(15, "UMAP's n_neighbors (the maps only)", low=2)

    @classmethod
    def quick(cls) -> "Config":
        return cls(steps=1500, n_eval=8192, n_null=100)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        for field, m in (("sae_size", self.sae_size), ("toy.n_features", self.toy.n_features)):
            if m < self.neighbours + 2:  # a neighbour graph of k neighbours needs k + 2 latents to mean anything
                raise ConfigError(f"{field}: got {m}, allowed at least neighbours + 2 = {self.neighbours + 2}")
        if self.umap_neighbors >= min(self.sae_size, self.toy.n_features):
            raise ConfigError(
                f"umap_neighbors: got {self.umap_neighbors}, allowed below the latents ({min(self.sae_size, self.toy.n_features)})"
            )


def _cell_config(config: Config, placement: str, firing: str) -> placements.PlacementConfig:
    return dataclasses.replace(config.toy, placement=placement, firing=firing)


def _match(decoder: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each latent's best planted feature and its |cosine| (the grader's colouring of a map)."""
    unit = decoder / np.maximum(np.linalg.norm(decoder, axis=1, keepdims=True), 1e-12)
    cosine = np.abs(unit @ directions.T)
    return cosine.argmax(axis=1), cosine.max(axis=1)


class CellKeys(NamedTuple):
    toy: jax.Array
    train: jax.Array
    evaluate: jax.Array
    chance: jax.Array  # the random dictionaries


def cell_keys(config: Config, index: int) -> CellKeys:
    """The keys of cell `index` (its place in CELLS), derived once for the run and for tools that retrain it."""
    return CellKeys(*jax.random.split(jax.random.fold_in(seeding.root_key(config.seed), index), 4))


def fit_cell(config: Config, toy, key_train: jax.Array, runtime: Runtime | None = None, aux_coefficient: float = 0.0):
    """(hps, fitted): the cell's `n_seeds` TopK SAEs, trained together (AuxK off unless given)."""
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, config.k, aux_coefficient)] * config.n_seeds)
    fitted = pipeline.fit(
        "topk",
        toy,
        hps,
        jax.random.split(key_train, config.n_seeds),
        n_latents=config.sae_size,
        steps=config.steps,
        batch_size=config.batch_size,
        runtime=runtime,
    )
    return hps, fitted


def run(config: Config, runtime: Runtime | None = None) -> Result:
    runtime = or_default(runtime)
    cells, arrays = [], {}
    given = wall.settings(config, seed="seed", k="neighbours", n_null="n_null")
    for index, (name, placement, firing, family) in enumerate(CELLS):
        key_toy, key_train, key_eval, key_chance = cell_keys(config, index)
        cell = _cell_config(config, placement, firing)
        toy = placements.build(cell, key_toy)
        labels = placements.labels(cell, key_toy)
        with runtime.progress.task(f"{name}: {config.n_seeds} TopK SAEs"):
            hps, fitted = fit_cell(config, toy, key_train, runtime)
        sample = toy.sample(key_eval, config.n_eval)
        true_codes = placements.true_codes(sample)
        directions = np.asarray(toy.directions)
        verdicts = {
            "planted (ceiling)": [
                wall.ceiling(
                    feature_map.placement_verdict,
                    (true_codes, directions),
                    "the planted directions and true codes",
                    seed=config.seed,
                    k=config.neighbours,
                    n_null=config.n_null,
                ).as_dict()
            ]
        }
        observations = wall.observe_grid(sample, "topk", fitted.params, hps)
        chance = pipeline.chance_dictionaries(jax.random.split(key_chance, config.n_seeds), toy.config.d, config.sae_size)
        verdicts["topk"], verdicts["random"] = [], []
        for g in range(config.n_seeds):
            verdicts["topk"].append(wall.apply(feature_map.placement_verdict, observations[g], ("codes", "decoder"), given).as_dict())
            one = jax.tree.map(lambda leaf, g=g: leaf[g : g + 1], chance)
            chance_observation = wall.observe_chance(sample, one, config.k)
            verdicts["random"].append(wall.apply(feature_map.placement_verdict, chance_observation, ("codes", "decoder"), given).as_dict())
            if g == 0 and name in MAPPED:  # the maps read the same observations (the truth only colours them)
                slug = name.replace(", ", "_")
                for arm, observation in (("topk", observations[0]), ("random", chance_observation)):
                    decoder, codes = observation.decoder, observation.codes
                    arrays[f"{slug}_{arm}_map"] = feature_map.umap_embedding(decoder, config.umap_neighbors, config.seed)
                    best, arrays[f"{slug}_{arm}_cosine"] = _match(decoder, directions)
                    arrays[f"{slug}_{arm}_best"], arrays[f"{slug}_{arm}_label"] = best, labels[best]
                    arrays[f"{slug}_{arm}_rate"] = (np.asarray(codes) > 0).mean(axis=0)
        cells.append(
            {
                "name": name,
                "placement": placement,
                "firing": firing,
                "family": family,
                "expected_claim": EXPECTED[family],
                "verdicts": verdicts,
            }
        )
    rows = verdict_rows(cells, config.sae_size, config.seed)
    return Result(
        {"cells": cells, "false_claims": false_claims(rows), **facts.write(Facts(config.seed, config.neighbours, config.umap_neighbors))},
        arrays,
        table=rows,
    )


VERDICT_METRICS = (
    "structure",
    "structure_threshold",
    "structured",
    "statistics_overlap",
    "statistics_threshold",
    "predicted",
    "explained",
    "claimed",
)


def verdict_rows(cells: list[dict], size: int, seed: int) -> list[table.Row]:
    """The results table: per cell and arm (the planted ceiling, each TopK SAE, each random dictionary,
    its index as `replica`), each number of the placement verdict; chance: the mean over the cell's
    random dictionaries of the same number."""
    rows = []
    for cell in cells:
        chance = {metric: float(np.mean([v[metric] for v in cell["verdicts"]["random"]])) for metric in VERDICT_METRICS}
        for arm, verdicts in cell["verdicts"].items():
            for replica, verdict in enumerate(verdicts):
                for metric in VERDICT_METRICS:
                    rows.append(
                        table.Row(
                            arm,
                            metric,
                            verdict[metric],
                            chance[metric],
                            size=None if arm.startswith("planted") else size,
                            seed=seed,
                            reader="placement verdict",
                            setting={"cell": cell["name"], "family": cell["family"], "replica": replica},
                        )
                    )
    return rows


def false_claims(rows: list[table.Row]) -> dict:
    """From the results table: claims where none is expected (statistics-only and neither toys, every
    random dictionary), and claims where one is (placement-only toys), per arm: [count, of]."""
    out = {}
    for arm in ARMS:
        claims = table.select(rows, arm=arm, reader="placement verdict", metric="claimed")
        wrong = [bool(row.value) for row in claims if arm == "random" or not EXPECTED[row.setting["family"]]]
        found = [bool(row.value) for row in claims if arm != "random" and EXPECTED[row.setting["family"]]]
        out[arm] = {"false_claims": [int(sum(wrong)), len(wrong)], "claims_where_expected": [int(sum(found)), len(found)]}
    return out


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    seed: int
    k_neighbours: int  # the neighbour graph's k
    umap_neighbors: int  # the maps' n_neighbors


def headline(results: dict) -> str:
    claims = table.select(table.read(results), metric="claimed")
    expected = [row.value for row in claims if row.arm == "topk" and EXPECTED[row.setting["family"]]]
    unexpected = [row.value for row in claims if row.arm == "topk" and not EXPECTED[row.setting["family"]]]
    random = [row.value for row in claims if row.arm == "random"]
    count = lambda values: f"{int(sum(bool(v) for v in values))}/{len(values)}"  # noqa: E731
    return f"SAE: claimed where expected {count(expected)}, false claims {count(unexpected)}; random dictionaries {count(random)} claimed"


def summary(results: dict) -> str:
    """From the results table (the run's seed and k from its facts)."""
    run = facts.read(results, Facts)
    rows = table.read(results)
    lines = [
        f"feature-map (seed {run.seed}; k = {run.k_neighbours} neighbours): is the decoder's "
        "placement structured (T against random placement) and not predicted by its co-firing statistics?",
        "",
        f"{'cell':24s} {'family':26s} {'arm':18s} {'T':>6s} {'T null95':>8s} {'overlap':>8s} {'null95':>7s} "
        f"{'explained':>9s} claimed (expected)",
    ]
    verdicts = table.select(rows, reader="placement verdict")
    for cell in dict.fromkeys(row.setting["cell"] for row in verdicts):
        for arm in ARMS:
            mine = table.select(verdicts, {"cell": cell}, arm=arm)
            for replica in dict.fromkeys(row.setting["replica"] for row in mine):
                v = {row.metric: row.value for row in table.select(mine, {"replica": replica})}
                family = table.select(mine, {"replica": replica})[0].setting["family"]
                lines.append(
                    f"{cell:24s} {family:26s} {arm:18s} {v['structure']:6.3f} "
                    f"{v['structure_threshold']:8.3f} {v['statistics_overlap']:8.3f} "
                    f"{v['statistics_threshold']:7.3f} {v['explained']:9.2f} "
                    f"{'yes' if v['claimed'] else 'no'} ({'yes' if EXPECTED[family] else 'no'})"
                )
    lines += ["", "grader (claims against the planted answer):"]
    for arm, counts in false_claims(rows).items():
        lines.append(
            f"  {arm}: claimed where placement alone holds structure {counts['claims_where_expected'][0]}/"
            f"{counts['claims_where_expected'][1]}; false claims {counts['false_claims'][0]}/"
            f"{counts['false_claims'][1]}"
        )
    return "\n".join(lines)


def plot(results: dict, arrays: dict, folder) -> list:
    """The verdict per toy and arm from the results table (structure T against its random-placement band;
    the share of neighbourhoods the statistics explain), and the UMAP maps of three toys."""
    rows = table.select(table.read(results), reader="placement verdict")
    colours = {"planted (ceiling)": "0.3", "topk": "C0", "random": "C3"}
    figure, (top, bottom) = panels.panels(2, width=10.5, height=3.4, columns=1)
    panels.strip_by_setting(
        top,
        rows,
        "structure",
        "cell",
        ARMS,
        "dotted: random placement's 95% point (above it: structured)",
        colours,
        dashes="structure_threshold",
    )
    top.set_ylabel("T: clustering of the\nneighbour graph")
    top.legend(fontsize=8, ncol=3, loc="upper right")
    places = panels.strip_by_setting(
        bottom,
        rows,
        "explained",
        "cell",
        ARMS,
        "0 = chance: the co-firing statistics do not place the latents (dots: a claim is expected; squares: none)",
        colours,
        marker=lambda row: "o" if EXPECTED[row.setting["family"]] else "s",
    )
    bottom.axhline(0, color="0.6", lw=1)
    bottom.set_ylabel("share of neighbourhoods\nthe statistics explain")
    families = {row.setting["cell"]: row.setting["family"] for row in rows}
    bottom.set_xticks(range(len(places)), [f"{c}\n({families[c]})" for c in places], fontsize=7, rotation=25, ha="right")
    top.set_xticks(range(len(places)), [""] * len(places))
    title = "placement beyond statistics is claimed when T is above its band and the statistics explain ≈ 0"
    paths = [panels.finish(figure, [top, bottom], title, folder / "verdict.png", legend=False)]

    drawn = [name for name in MAPPED if f"{name.replace(', ', '_')}_topk_map" in arrays]
    if drawn:
        figure, axes = panels.panels(3 * len(drawn), width=3.0, height=3.0, columns=3)
        for index, (name, (arm, graded)) in enumerate((n, a) for n in drawn for a in (("topk", False), ("topk", True), ("random", True))):
            slug = name.replace(", ", "_")
            what = {(0, 0): "SAE, blind", (0, 1): "SAE, graded", (1, 1): "random dictionary, graded"}[(int(arm == "random"), int(graded))]
            colour = np.asarray(arrays[f"{slug}_{arm}_label"]) if graded else "0.3"
            sizes = 8 + 30 * np.asarray(arrays[f"{slug}_{arm}_cosine"]) if graded else 12
            panels.scatter_in_plane(
                axes[index], arrays[f"{slug}_{arm}_map"], colour, f"{name}: {what}", cmap="hsv", sizes=sizes, axes_shown=False
            )
        run = facts.read(results, Facts)
        title = (
            f"UMAP of decoder rows (cosine, n_neighbors = {run.umap_neighbors}, seed {run.seed})\n"
            "colour: the planted group or circle position each latent matches best, size: its |cosine|"
        )
        paths.append(panels.finish(figure, axes, title, folder / "maps.png", legend=False))
        paths.append(interactive_maps(results, arrays, drawn, folder / "maps.html"))
    return paths


def interactive_maps(results: dict, arrays: dict, drawn: list[str], path: Path) -> Path:
    """The maps of `maps.png` as one self-contained HTML page (plotly): hover a latent for its index, the
    planted feature it matches best, that |cosine|, and its firing rate on the evaluation samples."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from experiments.runner.runfolder import write_text

    shown = (("topk", "SAE"), ("random", "random dictionary"))
    run = facts.read(results, Facts)
    figure = make_subplots(
        rows=len(drawn),
        cols=2,
        vertical_spacing=0.08,
        horizontal_spacing=0.05,
        subplot_titles=[f"{name}: {what}" for name in drawn for _, what in shown],
    )
    for row, name in enumerate(drawn, start=1):
        slug = name.replace(", ", "_")
        for col, (arm, _) in enumerate(shown, start=1):
            points = np.asarray(arrays[f"{slug}_{arm}_map"])
            best, label = np.asarray(arrays[f"{slug}_{arm}_best"]), np.asarray(arrays[f"{slug}_{arm}_label"])
            cosine, rate = np.asarray(arrays[f"{slug}_{arm}_cosine"]), np.asarray(arrays[f"{slug}_{arm}_rate"])
            hover = [
                f"latent {i}<br>best planted feature {b} (group/position {g}), |cos| {c:.2f}<br>firing rate {r:.4f}"
                for i, (b, g, c, r) in enumerate(zip(best, label, cosine, rate))
            ]
            figure.add_trace(
                go.Scatter(
                    x=points[:, 0],
                    y=points[:, 1],
                    mode="markers",
                    text=hover,
                    hoverinfo="text",
                    marker={"color": label, "colorscale": "HSV", "size": 5 + 10 * cosine},
                    showlegend=False,
                ),
                row=row,
                col=col,
            )
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    figure.update_layout(
        height=380 * len(drawn) + 80,
        width=900,
        margin={"t": 90},
        title={
            "font": {"size": 12},
            "text": (
                f"UMAP of decoder rows (cosine, n_neighbors {run.umap_neighbors}, seed {run.seed}); colour: the "
                "planted group or circle position each latent matches best; size: its |cosine|"
            ),
        },
    )
    write_text(path, figure.to_html(include_plotlyjs=True, full_html=True))
    return path


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline)
