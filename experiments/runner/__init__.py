"""Run infrastructure, apart from the studies: the CLI, config overrides and help text, the
study contract and registry, run folders and records, reports, memory checks, seeding and
re-scoring. Studies (`experiments/<name>.py`) import from here; nothing here imports a study
except through the registry."""
