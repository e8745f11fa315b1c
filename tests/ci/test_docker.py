"""Static checks of the Dockerfile and .dockerignore (the image itself is built by CI)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    logical, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        pairs.append((keyword.upper(), " ".join(arguments.split())))
    return pairs


def makefile_recipe(target: str) -> list[str]:
    """Recipe lines of a Makefile rule, continuation lines joined."""
    lines = (ROOT / "Makefile").read_text().replace("\\\n", " ").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_hadolint_reports_nothing(run_dev_tool):
    result = run_dev_tool("hadolint", "--no-color", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_installs_with_the_readme_install_step_only():
    runs = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"]
    assert "make install" in runs, f"the Dockerfile never runs `make install`: {runs}"
    hand_written = [run for run in runs if re.search(r"\bpip3?\b|\buv\b|setup\.py", run)]
    assert not hand_written, f"a second install path beside `make install`: {hand_written}"


def test_make_install_is_the_pinned_venv_install():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^install:\s*\$\(STAMP\)\s*$", makefile, flags=re.MULTILINE)
    recipe = makefile_recipe("$(STAMP)")
    pip_lines = [line for line in recipe if re.search(r"\bpip install\b", line)]
    assert len(pip_lines) == 1, pip_lines
    assert "-c constraints.txt" in pip_lines[0] and "-e '.[dev]'" in pip_lines[0]


def test_default_command_is_the_readme_test_command(readme_test_command):
    commands = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "the Dockerfile has no CMD"
    assert json.loads(commands[-1]) == shlex.split(readme_test_command)


def test_base_image_is_python_311_slim_pinned_to_a_release():
    bases = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert len(bases) == 1 and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", bases[0]), bases


def test_pins_are_copied_before_the_sources_for_layer_caching():
    steps = [(k, a) for k, a in dockerfile_instructions() if k in ("COPY", "RUN")]
    first_install = steps.index(("RUN", "make install"))
    early_copies = " ".join(a for k, a in steps[:first_install] if k == "COPY").split()
    assert {"Makefile", "pyproject.toml", "constraints.txt"} <= set(early_copies)
    assert not any(a.split()[-2:] == [".", "."] for k, a in steps[:first_install] if k == "COPY")


def test_image_runs_as_an_unprivileged_user():
    users = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (Docker's matching rules:
    patterns are anchored at the context root, `**` spans folders, `!` re-includes, last wins)."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


@pytest.mark.parametrize("path", [
    ".venv/bin/python", ".git/HEAD", "runs/demo/train/model.pt", "codesign/__pycache__/x.pyc",
    ".pytest_cache/v", "build/lib/codesign/__init__.py", "codesign.egg-info/PKG-INFO",
])
def test_dockerignore_drops_local_state(path):
    assert dockerignore_excludes(path)


@pytest.mark.parametrize("path", [
    "Makefile", "pyproject.toml", "constraints.txt", "README.md", "Dockerfile",
    "codesign/__init__.py", "codesign/data/__init__.py", "tests/ci/test_docker.py",
    ".github/workflows/ci.yml", "models/lenet5_mnist.yaml", "hls_templates", "sweeps",
])
def test_dockerignore_keeps_what_the_image_needs(path):
    assert not dockerignore_excludes(path)
