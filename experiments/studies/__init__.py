"""The studies: one module each, ending in `STUDY = experiments.runner.study.Study(...)`.

Every module here is a study (`experiments.runner.registry` finds them by file name:
`zoom_out.py` is `toylab run zoom-out`). A study composes the library (toys, sae, theory)
and the shared helpers one level up (`experiments.recovery`, `experiments.circle_cells`, …);
it imports no other study.
"""
