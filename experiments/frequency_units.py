"""A modular-arithmetic network's hidden layer read unit by unit, shared by `modular` and `pizza_clock`.

Three readings of one layer — a TopK SAE trained on it, a random dictionary of the same size
encoded by TopK with the same k (chance) and the neurons themselves — and, per reading, how
many live units sit on each frequency's circles (`sae.readers.geometry.on_manifold` of the unit's
direction in the frequency's 2-D subspace, `toys.modular.frequency_subspaces`).
"""

from __future__ import annotations

import numpy as np

from experiments.recovery import seed_keys
from sae import architectures, pipeline
from sae.readers import geometry, wall
from toys import modular


def units_per_frequency(directions, subspaces: dict, live) -> dict[str, int]:
    """How many live units have ≥ ½ of their direction's energy in each frequency's subspace."""
    return {str(k): int(np.sum(geometry.on_manifold(directions, span) & live)) for k, span in subspaces.items()}


def dominant_frequency(directions, subspaces: dict) -> np.ndarray:
    """Each unit's frequency whose subspace holds the largest share of its direction's energy, [n_units]."""
    unit = np.asarray(directions, np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    frequencies = list(subspaces)
    energy = np.stack([np.sum((unit @ subspaces[k].T) ** 2, axis=1) for k in frequencies], axis=1)
    return np.asarray(frequencies)[np.argmax(energy, axis=1)]


def unit_counts(codes, directions, subspaces: dict, key_frequencies) -> dict:
    """One reading's units (codes [n, units], directions [units, H]): how many, how many live, the live
    units on each key frequency's circles and on other frequencies' (`units_per_frequency`), and each
    live unit counted at its dominant frequency (a weaker reading)."""
    live = np.any(np.asarray(codes) > 0, axis=0)
    per_frequency = units_per_frequency(directions, subspaces, live)
    dominant = dominant_frequency(directions, subspaces)[live]
    return {
        "units": int(np.shape(codes)[1]),
        "live": int(live.sum()),
        "per_key_frequency": {str(k): per_frequency[str(k)] for k in key_frequencies},
        "other_frequencies": int(sum(v for k, v in per_frequency.items() if int(k) not in key_frequencies)),
        "per_frequency": per_frequency,
        "dominant_at_key_frequency": {str(k): int(np.sum(dominant == k)) for k in key_frequencies},
    }


def layer_units(config, net: modular.ModularConfig, result, key_sae, key_random, key_frequencies, index: int = 0, runtime=None) -> dict:
    """Network `index`'s hidden layer over every pair, read by a TopK SAE (config.sae_size, k,
    sae_steps, sae_batch_size, sae_learning_rate), a random dictionary encoded by TopK with the
    same k (chance) and the neurons: each kind's observation (`wall.Observation`), codes [p², units]
    and directions [units, H],
    the SAE's explained variance, and per kind the live units on each frequency's circles."""
    layer = modular.layer(result, "hidden", index)
    hidden = np.asarray(layer.x)
    H = layer.d
    hps = pipeline.stack([architectures.hparams(config.sae_learning_rate, 0.0, config.k)])
    sae = pipeline.fit(
        "topk",
        layer,
        hps,
        seed_keys(key_sae, config.sae_size, [0]),
        n_latents=config.sae_size,
        steps=config.sae_steps,
        batch_size=config.sae_batch_size,
        label=f"topk m={config.sae_size} on the hidden layer",
        runtime=runtime,
    )
    random_params = pipeline.chance_dictionaries(key_random[None], H, config.sae_size)
    # what a method may read of each kind: the layer's activations over every pair, encoded; nothing else
    observations = {
        "sae": wall.observe(layer, "topk", sae.params, hps),
        "random": wall.observe_chance(layer, random_params, config.k),
        "neuron": wall.observe_derived(layer, lambda x: {"x": x, "codes": x, "decoder": np.eye(x.shape[1])}),
    }
    codes = {kind: observation.codes for kind, observation in observations.items()}
    directions = {"sae": np.asarray(sae.params.W_dec[0]), "random": np.asarray(random_params.W_dec[0]), "neuron": np.eye(H)}
    explained = pipeline.explained_variance("topk", sae.params, hps, hidden)[0]
    all_frequencies = list(range(1, (net.p - 1) // 2 + 1))
    subspaces = modular.frequency_subspaces(hidden, net.p, all_frequencies)
    per_kind = {kind: unit_counts(unit_codes, directions[kind], subspaces, key_frequencies) for kind, unit_codes in codes.items()}
    return {
        "hidden": hidden,
        "codes": codes,
        "observations": observations,
        "directions": directions,
        "subspaces": subspaces,
        "explained_variance": float(explained),
        "per_kind": per_kind,
        "sae_params": sae.params,
        "sae_hparams": hps,
    }
