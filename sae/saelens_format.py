"""Dictionaries on disk in SAELens' format: a folder with cfg.json and sae_weights.safetensors.

Axes: d activation dimensions (SAELens' d_in), m latents (d_sae).

Weights (float32, written with the `safetensors` NumPy API, no torch):
    W_enc [d, m], b_enc [m], W_dec [m, d], b_dec [d]
    threshold [m]          for SAELens "jumprelu" (our jumprelu, batchtopk, matryoshka)
    b_gate, r_mag, b_mag   for SAELens "gated" (b_gate is our b_enc)
cfg.json carries SAELens' inference fields — architecture, d_in, d_sae, dtype, device,
apply_b_dec_to_input (true: the encoder reads x − b_dec), normalize_activations,
reshape_activations, metadata, k for "topk" and max_iterations for "matching_pursuit" —
plus our own fields under the
separate key "toylab" (the architecture name, hyperparameters, toy and run).

Architecture map (toylab → SAELens, as written):
    relu, matryoshka_l1 → "standard"   f = ReLU((x − b_dec) W_enc + b_enc)
    topk                → "topk"       the k largest of ReLU(…); rescale_acts_by_decoder_norm false
    jumprelu, jumprelu_unscaled → "jumprelu"   a·1[a > threshold]
    batchtopk, matryoshka → "jumprelu" with threshold = the learned inference θ
                          (at inference BatchTopK is a·1[a > θ], a ≥ 0 — a JumpReLU)
    gated               → "gated"
    matching_pursuit    → "matching_pursuit" with max_iterations = k, residual_threshold = the
                          run's ρ (0 by default), stop_on_duplicate_support = true (the encoder is
                          tied: only W_dec and b_dec are written, as SAELens writes them)
Architectures that scale each sample to x·√d/‖x‖ and back (`Architecture.scales_input`)
are written with normalize_activations = "constant_norm_rescale"; the others "none".

Reading (a folder with our "toylab" key maps back to its architecture). A folder SAELens
wrote, with `save_model` or `save_inference_model`, is read as SAELens' inference SAE
encodes it:
    standard / none → relu;  topk / none → topk;  gated / none → gated;
    jumprelu / none → jumprelu_unscaled;  jumprelu / constant_norm_rescale → jumprelu;
    batchtopk, matryoshka_batchtopk (training folders, a scalar topk_threshold) → the JumpReLU
        SAELens' save_inference_model makes of them, θ_j = topk_threshold, by normalisation;
    matching_pursuit / none → matching_pursuit with k = max_iterations (None: d_in) and ρ =
        residual_threshold (1e-2 when absent, SAELens' default); no W_enc needed.
rescale_acts_by_decoder_norm = true (SAELens' TopK training default) is folded in as SAELens
folds it (W_enc·‖W_dec,j‖, b_enc·‖W_dec,j‖, W_dec/‖W_dec,j‖), which encodes the same.
Refused, in one line naming the field: any other architecture (abstopk, transcoders, temporal)
or normalisation (layer_norm, expected_average_only_in, constant_norm_rescale where toylab's
architecture does not scale), apply_b_dec_to_input false, reshape_activations other than
"none", stop_on_duplicate_support false, a missing or corrupt file, and shapes that disagree
with cfg.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sae import architectures, saved_files
from sae.params import INITIAL_THRESHOLD, SAEParams
from sae.saved_files import CONFIG_FILE, WEIGHTS_FILE, FormatError  # noqa: F401 (this module's public names)
from toys.engine.files import write_folder

_BY_INFERENCE = {
    "relu": "standard",
    "topk": "topk",
    "threshold": "jumprelu",
    "jumprelu": "jumprelu",
    "gated": "gated",
    "matching_pursuit": "matching_pursuit",
}
# How toylab reads a folder SAELens wrote: (SAELens architecture, normalize_activations) → toylab architecture.
# Each pair encodes as SAELens' inference SAE encodes that folder (tests/test_conformance.py checks it).
_FROM_SAELENS = {
    ("standard", "none"): "relu",
    ("topk", "none"): "topk",
    ("gated", "none"): "gated",
    ("jumprelu", "none"): "jumprelu_unscaled",
    ("jumprelu", "constant_norm_rescale"): "jumprelu",
    ("matching_pursuit", "none"): "matching_pursuit",
}
# SAELens' BatchTopK-type training folders (`save_model`) hold a scalar topk_threshold; SAELens' own
# save_inference_model turns them into a JumpReLU with θ_j = topk_threshold, and so does toylab.
_BATCHTOPK_TRAINING = ("batchtopk", "matryoshka_batchtopk")
SAELENS_RESIDUAL_THRESHOLD = 1e-2  # SAELens' MatchingPursuitSAEConfig default, when a folder omits it


def saelens_architecture(arch: str) -> str:
    """SAELens' architecture for a toylab one, from how it encodes at inference (`Architecture.inference`)."""
    return _BY_INFERENCE[architectures.get(arch).inference]


def _normalisation(arch: str) -> str:
    return "constant_norm_rescale" if architectures.get(arch).scales_input else "none"


def to_tensors(arch: str, params: SAEParams) -> dict[str, np.ndarray]:
    """The safetensors dict of one (unstacked) dictionary."""
    p = {name: np.ascontiguousarray(np.asarray(value, np.float32)) for name, value in vars(params).items()}
    target = saelens_architecture(arch)
    tensors = {"W_dec": p["W_dec"], "b_dec": p["b_dec"]}
    if target == "gated":
        tensors.update(W_enc=p["W_enc"], b_gate=p["b_enc"], r_mag=p["r_mag"], b_mag=p["b_mag"])
    elif target != "matching_pursuit":  # matching pursuit is tied: SAELens holds no encoder tensors for it
        tensors.update(W_enc=p["W_enc"], b_enc=p["b_enc"])
    if target == "jumprelu":  # θ = exp(log θ) by the same exp the encoders use (see exact_log)
        import jax.numpy as jnp

        tensors["threshold"] = np.asarray(jnp.exp(jnp.asarray(p["log_threshold"])), np.float32)
    return tensors


def config_dict(arch: str, params: SAEParams, k: int | None = None, extra: dict | None = None) -> dict:
    """cfg.json for one dictionary (SAELens' inference fields + our own under "toylab")."""
    m, d = np.asarray(params.W_dec).shape
    cfg = {
        "architecture": saelens_architecture(arch),
        "d_in": int(d),
        "d_sae": int(m),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": _normalisation(arch),
        "reshape_activations": "none",
        "metadata": {},
    }
    if cfg["architecture"] == "topk":
        if k is None:
            raise ValueError("k: a topk dictionary needs its k")
        cfg["k"] = int(k)
        cfg["rescale_acts_by_decoder_norm"] = False
    if cfg["architecture"] == "matching_pursuit":  # k greedy steps, stopping on a repeated support or a small residual
        if k is None:
            raise ValueError("k: a matching_pursuit dictionary needs its k")
        residual_threshold = float((extra or {}).get("hparams", {}).get("residual_threshold", 0.0))
        cfg.update(max_iterations=int(k), residual_threshold=residual_threshold, stop_on_duplicate_support=True)
    cfg["toylab"] = {"architecture": architectures.get(arch).name, **({} if k is None else {"k": int(k)}), **(extra or {})}
    return cfg


def save(folder: str | Path, arch: str, params: SAEParams, k: int | None = None, extra: dict | None = None) -> Path:
    """Write one dictionary to `folder` (created; replaced atomically: a temporary folder, then a rename)."""
    from safetensors.numpy import save_file

    def write(temporary: Path) -> None:
        save_file(to_tensors(arch, params), str(temporary / WEIGHTS_FILE))
        (temporary / CONFIG_FILE).write_text(json.dumps(config_dict(arch, params, k, extra), indent=2) + "\n", encoding="utf-8")

    return write_folder(folder, write)


def _toylab_reading(saelens_arch, normalisation) -> str:
    """The toylab architecture that encodes a SAELens folder as SAELens does; FormatError when none does."""
    inference = "jumprelu" if saelens_arch in _BATCHTOPK_TRAINING else saelens_arch
    if (inference, normalisation) in _FROM_SAELENS:
        return _FROM_SAELENS[inference, normalisation]
    known = sorted({a for a, _ in _FROM_SAELENS} | set(_BATCHTOPK_TRAINING))
    if inference not in known:
        raise FormatError(f"architecture: got {saelens_arch!r}, allowed values {', '.join(known)}")
    allowed = [n for a, n in _FROM_SAELENS if a == inference]
    raise FormatError(
        f"normalize_activations: got {normalisation!r}; toylab reads a SAELens {saelens_arch} folder "
        f"with {' or '.join(repr(n) for n in allowed)} only"
    )


def fold_decoder_norms(W_enc, b_enc, W_dec):
    """(W_enc·n, b_enc·n, W_dec/n) with n_j = max(‖W_dec,j‖, 1e-8): SAELens' fold of the decoder norms
    into the encoder (`fold_W_dec_norm`), which leaves TopK's choice and the reconstruction unchanged."""
    norms = np.maximum(np.linalg.norm(W_dec, axis=1), np.float32(1e-8)).astype(np.float32)
    return (W_enc * norms[None, :]).astype(np.float32), (b_enc * norms).astype(np.float32), (W_dec / norms[:, None]).astype(np.float32)


class Loaded(NamedTuple):
    arch: str  # toylab architecture name
    params: SAEParams  # one dictionary (no leading axis), NumPy leaves
    k: int | None  # for architectures that use k
    cfg: dict  # cfg.json as read

    def hparams(self) -> architectures.HParams:
        """The HParams to encode with: k from cfg.json, the rest as saved by toylab (defaults otherwise)."""
        saved = dict(self.cfg.get("toylab", {}).get("hparams", {}))
        saved["k"] = self.k if self.k is not None else saved.get("k", 1)
        if self.arch == "matching_pursuit" and "residual_threshold" not in saved:
            saved["residual_threshold"] = self.cfg.get("residual_threshold", SAELENS_RESIDUAL_THRESHOLD)
        return architectures.hparams(**{name: saved[name] for name in architectures.HParams._fields if name in saved})


def exact_log(threshold) -> np.ndarray:
    """float32 log θ chosen so that the encoders' exp(log θ) gives back θ bit for bit.

    toylab stores log θ and SAELens θ = exp(log θ); a plain log(θ) can miss the saved log θ
    by an ulp, which moves a latent that sits exactly at its threshold. Among log(θ) and its
    nearest float32 neighbours (±4 ulps, which include the saved value) the first whose
    `jnp.exp` equals θ is taken; θ = 0 gives −inf.
    """
    import jax.numpy as jnp

    theta = np.asarray(threshold, np.float32)
    with np.errstate(divide="ignore"):
        base = np.log(np.maximum(theta, 0.0)).astype(np.float32)
    candidates = [base]
    up, down = base, base
    for _ in range(4):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        candidates += [up, down]
    candidates = np.stack(candidates)  # [9, m]
    exact = np.asarray(jnp.exp(jnp.asarray(candidates))) == theta[None]
    first = np.argmax(exact, axis=0)
    chosen = candidates[first, np.arange(theta.size)]
    return np.where(exact.any(axis=0), chosen, base).astype(np.float32)


def load(folder: str | Path) -> Loaded:
    """Read a folder written by toylab or by SAELens; raises FormatError (one line) when it cannot."""
    cfg, tensors = saved_files.read(folder)  # files, JSON types, float and finite weights, counts
    weights_path = Path(folder) / WEIGHTS_FILE
    extra = cfg.get("toylab", {})
    ours = extra.get("architecture")
    saelens_arch = cfg.get("architecture")
    normalisation = cfg.get("normalize_activations", "none")
    if ours is not None:
        if ours not in architectures.ARCHITECTURES:
            raise FormatError(f"toylab.architecture: got {ours!r}, allowed values {', '.join(architectures.ARCHITECTURES)}")
        arch = ours
        if normalisation != _normalisation(arch):
            raise FormatError(f"normalize_activations: got {normalisation!r}; toylab's {arch} needs {_normalisation(arch)!r}")
    else:
        arch = _toylab_reading(saelens_arch, normalisation)

    d, m = cfg["d_in"], cfg["d_sae"]
    target = saelens_architecture(arch)
    gated, pursuit = target == "gated", target == "matching_pursuit"
    from_training = ours is None and saelens_arch in _BATCHTOPK_TRAINING
    expected = {"W_dec": (m, d), "b_dec": (d,)}
    if not pursuit:  # SAELens' matching pursuit is tied: it writes no encoder
        expected.update({"W_enc": (d, m), ("b_gate" if gated else "b_enc"): (m,)})
    if gated:
        expected.update(r_mag=(m,), b_mag=(m,))
    if target == "jumprelu" and from_training:
        expected["topk_threshold"] = ()  # one scalar θ for every latent
    elif target == "jumprelu":
        expected["threshold"] = (m,)
    for name, shape in expected.items():
        if name not in tensors:
            raise FormatError(f"{weights_path}: tensor {name} missing")
        if tuple(tensors[name].shape) != shape:
            raise FormatError(f"{name}: got shape {tuple(tensors[name].shape)}, expected {shape} (d_in={d}, d_sae={m})")

    if cfg.get("apply_b_dec_to_input", True) is not True:
        raise FormatError("apply_b_dec_to_input: got false; toylab's encoders read x − b_dec (allowed value true)")
    if cfg.get("reshape_activations", "none") != "none":
        raise FormatError(f"reshape_activations: got {cfg['reshape_activations']!r}; toylab reads flat activations (allowed value 'none')")
    if pursuit:
        if cfg.get("stop_on_duplicate_support", True) is not True:
            raise FormatError(
                "stop_on_duplicate_support: got false; toylab's matching_pursuit stops on a repeated support (allowed value true)"
            )
        residual_threshold = cfg.get("residual_threshold", SAELENS_RESIDUAL_THRESHOLD)
        if not isinstance(residual_threshold, (int, float)) or not residual_threshold >= 0:
            raise FormatError(f"residual_threshold: got {residual_threshold!r}, allowed range [0, inf)")
        # SAELens' max_iterations None means d_in iterations
        k = cfg.get("max_iterations", extra.get("k"))
        k = d if k is None and ours is None else k
    else:
        k = cfg.get("k", extra.get("k"))
    if architectures.get(arch).uses_k:
        if not saved_files.is_count(k) or k < 1 or (not pursuit and k > m):
            raise FormatError(f"k: got {k!r}, allowed range {'[1, inf)' if pursuit else f'[1, {m}]'}")
    # the same hyperparameter written twice must say one thing (meaning is never guessed)
    for field, value in (("toylab.k", extra.get("k")), ("toylab.hparams.k", extra.get("hparams", {}).get("k"))):
        if value is not None and architectures.get(arch).uses_k and value != k:
            raise FormatError(f"{Path(folder) / CONFIG_FILE}: {field} is {value!r} but k is {k!r}; a dictionary has one k")
    saved_threshold = extra.get("hparams", {}).get("residual_threshold")
    if pursuit and saved_threshold is not None and "residual_threshold" in cfg and saved_threshold != cfg["residual_threshold"]:
        raise FormatError(
            f"{Path(folder) / CONFIG_FILE}: toylab.hparams.residual_threshold is {saved_threshold!r} but "
            f"residual_threshold is {cfg['residual_threshold']!r}"
        )

    f32 = lambda name: np.asarray(tensors[name], np.float32)  # noqa: E731
    zeros = np.zeros((m,), np.float32)
    W_dec = f32("W_dec")
    W_enc = np.ascontiguousarray(W_dec.T) if pursuit else f32("W_enc")
    b_enc = zeros if pursuit else f32("b_gate" if gated else "b_enc")
    if cfg.get("rescale_acts_by_decoder_norm", False) is True:
        # SAELens scales the pre-activations by ‖W_dec,j‖ and decodes f_j/‖W_dec,j‖ W_dec,j: the same
        # encoder and decoder once the norms are folded in, as its save_inference_model does.
        W_enc, b_enc, W_dec = fold_decoder_norms(W_enc, b_enc, W_dec)
    if target == "jumprelu":
        threshold = np.full((m,), float(tensors["topk_threshold"]), np.float32) if from_training else f32("threshold")
    else:
        threshold = np.full((m,), INITIAL_THRESHOLD, np.float32)
    params = SAEParams(
        W_enc=W_enc,
        b_enc=b_enc,
        W_dec=W_dec,
        b_dec=f32("b_dec"),
        log_threshold=exact_log(threshold),
        r_mag=f32("r_mag") if gated else zeros,
        b_mag=f32("b_mag") if gated else zeros,
    )
    return Loaded(arch, params, k if architectures.get(arch).uses_k else None, cfg)
