"""Helpers for the static checks of the Dockerfile, the CI workflow and the README's commands.

No Docker engine runs on the development machines, so the image is checked by linters and by
comparing its steps with the README's commands; the CI workflow builds and runs it for real.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _dev_tool(name: str) -> str:
    """Path of a command-line tool that the `dev` extra installs next to this Python."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: it comes with the dev extra, run `make install`")
    return found


def _readme_setup_commands() -> dict[str, str]:
    """The commands of the README's set-up block, each with the comment beside it."""
    text = (ROOT / "README.md").read_text()
    heading = re.search(r"^## Set-up.*$", text, flags=re.MULTILINE)
    assert heading, "README.md has no '## Set-up' section"
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text[heading.end():], flags=re.DOTALL)
    assert block, "README.md's set-up section has no code block"
    commands = {}
    for line in block.group(1).splitlines():
        command, _, comment = line.partition("#")
        if command.strip():
            commands[command.strip()] = comment.strip()
    return commands


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def readme_test_command() -> str:
    """The README's test command: the set-up command whose comment says it runs the tests."""
    commands = _readme_setup_commands()
    assert len(commands) == 2, f"the README's set-up block should hold two commands: {commands}"
    tests = [command for command, comment in commands.items() if "test" in comment.lower()]
    assert len(tests) == 1, f"no single test command in the README's set-up block: {commands}"
    return tests[0]


@pytest.fixture(scope="session")
def run_dev_tool():
    """Run a tool of the dev extra (hadolint, actionlint) in the repository root."""

    def run(name: str, *args: str) -> subprocess.CompletedProcess:
        command = [_dev_tool(name), *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)

    return run
