"""SAELens' synthetic-model family (`sae_lens.synthetic`, the model behind SynthSAEBench), in JAX.

Axes: n samples, F features, d dims, r correlation rank, A active slots per sample.

Truth (SAELens' `SyntheticModel.sample`, Chanin & Garriga-Alonso 2026):
    x = Σ_f c_f w_f + b,
with w_f the unit feature vectors (rows of `feature_vectors` [F, d]) and b the bias.
The codes c are drawn in three steps:
1. Firing. z = ε Φᵀ + η ⊙ √δ, with ε ~ N(0, I_r), η ~ N(0, I_F), the correlation factor
   Φ [F, r] and diagonal δ = 1 − ‖Φ_f‖² (so each z_f is standard normal; a Gaussian
   copula). Feature f fires when z_f > t_f = Φ⁻¹(1 − p_f), so P(fire) = p_f exactly,
   with p the stored firing probabilities. Without correlation, r = 0 and z = η.
2. Magnitude. A firing feature takes c_f = max(0, μ_f + σ_f ξ), ξ ~ N(0, 1).
3. Hierarchy (`toys.synthetic_hierarchy`): children off when their parent is off,
   optionally scaled by parent value / μ_parent; mutually exclusive siblings keep one
   random winner among those with c > 0.

Building from a config follows SAELens exactly (`build`): Zipfian/linear/random/constant
probabilities, the hierarchy and its probability compensation, per-feature magnitudes,
the low-rank factor (rows capped so that δ ≥ 0.01), random unit vectors and a random bias
of the configured norm, all drawn from the same seeded PyTorch streams
(`toys.torch_rng`), so a SAELens config gives SAELens' model; then the dictionary is
orthogonalised by Adam on SAELens' loss Σ_{i≠j} (w_i·w_j)² + F Σ_i (‖w_i‖² − 1)²
(`orthogonalize`, jitted: its gradient 4[W(WᵀW) − ‖w‖²w + F(‖w‖² − 1)w] costs O(F d²)
instead of SAELens' chunked O(F² d)) and renormalised.

Sampling (`SyntheticModel.sample`) is sparse and exact in distribution:
- Roots and features outside the hierarchy ("level 0") fire by `toys.sparse_firing`:
  given the copula factors ε, the most frequent draw a Bernoulli each and the rest come
  from a thinned Poisson process with a per-block envelope, exact (its docstring proves it).
- Children are drawn only under parents that are on (the rules switch off every other
  child, whatever it drew), one Bernoulli each with q_f(ε), level by level, with mutual
  exclusion among the children of each parent.
- Cost per sample: O(r F₀) for the factor scores of the level-0 features (F₀ of them;
  a BLAS matmul with r = 25 ≪ d, needed because every feature's rate depends on its own
  score), O(F₀ / block) envelope rates, and O((events + children) r + A d) for the rest;
  no [n, F] uniform or normal draw and no [n, F] × [F, d] product.
- The active sets live in fixed buffers (sizes from a pilot draw). If any sample of a
  batch overflows a buffer, that batch is drawn again by the dense reference sampler
  (`sample_dense`, a line-by-line transcription of SAELens), so the distribution of x is
  exact always; the sparse codes could then lose entries only if a sample has more than
  `capacity` active features, which is flagged in `truth["codes_truncated"]`.

Codes come back as `SparseCodes` (indices and values per sample).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Self

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from toys import sparse_firing
from toys import synthetic_hierarchy as hierarchy_module
from toys.engine import loop
from toys.engine.config import check_choice, check_fields, check_range, setting
from toys.engine.runtime import Runtime
from toys.protocol import Batch
from toys.sparse_firing import PILOT_SAMPLES, CopulaFiring, SparseCodes
from toys.torch_rng import TorchGenerator

# --- the config, in SAELens' JSON form ----------------------------------------------------

PROBABILITY_GENERATORS = ("zipfian", "linear", "random", "constant")
MAGNITUDE_GENERATORS = ("constant", "linear", "exponential", "folded_normal")


@dataclasses.dataclass(frozen=True)
class Generator:
    """A registered SAELens generator: its `generator_name` and keyword fields."""

    generator_name: str
    fields: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str, default=None):
        return dict(self.fields).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {**dict(self.fields), "generator_name": self.generator_name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Generator":
        d = dict(d)
        return cls(d.pop("generator_name"), tuple(sorted(d.items())))


def zipfian(exponent=1.0, max_prob=0.3, min_prob=0.01) -> Generator:
    return Generator("zipfian", (("exponent", exponent), ("max_prob", max_prob), ("min_prob", min_prob)))


@dataclasses.dataclass(frozen=True)
class SyntheticModelConfig:
    """SAELens' `SyntheticModelConfig`: the same fields, defaults and `synthetic_model_config.json`.

    firing_probability: a Generator (zipfian, linear, random, constant);
    hierarchy: a HierarchyConfig or None; orthogonalization: {num_steps, lr, chunk_size}
    or None; correlation: {rank, correlation_scale, seed} or None (as tuples of pairs);
    std/mean_firing_magnitudes: a float or a Generator (constant, linear, exponential,
    folded_normal); bias: False, True (norm 1) or a norm; seed: the base seed (SAELens
    offsets it: +1 std magnitudes, +2 mean magnitudes, +3 hierarchy, +4 correlation).
    """

    if TYPE_CHECKING:  # flax.struct.dataclass adds it at run time; declared here for the type checker

        def replace(self, **changes: Any) -> Self: ...

    num_features: int
    hidden_dim: int
    firing_probability: Generator = dataclasses.field(default_factory=zipfian)
    hierarchy: hierarchy_module.HierarchyConfig | None = None
    orthogonalization: tuple[tuple[str, Any], ...] | None = None
    correlation: tuple[tuple[str, Any], ...] | None = None
    std_firing_magnitudes: float | Generator = 0.0
    mean_firing_magnitudes: float | Generator = 1.0
    bias: bool | float = 1.0
    dtype: str = setting("float32", choices=("float32",))
    seed: int | None = None

    def validate(self) -> None:
        check_fields(self)
        check_range("num_features", self.num_features, low=1)
        check_range("hidden_dim", self.hidden_dim, low=1)
        check_choice("firing_probability.generator_name", self.firing_probability.generator_name, PROBABILITY_GENERATORS)
        _check_probability_generator(self.firing_probability)
        for name in ("std_firing_magnitudes", "mean_firing_magnitudes"):
            value = getattr(self, name)
            if isinstance(value, Generator):
                check_choice(f"{name}.generator_name", value.generator_name, MAGNITUDE_GENERATORS)
                _check_magnitude_generator(name, value)
            else:
                check_range(name, float(value), low=0)
        if self.hierarchy is not None:
            self.hierarchy.validate()
        if self.correlation is not None:
            check_range("correlation.rank", dict(self.correlation)["rank"], low=1)
            check_range("correlation.correlation_scale", dict(self.correlation)["correlation_scale"], low=0)
        if self.orthogonalization is not None:
            check_range("orthogonalization.num_steps", dict(self.orthogonalization)["num_steps"], low=0)

    def to_dict(self) -> dict[str, Any]:
        magnitude = lambda v: v.to_dict() if isinstance(v, Generator) else v  # noqa: E731
        return {
            "num_features": self.num_features,
            "hidden_dim": self.hidden_dim,
            "firing_probability": self.firing_probability.to_dict(),
            "hierarchy": None if self.hierarchy is None else self.hierarchy.to_dict(),
            "orthogonalization": None if self.orthogonalization is None else dict(self.orthogonalization),
            "correlation": None if self.correlation is None else dict(self.correlation),
            "std_firing_magnitudes": magnitude(self.std_firing_magnitudes),
            "mean_firing_magnitudes": magnitude(self.mean_firing_magnitudes),
            "bias": self.bias,
            "dtype": self.dtype,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SyntheticModelConfig":
        magnitude = lambda v: Generator.from_dict(v) if isinstance(v, dict) else float(v)  # noqa: E731
        pairs = lambda v: None if v is None else tuple(sorted(v.items()))  # noqa: E731
        return cls(
            num_features=int(d["num_features"]),
            hidden_dim=int(d["hidden_dim"]),
            firing_probability=Generator.from_dict(d["firing_probability"]),
            hierarchy=None if d.get("hierarchy") is None else hierarchy_module.HierarchyConfig.from_dict(d["hierarchy"]),
            orthogonalization=pairs(d.get("orthogonalization")),
            correlation=pairs(d.get("correlation")),
            std_firing_magnitudes=magnitude(d.get("std_firing_magnitudes", 0.0)),
            mean_firing_magnitudes=magnitude(d.get("mean_firing_magnitudes", 1.0)),
            bias=d.get("bias", 1.0),
            dtype=d.get("dtype", "float32"),
            seed=d.get("seed"),
        )


def synthsaebench_config(
    num_features: int = 16_384, hidden_dim: int = 768, seed: int = 42, orthogonalization_steps: int = 100
) -> SyntheticModelConfig:
    """SynthSAEBench-16k's config (Chanin & Garriga-Alonso 2026), or the same family at another size.

    Zipfian firing (exponent 0.5, p from 0.4 to 5e-4); 128 roots × branching 4 × depth 3,
    every parent's children mutually exclusive, compensated probabilities, children scaled
    by their parent; low-rank correlation (rank 25, scale 0.1); mean magnitudes linear
    from 5.0 (frequent) to 4.0 (rare); std magnitudes folded normal (mean 0.5, std 0.5);
    the dictionary orthogonalised for 100 steps at lr 3e-4; bias norm 0.5; seed 42.
    The number of roots scales with num_features (128 at 16,384).
    """
    roots = max(1, round(128 * num_features / 16_384))
    return SyntheticModelConfig(
        num_features=num_features,
        hidden_dim=hidden_dim,
        firing_probability=zipfian(0.5, 0.4, 5e-4),
        hierarchy=hierarchy_module.HierarchyConfig(
            total_root_nodes=roots,
            branching_factor=4,
            max_depth=3,
            mutually_exclusive_portion=1.0,
            mutually_exclusive_min_depth=0,
            mutually_exclusive_max_depth=None,
            compensate_probabilities=True,
            scale_children_by_parent=True,
        ),
        orthogonalization=(("chunk_size", 1024), ("lr", 3e-4), ("num_steps", orthogonalization_steps)),
        correlation=(("correlation_scale", 0.1), ("rank", 25), ("seed", None)),
        std_firing_magnitudes=Generator("folded_normal", (("max_value", None), ("mean", 0.5), ("min_value", None), ("std", 0.5))),
        mean_firing_magnitudes=Generator("linear", (("end", 4.0), ("start", 5.0))),
        bias=0.5,
        seed=seed,
    )


# --- building: SAELens' draws -------------------------------------------------------------


def _probability_bounds(generator: Generator) -> tuple[float, float]:
    """(max_prob, min_prob) of a zipfian, linear or random generator, with SAELens' defaults."""
    return generator.get("max_prob", 0.5 if generator.generator_name == "random" else 0.3), generator.get("min_prob", 0.01)


def _check_probability_generator(generator: Generator) -> None:
    """SAELens' checks of a firing-probability generator: zipfian exponent > 0, and
    0 < min_prob < max_prob ≤ 1 (zipfian, random) or 0 < min_prob ≤ max_prob ≤ 1 (linear)."""
    name, get, field = generator.generator_name, generator.get, "firing_probability."
    if name == "constant":
        check_range(field + "probability", get("probability", 0.1), low=0, high=1)
        return
    if name == "zipfian":
        check_range(field + "exponent", get("exponent", 1.0), low=0, low_open=True)
    high, low = _probability_bounds(generator)
    check_range(field + "max_prob", high, low=0, high=1, low_open=True)
    check_range(field + "min_prob", low, low=0, high=high, low_open=True, high_open=name != "linear")


def _check_magnitude_generator(field: str, generator: Generator) -> None:
    """SAELens' checks of a magnitude generator: linear and exponential start, end > 0;
    folded normal std > 0, min_value ≥ 0, max_value > 0, min_value ≤ max_value."""
    name, get = generator.generator_name, generator.get
    if name in ("linear", "exponential"):
        for bound in ("start", "end"):
            check_range(f"{field}.{bound}", get(bound), low=0, low_open=True)
    elif name == "folded_normal":
        check_range(f"{field}.std", get("std", 0.1), low=0, low_open=True)
        low, high = get("min_value"), get("max_value")
        if low is not None:
            check_range(f"{field}.min_value", low, low=0, high=high)
        if high is not None:
            check_range(f"{field}.max_value", high, low=0, low_open=True)


def firing_probabilities(generator: Generator, n: int, seed: int) -> np.ndarray:
    """SAELens' firing-probability generators (float32, as torch computes them)."""
    name = generator.generator_name
    if name == "constant":
        return np.full(n, generator.get("probability", 0.1), np.float32)
    high, low = map(np.float32, _probability_bounds(generator))
    if n == 1 and name != "random":
        return np.array([high], np.float32)
    if name == "zipfian":
        probs = np.float32(1.0) / np.arange(1, n + 1, dtype=np.float32) ** np.float32(generator.get("exponent", 1.0))
        return (low + (high - low) * (probs - probs.min()) / (probs.max() - probs.min())).astype(np.float32)
    if name == "linear":
        return np.linspace(high, low, n, dtype=np.float32)
    return (low + (high - low) * TorchGenerator(seed).rand(n)).astype(np.float32)


def magnitudes(value: float | Generator, n: int, seed: int) -> np.ndarray:
    """SAELens' per-feature magnitude generators (a float: the same for every feature)."""
    if not isinstance(value, Generator):
        return np.full(n, value, np.float32)
    name, get = value.generator_name, value.get
    if name == "constant":
        return np.full(n, get("value", 1.0), np.float32)
    if n == 1 and name in ("linear", "exponential"):  # SAELens: a single feature gets `start`
        return np.array([get("start")], np.float32)
    if name == "linear":
        return np.linspace(get("start"), get("end"), n, dtype=np.float32)
    if name == "exponential":
        t = np.linspace(0, 1, n, dtype=np.float32)
        return (get("start") * (get("end") / get("start")) ** t).astype(np.float32)
    samples = np.abs(get("mean", 0.0) + TorchGenerator(seed).randn(n) * get("std", 0.1))
    if get("min_value") is not None or get("max_value") is not None:
        samples = np.clip(samples, get("min_value"), get("max_value"))
    return samples.astype(np.float32)


MIN_DIAGONAL = 0.01  # SAELens caps factor rows so that δ_f = 1 − ‖Φ_f‖² ≥ 0.01


def correlation_factor(n: int, rank: int, scale: float, seed: int) -> np.ndarray:
    """SAELens' `generate_random_low_rank_correlation_matrix` factor [F, r]."""
    factor = TorchGenerator(seed).randn(n, rank) * np.float32(scale)
    squares = (factor**2).sum(axis=1)
    capped = 1 - squares < MIN_DIAGONAL
    factor[capped] *= np.sqrt((1 - MIN_DIAGONAL) / squares[capped])[:, None].astype(np.float32)
    return factor.astype(np.float32)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-8)).astype(np.float32)


def dictionary(n: int, d: int, bias: bool | float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SAELens' `FeatureDictionary` draw before orthogonalisation: unit rows [F, d] and the bias [d]."""
    stream = TorchGenerator(seed)
    vectors = _unit_rows(stream.randn(n, d))
    if not bias:
        return vectors, np.zeros(d, np.float32)
    norm = 1.0 if bias is True else float(bias)
    return vectors, (_unit_rows(stream.randn(d)) * np.float32(norm)).astype(np.float32)


def orthogonalize(vectors, steps: int, learning_rate: float, runtime: Runtime | None = None) -> np.ndarray:
    """SAELens' `orthogonalize_embeddings`: Adam on its loss (module docstring), then unit rows.

    Runs through the lab's segmented loop (`toys.engine.loop`): progress on the runtime,
    and a NaN/inf loss stops it naming the step.
    """
    w = jnp.asarray(_unit_rows(np.asarray(vectors)))
    carry = (w, optax.adam(learning_rate).init(w))
    (w, _), _ = loop.run(
        _adam_orthogonal_step,
        float(learning_rate),
        carry,
        None,
        steps,
        what=f"orthogonalising {w.shape[0]} feature vectors",
        runtime=runtime,
    )
    return _unit_rows(np.asarray(w))


def orthogonality_loss(w):
    """Σ_{i≠j} (w_i·w_j)² + F Σ_i (‖w_i‖² − 1)², computed through WᵀW [d, d]."""
    squares = jnp.sum(w * w, axis=1)
    gram_small = w.T @ w
    return jnp.sum(gram_small**2) - jnp.sum(squares**2) + w.shape[0] * jnp.sum((squares - 1.0) ** 2)


def orthogonality_loss_and_gradient(w):
    """`orthogonality_loss` and its gradient 4 (W WᵀW − ‖w_i‖² w_i + F (‖w_i‖² − 1) w_i), sharing WᵀW [d, d]."""
    squares = jnp.sum(w * w, axis=1, keepdims=True)
    gram_small = w.T @ w
    loss = jnp.sum(gram_small**2) - jnp.sum(squares**2) + w.shape[0] * jnp.sum((squares - 1.0) ** 2)
    return loss, 4.0 * (w @ gram_small - squares * w + w.shape[0] * (squares - 1.0) * w)


def _adam_orthogonal_step(learning_rate: float, carry, _, step):
    """One Adam step on the orthogonality loss (toys.engine.loop's step)."""
    w, state = carry
    loss, gradient = orthogonality_loss_and_gradient(w)
    updates, state = optax.adam(learning_rate).update(gradient, state, w)
    return (optax.apply_updates(w, updates), state), loss


@dataclasses.dataclass
class ModelParts:
    """Everything a synthetic model is, as NumPy arrays (what the files hold, plus the magnitudes)."""

    config: SyntheticModelConfig
    feature_vectors: np.ndarray  # [F, d]
    bias: np.ndarray  # [d]
    firing_probabilities: np.ndarray  # [F], after compensation
    mean_magnitudes: np.ndarray  # [F]
    std_magnitudes: np.ndarray  # [F]
    correlation_factor: np.ndarray | None  # [F, r]
    correlation_diag: np.ndarray | None  # [F]
    roots: list  # hierarchy roots (toys.synthetic_hierarchy.Node), [] without one


def base_seed(config: SyntheticModelConfig) -> int:
    """The config's seed; a fresh one when it is None (SAELens then draws from torch's global stream)."""
    if config.seed is None:  # SAELens then uses torch's global stream: any fresh seed is as good
        return int(np.random.SeedSequence().entropy % (2**31))
    return int(config.seed)


def magnitudes_of(config: SyntheticModelConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per feature, drawn as SAELens draws them (also when it loads a model file)."""
    n = config.num_features
    return magnitudes(config.mean_firing_magnitudes, n, seed + 2), magnitudes(config.std_firing_magnitudes, n, seed + 1)


def build(config: SyntheticModelConfig, runtime: Runtime | None = None) -> ModelParts:
    """The model SAELens builds from `config` (see the module docstring)."""
    config.validate()
    seed, n = base_seed(config), config.num_features
    roots = []
    if config.hierarchy is not None and config.hierarchy.total_root_nodes > 0:
        roots = hierarchy_module.generate(n, config.hierarchy, seed + 3)
    factor = diag = None
    if config.correlation is not None:
        c = dict(config.correlation)
        factor = correlation_factor(n, int(c["rank"]), float(c["correlation_scale"]), seed + 4)
        diag = (1.0 - (factor**2).sum(axis=1)).astype(np.float32)
    vectors, bias = dictionary(n, config.hidden_dim, config.bias, seed)
    if config.orthogonalization is not None:
        o = dict(config.orthogonalization)
        vectors = orthogonalize(vectors, int(o["num_steps"]), float(o["lr"]), runtime)
    probabilities = firing_probabilities(config.firing_probability, n, seed)
    if roots and config.hierarchy.compensate_probabilities:
        probabilities = np.minimum(probabilities * hierarchy_module.compensation(roots, probabilities).astype(np.float32), 1.0)
    mean, std = magnitudes_of(config, seed)
    return ModelParts(config, vectors, bias, probabilities.astype(np.float32), mean, std, factor, diag, roots)


# --- the toy --------------------------------------------------------------------------------


@struct.dataclass
class SyntheticModel:
    """A built synthetic model with its sparse sampler (a pytree; see the module docstring)."""

    directions: jax.Array  # [F, d] unit feature vectors w_f
    bias: jax.Array  # [d]
    probabilities: jax.Array  # [F] p_f
    firing: CopulaFiring  # step 1 for every feature, and the sparse draw of the level-0 ones
    mean: jax.Array  # [F + 1] μ_f
    std: jax.Array  # [F + 1] σ_f
    parent: jax.Array  # [F] parent index, −1 none
    children: jax.Array  # [F + 1, B] children, padded with F
    exclusive: jax.Array  # [F + 1] children mutually exclusive
    rescale: jax.Array  # [F + 1] value scales with the parent's
    level: jax.Array  # [F]
    level_caps: tuple[int, ...] = struct.field(pytree_node=False)  # active slots per level
    parent_caps: tuple[int, ...] = struct.field(pytree_node=False)  # active parents per level (but the last)
    codes_cap: int = struct.field(pytree_node=False)  # active features per sample, all levels
    config: SyntheticModelConfig = struct.field(pytree_node=False)

    @property
    def d(self) -> int:
        return self.directions.shape[-1]

    @property
    def num_features(self) -> int:
        return self.directions.shape[0]

    @property
    def features(self) -> jax.Array:
        return self.directions

    @property
    def capacity(self) -> int:
        return self.codes_cap

    def sample(self, key: jax.Array, n: int) -> Batch:
        """n samples: x [n, d] and SparseCodes; exact (module docstring)."""
        return sample(self, key, n)

    def sample_dense(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """The reference sampler: (x [n, d], dense codes [n, F]), SAELens' steps one to one."""
        codes = dense_codes(self, key, n)
        return codes @ self.directions + self.bias, codes


def from_parts(parts: ModelParts, pilot_key: jax.Array | None = None) -> SyntheticModel:
    """The sampler for a model; buffer sizes come from a pilot draw of the dense sampler."""
    n = parts.config.num_features
    arrays = hierarchy_module.arrays(parts.roots, n)
    factor = parts.correlation_factor if parts.correlation_factor is not None else np.zeros((n, 0), np.float32)
    diag = parts.correlation_diag if parts.correlation_diag is not None else np.ones(n, np.float32)
    pad = sparse_firing.pad
    firing = sparse_firing.plan(parts.firing_probabilities, np.sqrt(diag), factor, np.flatnonzero(arrays.level == 0))
    model = SyntheticModel(
        directions=jnp.asarray(parts.feature_vectors),
        bias=jnp.asarray(parts.bias),
        probabilities=jnp.asarray(parts.firing_probabilities),
        firing=firing,
        mean=jnp.asarray(pad(parts.mean_magnitudes, 1.0)),
        std=jnp.asarray(pad(parts.std_magnitudes, 0.0)),
        parent=jnp.asarray(arrays.parent),
        children=jnp.asarray(pad(arrays.children, n)),
        exclusive=jnp.asarray(pad(arrays.exclusive, False)),
        rescale=jnp.asarray(pad(arrays.rescale, False)),
        level=jnp.asarray(arrays.level),
        level_caps=(1,) * (arrays.depth + 1),
        parent_caps=(1,) * arrays.depth,
        codes_cap=1,
        config=parts.config,
    )
    return _with_pilot_caps(model, jax.random.key(0) if pilot_key is None else pilot_key)


def _with_pilot_caps(model: SyntheticModel, key: jax.Array) -> SyntheticModel:
    """Buffer sizes from a pilot draw of PILOT_SAMPLES dense samples (`sparse_firing.cap`:
    mean + 8 sd + 4, and at least the largest count + 4). They only set speed: a batch
    that overflows is redrawn densely."""
    key_codes, key_events = jax.random.split(key)
    on = np.asarray(dense_codes(model, key_codes, PILOT_SAMPLES)) > 0
    level = np.asarray(model.level)
    has_children = np.asarray(model.children[:-1, 0]) < model.num_features
    # no more slots than there are columns (a one-feature model has one): top-k needs k ≤ width
    cap = lambda columns: min(sparse_firing.cap(on[:, columns].sum(axis=1)), max(int(columns.sum()), 1))  # noqa: E731
    depth = len(model.level_caps)
    tail = np.ones(model.num_features, bool)
    tail[np.asarray(model.firing.head)] = False
    tail &= level == 0
    level_caps = tuple(cap(level == lv) for lv in range(depth))
    firing = model.firing.replace(
        events_cap=sparse_firing.events_cap(model.firing, key_events), accepted_cap=cap(tail), active_cap=level_caps[0]
    )
    return model.replace(
        firing=firing,
        level_caps=level_caps,
        parent_caps=tuple(cap((level == lv) & has_children) for lv in range(depth - 1)),
        codes_cap=cap(np.ones(model.num_features, bool)),
    )


# --- the dense reference sampler (SAELens, step for step) ----------------------------------


def _hierarchy_rules(model: SyntheticModel, raw: jax.Array, key: jax.Array) -> jax.Array:
    """Apply the hierarchy to raw values [n, F] (the module docstring of toys.synthetic_hierarchy)."""
    n, f = raw.shape
    parent = model.parent
    has_parent = parent >= 0
    safe_parent = jnp.where(has_parent, parent, 0)
    in_exclusive = has_parent & model.exclusive[safe_parent]
    score = jnp.where((raw > 0) & in_exclusive, jax.random.uniform(key, raw.shape), -1.0)
    group = jnp.where(in_exclusive, safe_parent, f)
    best = jax.vmap(lambda s: jax.ops.segment_max(s, group, num_segments=f + 1))(score)
    keep = (raw > 0) & (~in_exclusive | (score >= jnp.take_along_axis(best, jnp.broadcast_to(group, raw.shape), axis=1)))
    scale_by_mean = model.mean[safe_parent]
    value = raw
    for _ in range(len(model.level_caps)):  # one pass per level settles that level's values
        parent_value = value[:, safe_parent]
        factor = jnp.where(model.rescale[:f], parent_value / scale_by_mean, (parent_value > 0).astype(raw.dtype))
        value = jnp.where(has_parent, jnp.where(keep, raw * factor, 0.0), raw)
    return jnp.maximum(value, 0.0)


def dense_codes(model: SyntheticModel, key: jax.Array, n: int) -> jax.Array:
    """SAELens' ActivationGenerator.sample: dense codes [n, F]."""
    f = model.num_features
    key_eps, key_eta, key_mag, key_rules = jax.random.split(key, 4)
    firing = model.firing
    eps = jax.random.normal(key_eps, (n, firing.factor.shape[1]))
    z = eps @ firing.factor[:f].T + jax.random.normal(key_eta, (n, f)) * firing.diag_sqrt[:f]
    fired = z > firing.thresholds[:f]
    raw = jnp.where(fired, jnp.maximum(model.mean[:f] + model.std[:f] * jax.random.normal(key_mag, (n, f)), 0.0), 0.0)
    return _hierarchy_rules(model, raw, key_rules)


# --- the sparse sampler (`toys.sparse_firing` for level 0, then level by level) -------------


def _magnitude(model, key, index):
    return jnp.maximum(model.mean[index] + model.std[index] * jax.random.normal(key, index.shape), 0.0)


def _level_zero(model, key, eps):
    """Roots and features outside the hierarchy: which fire (`sparse_firing.active_set`), then
    their magnitudes (from the sixth of the key's six splits, the one `active_set` leaves free)."""
    f = model.num_features
    index, overflow = sparse_firing.active_set(model.firing, key, eps)
    value = jnp.where(index < f, _magnitude(model, jax.random.split(key, 6)[5], index), 0.0)
    return index, value, overflow


def _parents(model, index, value, cap):
    """The entries that are on and have children, in `cap` slots (the next level's parents)."""
    f = model.num_features
    has_children = model.children[index, 0] < f
    parent_index, parent_value, overflow = sparse_firing.compact(index, value, has_children & (value > 0), cap, f)
    return parent_index, parent_value, overflow


def _next_level(model, key, eps, parent_index, parent_value, cap):
    """Children of the parents that are on: a Bernoulli each, mutual exclusion, scaling."""
    n, f = eps.shape[0], model.num_features
    key_fire, key_mag, key_win = jax.random.split(key, 3)
    kids = model.children[parent_index]  # [n, A, B]
    a, b = kids.shape[1], kids.shape[2]
    flat = kids.reshape(n, a * b)
    fires = jax.random.uniform(key_fire, flat.shape) < sparse_firing.fire_probability(model.firing, eps, flat)
    raw = jnp.where(fires & (flat < f), _magnitude(model, key_mag, flat), 0.0).reshape(n, a, b)
    on = (raw > 0) & (parent_value > 0)[:, :, None]
    score = jnp.where(on, jax.random.uniform(key_win, on.shape), -1.0)
    winner = jax.nn.one_hot(jnp.argmax(score, axis=-1), b, dtype=bool)
    keep = on & (~model.exclusive[parent_index][:, :, None] | winner)
    factor = jnp.where(model.rescale[kids], (parent_value / model.mean[parent_index])[:, :, None], 1.0)
    return sparse_firing.compact(flat, (raw * factor).reshape(n, a * b), keep.reshape(n, a * b), cap, f)


def sparse_codes(model: SyntheticModel, key: jax.Array, n: int):
    """(SparseCodes, overflow): the sparse draw and whether any buffer overflowed."""
    key_eps, key_zero, key_levels = jax.random.split(key, 3)
    eps = jax.random.normal(key_eps, (n, model.firing.factor.shape[1]))
    index, value, overflow = _level_zero(model, key_zero, eps)
    indices, values = [index], [value]
    for level, (parent_cap, cap) in enumerate(zip(model.parent_caps, model.level_caps[1:])):
        parent_index, parent_value, more = _parents(model, index, value, parent_cap)
        index, value, most = _next_level(model, jax.random.fold_in(key_levels, level), eps, parent_index, parent_value, cap)
        indices.append(index)
        values.append(value)
        overflow |= more | most
    index, value = jnp.concatenate(indices, axis=1), jnp.concatenate(values, axis=1)
    index, value, more = sparse_firing.compact(index, value, value > 0, model.codes_cap, model.num_features)
    return SparseCodes(index, value, model.num_features), overflow | more


def sample(model: SyntheticModel, key: jax.Array, n: int) -> Batch:
    """Exact samples (module docstring): x [n, d], SparseCodes, truth {"redrawn", "codes_truncated"}."""
    key_sparse, key_dense = jax.random.split(key)
    codes, overflow = sparse_codes(model, key_sparse, n)

    def sparse_branch():
        return sparse_firing.embed(model.directions, model.bias, codes), codes, jnp.bool_(False)

    def dense_branch():
        dense = dense_codes(model, key_dense, n)
        sparse, truncated = SparseCodes.from_dense(dense, model.capacity)
        return dense @ model.directions + model.bias, sparse, truncated

    x, codes, truncated = sparse_firing.redraw_if(overflow, sparse_branch(), dense_branch)
    return Batch(x, codes, {"redrawn": overflow, "codes_truncated": truncated})


def build_model(config: SyntheticModelConfig, runtime: Runtime | None = None) -> SyntheticModel:
    """`build` then `from_parts`: the sampler for a config."""
    return from_parts(build(config, runtime))
