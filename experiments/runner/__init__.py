"""Run infrastructure, apart from the studies: the CLI, config overrides and help text, the
study contract and registry, run folders and records, reports, memory checks, seeding and
re-scoring. Studies (`experiments/studies/<name>.py`) and the kernel import from here; nothing
here imports a study, a study helper or the kernel except through the registry (the CLI also
imports the commands it dispatches: `experiments.theory`, `experiments.bench`)."""
