"""The docs run as written: every ```python block of README.md (and docs/*.md) is executed, and
every `toylab` command line of a ```bash block is accepted by the CLI's parser (placeholders
such as <run-id> aside) — the commands themselves are the studies, run by their own tests."""

import re
import shlex
from pathlib import Path

import pytest

from experiments.runner import cli

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(language: str) -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(rf"```{language}\n(.*?)```", text, flags=re.S):
            found.append((page.name, text[:match.start()].count("\n") + 1, match.group(1)))
    return found


PYTHON = _blocks("python")
COMMANDS = [(page, line, command) for page, line, block in _blocks("bash")
            for command in block.replace("\\\n", " ").splitlines()  # continued lines joined
            if ".venv/bin/toylab " in command and "<" not in command and not command.lstrip().startswith("#")]


def test_the_docs_have_code_to_run():
    assert len(PYTHON) >= 1 and len(COMMANDS) >= 5


@pytest.mark.parametrize("page, line, code", PYTHON, ids=[f"{p}:{n}" for p, n, _ in PYTHON])
def test_every_python_block_runs_as_written(page, line, code):
    exec(compile(code, f"{page}:{line}", "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("page, line, command", COMMANDS, ids=[f"{p}:{n}:{c.split('#')[0].strip()[:40]}" for p, n, c in COMMANDS])
def test_every_toylab_command_in_the_docs_parses(page, line, command):
    # the toylab part of the line: up to a closing quote, a background &, a ; or a comment
    invocation = re.split(r"\"| & |;| #", command.split(".venv/bin/toylab ", 1)[1])[0]
    invocation = invocation.replace("$i", "0")  # a loop variable of the block, given its first value
    cli._parser().parse_args(shlex.split(invocation))  # argparse exits 2 on what it does not accept
