"""The docs run as written: every ```python block of README.md and of the pages under docs/ is
executed, every `toylab` command line of a ```bash block is accepted by the CLI's parser, and a
`run` or `sweep` line's settings by its study (the config it would run is resolved and
validated; placeholders such as <run-id> aside) — the runs themselves are the studies, run by
their own tests — and every relative link points at a file or folder of the repository."""

import re
import shlex
from pathlib import Path

import pytest

from experiments.runner import cli, registry

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(language: str) -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(rf"```{language}\n(.*?)```", text, flags=re.S):
            found.append((str(page.relative_to(ROOT)), text[: match.start()].count("\n") + 1, match.group(1)))
    return found


PYTHON = _blocks("python")
COMMANDS = [
    (page, line, command)
    for page, line, block in _blocks("bash")
    for command in block.replace("\\\n", " ").splitlines()  # continued lines joined
    if ".venv/bin/toylab " in command and "<" not in command and not command.lstrip().startswith("#")
]


def test_the_docs_have_code_to_run():
    assert len(PYTHON) >= 1 and len(COMMANDS) >= 5


@pytest.mark.parametrize("page, line, code", PYTHON, ids=[f"{p}:{n}" for p, n, _ in PYTHON])
def test_every_python_block_runs_as_written(page, line, code):
    exec(compile(code, f"{page}:{line}", "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("page, line, command", COMMANDS, ids=[f"{p}:{n}:{c.split('#')[0].strip()[:40]}" for p, n, c in COMMANDS])
def test_every_toylab_command_in_the_docs_parses_and_its_settings_are_accepted(page, line, command):
    # the toylab part of the line: up to a closing quote, a background &, a ; or a comment
    invocation = re.split(r"\"| & |;| #", command.split(".venv/bin/toylab ", 1)[1])[0]
    invocation = invocation.replace("$i", "0")  # a loop variable of the block, given its first value
    args = cli._parser().parse_args(shlex.split(invocation))  # argparse exits 2 on what it does not accept
    if args.command in ("run", "sweep") and not args.help:
        # and the study accepts its settings: the config it would run is resolved and validated
        cli.resolve_config("sweep" if args.command == "sweep" else args.name, args.quick, args.seed, args.set)


def test_every_study_has_its_page_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in registry.EXPERIMENTS:
        assert (ROOT / "docs" / "studies" / f"{name}.md").is_file(), name
        assert f"(docs/studies/{name}.md)" in readme, name


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_points_at_a_file(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if "://" in target or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)}: broken link {target}"
