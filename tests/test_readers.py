"""The readers' declaration (sae.readers): every public reader is a method, a grader or shared
arithmetic, once; a method's parameters carry no truth, a grader's do."""

import inspect

from sae import readers

# Parameter names that carry a toy's truth (planted planes and spans, phases, labels, true features, trees).
TRUTH = {"truth", "true_features", "planted", "labels", "label", "phases", "present", "circle", "span", "plane",
         "theta", "wrong", "y", "circles", "subspaces"}


def _public_functions():
    for module in (readers.clustering, readers.detectors, readers.folding, readers.geometry, readers.grid_latents,
                   readers.hierarchy, readers.knockoff, readers.manifold_finder, readers.manifold_grading,
                   readers.manifold_ranking, readers.topology, readers.wall):
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_"):
                yield value


def test_every_public_reader_is_declared_on_one_side():
    declared = [*readers.METHODS, *readers.GRADERS, *readers.SHARED]
    assert len(declared) == len(set(declared)), "declared twice"
    missing = {f"{f.__module__}.{f.__name__}" for f in _public_functions()} - {
        f"{f.__module__}.{f.__name__}" for f in declared}
    assert missing == set()


def test_methods_take_no_truth_and_graders_do():
    def parameters(function):
        return set(inspect.signature(function).parameters)

    peeking = {f.__name__: parameters(f) & TRUTH for f in readers.METHODS if parameters(f) & TRUTH}
    assert peeking == {}
    blind_graders = [f.__name__ for f in readers.GRADERS if not parameters(f) & TRUTH]
    assert blind_graders == []
