"""Shared test settings: hypothesis derandomised with no deadline (new shapes recompile)."""

from hypothesis import settings


settings.register_profile("toylab", derandomize=True, deadline=None, max_examples=25, print_blob=True)
settings.load_profile("toylab")
