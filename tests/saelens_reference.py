"""SAELens, the reference the conformance suite compares toylab with.

`make test` installs it (the version pinned in the Makefile) and sets
TOYLAB_CONFORMANCE=required, so a missing or broken install fails the run instead of
skipping the comparisons; a plain `pytest` without it skips them.
"""

from __future__ import annotations

import os

import pytest

CHECKED_WITH = "6.54.12"  # the sae-lens release this suite was written against (Makefile: SAELENS_VERSION)


def require(module: str = "sae_lens"):
    """Import `module` from SAELens; skip without it, or fail when TOYLAB_CONFORMANCE=required."""
    if os.environ.get("TOYLAB_CONFORMANCE") == "required":
        import importlib

        try:
            return importlib.import_module(module)
        except ImportError as error:
            pytest.fail(f"TOYLAB_CONFORMANCE=required but {module} does not import ({error}); run `make test`")
    return pytest.importorskip(module, reason="sae-lens not installed (`make test` installs it)")
