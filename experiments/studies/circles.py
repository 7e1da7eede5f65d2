"""Experiment `circles`: can the planted geometry of circles be read back from a dictionary?

Toy (toys.manifolds): a days-of-the-week circle (7 values) and a months circle (12
values), each with the shared offset c, plus a continuous circle ("ring", no offset,
the case of the polygon bounds) and 256 sparse superposed features in d = 64.
Dictionaries: TopK SAEs at each size, one per k (the k grid trains in one vmapped
call per size), and a random ±1/√d dictionary per size encoded by TopK with the main k
(chance). Each goes through the lab's manifold finder (sae.readers.manifold_finder: latent groups
linked against chance in the tiling and span modes, reconstructed, PCA of the
reconstructions' directions, shape by persistent homology); for each planted circle the
best-matching group is scored (largest principal angle to the planted plane, cyclic order
of the per-value centroids, rank circular correlation, purity/recall, shape), and the
latents whose decoder rows lie in the circle's span are counted (tiling).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.recovery import saved_dictionaries, seed_keys
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, evaluate, metrics, pipeline
from sae.readers import geometry, manifold_grading, manifold_ranking, wall
from theory import circles as circle_theory
from toys import manifolds
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "circles"
DESCRIPTION = "days/months circles + 256 sparse features in 64 dims: cluster → PCA → planted plane and order"
PCA_POINTS = 1500  # circle samples kept per scatter panel


@dataclasses.dataclass(frozen=True)
class CirclesToy:
    """The toy's settings (`--set toy.…`): days, months and a continuous ring beside sparse features."""

    d: int = setting(64, "activation dimensions", low=1)
    days: int = setting(7, "values of the days circle", low=3)
    months: int = setting(12, "values of the months circle", low=3)
    ring: bool = setting(True, "add a continuous circle without offset (the polygon-bound case)")
    radius: float = setting(1.0, "r of every circle", low=0, low_open=True)
    offset: float = setting(2.0, "‖c‖ / r = 2: the shared direction dominates, as for days and months in LMs", low=0)
    identity: float = setting(0.0, "scale of each value's own identity direction (0: none)", low=0)
    circle_probability: float = setting(0.2, "P(a sample carries a given circle)", low=0, low_open=True, high=1)
    n_sparse_features: int = setting(256, "sparse features beside the circles", low=0)
    sparse_mean_l0: float = setting(4.0, "their expected L0", allowed="(0, n_sparse_features]")

    def manifold_config(self) -> manifolds.ManifoldConfig:
        specs = [
            manifolds.ManifoldSpec(
                "days",
                values=self.days,
                radius=self.radius,
                offset=self.offset,
                probability=self.circle_probability,
                identity=self.identity,
            ),
            manifolds.ManifoldSpec(
                "months",
                values=self.months,
                radius=self.radius,
                offset=self.offset,
                probability=self.circle_probability,
                identity=self.identity,
            ),
        ]
        if self.ring:
            specs.append(manifolds.ManifoldSpec("ring", values=0, radius=self.radius, offset=0.0, probability=self.circle_probability))
        return manifolds.ManifoldConfig(self.d, tuple(specs), self.n_sparse_features, self.sparse_mean_l0)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        self.manifold_config().validate(prefix)


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: CirclesToy = CirclesToy()
    sizes: tuple[int, ...] = setting((256, 512, 1024, 2048), low=2)
    ks: tuple[int, ...] = setting((1, 2, 8), "k values trained at each size (one vmapped call)", low=1, high="min(sizes)")
    k: int = setting(
        1, "the main k: random dictionaries and the PCA figure use it (k = 1 makes TopK tile; see README)", low=1, high="min(sizes)"
    )
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    steps: int = setting(10_000, low=1)
    batch_size: int = setting(1024, low=1)
    n_geometry: int = setting(16_384, "samples the pipeline clusters, reconstructs and scores on", low=100)
    figure_size: int = setting(512, "the size drawn in circle_pca.png; follows `sizes` unless set", choices="sizes")

    FOLLOWS = {"figure_size": "sizes"}  # a dependent setting the user did not set follows its source

    @classmethod
    def quick(cls) -> "Config":
        return cls(steps=5000, batch_size=256, sizes=(256, 512, 1024), n_geometry=8192)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")


def planted_circles(toy, sample) -> list[geometry.PlantedCircle]:
    """The truth of every planted circle on the geometry sample, as arrays for sae.readers.geometry."""
    return [
        geometry.PlantedCircle(
            spec.name,
            np.asarray(toy.plane(index)),
            manifolds.subspace(toy, index),
            np.asarray(sample.present[:, index]),
            np.asarray(sample.phases[:, index, 0]),
            spec.radius,
            spec.values,
        )
        for index, spec in enumerate(toy.config.manifolds)
    ]


def _score_dictionaries(kind, size, ks, arch, params, hps, sample, circles, config, arrays, streamed, progress) -> list[dict]:
    """One results entry per (dictionary of the stacked grid, planted circle); `streamed`: each
    dictionary's CIRCLES scores (sae.evaluate), one per planted circle."""
    x = np.asarray(sample.x)
    observations = wall.observe_grid(sample, arch, params, hps)  # the method's only view of the sample
    codes = np.stack([seen.codes for seen in observations])
    reconstructions = np.asarray(pipeline.reconstruct(arch, params, hps, x))
    entries = []
    for g, k in enumerate(ks):
        decoder = observations[g].decoder
        live = np.any(codes[g] > 0, axis=0)
        # no null twins are drawn here: the stored stratum nearest this run's budget, at this k
        null_top, used = manifold_ranking.nearest_null(k, manifold_ranking.Stratum(config.steps, config.batch_size, config.n_geometry))
        # the method, blind, through the wall's one road: candidates and their ranking read codes and decoder only
        with progress.task(f"manifold finder ({kind} m={size} k={k})"):
            given = wall.settings(config, seed="seed").with_calibration("null_top", null_top, f"stored null, k={k}")
            groups, found_by, ranked = wall.apply(
                manifold_ranking.find_and_rank, observations[g], ("x", "codes", "decoder"), given, report=progress.counter()
            )
        explained = metrics.explained_variance_of(x, reconstructions[g])
        # the graders: each planted circle (on a decoupled twin's dictionary every claim is false)
        unmatched = manifold_grading.unmatched_claims(codes[g], decoder, groups, ranked, circles)
        for index, circle in enumerate(circles):
            # `exists` (the ceiling): the candidate chosen with the truth
            scores, best = manifold_grading.score_circle(codes[g], decoder, circle, groups, found_by, seed=config.seed)
            blind = manifold_grading.grade_ranking(codes[g], decoder, groups, ranked, circle)
            blind["claims_matching_no_circle"] = unmatched  # per dictionary: the same in each circle's entry
            entries.append(
                {
                    "circle": circle.name,
                    "values": circle.values,
                    "kind": kind,
                    "size": size,
                    "k": k,
                    **scores,
                    "exists": scores["found"],
                    "blind": blind,
                    "latents_on_circle": int(geometry.on_manifold(decoder, circle.span).sum()),
                    "in_plane_error": geometry.in_plane_error(x, reconstructions[g], circle),
                    "candidates": len(groups),
                    "explained_variance": float(explained),
                    "live_latents": int(live.sum()),
                    "null": {"stratum": used._asdict() if used else None, "null_size": len(null_top)},
                    "streamed": streamed[g]["circles"][index],
                }
            )
            # the grader's picture, not a method's answer: the candidate chosen with the truth (`best`, the
            # ceiling) drawn on the samples where the planted circle is present, coloured by its true phase
            if size == config.figure_size and k == config.k and len(best.latents):
                points, rows = geometry.cluster_plane_points(codes[g], decoder, best.latents, np.flatnonzero(circle.present))
                points, rows = points[:PCA_POINTS], rows[:PCA_POINTS]
                arrays[f"pca_{circle.name}_{kind}"] = np.concatenate([points, circle.phases[rows, None]], axis=1).astype(np.float32)
    return entries


# the results table's numbers of each (circle, dictionary) entry: (reader, metric, unit, where in the entry)
TABLE_METRICS = (
    ("ceiling", "max_principal_angle_deg", "deg", lambda e: e["max_principal_angle_deg"]),
    ("ceiling", "exists", "", lambda e: e["exists"]),
    ("ceiling", "latents_on_circle", "count", lambda e: e["latents_on_circle"]),
    ("ceiling", "cyclic_order", "", lambda e: e.get("cyclic_order")),
    ("blind ranking", "recall_at_1", "", lambda e: e["blind"]["recall_at_1"]),
    ("blind ranking", "recall_at_3", "", lambda e: e["blind"]["recall_at_3"]),
    ("blind ranking", "claims", "count", lambda e: e["blind"]["claims"]),
    ("blind ranking", "claimed_and_found", "", lambda e: e["blind"]["claimed_any_found"]),
    # per dictionary (the same in each of its circles' entries): its claims matching no planted circle
    ("blind ranking", "claims_matching_no_circle", "count", lambda e: e["blind"]["claims_matching_no_circle"]),
    ("streamed", "phase_max_gap_deg", "deg", lambda e: e["streamed"]["phase_max_gap_deg"]),
    ("ceiling", "rank_circular_correlation", "", lambda e: e.get("rank_circular_correlation")),
    ("ceiling", "in_plane_error", "", lambda e: e["in_plane_error"]),
)


def results_table(entries: list[dict], seed: int, main_k: int) -> list[table.Row]:
    """One row per (circle, arm, size, k, number of TABLE_METRICS); chance: the random dictionary of the
    same size on the same circle (read by TopK with the main k)."""
    chance = {(e["circle"], e["size"]): e for e in entries if e["kind"] == "random" and e["k"] == main_k}
    rows = []
    for entry in entries:
        level = chance.get((entry["circle"], entry["size"]))
        for reader, metric, unit, read in TABLE_METRICS:
            rows.append(
                table.Row(
                    entry["kind"],
                    metric,
                    read(entry),
                    None if level is None else read(level),
                    size=entry["size"],
                    seed=seed,
                    reader=reader,
                    unit=unit,
                    setting={"circle": entry["circle"], "k": entry["k"], "values": entry["values"]},
                )
            )
    return rows


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the largest size's k grid and of the geometry sample's codes, and the field behind them."""
    training = memory.sae_training_bytes(
        runs=len(config.ks),
        d=config.toy.d,
        m=max(config.sizes),
        batch=config.batch_size,
        n_features=config.toy.n_sparse_features,
        fields={"n_features": "toy.n_sparse_features", "d": "toy.d", "m": "sizes", "batch": "batch_size", "runs": "ks"},
    )
    geometry = int(memory.SAFETY * memory.FLOAT * len(config.ks) * config.n_geometry * (2 * max(config.sizes) + 2 * config.toy.d))
    return (geometry, "n_geometry") if geometry > training[0] else training


def run(config: Config, runtime: Runtime | None = None) -> Result:
    runtime = or_default(runtime)
    toy_config = config.toy.manifold_config()
    key_toy, key_train, key_random, key_geometry = jax.random.split(seeding.root_key(config.seed), 4)
    toy = manifolds.build(toy_config, key_toy)
    sample = manifolds.sample(toy, key_geometry, config.n_geometry)
    circles = planted_circles(toy, sample)
    # the control that can fail: every circle decoupled (co-firing kept, the loop gone), the same samples
    decoupled = manifolds.decouple(toy)
    decoupled_sample = manifolds.sample(decoupled, key_geometry, config.n_geometry)
    decoupled_circles = planted_circles(decoupled, decoupled_sample)
    spans = np.stack([manifolds.subspace(toy, index) for index in range(len(circles))])  # plane + offset direction
    key_stream = seeding.stream(seeding.root_key(config.seed), "circle scores")

    def stream(params, hps, arch):  # circle recovery streamed as MMCS is (sae.evaluate.CIRCLES)
        return pipeline.evaluate(arch, params, hps, toy, key=key_stream, n_eval=config.n_geometry, spans=spans, metrics=(evaluate.CIRCLES,))

    entries, arrays, saved = [], {}, []

    def grid(kind: str, trained_on, seen, truth, keep: dict, size: int, hps) -> tuple:
        """The k grid of one size trained on `trained_on` with the run's keys (the toy and its decoupled twin
        share them: only the loop differs), then read on `seen` against `truth`: (params, entries)."""
        fitted = pipeline.fit(
            "topk",
            trained_on,
            hps,
            seed_keys(key_train, size, list(config.ks)),
            n_latents=size,
            steps=config.steps,
            batch_size=config.batch_size,
            label=f"topk{'' if kind == 'topk' else ' ' + kind} m={size} k={','.join(map(str, config.ks))}",
            runtime=runtime,
        )
        scored = _score_dictionaries(
            kind,
            size,
            config.ks,
            "topk",
            fitted.params,
            hps,
            seen,
            truth,
            config,
            keep,
            stream(fitted.params, hps, "topk"),
            runtime.progress,
        )
        return fitted.params, scored

    for size in config.sizes:
        hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, k) for k in config.ks])
        params, scored = grid("topk", toy, sample, circles, arrays, size, hps)
        entries += scored
        saved += saved_dictionaries("topk", params, hps, [f"topk-k{k}-{size}-seed{config.seed}" for k in config.ks])
        entries += grid("decoupled", decoupled, decoupled_sample, decoupled_circles, {}, size, hps)[1]
        # chance: a random dictionary of the same size, encoded by TopK with the main k
        random_params = pipeline.chance_dictionaries(seed_keys(key_random, size, [0]), config.toy.d, size)
        chance_arch, chance_hps = pipeline.chance_reading(config.k, 1)
        entries += _score_dictionaries(
            "random",
            size,
            (config.k,),
            chance_arch,
            random_params,
            chance_hps,
            sample,
            circles,
            config,
            arrays,
            stream(random_params, chance_hps, chance_arch),
            runtime.progress,
        )
    return Result(
        {
            "circles": entries,
            "toy": {
                "d": config.toy.d,
                "circles": [dataclasses.asdict(spec) for spec in toy_config.manifolds],
                "n_sparse_features": config.toy.n_sparse_features,
            },
            "main_k": config.k,
            "figure_size": config.figure_size,
        },
        arrays=arrays,
        dictionaries=saved,
        table=results_table(entries, config.seed, config.k),
    )


def _maybe(value, yes, no=None) -> str:
    """A table cell: n/a for None; yes/no for a bool; else the value formatted by `yes`."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return yes if value else no
    return yes.format(value)


def _order(entry: "CircleEntry") -> str:
    """The ordering score, or n/a with the sample count when it is unavailable."""
    if entry.ordering_score is None:
        return f"n/a ({entry.ordering_samples})"
    return f"{entry.ordering_score:.3f}"


class CircleName(NamedTuple):
    name: str


class CirclesToyFacts(NamedTuple):
    d: int
    n_sparse_features: int
    circles: tuple[CircleName, ...]  # the planted circles, in order (their full specs in results.json)


class BlindReading(NamedTuple):
    recall_at_1: bool | None
    recall_at_3: bool | None
    first_found_rank: int | None
    claims: int
    claimed_any_found: bool | None


class StreamedReading(NamedTuple):
    span_latents: int
    phase_max_gap_deg: float
    phase_tuning: float | None
    selectivity: float | None


class CircleEntry(NamedTuple):
    """One (circle, dictionary, k) as the run graded it (results.json's "circles"): the readings the
    summary lists, categorical ones (the link rule, the mode, the shape) included."""

    circle: str
    kind: str
    size: int
    k: int
    max_principal_angle_deg: float
    ordering_score: float | None
    latents_on_circle: int
    cluster_size: int
    purity: float
    found_by: str | None
    mode: str | None
    shape: str
    exists: bool | None
    blind: BlindReading
    streamed: StreamedReading
    cyclic_order: bool | None = None
    adjacent_share: float | None = None
    rank_circular_correlation: float | None = None
    ordering_samples: int = 0


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table), and its graded entries."""

    toy: CirclesToyFacts
    main_k: int  # the k of the figures and the headline
    figure_size: int
    circles: tuple[CircleEntry, ...]


def blind_counts(results: dict) -> dict:
    """Over the trained dictionaries' (circle, size, k) entries: exists, recall@1, recall@3, claimed and
    found; the random dictionaries' entries with any claim (false), the decoupled twins' dictionaries with
    any claim (false: every circle's loop is gone, its co-firing kept), and over the trained dictionaries
    the claimed candidates that match none of the planted circles."""
    rows = table.read(results)
    first = {"circle": facts.read(results, Facts).toy.circles[0].name}  # once per dictionary: its first circle's rows

    def values(arm: str, metric: str, setting: dict | None = None) -> list:
        return [row.value for row in table.select(rows, setting, arm=arm, metric=metric)]

    rate = manifold_grading.rate
    return {
        "exists": rate(values("topk", "exists")),
        "recall@1": rate(values("topk", "recall_at_1")),
        "recall@3": rate(values("topk", "recall_at_3")),
        "claimed and found": rate(values("topk", "claimed_and_found")),
        "random dictionary false claims": rate(values("random", "claims")),
        # a decoupled twin holds no circle: a dictionary with any claim makes a false one
        "decoupled twin false claims": rate(values("decoupled", "claims", first)),
        "claims matching no circle": manifold_grading.count_rate(
            int(sum(v or 0 for v in values("topk", "claims_matching_no_circle", first))),
            int(sum(v or 0 for v in values("topk", "claims", first))),
        ),
    }


def headline(results: dict) -> str:
    """One number for `toylab runs`: the days circle's plane angle at the figure size and main k."""
    run = facts.read(results, Facts)
    name = run.toy.circles[0].name
    rows = table.select(table.read(results), {"circle": name, "k": run.main_k}, arm="topk", size=run.figure_size, reader="ceiling")
    angle, order = table.mean(rows, metric="max_principal_angle_deg"), table.mean(rows, metric="cyclic_order")
    if angle is None:
        return "—"
    cyclic = {1.0: "in cyclic order", 0.0: "out of order", None: "order n/a"}[order]
    return f"{name}: {angle:.1f}° from the plane, {cyclic}"


def plot(results: dict, arrays: dict, folder) -> list:
    """From the results table (and the ceiling group's points in `arrays`): the best group per circle in
    its PCA plane; the latents each circle gets; the continuous circle's error against the polygon
    bounds; the plane angle and rank circular correlation against size."""
    rows = table.read(results)
    paths = []
    circles = {row.setting["circle"]: row.setting["values"] for row in rows}
    run = facts.read(results, Facts)
    main_k, size = run.main_k, run.figure_size
    figure, axes = panels.panels(2 * len(circles), width=3.6, height=3.3, columns=2)
    for ax, (name, kind) in zip(axes, ((name, kind) for name in circles for kind in ("topk", "random"))):
        values = circles[name]
        here = table.select(rows, {"circle": name, "k": main_k}, arm=kind, size=size)
        angle = table.mean(here, metric="max_principal_angle_deg")
        cyclic = {1.0: "in cyclic order", 0.0: "out of order", None: "order n/a"}[table.mean(here, metric="cyclic_order")]
        title = f"{name}, {kind} m={size}: {'n/a' if angle is None else f'{angle:.1f}°'}, {cyclic}"
        points = arrays.get(f"pca_{name}_{kind}")
        if points is None or not len(points):
            panels.empty(ax, "no candidate group\n(or none firing on the circle)", title)
            continue
        points = np.asarray(points, np.float32)
        phase = points[:, 2] / (2 * np.pi)
        label = f"true {name[:-1] if name.endswith('s') else name} (0 … {values - 1})" if values else "true phase θ / 2π"
        colour = np.round(phase * values) if values else phase
        panels.scatter_in_plane(ax, points[:, :2], colour, title, label, vmin=0, vmax=values or 1)
        # the per-value centroids joined in their natural order: "in cyclic order" means this polygon goes
        # round once without crossing back
        panels.centroid_loop(ax, points[:, :2], geometry.value_labels(points[:, 2], values))
        ax.set_xlabel("PC 1 of the group's reconstructions' directions")
    title = (
        "Best group per planted circle, PCA of its reconstructions' directions\n"
        "(colour = true day/month/phase; numbered circles = per-value centroids joined in order; "
        "title: largest principal angle\nto the planted plane, centroid order)"
    )
    paths.append(panels.finish(figure, axes, title, folder / "circle_pca.png", ylabel="PC 2", legend=False))

    # two points, two figures: how many latents each circle gets, and what the continuous one's error is
    ks = sorted({row.setting["k"] for row in rows if row.arm == "topk"})
    markers = dict(zip(circles, "osD^v"))
    series = [
        (f"{name}, topk k={k}", {"arm": "topk", "setting": {"circle": name, "k": k}}, {"marker": markers[name]})
        for name in circles
        for k in ks
    ]
    series += [
        (
            "random (chance), every circle" if i == 0 else None,
            {"arm": "random", "setting": {"circle": name}},
            {"fmt": "--x", "color": "0.5"},
        )
        for i, name in enumerate(circles)
    ]
    figure, axes = panels.panels(1, width=7.5, height=4.6)
    panels.series_by_setting(
        axes[0], rows, "latents_on_circle", "size", series, "Tiling: latents a TopK SAE spends on each circle", numeric=True
    )
    axes[0].set_xscale("log", base=2)
    panels.levels(axes[0], {f"{values} values": values for values in circles.values() if values})
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    xlabel = "dictionary size m (grey lines: number of values of each circle)"
    paths.append(
        panels.finish(figure, axes, "", folder / "tiling.png", xlabel, "latents on the circle (≥ ½ decoder energy in its span)", False)
    )

    ring = table.select(rows, {"values": 0}, arm="topk")
    if ring:
        figure, axes = panels.panels(1, width=7.5, height=4.6)
        for k in ks:
            panels.scatter_metrics(axes[0], table.select(ring, {"k": k}), "latents_on_circle", "in_plane_error", f"topk k={k}")
        counts = [row.value or 0 for row in table.select(ring, metric="latents_on_circle")]
        grid = np.arange(3, max(max(counts), 4) + 2)
        axes[0].plot(grid, circle_theory.one_sparse_error_mean(grid), "k-", lw=1, label="1-sparse polygon, mean sin²Δ")
        axes[0].plot(grid, circle_theory.one_sparse_error_worst(grid), "k--", lw=1, label="1-sparse polygon, worst sin²(π/m)")
        panels.plain_log_axis(axes[0])
        axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        axes[0].set_title("Continuous circle: error against the polygon bounds\n(2-sparse nonnegative codes can be exact)", fontsize=10)
        paths.append(
            panels.finish(
                figure,
                axes,
                "",
                folder / "polygon_error.png",
                "latents on the continuous circle",
                "in-plane reconstruction error / r²",
                False,
            )
        )

    series = [
        (
            f"{name}, {kind}",
            {"arm": kind, "setting": {"circle": name, "k": main_k}},
            {"marker": markers[name], "linestyle": "--" if kind == "random" else "-"},
        )
        for name in circles
        for kind in ("topk", "random")
    ]
    figure, axes = panels.panels(2, width=5.0, height=3.6)
    panels.series_by_setting(axes[0], rows, "max_principal_angle_deg", "size", series, "", numeric=True)
    panels.series_by_setting(
        axes[1], rows, "rank_circular_correlation", "size", [(None, where, style) for _, where, style in series], "", numeric=True
    )
    for ax in axes:
        ax.set_xscale("log", base=2)
    axes[0].axhline(10, color="0.7", lw=1, zorder=0)
    axes[0].set_ylabel("largest principal angle to the planted plane (°)")
    axes[1].set_ylabel("rank circular correlation (triples; ties left out)\n(gaps: < 100 samples)")
    axes[1].set_ylim(0, 1.02)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    title = f"Best group per circle: TopK (k={main_k}) against random dictionaries (dashed)"
    paths.append(panels.finish(figure, axes, title, folder / "recovery_vs_size.png", "dictionary size m", legend=False))
    return paths


def summary(results: dict) -> str:
    header = (
        f"{'circle':<8}{'kind':<8}{'size':>6}{'k':>4}  {'angle°':>7}  {'order':>9}  {'cyclic':>6}  {'adj.':>5}  "
        f"{'rank ρ':>6}  {'on circle':>9}  {'group':>5}  {'purity':>6}  {'found by':>8}  {'mode':>6}  shape"
    )
    lines = [header, "-" * len(header)]
    entries = sorted(facts.read(results, Facts).circles, key=lambda e: (e.circle, e.size, e.kind != "topk", e.k))
    for entry in entries:
        lines.append(
            f"{entry.circle:<8}{entry.kind:<8}{entry.size:>6}{entry.k:>4}  {entry.max_principal_angle_deg:>7.1f}  "
            f"{_order(entry):>9}  {_maybe(entry.cyclic_order, 'yes', 'no'):>6}  "
            f"{_maybe(entry.adjacent_share, '{:.2f}'):>5}  {_maybe(entry.rank_circular_correlation, '{:.3f}'):>6}  "
            f"{entry.latents_on_circle:>9}  {entry.cluster_size:>5}  "
            f"{entry.purity:>6.2f}  {entry.found_by or '-':>8}  {entry.mode or '-':>6}  {entry.shape}"
        )
    lines += [
        "",
        "blind ranking (the finder's candidates by circle evidence, no truth) beside the ceiling (exists: chosen with the truth):",
        f"{'circle':<8}{'kind':<8}{'size':>6}{'k':>4}{'exists':>8}{'recall@1':>10}{'recall@3':>10}{'rank':>6}"
        f"{'claims':>8}{'claimed+found':>15}",
    ]
    for entry in entries:
        b = entry.blind
        lines.append(
            f"{entry.circle:<8}{entry.kind:<8}{entry.size:>6}{entry.k:>4}"
            f"{_maybe(entry.exists, 'yes', 'no'):>8}{_maybe(b.recall_at_1, 'yes', 'no'):>10}"
            f"{_maybe(b.recall_at_3, 'yes', 'no'):>10}{b.first_found_rank or '-':>6}{b.claims:>8}"
            f"{_maybe(b.claimed_any_found, 'yes', 'no'):>15}"
        )
    counts = blind_counts(results)
    lines.append("totals (trained dictionaries): " + "; ".join(f"{name} {c['count']}/{c['of']}" for name, c in counts.items()))
    lines.append(
        "(rank: blind rank of the first found candidate among the top 10; claims: candidates claimed at "
        f"p ≤ {manifold_ranking.CLAIM_ALPHA}; claimed+found: a claimed candidate is found; for a random dictionary "
        "and for the decoupled twin (each circle's cos θ and sin θ' read independent phases: co-firing kept, "
        "the loop gone) any claim is false)"
    )
    lines.append(
        "(angle: largest principal angle between the best group's top-2 PCA plane and the planted plane; "
        "cyclic: the per-value centroids go round in cyclic order (adj.: share of consecutive values at "
        "neighbouring places); rank ρ: triple concordance, not lowered by ties; "
        "order: per-sample |Fisher–Lee circular correlation| of recovered angle and true phase, n/a on fewer than "
        f"{geometry.MIN_ORDERING_SAMPLES} samples or {geometry.MIN_ORDERING_VALUES} distinct values; "
        "group: latents in the best group; found by: the link rule (tiling: subspace links, span: co-firing); "
        "mode: how the SAE holds the circle (tiling: ≤ 2 of the group's latents active per sample, else span); "
        "shape: persistent homology of the group's reconstructions; random = chance)"
    )
    lines += [
        "",
        "streamed, as MMCS is (sae.evaluate.CIRCLES, the decoder and fresh samples; no finder):",
        f"{'circle':<8}{'kind':<8}{'size':>6}{'k':>4}{'in span':>9}{'max gap°':>10}{'tuning':>8}{'selective':>11}",
    ]
    for entry in entries:
        st = entry.streamed
        lines.append(
            f"{entry.circle:<8}{entry.kind:<8}{entry.size:>6}{entry.k:>4}{st.span_latents:>9}"
            f"{st.phase_max_gap_deg:>10.1f}{_maybe(st.phase_tuning, '{:.2f}'):>8}"
            f"{_maybe(st.selectivity, '{:.2f}'):>11}"
        )
    lines.append(
        "(in span: live latents with ≥ ½ of their row's energy in the circle's plane and offset direction; "
        "max gap: the largest "
        "circular gap between their preferred phases (360: fewer than two); tuning: mean resultant of each "
        "latent's activation around the circle (1: one phase); selective: share of its firings on samples "
        "carrying the circle)"
    )
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
