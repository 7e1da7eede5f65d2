"""Rates that must agree, tested feature by feature with binomial intervals (a test helper)."""

from __future__ import annotations

import numpy as np
from scipy import stats

LEVEL = 0.999


def outside_share(count_a, n_a, count_b, n_b=None):
    """Share of features whose two rates differ beyond the two-sided 99.9% binomial interval.

    With n_b None, count_b are exact probabilities. The test compares this share with
    what chance allows when all features agree (a binomial tail at 0.1% per feature).
    """
    a = np.asarray(count_a, np.float64) / n_a
    if n_b is None:
        p, var = np.asarray(count_b, np.float64), np.asarray(count_b, np.float64) * (1 - np.asarray(count_b)) / n_a
        diff = a - p
    else:
        b = np.asarray(count_b, np.float64) / n_b
        pooled = (np.asarray(count_a) + np.asarray(count_b)) / (n_a + n_b)
        var, diff = pooled * (1 - pooled) * (1 / n_a + 1 / n_b), a - b
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    return np.abs(diff) > z * np.sqrt(np.maximum(var, 1e-300)) + 1e-12


def allowed_outside(n_features: int) -> int:
    """The most features outside their 99.9% intervals that chance allows (binomial, p = 1e-6)."""
    return int(stats.binom.ppf(1 - 1e-6, n_features, 1 - LEVEL))
