"""sae.readers.knockoff and the `knockoff` run: each placement keeps what its explanation says.

Negative controls: a knockoff whose placement equals the original decoder scores exactly as
the original space (the must-match case); random placement keeps norms and nothing else.
"""

import json

import jax
import numpy as np
from cli_args import sets
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.runner import cli
from sae.readers import knockoff
from toys import network_training


@settings(max_examples=8)
@given(st.integers(2, 12), st.integers(12, 20), st.integers(0, 1000))
def test_correlation_placement_reproduces_the_correlations_when_feasible(m, d, seed):
    rng = np.random.default_rng(seed)
    codes = np.maximum(rng.normal(size=(400, m)) @ rng.normal(size=(m, m)), 0)
    decoder = rng.normal(size=(m, d))
    placed = knockoff.correlation_placement(rng, codes, decoder)
    assert placed.feasible and placed.relative_error < 1e-8  # m ≤ d: rank R ≤ d
    unit = placed.placement / np.linalg.norm(placed.placement, axis=1, keepdims=True)
    np.testing.assert_allclose(unit @ unit.T, np.corrcoef(codes, rowvar=False), atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(placed.placement, axis=1), np.linalg.norm(decoder, axis=1))


def test_correlation_placement_says_when_it_cannot_be_exact():
    rng = np.random.default_rng(0)
    codes = rng.random(size=(500, 30))
    placed = knockoff.correlation_placement(rng, codes, rng.normal(size=(30, 4)))  # m = 30 > d = 4
    assert not placed.feasible and placed.relative_error > 0.1


def test_random_placement_keeps_norms_and_nothing_else():
    rng = np.random.default_rng(1)
    decoder = rng.normal(size=(50, 16))
    placed = knockoff.random_placement(rng, decoder)
    np.testing.assert_allclose(np.linalg.norm(placed, axis=1), np.linalg.norm(decoder, axis=1))
    cosines = np.sum(placed * decoder, axis=1) / np.linalg.norm(placed, axis=1) / np.linalg.norm(decoder, axis=1)
    assert np.abs(cosines).mean() < 0.4  # random in 16 dims: |cos| ≈ 0.2


def test_described_placement_keeps_only_the_order_radius_and_offset():
    rng = np.random.default_rng(4)
    d, n = 12, 9
    frame = np.linalg.qr(rng.normal(size=(d, 3)))[0]
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))  # unevenly spaced, in a shuffled latent order
    shuffle = rng.permutation(n)
    circle = 3.0 * frame[:, 2] + 0.5 * (np.cos(angles)[:, None] * frame[:, 0] + np.sin(angles)[:, None] * frame[:, 1])
    decoder = np.vstack([circle[shuffle], rng.normal(size=(5, d))])
    description = knockoff.describe_circle(decoder, np.arange(n))
    # the order read back is the cyclic order of the angles (up to rotation and reflection)
    read = shuffle[description.latents]  # latent i sits at position shuffle[i] on the circle
    steps = np.diff(np.concatenate([read, read[:1]])) % n
    assert set(steps) <= {1} or set(steps) <= {n - 1}
    assert abs(description.offset - 3.0) < 0.3 and 0.3 < description.radius < 0.6
    placed = knockoff.described_placement(rng, decoder, [description])
    # equal spacing: every neighbour pair in the order is equally far apart; the exact Gram is not kept
    ring = placed[description.latents]
    gaps = np.linalg.norm(ring - np.roll(ring, -1, axis=0), axis=1)
    np.testing.assert_allclose(gaps, gaps[0], rtol=1e-9)
    assert np.abs(ring @ ring.T - circle[shuffle][description.latents] @ circle[shuffle][description.latents].T).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(placed[n:], axis=1), np.linalg.norm(decoder[n:], axis=1))


def test_group_coordinates_placement_keeps_a_circles_angles_radii_and_offset():
    rng = np.random.default_rng(2)
    d, n = 12, 8
    frame = np.linalg.qr(rng.normal(size=(d, 3)))[0]
    angles = 2 * np.pi * np.arange(n) / n
    circle = 3.0 * frame[:, 2] + 0.5 * (np.cos(angles)[:, None] * frame[:, 0] + np.sin(angles)[:, None] * frame[:, 1])
    decoder = np.vstack([circle, rng.normal(size=(5, d))])
    placed = knockoff.group_coordinates_placement(rng, decoder, [np.arange(n)])
    # the same Gram within the group (rotation-invariant description), a different frame
    np.testing.assert_allclose(placed[:n] @ placed[:n].T, circle @ circle.T, atol=1e-9)
    assert np.abs(placed[:n] - circle).max() > 0.1
    np.testing.assert_allclose(np.linalg.norm(placed[n:], axis=1), np.linalg.norm(decoder[n:], axis=1))


def test_a_knockoff_placed_by_the_original_decoder_scores_as_the_original():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 6))
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + 2 * (x[:, 2] > 0)
    codes, decoder = np.maximum(np.concatenate([x, -x], axis=1), 0), np.vstack([np.eye(6), -np.eye(6)])
    same = knockoff.reconstruction(codes, decoder)
    np.testing.assert_allclose(same, x, atol=1e-12)
    # the placement path every space goes through, with the latents relabelled (codes' columns and the
    # decoder's rows permuted together): a placement is a set of latents, not a list, so this is x again
    perm = rng.permutation(12)
    relabelled = knockoff.place(codes[:, perm], decoder[perm])
    np.testing.assert_allclose(relabelled, x, atol=1e-12)
    random = knockoff.place(codes, knockoff.random_placement(rng, decoder))
    mask = np.arange(300) < 200
    key = jax.random.key(0)
    keys = jax.numpy.stack([key, key, key, jax.random.key(1)])  # the first three heads start alike
    heads = network_training.train_heads(
        np.stack([x, same, relabelled, random]),
        labels,
        np.stack([mask] * 4),
        keys,
        hidden=32,
        learning_rate=3e-3,
        weight_decay=0.0,
        steps=300,
    )
    assert heads.test_accuracy[0] > 0.8  # the head learns the task, so matching it means something
    assert heads.test_accuracy[1] == heads.test_accuracy[0] and heads.test_accuracy[2] == heads.test_accuracy[0]
    assert heads.test_accuracy[3] != heads.test_accuracy[0]  # counterpart: another placement, another head


TINY = sets(
    "toy.p=11",
    "toy.steps=300",
    "toy.hidden=32",
    "toy.embed_dim=8",
    "sae_size=16",
    "k=2",
    "sae_steps=100",
    "sae_batch_size=64",
    "train_fractions=0.3,0.5",
    "calendar_samples=400",
    "calendar_train_sizes=49,98",
    "calendar_steps=100",
    "calendar_sae_size=16",
    "calendar_d=12",
    "calendar_sparse_features=8",
)


def test_knockoff_results_contract(tmp_path):
    assert cli.main(["run", "knockoff", "--quick", "--out", str(tmp_path), *TINY]) == 0
    folder = next((tmp_path / "knockoff").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert [n["name"] for n in results["networks"]] == ["modular", "calendar"]
    for n in results["networks"]:
        assert [s["space"] for s in n["spaces"]] == [
            "reconstruction",
            "random_placement",
            "correlation_placement",
            "group_coordinates",
            "described_geometry",
            "original",
        ]
        for s in n["spaces"]:
            assert 0.0 <= s["heldout_accuracy"] <= 1.0
            assert len(s["accuracy_by_train_size"]) == 2
            assert (s["original_head_accuracy"] is None) == (s["space"] not in ("original", "reconstruction"))
    assert {p.name for p in (folder / "figures").iterdir()} == {"knockoff_accuracy.png"}
