"""sae.readers.feature_map and the feature-map study: the neighbour statistics against hand-computed
values, the verdict on planted placements (claimed where only the placement holds structure; not where
the statistics explain it, nor on random placements: the counterparts), bad input in one line."""

import json

import jax
import numpy as np
import pytest
from cli_args import sets
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.runner import cli
from sae.readers import feature_map
from toys import placements


def _ring(m: int) -> np.ndarray:
    theta = 2 * np.pi * np.arange(m) / m
    return np.stack([np.cos(theta), np.sin(theta)], axis=1)


def test_a_ring_lattice_has_the_textbook_clustering_coefficient():
    # points on a circle, k = 2: each latent's neighbours are the next two on each side only when the
    # graph is symmetrised... here k nearest = the two adjacent (±1): a cycle, clustering 0; k = 4 (±1, ±2):
    # the ring lattice of degree K = 4, whose clustering coefficient is 3(K − 2) / (4(K − 1)) = 1/2
    assert feature_map.neighbour_clustering(_ring(30), 2) == pytest.approx(0.0)
    assert feature_map.neighbour_clustering(_ring(30), 4) == pytest.approx(0.5)


def test_overlap_is_one_with_itself_and_chance_under_relabelling():
    rows = np.random.default_rng(0).normal(size=(60, 8))
    sets = feature_map.neighbours(rows, 5)
    assert feature_map.neighbour_overlap(sets, sets) == 1.0
    rng = np.random.default_rng(1)
    shuffled = [feature_map.neighbour_overlap(sets, np.argsort(p)[sets[p]]) for p in (rng.permutation(60) for _ in range(200))]
    assert np.mean(shuffled) == pytest.approx(5 / 59, abs=0.01)


def _verdict(placement: str, firing: str, seed: int, groups: int = 8, closeness: float = 0.3):
    config = placements.PlacementConfig(
        n_features=48, d=24, mean_l0=3.0, placement=placement, firing=firing, groups=groups, closeness=closeness
    )
    toy = placements.build(config, jax.random.key(seed))
    batch = toy.sample(jax.random.key(seed + 1), 8192)
    codes = placements.true_codes(batch)
    return feature_map.placement_verdict(codes, np.asarray(toy.directions), seed=seed, k=6, n_null=60)


# a grid of drawn settings (placement, seed, groups, closeness); the verdict is a test at level α = 0.05 on
# each, so a rate is asserted, with a bound from the binomial: at most 2 misses in 8 has probability
# > 0.99 when each miss has probability 0.05
GRID = [
    (["clusters", "circle", "tree"][int(r.integers(3))], int(r.integers(1000)), int(r.integers(4, 9)), float(r.uniform(0.1, 0.4)))
    for r in [np.random.default_rng(20261207)]
    for _ in range(8)
]


def test_placement_without_statistics_is_claimed_and_with_them_is_not():
    alone = [_verdict(placement, "independent", seed, groups, closeness) for placement, seed, groups, closeness in GRID]
    assert all(v.structured for v in alone) and sum(v.claimed for v in alone) >= 6, [v.as_dict() for v in alone]
    # counterpart: the same placements, firing with their neighbours: the statistics place the latents
    explained = [_verdict(placement, "placement", seed, groups, closeness) for placement, seed, groups, closeness in GRID]
    assert all(v.structured for v in explained) and sum(v.claimed for v in explained) <= 2, [v.as_dict() for v in explained]
    assert min(v.explained for v in explained) > 0.3 > max(v.explained for v in alone)


@settings(max_examples=4, derandomize=True, deadline=None)
@given(st.sampled_from(["shuffled", "independent"]), st.integers(0, 1000))
def test_random_placement_is_never_structured(firing, seed):
    # counterpart: statistics without placement (correlated firing on random directions), and neither
    verdict = _verdict("random", firing, seed)
    assert not verdict.structured and not verdict.claimed, verdict.as_dict()


@pytest.mark.parametrize(
    "rows, message",
    [
        (np.ones((5, 4)), "got 5 latents, allowed at least k \\+ 2 = 12"),
        (np.vstack([np.full((1, 4), np.nan), np.ones((19, 4))]), "rows \\[0\\] are not finite"),
        (np.ones((1, 4)), "got 1 latents"),
        (np.vstack([np.zeros((1, 4)), np.ones((19, 4))]), "1 rows are zero"),
    ],
)
def test_bad_rows_are_refused_in_one_line(rows, message):
    with pytest.raises(ValueError, match=message) as error:
        feature_map.placement_verdict(np.ones((10, len(rows))), rows, seed=0)
    assert "\n" not in str(error.value)


TINY = sets(
    "toy.n_features=16",
    "toy.d=8",
    "toy.groups=4",
    "toy.mean_l0=1",
    "sae_size=16",
    "k=1",
    "n_seeds=1",
    "steps=40",
    "batch_size=64",
    "n_eval=512",
    "neighbours=4",
    "n_null=20",
    "umap_neighbors=5",
)


def test_feature_map_results_contract(tmp_path):
    assert cli.main(["run", "feature-map", "--quick", "--out", str(tmp_path), *TINY]) == 0
    (folder,) = (tmp_path / "feature-map").iterdir()
    results = json.loads((folder / "results.json").read_text())
    assert [c["family"] for c in results["cells"]].count("placement only") == 3
    for cell in results["cells"]:
        assert set(cell["verdicts"]) == {"planted (ceiling)", "topk", "random"}
        assert len(cell["verdicts"]["topk"]) == len(cell["verdicts"]["random"]) == 1
    planted = {c["name"]: c["verdicts"]["planted (ceiling)"][0]["claimed"] for c in results["cells"]}
    assert planted["random, independent"] is False and planted["random, correlated"] is False
    assert set(results["false_claims"]) == {"planted (ceiling)", "topk", "random"}
    assert {p.name for p in (folder / "figures").iterdir()} == {"verdict.png", "maps.png", "maps.html"}
    page = (folder / "figures" / "maps.html").read_text()
    assert "plotly" in page and "best planted feature" in page and "firing rate" in page  # hover text per latent
    assert cli.main(["report", str(tmp_path)]) == 0  # the report frames the interactive map
    assert '<iframe src="../feature-map/' in (tmp_path / "report" / "index.html").read_text()


def test_too_few_latents_for_the_neighbour_graph_is_one_line(tmp_path, capsys):
    assert cli.main(["run", "feature-map", "--quick", "--out", str(tmp_path), "--set", "sae_size=8"]) == 2
    assert capsys.readouterr().err.strip() == "toylab: error: sae_size: got 8, allowed at least neighbours + 2 = 12"
    assert not (tmp_path / "feature-map").exists()


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def _saved(tmp_path, m: int, poison: bool = False):
    from sae import pipeline, saelens_format

    params = jax.tree.map(lambda a: np.asarray(a[0]), pipeline.baseline("gaussian", jax.random.split(jax.random.key(0), 1), 8, m))
    if poison:
        params = params.replace(W_dec=np.where(np.arange(m)[:, None] == 0, np.nan, params.W_dec))
    return saelens_format.save(tmp_path / f"sae-{m}", "topk", params, k=1)


def test_map_draws_a_saelens_folder_and_a_run_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["map", str(FIXTURES / "saelens_topk"), "--out", str(out), "--neighbours", "3", "--umap-neighbors", "5"]) == 0
    (folder,) = (out / "map").iterdir()
    (entry,) = json.loads((folder / "results.json").read_text())["dictionaries"]
    assert entry["name"] == "saelens_topk" and entry["latents"] == 12 and 0 <= entry["structure"] <= 1
    assert (folder / "figures" / "saelens_topk.png").is_file()


@pytest.mark.parametrize(
    "case, message",
    [
        ("one latent", "got 1 latents"),
        ("too few for UMAP", "allowed more than --umap-neighbors = 15"),
        ("NaN rows", "entries are NaN/inf"),
        ("not a dictionary", "is neither an SAE folder"),
    ],
)
def test_map_refuses_bad_dictionaries_in_one_line_writing_nothing(tmp_path, capsys, case, message):
    folder = {
        "one latent": lambda: _saved(tmp_path, 1),
        "too few for UMAP": lambda: _saved(tmp_path, 14),
        "NaN rows": lambda: _saved(tmp_path, 20, poison=True),
        "not a dictionary": lambda: tmp_path,
    }[case]()
    out = tmp_path / "out"
    capsys.readouterr()
    assert cli.main(["map", str(folder), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("toylab: error: ") and "\n" not in error and message in error, error
    assert not (out / "map").exists()


@settings(max_examples=12, derandomize=True, deadline=None)
@given(st.sampled_from(["--seed", "--neighbours", "--umap-neighbors"]), st.one_of(st.integers(-5, 14), st.integers(2**31 - 2, 2**40)))
def test_any_map_option_value_draws_or_is_refused_in_one_line(flag, value):
    # the options of `toylab map` on a 12-latent SAELens folder: a value it can use draws the map, any
    # other is one line, exit 2, nothing written (the other two options at values that fit 12 latents)
    import contextlib
    import io
    import tempfile

    options = {"--seed": "0", "--neighbours": "3", "--umap-neighbors": "5", flag: str(value)}
    with tempfile.TemporaryDirectory() as out:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(["map", str(FIXTURES / "saelens_topk"), "--out", out, *[part for pair in options.items() for part in pair]])
        assert code in (0, 2)
        written = __import__("pathlib").Path(out, "map")
        if code == 2:
            line = err.getvalue().strip()
            assert line.startswith("toylab: error: ") and "\n" not in line and "Traceback" not in line, line
            assert not written.exists()
        else:
            assert len(list(written.iterdir())) == 1
