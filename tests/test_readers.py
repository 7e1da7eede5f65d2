"""The readers' declaration (sae.readers): every public reader is a method, a grader or shared
arithmetic, once. (Where a method's inputs come from is checked at its call sites: tests/test_wall.py.)"""

import inspect

from sae import readers


def _public_functions():
    for module in (
        readers.clustering,
        readers.detectors,
        readers.folding,
        readers.geometry,
        readers.grid_latents,
        readers.hierarchy,
        readers.knockoff,
        readers.manifold_finder,
        readers.manifold_grading,
        readers.manifold_ranking,
        readers.projection_circles,
        readers.topology,
        readers.wall,
    ):
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_"):
                yield value


def test_every_public_reader_is_declared_on_one_side():
    declared = [*readers.METHODS, *readers.GRADERS, *readers.SHARED]
    assert len(declared) == len(set(declared)), "declared twice"
    missing = {f"{f.__module__}.{f.__name__}" for f in _public_functions()} - {f"{f.__module__}.{f.__name__}" for f in declared}
    assert missing == set()
