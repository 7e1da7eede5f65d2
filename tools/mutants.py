"""Tests that can fail: each test named below run against a deliberately broken copy of the code (a plausible
bug: a sign, an off-by-one, a normalisation, a dropped term). It must fail there, and passes on the original.

    .venv/bin/python tools/mutants.py [INDEX ...]

Each mutant is a (what, file, old text, new text, test) row; the copy is made in /tmp/mutcopy and removed
by the next row.
"""

import pathlib
import shutil
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent
COPY = pathlib.Path("/tmp/mutcopy")
MUTANTS = [
    (
        "a 'linear' network that still applies ReLU",
        "toys/semantic.py",
        'self.fold = config.activation == "relu"',
        "self.fold = True",
        "tests/test_semantic.py::test_a_linear_network_has_one_region_along_any_line",
    ),
    (
        "line_regions never splits a piece",
        "sae/readers/folding.py",
        "        if fold:\n            split = []",
        "        if False:\n            split = []",
        "tests/test_semantic.py::test_zoom_out_results_contract",
    ),
    (
        "children not scaled by their parent (both samplers)",
        "toys/synthetic_model.py",
        "jnp.where(model.rescale[:f], parent_value / scale_by_mean, (parent_value > 0).astype(raw.dtype))",
        "(parent_value > 0).astype(raw.dtype)",
        "tests/test_synthetic_model.py::test_sparse_and_dense_samplers_agree_and_obey_the_hierarchy",
    ),
    (
        "oracle noise not divided by √d",
        "sae/classical.py",
        "noise * jax.random.normal(key, (m, d)) / jnp.sqrt(d)",
        "noise * jax.random.normal(key, (m, d))",
        "tests/test_pipeline.py::test_oracle_baseline_is_the_truth_plus_noise_of_the_stated_size",
    ),
    (
        "BatchTopK threshold off by one (second smallest kept)",
        "sae/architectures.py",
        "    smallest = jnp.min(positive)\n    return jnp.where(jnp.isfinite(smallest), smallest, 0.0)",
        "    smallest = jnp.sort(positive.ravel())[1]\n    return jnp.where(jnp.isfinite(smallest), smallest, 0.0)",
        "tests/test_architectures.py::test_batchtopk_threshold_tracks_the_smallest_kept_activation",
    ),
    (
        "a circle's harmonic frequencies ignored",
        "toys/manifolds.py",
        "point = point + r * a * (jnp.cos(f * theta)[:, None] * basis[2 * j]",
        "point = point + r * a * (jnp.cos(theta)[:, None] * basis[2 * j]",
        "tests/test_manifolds.py::test_multi_frequency_circle_and_identity",
    ),
    (
        "k-means on centred data",
        "sae/classical.py",
        "kmeans2(np.asarray(x, np.float64), m,",
        "kmeans2(np.asarray(x, np.float64) - np.asarray(x, np.float64).mean(0), m,",
        "tests/test_baselines.py::test_kmeans_and_oracle_plus_noise",
    ),
    (
        "ε² for ε in a child's pull",
        "toys/trees.py",
        "directions[parents[rows]] + config.closeness * fresh[rows]",
        "directions[parents[rows]] + config.closeness**2 * fresh[rows]",
        "tests/test_trees_toy.py::test_closeness_pulls_children_towards_parents",
    ),
    (
        "Zipf exponent ignored",
        "toys/superposition.py",
        "weights = (rank + 1.0) ** (-config.zipf_exponent)",
        "weights = (rank + 1.0) ** (-1.0)",
        "tests/test_superposition_toy.py",
    ),
    (
        "linear profile off by one",
        "toys/superposition.py",
        "weights = config.n_features - rank",
        "weights = config.n_features - rank - 1",
        "tests/test_superposition_toy.py",
    ),
    (
        "a SAELens folder's b_dec dropped on load",
        "sae/saelens_format.py",
        '        b_dec=f32("b_dec"),',
        '        b_dec=np.zeros_like(f32("b_dec")),',
        "tests/test_evaluate_command.py::test_a_runs_dictionary_scored_as_a_foreign_folder_scores_as_the_run_scored_it",
    ),
    (
        "a refusal that prints a second line",
        "experiments/runner/cli.py",
        '        print(f"toylab: error: {error}", file=sys.stderr)\n'
        "        return EXIT_BAD_INPUT\n    runfolder.write_json(target, results)",
        '        print(f"toylab: error: {error}", file=sys.stderr)\n        print("see docs/usage.md", file=sys.stderr)\n'
        "        return EXIT_BAD_INPUT\n    runfolder.write_json(target, results)",
        "tests/test_fuzz_saved_and_paths.py::test_an_edited_saved_value_is_scored_or_refused_in_one_line",
    ),
    (
        "a placement that reads the latents in reverse",
        "sae/readers/knockoff.py",
        "return np.asarray(codes, np.float64) @ np.asarray(placement, np.float64)",
        "return np.asarray(codes, np.float64) @ np.asarray(placement, np.float64)[::-1]",
        "tests/test_knockoff.py::test_a_knockoff_placed_by_the_original_decoder_scores_as_the_original",
    ),
    (
        "a study that calls a finding method around the wall",
        "experiments/studies/feature_map.py",
        'verdicts["topk"].append(wall.apply(feature_map.placement_verdict, observations[g], ("codes", "decoder"), given).as_dict())',
        'verdicts["topk"].append(feature_map.placement_verdict(observations[g].codes, observations[g].decoder, '
        "seed=config.seed).as_dict())",
        "tests/test_wall.py::test_studies_call_a_finding_method_only_through_the_wall",
    ),
]


def main(only: list[str]) -> None:
    for i, (what, path, old, new, test) in enumerate(MUTANTS):
        if only and str(i) not in only:
            continue
        if COPY.exists():
            shutil.rmtree(COPY)
        shutil.copytree(
            SRC,
            COPY,
            ignore=shutil.ignore_patterns(".venv", ".git", ".hypothesis", "__pycache__", ".pytest_cache", ".ruff_cache"),
            symlinks=True,
        )
        text = (COPY / path).read_text()
        assert text.count(old) == 1, (what, text.count(old))
        (COPY / path).write_text(text.replace(old, new))
        r = subprocess.run(
            [str(SRC / ".venv/bin/python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
            cwd=COPY,
            capture_output=True,
            text=True,
        )
        tail = [line for line in r.stdout.splitlines() if line.startswith(("FAILED", "E "))][:2]
        print(f"[{i}] {what}: {path} -> {test.split('::')[-1]}: {'FAILS (caught)' if r.returncode else 'PASSES (missed)'}")
        for line in tail:
            print("      ", line[:200])
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
