"""docs/ci/github-actions.yml as shipped: its shell steps, run in a fresh project.

The workflow installs cowcheck from its git repository (it is not on PyPI). Here the
`run:` steps run verbatim with bash, the way GitHub runs them (`bash --noprofile
--norc -eo pipefail`), in a new git repository holding only a `cowcheck.toml`: the
workflow's `env:` is the environment, with COWCHECK_GIT and COWCHECK_REF pointed at a
git snapshot of this working tree (its sources, committed in a temporary repository)
and a virtual environment standing in for actions/setup-python. The `uses:` steps
are not run; what they are given (the files to upload) must exist after the steps
before them. A step that fails fails the test, unless the test expects it to (the
gate, on a verdict change).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cowcheck.checks.gate import write_starter

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "docs" / "ci" / "github-actions.yml"
BASH = shutil.which("bash") or "/bin/bash"
GIT = ["git", "-c", "user.name=cowcheck test", "-c", "user.email=test@invalid", "-c", "init.defaultBranch=main"]


def _workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    return doc


def _job() -> dict[str, Any]:
    (job,) = _workflow()["jobs"].values()
    assert isinstance(job, dict)
    return job


def _install_step() -> dict[str, Any]:
    (step,) = [s for s in _job()["steps"] if "pip install" in s.get("run", "")]
    return step


def _uses(prefix: str) -> dict[str, Any]:
    (step,) = [s for s in _job()["steps"] if s.get("uses", "").startswith(prefix)]
    return step


def _env(step: dict[str, Any], override: dict[str, str]) -> dict[str, str]:
    """The step's environment as the runner makes it: the workflow's, the job's and the
    step's `env:`, over the machine's."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    for scope in (_workflow(), _job(), step):
        env.update({k: str(v) for k, v in (scope.get("env") or {}).items()})
    return env | override


def _bash(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert set(step) <= {"name", "run", "if", "env"}, f"the test runs no {sorted(set(step) - {'run'})} of a step"
    script = cwd.parent / "step.sh"
    script.write_text(step["run"])
    return subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _snapshot(dest: Path) -> str:
    """The working tree's sources (tracked, and new files not ignored) committed in a new
    repository at ``dest``: what COWCHECK_GIT names here. Returns the commit."""
    ls = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    for rel in subprocess.run(ls, cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines():
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subprocess.run([*GIT, "init", "-q", str(dest)], check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "snapshot"], cwd=dest, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True, check=True
    ).stdout.strip()


def _project(where: Path, rule: str = "anon-exclusive") -> Path:
    """What actions/checkout leaves: a git work tree with the project's cowcheck.toml
    (the starter `cowcheck init` writes, under ``rule``)."""
    where.mkdir()
    cfg = write_starter(where)
    cfg.write_text(cfg.read_text().replace('rule = "anon-exclusive"', f'rule = "{rule}"'))
    subprocess.run([*GIT, "init", "-q", str(where)], check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=where, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "project"], cwd=where, check=True)
    return where


@dataclass(frozen=True)
class Installed:
    """A virtual environment the workflow's install step has put cowcheck in."""

    override: dict[str, str]  # PATH (the environment first) and where cowcheck comes from


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if shutil.which("git") is None:
        pytest.skip("the workflow installs cowcheck with git")
    tmp = tmp_path_factory.mktemp("workflow")
    commit = _snapshot(tmp / "cowcheck.git")
    # actions/setup-python: a Python of the version the workflow asks for, first on PATH.
    # It sees this interpreter's packages: its pip (`python -m pip` installs into the
    # environment all the same) and cowcheck's dependencies, so that nothing but the
    # build requirements comes from the package index (in an isolated build, as in CI).
    (setup,) = [s for s in _job()["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert str(setup["with"]["python-version"]) == f"{sys.version_info.major}.{sys.version_info.minor}", (
        "run this test under the Python the workflow sets up"
    )
    venv.create(tmp / "venv", system_site_packages=True, with_pip=False)
    bin_dir = tmp / "venv" / "bin"
    override = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "COWCHECK_GIT": (tmp / "cowcheck.git").as_uri(),
        "COWCHECK_REF": commit,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    project = _project(tmp / "install-project")
    step = _install_step()
    done = _bash(step, project, _env(step, override))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The console script and the package are the environment's own, not this checkout's.
    assert (bin_dir / "cowcheck").is_file()
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import cowcheck; print(cowcheck.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp,
        env=_env({}, {}),  # as the steps run: not a PYTHONPATH of the test run's
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp / "venv"), where
    return Installed(override)


def _run_job(project: Path, installed: Installed) -> dict[str, int]:
    """Every `run:` step after the install, in order, as the runner would: after a
    failed step only the `if: always()` ones. The exit status of each step run."""
    steps = _job()["steps"]
    after = steps[steps.index(_install_step()) + 1 :]
    status: dict[str, int] = {}
    failed = False
    for step in after:
        if "run" not in step:
            continue
        cond = step.get("if")
        assert cond in (None, "always()"), f"the test runs steps only under always(): {cond}"
        if failed and cond is None:
            continue
        done = _bash(step, project, _env(step, installed.override))
        status[step["name"]] = done.returncode
        failed = failed or done.returncode != 0
        if done.returncode not in (0, 1):
            pytest.fail(
                f"step {step['name']!r} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    return status


def _uploads_exist(project: Path) -> None:
    """What the upload steps are given is there."""
    artifact = _uses("actions/upload-artifact@")["with"]["path"].split()
    assert artifact and all((project / p).is_file() for p in artifact), artifact
    sarif = project / _uses("github/codeql-action/upload-sarif@")["with"]["sarif_file"]
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    junit = project / _uses("mikepenz/action-junit-report@")["with"]["report_paths"]
    assert ET.parse(junit).getroot().tag == "testsuites"


def test_the_workflow_installs_from_git_not_pypi() -> None:
    doc = _workflow()
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(on) == {"push", "pull_request"}
    assert doc["permissions"]["security-events"] == "write"  # upload-sarif needs it
    env = doc["env"]
    assert env["COWCHECK_GIT"].startswith("https://") and env["COWCHECK_REF"]
    install = _install_step()["run"]
    assert "pip install cowcheck" not in WORKFLOW.read_text()
    assert "git+${COWCHECK_GIT}@${COWCHECK_REF}" in install
    # The shipped URL is a placeholder: the step says so and stops, before any network.
    step = _install_step()
    cwd = Path(os.environ.get("TMPDIR", "/tmp"))
    done = subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env=_env(step, {"PATH": "/nonexistent"}),  # no pip reachable: it must not get that far
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "::error::set COWCHECK_GIT" in done.stdout


def test_the_workflow_runs_in_a_fresh_project(installed: Installed, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    status = _run_job(project, installed)
    assert status == {"cowcheck gate": 0, "HTML report": 0}
    _uploads_exist(project)
    sarif = json.loads((project / "cowcheck.sarif").read_text())
    assert sarif["runs"][0]["results"] == []
    assert "5 of 5 passed" in (project / "cowcheck-report.html").read_text()


def test_the_workflow_on_a_verdict_change(installed: Installed, tmp_path: Path) -> None:
    """The gate step fails the job; the report and the uploads still have their files,
    and code scanning gets each failure on its [[check]] line of the project's config."""
    project = _project(tmp_path / "project", rule="page-count")
    status = _run_job(project, installed)
    assert status == {"cowcheck gate": 1, "HTML report": 0}
    _uploads_exist(project)
    results = json.loads((project / "cowcheck.sarif").read_text())["runs"][0]["results"]
    cfg = project / "cowcheck.toml"
    lines = [n for n, text in enumerate(cfg.read_text().splitlines(), 1) if text == "[[check]]"]
    checks = tomllib.loads(cfg.read_text())["check"]
    failed = [
        lines[i]
        for i, c in enumerate(checks)
        if c["scenario"] in ("odirect-clear-refs", "odirect-swap", "gup-fast-fork")
    ]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results] == failed
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {"cowcheck.toml"}
