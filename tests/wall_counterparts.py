"""Methods that break the wall, each by a road a sealed batch does not watch (tests/test_wall.py)."""

import numpy as np

LEAK = None  # a test sets this to the truth in its own process, as a careless study might


def imports_a_toy(codes):
    from toys import trees  # noqa: F401  (reaching for the planted hierarchy)

    return np.asarray(codes).sum(axis=0)


def imports_a_study(codes):
    from experiments import circle_cells  # noqa: F401

    return np.asarray(codes).sum(axis=0)


def reads_a_global(codes):
    """Returns the truth its caller left in a module global (rows of it, one per code row)."""
    return np.asarray(LEAK)[: len(codes)] + 0 * np.asarray(codes)[:, 0]


def honest(v):
    """Reads its input only."""
    return np.asarray(v).sum(axis=0)
