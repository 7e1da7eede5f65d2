"""The wall between methods and graders.

A *method* gets what a researcher has on a real model: activations x, a dictionary (its
parameters: encoder, decoder) and the codes it gives, and its own settings. It never gets
a toy's truth (true codes, planted planes, phases, labels, the hierarchy). A *grader* gets
the method's answer and the truth. Experiments compose the two: observe → method → grade.

`observe(batch, ...)` is the only road from a toy's sample to a method: it reads `batch.x`
and nothing else. `sealed(batch)` replaces the batch's truth with `SealedTruth`, which
raises `TruthAccessed` on any use, so a test can run every method behind the wall and
check its answer is unchanged (tests/test_wall.py lists the methods it covers).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np


class TruthAccessed(RuntimeError):
    """A method touched the truth."""


class SealedTruth:
    """Stands in for a toy's truth behind the wall: any use raises TruthAccessed."""

    def _refuse(self, *args, **kwargs):
        raise TruthAccessed("a method read the truth")

    __getattr__ = __getitem__ = __iter__ = __len__ = __array__ = __bool__ = __float__ = __int__ = _refuse
    __eq__ = __lt__ = __gt__ = __add__ = __mul__ = __contains__ = _refuse
    __hash__ = None


def sealed(batch):
    """The same batch (a `toys.protocol.Batch`) with its true codes and truth sealed."""
    return dataclasses.replace(batch, codes=SealedTruth(), truth=SealedTruth())


class Observation(NamedTuple):
    """What a method gets: activations, the dictionary's codes on them, its decoder and encoder."""

    x: np.ndarray  # [n, d]
    codes: np.ndarray  # [n, m] the dictionary's latent activations
    decoder: np.ndarray  # [m, d]
    encoder: np.ndarray | None  # [d, m]


def observe(batch, arch: str, params, hps, index: int = 0) -> Observation:
    """Encode a batch's activations (batch.x only) with one dictionary of a stacked grid."""
    from sae import pipeline

    x = np.asarray(batch.x)
    codes = np.asarray(pipeline.encode(arch, params, hps, x))
    return Observation(x, codes[index], np.asarray(params.W_dec[index]), np.asarray(params.W_enc[index]))
