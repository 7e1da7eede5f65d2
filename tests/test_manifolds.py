"""toys.manifolds and theory.circles: the planted truth is what the docstring says."""

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import circles
from toys import manifolds
from toys.engine.config import ConfigError


def _toy(*specs, d=16, sparse=0):
    config = manifolds.ManifoldConfig(d=d, manifolds=specs, n_sparse_features=sparse)
    config.validate()
    return manifolds.build(config, jax.random.key(0))


def test_discrete_circle_with_offset_lies_where_planted():
    spec = manifolds.ManifoldSpec("days", values=7, radius=1.5, offset=2.0, probability=0.5)
    toy = _toy(spec)
    s = manifolds.sample(toy, jax.random.key(1), 4000)
    x, present, theta = np.asarray(s.x), np.asarray(s.present[:, 0]), np.asarray(s.phases[:, 0, 0])
    assert abs(present.mean() - 0.5) < 0.03
    np.testing.assert_allclose(x[~present], 0.0)
    plane, offset = np.asarray(toy.plane(0)), np.asarray(toy.offsets[0])
    np.testing.assert_allclose(x[present] @ offset, 2.0, atol=1e-5)
    coordinates = x[present] @ plane.T
    np.testing.assert_allclose(np.linalg.norm(coordinates, axis=1), 1.5, atol=1e-5)
    difference = np.arctan2(coordinates[:, 1], coordinates[:, 0]) - theta[present]
    np.testing.assert_allclose(np.cos(difference), 1.0, atol=1e-6)
    assert set(np.round(theta[present] * 7 / (2 * np.pi)).astype(int)) == set(range(7))


@pytest.mark.parametrize("kind", ["helix", "torus", "sphere"])
def test_other_manifolds(kind):
    spec = manifolds.ManifoldSpec(kind, kind=kind, values=0, offset=0.0, probability=1.0, radius=1.0, radius2=0.5, rise=2.0)
    toy = _toy(spec)
    s = manifolds.sample(toy, jax.random.key(2), 2000)
    coordinates = np.asarray(s.x) @ np.asarray(toy.bases[0]).T
    np.testing.assert_allclose(np.linalg.norm(np.asarray(s.x), axis=1), np.linalg.norm(coordinates, axis=1), rtol=1e-4)
    if kind == "sphere":
        np.testing.assert_allclose(np.linalg.norm(coordinates, axis=1), 1.0, atol=1e-5)
        assert abs(np.mean(coordinates[:, 2])) < 0.05  # uniform on the sphere: E[z] = 0
    elif kind == "torus":
        np.testing.assert_allclose(np.linalg.norm(coordinates[:, 2:], axis=1), 0.5, atol=1e-5)
    else:
        t = np.asarray(s.phases[:, 0, 1])
        np.testing.assert_allclose(coordinates[:, 2], 2.0 * (t - 0.5), atol=1e-5)


def test_multi_frequency_circle_and_identity():
    spec = manifolds.ManifoldSpec("multi", values=12, frequencies=(1, 3), amplitudes=(1.0, 0.5), offset=1.0, probability=1.0, identity=0.3)
    toy = _toy(spec, d=24, sparse=8)
    s = manifolds.sample(toy, jax.random.key(3), 500)
    assert toy.bases[0].shape == (4, 24)
    assert s.codes.shape == (500, 8)
    # x = sparse features + offset + Σ_f a_f (cos fθ u_f + sin fθ v_f) + s·ι_value, each term from its definition
    theta = np.asarray(s.phases[:, 0, 0])
    value = np.round(theta * 12 / (2 * np.pi)).astype(int) % 12
    assert set(value) == set(range(12))
    u1, v1, u3, v3 = np.asarray(toy.bases[0])
    np.testing.assert_allclose(np.asarray(toy.bases[0]) @ np.asarray(toy.bases[0]).T, np.eye(4), atol=1e-5)
    identities = np.asarray(toy.identities[0])
    np.testing.assert_allclose(np.linalg.norm(identities, axis=1), 1.0, atol=1e-5)
    circle = (
        np.cos(theta)[:, None] * u1
        + np.sin(theta)[:, None] * v1
        + 0.5 * (np.cos(3 * theta)[:, None] * u3 + np.sin(3 * theta)[:, None] * v3)
    )
    rest = np.asarray(s.x) - np.asarray(s.codes) @ np.asarray(toy.sparse.directions) - np.asarray(toy.offsets[0])
    np.testing.assert_allclose(rest - circle, 0.3 * identities[value], atol=1e-4)
    # the frequency-3 harmonic is there: its coordinates trace cos 3θ, not cos θ
    assert np.corrcoef((rest - 0.3 * identities[value]) @ u3, np.cos(3 * theta))[0, 1] > 0.999


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("values", 2, "days.values"),
        ("probability", 0.0, "days.probability"),
        ("d", 4, "d: got 4"),
    ],
)
def test_bad_config_names_the_field(field, value, message):
    spec = manifolds.DAYS
    config = manifolds.ManifoldConfig(d=16, manifolds=(spec,))
    if field == "d":
        config = manifolds.ManifoldConfig(d=value, manifolds=(spec, manifolds.MONTHS))
    else:
        import dataclasses

        config = manifolds.ManifoldConfig(d=16, manifolds=(dataclasses.replace(spec, **{field: value}),))
    with pytest.raises(ConfigError, match=message):
        config.validate()


@given(st.integers(3, 64))
def test_polygon_bounds_match_exact_estimator(m):
    # a grid that holds every midpoint between neighbouring atoms (where the worst error sits), so
    # the sampled maximum is the exact one and not a grid step short of it (m = 32 missed it by 0.3%)
    theta = np.linspace(0, 2 * np.pi, 2 * m * 200, endpoint=False)
    points = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    errors = circles.one_sparse_errors(circles.polygon_atoms(m), points)
    np.testing.assert_allclose(errors.mean(), circles.one_sparse_error_mean(m), rtol=1e-2)
    np.testing.assert_allclose(errors.max(), circles.one_sparse_error_worst(m), rtol=1e-3)
