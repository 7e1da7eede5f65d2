"""Circle recovery scored as MMCS is (sae.evaluate.CIRCLES): streamed over chunks, equal to a
NumPy reference on the same samples; a dictionary tiling the planted circle reads as tiled, a random
one (its counterpart) does not."""

import jax
import jax.numpy as jnp
import numpy as np

from sae import architectures, evaluate, metrics
from sae.params import from_decoder, stack
from toys import manifolds

D, N, CHUNK = 16, 6000, 2000


def _toy():
    spec = manifolds.ManifoldSpec("ring", kind="circle", values=0, offset=0.0, probability=0.6)
    return manifolds.build(manifolds.ManifoldConfig(D, (spec,), 8, 1.0), jax.random.key(0))


def _dictionaries(toy):
    plane = np.asarray(toy.plane(0))  # [2, d]
    angles = np.arange(8) * 2 * np.pi / 8
    tiling = np.concatenate(
        [np.cos(angles)[:, None] * plane[0] + np.sin(angles)[:, None] * plane[1], np.asarray(toy.features)]
    )  # 8 rows around the circle + the sparse features
    random = np.random.default_rng(0).normal(size=tiling.shape)
    return stack([from_decoder(jnp.asarray(tiling, jnp.float32)), from_decoder(jnp.asarray(random, jnp.float32))])


def _reference(toy, params, key):
    """The same numbers from every sample at once (the chunks' keys as evaluate draws them)."""
    batches = [toy.sample(jax.random.fold_in(key, i), CHUNK) for i in range(N // CHUNK)]
    x = np.concatenate([np.asarray(b.x) for b in batches])
    present = np.concatenate([np.asarray(b.truth["present"][:, 0]) for b in batches])
    theta = np.concatenate([np.asarray(b.truth["phases"][:, 0, 0]) for b in batches])
    hps = stack([architectures.hparams(1e-3, 0.0, 1)] * 2)
    from sae import pipeline

    codes = np.asarray(pipeline.encode("topk", params, hps, x), np.float64)  # [2, n, m]
    span = np.asarray(manifolds.subspace(toy, 0), np.float64)  # the plane and the offset direction
    out = []
    for g in range(2):
        rows = np.asarray(params.W_dec[g], np.float64)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        energy = np.sum((rows @ span.T) ** 2, axis=1)
        live = (codes[g] > 0).any(axis=0)
        group = live & (energy >= metrics.ON_PLANE_SHARE)
        a = codes[g][:, group] * present[:, None]
        weight, cos, sin = a.sum(0), (a * np.cos(theta)[:, None]).sum(0), (a * np.sin(theta)[:, None]).sum(0)
        fired = weight > 0
        out.append(
            {
                "span_latents": int(group.sum()),
                "phase_max_gap_deg": metrics.max_circular_gap_deg(np.arctan2(sin[fired], cos[fired])),
                "phase_tuning": float(np.mean(np.hypot(cos, sin)[fired] / weight[fired])) if fired.any() else None,
            }
        )
    return out


def test_streamed_circle_scores_equal_the_reference_and_tell_tiling_from_chance():
    toy = _toy()
    params = _dictionaries(toy)
    hps = stack([architectures.hparams(1e-3, 0.0, 1)] * 2)
    key = jax.random.key(3)
    spans = np.asarray(manifolds.subspace(toy, 0))[None]
    scores = evaluate.evaluate("topk", params, hps, toy, key=key, n_eval=N, chunk=CHUNK, spans=spans, metrics=(evaluate.CIRCLES,))
    reference = _reference(toy, params, key)
    for got, want in zip(scores, reference):
        circle = got["circles"][0]
        assert circle["span_latents"] == want["span_latents"]
        assert abs(circle["phase_max_gap_deg"] - want["phase_max_gap_deg"]) < 1e-3
        if want["phase_tuning"] is None:
            assert circle["phase_tuning"] is None
        else:
            assert abs(circle["phase_tuning"] - want["phase_tuning"]) < 1e-4
    tiled, random = scores[0]["circles"][0], scores[1]["circles"][0]
    assert tiled["span_latents"] >= 8 and tiled["phase_max_gap_deg"] < 60  # the 8 circle rows (and any feature near w)
    # the counterpart: random rows rarely hold half their energy in one planted 3-dim span of R^16, never tiling it
    assert random["span_latents"] <= 1 and random["phase_max_gap_deg"] == 360.0


def test_max_circular_gap():
    assert metrics.max_circular_gap_deg([]) == 360.0
    assert abs(metrics.max_circular_gap_deg(np.arange(4) * np.pi / 2) - 90.0) < 1e-9
    assert abs(metrics.max_circular_gap_deg([0.0, np.pi / 2]) - 270.0) < 1e-9
