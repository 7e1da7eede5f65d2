"""The stored null (`sae/readers/circle_null.json`) is what the current code makes.

The claim threshold of the blind circle ranking comes from stored null tops; if the finder, the
ranking or the training changed what null dictionaries reach, the stored tops would no longer
be the null of the code that uses them. Two checks on a slice of the quick stratum (the one
`circles-grid --quick` and `circle-adversaries` read):

- **the method, exactly**: one stored cell's null SAEs (`tests/fixtures/circle_null_cell.safetensors`,
  saved when the stratum was drawn) and the same cell's random dictionary, re-read by the
  current finder and ranking on the cell's sample (rebuilt from the stored seed), give the
  stored top evidence at every k. The only slack is float order (this suite compiles with XLA's
  optimisations off): 0.02.
- **the training, within sampling error**: the same cell's SAEs retrained by the current code at
  the smallest k give a top evidence inside the stored null's own spread at that k
  (between its smallest and largest value over the stratum's cells, widened by 0.05).

A change that moves the null fails here; then `toylab run circle-null` redraws it and
`tools/store_circle_null.py` stores it.
"""

from pathlib import Path

import jax.numpy as jnp
import pytest
from safetensors.numpy import load_file

from experiments import circle_cells
from experiments.recovery import seed_keys
from experiments.runner import seeding
from sae import architectures, pipeline
from sae.params import SAEParams
from sae.readers import manifold_ranking

FIXTURE = Path(__file__).parent / "fixtures" / "circle_null_cell.safetensors"
QUICK = manifold_ranking.Stratum(2000, 256, 6144)
FLOAT_ORDER = 0.02


def _quick_stratum() -> dict:
    return next(s for s in manifold_ranking.stored_strata() if manifold_ranking.Stratum(**s["stratum"]) == QUICK)


def _cell_setup(stored: dict, index: int):
    cell = {**stored["cells"][index], "k": 1}
    config = circle_cells.Config(
        seed=stored["seed"],
        learning_rate=stored["learning_rate"],
        steps=QUICK.steps,
        batch_size=QUICK.batch_size,
        n_geometry=QUICK.n_geometry,
        ks=tuple(int(k) for k in cell["trained_top_evidence"]),
    )
    key = seed_keys(seeding.root_key(stored["seed"]), index, [0])[0]
    return config, cell, key


def test_the_stored_cells_dictionaries_read_as_stored():
    stored = _quick_stratum()
    arrays = load_file(str(FIXTURE))
    index = int(arrays.pop("cell_index"))
    config, cell, key = _cell_setup(stored, index)
    params = SAEParams(**{name: jnp.asarray(value) for name, value in arrays.items()})
    hps = pipeline.stack([architectures.hparams(config.learning_rate, 0.0, k) for k in config.ks])
    tops = circle_cells.null_cell_tops(config, cell, key, params, hps)
    for family in ("trained_top_evidence", "random_top_evidence"):
        for k, value in stored["cells"][index][family].items():
            assert abs(tops[family][k] - value) <= FLOAT_ORDER, (family, k, tops[family][k], value)


def test_retraining_the_cell_stays_within_the_stored_null():
    stored = _quick_stratum()
    index = int(load_file(str(FIXTURE))["cell_index"])
    config, cell, key = _cell_setup(stored, index)
    k = min(config.ks)
    config = circle_cells.Config(
        seed=config.seed,
        learning_rate=config.learning_rate,
        steps=config.steps,
        batch_size=config.batch_size,
        n_geometry=config.n_geometry,
        ks=(k,),
    )
    params, hps = circle_cells.null_cell_dictionaries(config, cell, key)
    top = circle_cells.null_cell_tops(config, cell, key, params, hps)["trained_top_evidence"][str(k)]
    tops = manifold_ranking.stratum_tops(stored, k)
    assert tops.min() - 0.05 <= top <= tops.max() + 0.05, (top, tops.min(), tops.max())


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_each_k_has_enough_nulls_for_a_claim_at_alpha(k):
    tops = manifold_ranking.stored_null(k, QUICK)
    assert len(tops) + 1 >= 1 / manifold_ranking.CLAIM_ALPHA
    assert manifold_ranking.claim_threshold(tops) is not None
