"""Static checks of the GitHub Actions workflow and of .ci/run against the README's test command."""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
# shellcheck and pyflakes integrations off: findings must not depend on what else a machine has.
ACTIONLINT_FLAGS = ("-no-color", "-oneline", "-shellcheck=", "-pyflakes=")


def ci_workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())


def steps_of(job: dict) -> list[dict]:
    return job.get("steps", [])


def test_actionlint_reports_nothing(run_dev_tool):
    assert WORKFLOWS, "no workflow in .github/workflows"
    files = [str(path.relative_to(ROOT)) for path in WORKFLOWS]
    result = run_dev_tool("actionlint", *ACTIONLINT_FLAGS, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_inputs_exist_in_their_major_release(run_dev_tool, tmp_path):
    # actionlint knows the inputs of popular actions by major tag (@v6), not by exact release:
    # lint a copy with the exact pins shortened so that the `with:` keys are checked too.
    copies = []
    for path in WORKFLOWS:
        copy = tmp_path / path.name
        copy.write_text(re.sub(r"(uses:\s*\S+@v\d+)\.\d+\.\d+", r"\1", path.read_text()))
        copies.append(str(copy))
    result = run_dev_tool("actionlint", *ACTIONLINT_FLAGS, *copies)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_script_runs_exactly_the_readme_test_command(readme_test_command):
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run is not executable"
    setup = ("set -euo pipefail", 'cd "$(dirname "$0")/.."')
    commands = [
        line.strip() for line in script.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#") and line.strip() not in setup
    ]
    assert commands == [readme_test_command]


def test_native_job_runs_ci_script_on_python_311():
    jobs = ci_workflow()["jobs"]
    native = [job for job in jobs.values()
              if any(step.get("run") == ".ci/run" for step in steps_of(job))]
    assert len(native) == 1, "one job should run .ci/run"
    pythons = [s["with"]["python-version"] for s in steps_of(native[0])
               if s.get("uses", "").startswith("actions/setup-python@")]
    assert pythons == ["3.11"]
    assert "container" not in native[0]


def test_docker_job_builds_the_image_and_runs_its_default_command(readme_test_command):
    jobs = ci_workflow()["jobs"]
    for job in jobs.values():
        builds = [step for step in steps_of(job)
                  if step.get("uses", "").startswith("docker/build-push-action@")]
        if builds:
            break
    else:
        raise AssertionError("no job builds the Docker image")
    assert builds[0]["with"]["load"] is True
    tag = builds[0]["with"]["tags"]
    runs = [shlex.split(step["run"]) for step in steps_of(job)
            if step.get("run", "").startswith("docker run")]
    assert runs, "the Docker job never runs the image"
    command_after_tag = runs[0][runs[0].index(tag) + 1:]
    assert command_after_tag in ([], shlex.split(readme_test_command))


def test_actions_are_pinned_to_exact_versions():
    for path in WORKFLOWS:
        for action in re.findall(r"uses:\s*(\S+)", path.read_text()):
            ref = action.partition("@")[2]
            pinned = re.fullmatch(r"v\d+\.\d+\.\d+", ref) or re.fullmatch(r"[0-9a-f]{40}", ref)
            assert pinned, f"{path.name}: {action} is not pinned to a release or a commit"
