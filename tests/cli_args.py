"""Command-line settings for the tests' tiny runs: `sets("k=2", "steps=60")` is
["--set", "k=2", "--set", "steps=60"]."""


def sets(*assignments: str) -> list[str]:
    """The `--set` arguments of `toylab run` for each KEY=VALUE assignment, in order."""
    return [argument for assignment in assignments for argument in ("--set", assignment)]
