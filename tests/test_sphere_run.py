"""The `sphere` study (a standard study: experiments.kernel) end to end at tiny shapes."""

import json

from cli_args import sets

from experiments.runner import cli
from experiments.studies import sphere

TINY_SPHERE = sets(
    "toy.d=16", "toy.n_sparse_features=16", "toy.sparse_mean_l0=1", "sizes=16,32", "kinds=topk", "k=2", "steps=300", "batch_size=128"
)


def test_sphere_latents_are_found_in_trained_dictionaries_and_not_in_random_ones(tmp_path):
    assert cli.main(["run", "sphere", "--quick", "--out", str(tmp_path), *TINY_SPHERE]) == 0
    (folder,) = (tmp_path / "sphere").iterdir()
    results = json.loads((folder / "results.json").read_text())
    by_kind = {}
    for entry in results["dictionaries"]:
        by_kind.setdefault(entry["kind"], []).append(entry["metrics"])
    assert set(by_kind) == {"topk", "random"}
    # the recovery: a trained dictionary spends rows on the sphere's span …
    assert all(m["sphere_latents"] >= 1 and m["sphere_best_share"] >= sphere.SPAN_SHARE for m in by_kind["topk"])
    # … and its counterpart, chance, must not: a random unit row puts 4/d of its energy there on average
    assert all(m["sphere_latents"] == 0 and m["sphere_best_share"] < sphere.SPAN_SHARE for m in by_kind["random"])
    assert {p.name for p in (folder / "figures").iterdir()} == {"sphere_latents.png", "sparse_recovery.png"}
    assert len(list((folder / "dictionaries").iterdir())) == 2  # the trained ones, in SAELens' format
    # toylab evaluate re-runs the study's graders too, and every re-scored number equals the run's own
    assert cli.main(["evaluate", str(folder)]) == 0
    rescored = json.loads((folder / "dictionaries" / "results.json").read_text())
    graded = [row for row in rescored["table"] if row["reader"] == "grader"]
    assert {row["metric"] for row in graded} == {"sphere_latents", "sphere_best_share"} and len(graded) == 4
    agreement = rescored["agreement_with_run"]
    assert agreement["compared"] == len(rescored["table"]) and agreement["equal"] == agreement["compared"]


def test_the_grader_reads_the_planted_span():
    toy = sphere.STUDY.evaluation_source(sphere.Config.quick())["toy"]
    span = sphere._span_shares(toy.bases[0], toy)  # the basis rows themselves: all their energy in the span
    assert span.min() > 0.999
    assert sphere.grade_sphere(toy.bases[0], toy)["sphere_latents"] == 3
