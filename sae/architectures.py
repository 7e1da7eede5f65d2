"""SAE architectures: each is an `encode`/`loss` pair over the same SAEParams pytree.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): b batch, d activation dimensions, m latents.

All share the affine decoder x̂ = f W_dec + b_dec and the pre-activation
    a = (x − b_dec) W_enc + b_enc.
Hyperparameters that one may sweep arrive as traced `HParams`, so one compiled
training run serves a whole vmapped grid.

- ``relu`` (ReLU + L1): f = ReLU(a);
  L = mean_b ‖x − x̂‖² + λ · mean_b Σ_j f_j ‖W_dec,j‖ (the penalty is weighted by
  decoder row norms so it cannot be dodged by shrinking f and growing W_dec).
- ``topk``: f keeps the k largest entries of ReLU(a) per sample, zeros the rest;
  L = mean_b ‖x − x̂‖² (+ α · AuxK, below). k is traced: the top `k_max` (static)
  are computed and ranks ≥ k masked out. Training decodes from the k gathered
  decoder rows only.
- ``batchtopk`` (Bussmann et al. 2024): during training keep the k·b largest entries
  of ReLU(a) over the whole batch (so the mean L0 over a batch is exactly k when at
  least k·b entries are positive); at inference f = a · 1[a > θ] with θ an
  exponential moving average of the smallest kept activation. Each sample is first
  scaled to x / s(x), s(x) = ‖x‖/√d, and reconstructed as s(x) · (f W_dec + b_dec)
  (as in Bussmann's `input_unit_norm`): without it the batch budget flows to
  high-norm samples, where several features overlap, and latents learn mixtures
  (measured: MMCS 0.62 → 0.99 on 256 features in 32 dims).
- ``matryoshka`` (Bussmann et al. 2025; Nabeshima 2024): BatchTopK encoding (with
  the same per-sample scaling) and
  nested prefix losses L = Σ_p mean_b ‖x − (f_{:p} W_dec,{:p} + b_dec)‖² over the
  prefixes p ∈ {m/8, m/4, m/2, m}, so early latents must reconstruct on their own.
- ``matryoshka_l1``: the nested prefix losses with the ReLU + L1 encoder and
  penalty of ``relu`` (no per-sample scaling): L = Σ_p mean_b ‖x − x̂_{:p}‖² + λ · L1.
  The form in which the absorption argument is exact (theory.absorption: the
  non-absorbed solution wins when λ(2 − √2) < 1).
- ``jumprelu`` (Rajamanoharan et al. 2024b): f = a · H(a − θ) with per-latent
  θ = exp(log_threshold); L = mse + λ · mean_b Σ_j H(a_j − θ_j) (an L0 penalty). H has
  no gradient, so θ learns through the straight-through pseudo-derivative
  ∂H(z − θ)/∂θ := −K((z − θ)/ε)/ε with the rectangle kernel K(u) = 1[|u| < ½] and
  bandwidth ε (`HParams.bandwidth`). Inputs get the same per-sample scaling as
  BatchTopK (measured on 256 features in 32 dims: MMCS 0.71 → 0.93).
- ``jumprelu_unscaled``: the same JumpReLU on x itself, without the per-sample scaling
  (SAELens' JumpReLU with normalize_activations = "none", its default; a JumpReLU or
  BatchTopK folder written by SAELens loads as this).
- ``matching_pursuit`` (SAELens' MatchingPursuitSAE, as in SynthSAEBench): a tied
  encoder. From r₀ = x − b_dec, step t picks j_t = argmax_j ReLU(r_t · W_dec,j) and adds
  v_t = ReLU(r_t · W_dec,j_t) to latent j_t, r_{t+1} = r_t − v_t W_dec,j_t; a sample stops
  once a step leaves its support unchanged (the atom was already active, or v_t = 0), and
  after k steps, and — when `HParams.residual_threshold` ρ > 0 — once ‖r_{t+1}‖ < ρ
  (SAELens' MatchingPursuitSAE with max_iterations = k, residual_threshold = ρ,
  stop_on_duplicate_support = True; SAELens' defaults are max_iterations = d and ρ = 1e-2,
  ours k and ρ = 0). The decoder rows' norms are free, as SAELens trains them (started at
  norm 1 and never renormalised), so r·W_dec,j is not a projection unless the trainer is
  asked for unit norms (`TrainConfig.unit_norm_decoder`); W_enc and b_enc are unused.
  L = mean_b ‖x − x̂‖², gradients through the values and the chosen rows (the choices
  themselves carry none).
- ``gated`` (Rajamanoharan et al. 2024a): gate π_g = a, magnitude
  π_m = (x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag, f = 1[π_g > 0] · ReLU(π_m);
  L = mse + λ · mean_b Σ_j ReLU(π_g)_j ‖W_dec,j‖ + mean_b ‖x − (ReLU(π_g) sg(W_dec) + sg(b_dec))‖²
  (sg = stop-gradient; the last term trains the gate to reconstruct on its own).

AuxK (Gao et al. 2024) for ``topk``, ``batchtopk`` and ``matryoshka``: with α = `HParams.aux_coefficient` > 0, the
latents dead for the trainer's `dead_after_steps` reconstruct the residual
e = sg(x − x̂) through their top k_aux = max(k_max, d/2) pre-activations:
+ α · mean_b ‖e − f_aux W_dec‖².

`encode` gives dense latents [b, m] (for evaluation); `loss(params, x, hp, k_max,
dead)` gives the training loss and an `Aux` (mse, L0, per-latent firing counts, the
batch threshold); `after_step` updates non-gradient state (BatchTopK's θ).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from sae import selection
from sae.params import SAEParams


class HParams(NamedTuple):
    """Traced hyperparameters of one training run (scalars; a grid stacks them on axis 0)."""

    learning_rate: jax.Array
    l1_coefficient: jax.Array  # λ: the sparsity coefficient (L1 for relu/gated, L0 for jumprelu)
    k: jax.Array
    aux_coefficient: jax.Array  # α of the AuxK dead-latent loss (topk); 0 turns it off
    bandwidth: jax.Array  # ε of JumpReLU's pseudo-derivative
    residual_threshold: jax.Array  # ρ: matching pursuit stops a sample once ‖residual‖ < ρ (0: never)


def hparams(learning_rate=1e-3, l1_coefficient=0.0, k=1, aux_coefficient=0.0, bandwidth=0.05, residual_threshold=0.0) -> HParams:
    return HParams(
        jnp.float32(learning_rate),
        jnp.float32(l1_coefficient),
        jnp.int32(k),
        jnp.float32(aux_coefficient),
        jnp.float32(bandwidth),
        jnp.float32(residual_threshold),
    )


class Aux(NamedTuple):
    """What a training step keeps besides the loss: mse, mean L0 and per-latent firings [m]."""

    mse: jax.Array
    l0: jax.Array
    fired: jax.Array
    batch_threshold: jax.Array = jnp.float32(0.0)  # BatchTopK: smallest kept activation


def _no_state_update(params: SAEParams, aux: Aux) -> SAEParams:
    return params


PENALTIES = ("l1", "l0", "none")
INFERENCE_ENCODINGS = ("relu", "topk", "threshold", "jumprelu", "gated", "matching_pursuit")


class Architecture(NamedTuple):
    """One architecture: its functions and the facts every other module reads from it.

    Facts (declared here and nowhere else):
    - uses_k: training keeps k latents per sample (TopK) or k·b per batch (BatchTopK);
      validators require 1 ≤ k ≤ k_max ≤ m.
    - penalty: the sparsity term weighted by `HParams.l1_coefficient` — "l1" (ReLU-type
      activations weighted by decoder norms), "l0" (JumpReLU's step count) or "none".
    - auxk: the AuxK dead-latent loss applies; it is on exactly when
      `HParams.aux_coefficient` > 0 (the one switch).
    - scales_input: each sample is scaled to x/s(x), s(x) = ‖x‖/√d, before encoding and
      the reconstruction is scaled back (SAELens' "constant_norm_rescale").
    - inference: how it encodes at evaluation time — "relu" ReLU(a), "topk" the k
      largest of ReLU(a), "threshold" a·1[a > θ] (BatchTopK's learned θ), "jumprelu"
      a·1[a > θ], "gated" 1[π_g > 0]·ReLU(π_m), "matching_pursuit" k greedy steps on the residual.
    - unit_norm_decoder: whether the trainer renormalises decoder rows to unit norm after each
      step unless `TrainConfig.unit_norm_decoder` says otherwise (matching pursuit: no, as SAELens).
    """

    name: str
    encode: Callable  # (params, x [b,d], hp, k_max) → f [b,m]
    loss: Callable  # (params, x [b,d], hp, k_max, dead [m] bool) → (loss, Aux)
    uses_k: bool
    penalty: str
    auxk: bool
    scales_input: bool
    inference: str
    after_step: Callable = _no_state_update  # (params, aux) → params, outside the gradient
    unit_norm_decoder: bool = True  # the trainer's default: renormalise decoder rows after each step

    def reads(self, hyperparameter: str) -> bool:
        """Whether training reads this `HParams` field: k with uses_k, l1_coefficient with a penalty,
        aux_coefficient with AuxK, bandwidth for JumpReLU; the learning rate always."""
        return {
            "k": self.uses_k,
            "l1_coefficient": self.penalty != "none",
            "aux_coefficient": self.auxk,
            "bandwidth": self.inference == "jumprelu",
        }.get(hyperparameter, True)

    def reconstruct(self, params: SAEParams, x: Float[Array, "b d"], f: Float[Array, "b m"]) -> Float[Array, "b d"]:
        """x̂ in the units of x from latents f: s(x)·(f W_dec + b_dec) when inputs are scaled."""
        x_hat = decode(params, f)
        return sample_scale(x) * x_hat if self.scales_input else x_hat


@jax.custom_vjp
def weights_product(x: jax.Array, weights: jax.Array) -> jax.Array:
    """x W for a batch x [b, i] and weights W [i, o]: `x @ W` with its gradient's layout fixed.

    Autodiff of `x @ W` forms W's gradient as (gᵀx)ᵀ — a product in [o, i] and a transpose —
    and XLA on CPU fuses that transpose into the optimiser's elementwise update, which then
    reads the gradient with a stride of o floats (measured at SynthSAEBench-16k's SAE: four
    Adam-moment fusions of ~20 ms each per step). Here the gradient is xᵀg in W's own layout.
    Same values (the same products summed over the batch)."""
    return x @ weights


def _weights_product_forward(x, weights):
    return x @ weights, (x, weights)


def _weights_product_backward(saved, g):
    x, weights = saved
    return g @ weights.T, jnp.einsum("bi,bo->io", x, g)


weights_product.defvjp(_weights_product_forward, _weights_product_backward)


@jax.custom_vjp
def centred_product(x: jax.Array, centre: jax.Array, weights: jax.Array) -> jax.Array:
    """(x − c) W for a batch x [b, i], a centre c [i] and weights W [i, o], with a cheaper gradient.

    Autodiff reaches c through the cotangent of x − c, g Wᵀ [b, i] — a product as large as the
    forward one — only to sum it over the batch. Here c's gradient is −(Σ_b g) Wᵀ, a vector
    times W (the same sum, taken first); x's cotangent g Wᵀ is still returned, and XLA drops it
    when nothing asks for it (training differentiates the parameters, not the data). W's
    gradient is (x − c)ᵀ g in W's layout (`weights_product`)."""
    return (x - centre) @ weights


def _centred_product_forward(x, centre, weights):
    centred = x - centre
    return centred @ weights, (centred, weights)


def _centred_product_backward(saved, g):
    centred, weights = saved
    return g @ weights.T, -(jnp.sum(g, axis=0) @ weights.T), jnp.einsum("bi,bo->io", centred, g)


centred_product.defvjp(_centred_product_forward, _centred_product_backward)


def pre_activation(params: SAEParams, x: Float[Array, "b d"]) -> Float[Array, "b m"]:
    """a = (x − b_dec) W_enc + b_enc."""
    return centred_product(x, params.b_dec, params.W_enc) + params.b_enc


def decode(params: SAEParams, f: Float[Array, "b m"]) -> Float[Array, "b d"]:
    """x̂ = f W_dec + b_dec."""
    return weights_product(f, params.W_dec) + params.b_dec


def squared_error(x: Float[Array, "b d"], x_hat: Float[Array, "b d"]) -> Float[Array, ""]:
    """mean_b ‖x − x̂‖² (summed in f32 whatever the inputs' dtype)."""
    return jnp.mean(jnp.sum(jnp.square(x - x_hat).astype(jnp.float32), axis=-1))


def _dense_aux(x, x_hat, f, batch_threshold: jax.Array | float = 0.0) -> Aux:
    active = f > 0
    return Aux(squared_error(x, x_hat), jnp.mean(jnp.sum(active, axis=-1)), jnp.sum(active, axis=0), jnp.float32(batch_threshold))


def top_k(values: Float[Array, "b m"], k: Int[Array, ""] | int, k_max: int) -> tuple[Float[Array, "b k_max"], Int[Array, "b k_max"]]:
    """Each row's k_max largest entries and their indices; ranks ≥ k (traced) zeroed."""
    top_values, top_index = selection.top_k(values, k_max)
    return jnp.where(jnp.arange(k_max) < k, top_values, 0.0), top_index


def scatter_rows(values: Float[Array, "b k"], index: Int[Array, "b k"], m: int) -> Float[Array, "b m"]:
    """Dense latents from per-row (values, indices)."""
    rows = jnp.arange(values.shape[0])[:, None]
    return jnp.zeros((values.shape[0], m), values.dtype).at[rows, index].set(values)


def _relu_encode(params, x, hp, k_max):
    return jax.nn.relu(pre_activation(params, x))


def _l1_penalty(params, f, hp):
    return hp.l1_coefficient * jnp.mean(f @ jnp.linalg.norm(params.W_dec, axis=-1))


def _relu_loss(params, x, hp, k_max, dead=None):
    f = _relu_encode(params, x, hp, k_max)
    x_hat = decode(params, f)
    return squared_error(x, x_hat) + _l1_penalty(params, f, hp), _dense_aux(x, x_hat, f)


def _topk_encode(params, x, hp, k_max):
    values, index = top_k(jax.nn.relu(pre_activation(params, x)), hp.k, k_max)
    return scatter_rows(values, index, params.n_latents)


def _topk_loss(params, x, hp, k_max, dead=None):
    # Select the active latents on a dense pass without gradient, then recompute only
    # those k pre-activations and decode from the k gathered rows: the backward pass
    # costs O(b·k·d) instead of two dense [b, d] × [d, m] products.
    centred = x - params.b_dec
    dense = jax.lax.stop_gradient(centred @ params.W_enc + params.b_enc)
    _, index = top_k(dense, hp.k, k_max)
    encoder_columns = params.W_enc.T[index]  # [b, k_max, d]
    selected = jnp.einsum("bd,bkd->bk", centred, encoder_columns) + params.b_enc[index]
    values = jnp.where(jnp.arange(k_max) < hp.k, jax.nn.relu(selected), 0.0)
    x_hat = jnp.einsum("bk,bkd->bd", values, params.W_dec[index]) + params.b_dec
    active = values > 0
    fired = jnp.zeros((params.n_latents,), jnp.int32).at[index].add(active.astype(jnp.int32))
    mse = squared_error(x, x_hat)
    total = mse
    if dead is not None:
        total = total + hp.aux_coefficient * _auxk_loss(params, centred, dense, x - x_hat, dead, k_max)
    return total, Aux(mse, jnp.mean(jnp.sum(active, axis=-1)), fired)


def _auxk_loss(params, centred, dense_pre, residual, dead, k_max):
    """mean_b ‖sg(e) − f_aux W_dec‖², f_aux = top-k_aux of ReLU(a) over dead latents only.

    centred = x − b_dec [b, d]; dense_pre = a without gradient [b, m]; residual e [b, d].
    """
    k_aux = min(params.n_latents, max(k_max, params.d // 2))
    _, index = selection.top_k(jnp.where(dead, dense_pre, -jnp.inf), k_aux)
    selected = jnp.einsum("bd,bkd->bk", centred, params.W_enc.T[index]) + params.b_enc[index]
    values = jnp.where(dead[index], jax.nn.relu(selected), 0.0)
    reconstruction = jnp.einsum("bk,bkd->bd", values, params.W_dec[index])
    aux = squared_error(jax.lax.stop_gradient(residual), reconstruction)
    return jnp.where(jnp.any(dead), aux, 0.0)  # no dead latents: no auxiliary term


# --- BatchTopK and Matryoshka -------------------------------------------------------

THRESHOLD_EMA = 0.01  # weight of each batch in BatchTopK's inference-threshold average


def batch_top_k_entries(
    values: Float[Array, "b m"], k: Int[Array, ""] | int, k_max: int
) -> tuple[Float[Array, " kept"], Int[Array, " kept"]]:
    """The k·b largest entries of values [b, m] over the whole batch: (their values with ranks ≥ k·b
    zeroed, their flat indices), [k_max·b] each, in descending order (k traced ≤ k_max).

    Exactly `lax.top_k` on the flattened batch, ties to the lower index; on CPU in two levels
    (`sae.selection.top_k`: group maxima, then the candidates of the best groups), which sees
    about 2·√(b·m·k·b) entries instead of b·m."""
    b, _ = values.shape
    top_values, top_index = selection.top_k(values.reshape(1, -1), k_max * b)
    return jnp.where(jnp.arange(k_max * b) < k * b, top_values[0], 0.0), top_index[0]


def batch_top_k(values: Float[Array, "b m"], k: Int[Array, ""] | int, k_max: int) -> Float[Array, "b m"]:
    """Keep the k·b largest entries of values [b, m] over the whole batch (k traced ≤ k_max), dense."""
    kept, index = batch_top_k_entries(values, k, k_max)
    return jnp.zeros(values.size, values.dtype).at[index].set(kept).reshape(values.shape)


# Sparse decoding pays where few latents are active: decoding from the K = k·b selected rows
# costs O(K·d) gathers and a segment sum (and the same for its gradient) against three
# [b, m] × [m, d]-sized matmuls for the dense decoder and its gradient. At or below this
# share k/m of active latents the BatchTopK family decodes sparse (the crossover, measured on
# CPU by `toylab bench`'s decode table; README).
SPARSE_DECODE_MAX_DENSITY = 1 / 256


def sparse_decode(k_max: int, m: int) -> bool:
    """Whether a BatchTopK-family loss with k_max of m latents decodes from the selected rows only."""
    return k_max <= SPARSE_DECODE_MAX_DENSITY * m


class Selected(NamedTuple):
    """The k·b entries a BatchTopK step keeps, [K = k_max·b] each: sample (row), latent (col), value
    (ReLU of its pre-activation, recomputed with gradient; 0 at ranks ≥ k·b)."""

    rows: jax.Array
    cols: jax.Array
    values: jax.Array


def _batch_selected(params: SAEParams, x_normalised: jax.Array, hp, k_max: int) -> Selected:
    """The selected entries with their values taken from the dense pre-activations (with gradient):
    the encoder keeps its dense matmuls (on CPU they beat gathering K encoder columns and
    scattering their gradient back), the decoder reads the K selected rows only."""
    pre = jax.nn.relu(pre_activation(params, x_normalised))
    kept, index = batch_top_k_entries(jax.lax.stop_gradient(pre), hp.k, k_max)
    rows, cols = index // params.n_latents, index % params.n_latents
    in_budget = jnp.arange(kept.shape[0]) < hp.k * x_normalised.shape[0]
    return Selected(rows, cols, jnp.where(in_budget, pre[rows, cols], 0.0))


def decode_selected(params: SAEParams, selected: Selected, b: int, limit: int | None = None) -> Float[Array, "b d"]:
    """x̂ = Σ_K value · W_dec[col] summed into its row (a segment sum), + b_dec (latents < `limit` only)."""
    values = selected.values if limit is None else jnp.where(selected.cols < limit, selected.values, 0.0)
    contributions = values[:, None] * params.W_dec[selected.cols]
    return jax.ops.segment_sum(contributions, selected.rows, num_segments=b) + params.b_dec


def _selected_aux(x, x_hat, selected: Selected, m: int) -> Aux:
    active = selected.values > 0
    fired = jnp.zeros((m,), jnp.int32).at[selected.cols].add(active.astype(jnp.int32))
    smallest = jnp.min(jnp.where(active, selected.values, jnp.inf))
    threshold = jax.lax.stop_gradient(jnp.where(jnp.isfinite(smallest), smallest, 0.0))
    return Aux(squared_error(x, x_hat), jnp.sum(active) / x.shape[0], fired, threshold)


def _batch_threshold(f: jax.Array) -> jax.Array:
    """The smallest positive kept activation of a batch (0 when none is positive)."""
    positive = jnp.where(f > 0, f, jnp.inf)
    smallest = jnp.min(positive)
    return jnp.where(jnp.isfinite(smallest), smallest, 0.0)


def sample_scale(x: Float[Array, "b d"]) -> Float[Array, "b 1"]:
    """s(x) = ‖x‖/√d per sample (floored so an all-zero sample stays finite)."""
    return jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-6) / jnp.sqrt(x.shape[-1])


def _threshold_encode(params, x, hp, k_max):
    a = jax.nn.relu(pre_activation(params, x / sample_scale(x)))
    return jnp.where(a > jnp.exp(params.log_threshold), a, 0.0)


def _batchtopk_train_encode(params, x_normalised, hp, k_max):
    return batch_top_k(jax.nn.relu(pre_activation(params, x_normalised)), hp.k, k_max)


def _with_auxk(total, params, x, x_hat, hp, k_max, dead):
    """Add α · AuxK (see module docstring) when a dead mask is given."""
    if dead is None:
        return total
    centred = x - params.b_dec
    dense = jax.lax.stop_gradient(centred @ params.W_enc + params.b_enc)
    return total + hp.aux_coefficient * _auxk_loss(params, centred, dense, x - x_hat, dead, k_max)


def _batchtopk_loss(params, x, hp, k_max, dead=None, sparse: bool | None = None):
    x = x / sample_scale(x)  # the whole loss lives in per-sample normalised units
    if sparse_decode(k_max, params.n_latents) if sparse is None else sparse:
        selected = _batch_selected(params, x, hp, k_max)
        x_hat = decode_selected(params, selected, x.shape[0])
        aux = _selected_aux(x, x_hat, selected, params.n_latents)
        return _with_auxk(aux.mse, params, x, x_hat, hp, k_max, dead), aux
    f = _batchtopk_train_encode(params, x, hp, k_max)
    x_hat = decode(params, f)
    total = _with_auxk(squared_error(x, x_hat), params, x, x_hat, hp, k_max, dead)
    return total, _dense_aux(x, x_hat, f, jax.lax.stop_gradient(_batch_threshold(f)))


def _update_batch_threshold(params, aux):
    theta = jnp.exp(params.log_threshold)
    theta = jnp.where(aux.batch_threshold > 0, theta + THRESHOLD_EMA * (aux.batch_threshold - theta), theta)
    return params.replace(log_threshold=jnp.log(theta))


def matryoshka_prefixes(m: int) -> tuple[int, ...]:
    """Nested dictionary sizes m/8, m/4, m/2, m (distinct, ≥ 1)."""
    return tuple(sorted({max(m // 8, 1), max(m // 4, 1), max(m // 2, 1), m}))


def prefix_losses(params: SAEParams, x: Float[Array, "b d"], f: Float[Array, "b m"]) -> Float[Array, " prefixes"]:
    """mean_b ‖x − (f_{:p} W_dec,{:p} + b_dec)‖² for each prefix p."""
    return jnp.stack([squared_error(x, f[:, :p] @ params.W_dec[:p] + params.b_dec) for p in matryoshka_prefixes(params.n_latents)])


def _matryoshka_loss(params, x, hp, k_max, dead=None, sparse: bool | None = None):
    x = x / sample_scale(x)
    if sparse_decode(k_max, params.n_latents) if sparse is None else sparse:
        selected = _batch_selected(params, x, hp, k_max)
        x_hat = decode_selected(params, selected, x.shape[0])
        prefixes = [squared_error(x, decode_selected(params, selected, x.shape[0], p)) for p in matryoshka_prefixes(params.n_latents)]
        aux = _selected_aux(x, x_hat, selected, params.n_latents)
        return _with_auxk(jnp.sum(jnp.stack(prefixes)), params, x, x_hat, hp, k_max, dead), aux
    f = _batchtopk_train_encode(params, x, hp, k_max)
    x_hat = decode(params, f)
    aux = _dense_aux(x, x_hat, f, jax.lax.stop_gradient(_batch_threshold(f)))
    return _with_auxk(jnp.sum(prefix_losses(params, x, f)), params, x, x_hat, hp, k_max, dead), aux


def _matryoshka_l1_loss(params, x, hp, k_max, dead=None):
    f = _relu_encode(params, x, hp, k_max)
    x_hat = decode(params, f)
    return jnp.sum(prefix_losses(params, x, f)) + _l1_penalty(params, f, hp), _dense_aux(x, x_hat, f)


# --- JumpReLU ------------------------------------------------------------------------


def _rectangle(u):
    return (jnp.abs(u) < 0.5).astype(u.dtype)


@jax.custom_jvp
def heaviside_step(z, theta, bandwidth):
    """H(z − θ), with the pseudo-derivative −K((z − θ)/ε)/ε in θ and none in z."""
    return (z > theta).astype(z.dtype)


@heaviside_step.defjvp
def _heaviside_step_jvp(primals, tangents):
    z, theta, bandwidth = primals
    _, theta_dot, _ = tangents
    bandwidth = jnp.asarray(bandwidth, z.dtype)  # a f32 hyperparameter must not promote bf16 tangents
    kernel = _rectangle((z - theta) / bandwidth) / bandwidth
    return heaviside_step(z, theta, bandwidth), -kernel * theta_dot


@jax.custom_jvp
def jump_relu(z, theta, bandwidth):
    """z · H(z − θ), with ∂/∂z = H(z − θ) and the pseudo-derivative −(θ/ε) K((z − θ)/ε) in θ."""
    return z * (z > theta).astype(z.dtype)


@jump_relu.defjvp
def _jump_relu_jvp(primals, tangents):
    z, theta, bandwidth = primals
    z_dot, theta_dot, _ = tangents
    bandwidth = jnp.asarray(bandwidth, z.dtype)
    step = (z > theta).astype(z.dtype)
    kernel = _rectangle((z - theta) / bandwidth) / bandwidth
    return jump_relu(z, theta, bandwidth), z_dot * step - theta * kernel * theta_dot


def _jumprelu_encode(params, x, hp, k_max):
    return jump_relu(pre_activation(params, x / sample_scale(x)), jnp.exp(params.log_threshold), hp.bandwidth)


def _jumprelu_unscaled_encode(params, x, hp, k_max):
    return jump_relu(pre_activation(params, x), jnp.exp(params.log_threshold), hp.bandwidth)


def _jumprelu_objective(params, x, hp):
    a = pre_activation(params, x)
    theta = jnp.exp(params.log_threshold)
    f = jump_relu(a, theta, hp.bandwidth)
    x_hat = decode(params, f)
    l0 = jnp.mean(jnp.sum(heaviside_step(a, theta, hp.bandwidth), axis=-1))
    return squared_error(x, x_hat) + hp.l1_coefficient * l0, _dense_aux(x, x_hat, f)


def _jumprelu_loss(params, x, hp, k_max, dead=None):
    # Per-sample scaling as for BatchTopK: interference grows with ‖x‖, so one absolute
    # threshold per latent cannot separate signal from it across samples of different norm.
    return _jumprelu_objective(params, x / sample_scale(x), hp)


def _jumprelu_unscaled_loss(params, x, hp, k_max, dead=None):
    return _jumprelu_objective(params, x, hp)


# --- Gated ---------------------------------------------------------------------------


def _gated_paths(params, x):
    centred = x - params.b_dec
    gate = centred @ params.W_enc + params.b_enc
    magnitude = centred @ (params.W_enc * jnp.exp(params.r_mag)) + params.b_mag
    return gate, magnitude


def _gated_encode(params, x, hp, k_max):
    gate, magnitude = _gated_paths(params, x)
    return jnp.where(gate > 0, jax.nn.relu(magnitude), 0.0)


def _gated_loss(params, x, hp, k_max, dead=None):
    gate, magnitude = _gated_paths(params, x)
    f = jnp.where(gate > 0, jax.nn.relu(magnitude), 0.0)
    x_hat = decode(params, f)
    gate_activity = jax.nn.relu(gate)
    penalty = hp.l1_coefficient * jnp.mean(gate_activity @ jnp.linalg.norm(params.W_dec, axis=-1))
    frozen_decoder = jax.lax.stop_gradient(params.W_dec)
    gate_reconstruction = gate_activity @ frozen_decoder + jax.lax.stop_gradient(params.b_dec)
    return squared_error(x, x_hat) + penalty + squared_error(x, gate_reconstruction), _dense_aux(x, x_hat, f)


def matching_pursuit(
    params: SAEParams, x: Float[Array, "b d"], k: Int[Array, ""] | int, k_max: int, residual_threshold: Float[Array, ""] | float = 0.0
) -> tuple[Float[Array, "b k_max"], Int[Array, "b k_max"]]:
    """Per-step (values, indices) of matching pursuit (module docstring); steps ≥ k, and
    steps after a sample stopped, carry value 0."""
    rows = params.W_dec
    b = x.shape[0]

    def step(carry, t):
        residual, done, values, indices = carry
        scores = jax.lax.stop_gradient(jax.nn.relu(residual @ rows.T))
        j = jnp.argmax(scores, axis=-1)
        chosen = rows[j]  # [b, d]
        v = jax.nn.relu(jnp.sum(residual * chosen, axis=-1))
        active = jnp.logical_and(~done, t < k)
        v = jnp.where(active, v, 0.0)
        # the support is unchanged when the atom already holds a positive value, or nothing is added
        seen = jnp.any((indices == j[:, None]) & (values > 0), axis=-1)
        residual = residual - v[:, None] * chosen
        # ‖r‖ is read without gradient: the stopping rule, like the choice of atom, carries none
        small = jax.lax.stop_gradient(jnp.linalg.norm(residual, axis=-1)) < residual_threshold
        done = done | (active & (seen | (v <= 0) | small)) | (t >= k)
        values = values.at[:, t].set(v)
        indices = indices.at[:, t].set(j)
        return (residual, done, values, indices), None

    start = (x - params.b_dec, jnp.zeros((b,), bool), jnp.zeros((b, k_max), x.dtype), jnp.full((b, k_max), -1))
    (_, _, values, indices), _ = jax.lax.scan(step, start, jnp.arange(k_max))
    return values, indices


def _pursuit_latents(values, indices, m):
    """Dense latents [b, m] from the per-step (values, indices): a repeated atom's values add up."""
    rows = jnp.arange(values.shape[0])[:, None]
    return jnp.zeros((values.shape[0], m), values.dtype).at[rows, indices].add(values)


def _matching_pursuit_encode(params, x, hp, k_max):
    return _pursuit_latents(*matching_pursuit(params, x, hp.k, k_max, hp.residual_threshold), params.n_latents)


def _matching_pursuit_loss(params, x, hp, k_max, dead=None):
    values, indices = matching_pursuit(params, x, hp.k, k_max, hp.residual_threshold)  # one pursuit serves the loss and the firing counts
    x_hat = jnp.einsum("bk,bkd->bd", values, params.W_dec[indices]) + params.b_dec
    f = jax.lax.stop_gradient(_pursuit_latents(values, indices, params.n_latents))
    return squared_error(x, x_hat), _dense_aux(x, jax.lax.stop_gradient(x_hat), f)


ARCHITECTURES = {
    "relu": Architecture("relu", _relu_encode, _relu_loss, uses_k=False, penalty="l1", auxk=False, scales_input=False, inference="relu"),
    "topk": Architecture("topk", _topk_encode, _topk_loss, uses_k=True, penalty="none", auxk=True, scales_input=False, inference="topk"),
    "batchtopk": Architecture(
        "batchtopk",
        _threshold_encode,
        _batchtopk_loss,
        uses_k=True,
        penalty="none",
        auxk=True,
        scales_input=True,
        inference="threshold",
        after_step=_update_batch_threshold,
    ),
    "matryoshka": Architecture(
        "matryoshka",
        _threshold_encode,
        _matryoshka_loss,
        uses_k=True,
        penalty="none",
        auxk=True,
        scales_input=True,
        inference="threshold",
        after_step=_update_batch_threshold,
    ),
    "matryoshka_l1": Architecture(
        "matryoshka_l1", _relu_encode, _matryoshka_l1_loss, uses_k=False, penalty="l1", auxk=False, scales_input=False, inference="relu"
    ),
    "jumprelu": Architecture(
        "jumprelu", _jumprelu_encode, _jumprelu_loss, uses_k=False, penalty="l0", auxk=False, scales_input=True, inference="jumprelu"
    ),
    "jumprelu_unscaled": Architecture(
        "jumprelu_unscaled",
        _jumprelu_unscaled_encode,
        _jumprelu_unscaled_loss,
        uses_k=False,
        penalty="l0",
        auxk=False,
        scales_input=False,
        inference="jumprelu",
    ),
    "gated": Architecture(
        "gated", _gated_encode, _gated_loss, uses_k=False, penalty="l1", auxk=False, scales_input=False, inference="gated"
    ),
    "matching_pursuit": Architecture(
        "matching_pursuit",
        _matching_pursuit_encode,
        _matching_pursuit_loss,
        uses_k=True,
        penalty="none",
        auxk=False,
        scales_input=False,
        inference="matching_pursuit",
        unit_norm_decoder=False,
    ),
}
for _arch in ARCHITECTURES.values():  # the declarations must stay within their vocabularies
    assert _arch.penalty in PENALTIES and _arch.inference in INFERENCE_ENCODINGS, _arch.name


def get(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}") from None
