"""The documentation's commands run: the tutorial (in a fresh directory, with the rule
files it shows); the CLI reference is the one the CLI generates. The example CI
workflow runs in tests/test_ci_workflow.py."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def run(cwd: Path, line: str) -> subprocess.CompletedProcess[str]:
    args = shlex.split(line, comments=True)
    assert args[0] == "cowcheck", line
    return subprocess.run(
        [sys.executable, "-m", "cowcheck", *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def test_tutorial_commands_run(tmp_path: Path) -> None:
    text = (DOCS / "tutorial.md").read_text()
    rules = blocks(text, "python")
    assert len(rules) == 2
    (tmp_path / "my_rule.py").write_text(rules[0])
    (tmp_path / "my_rule2.py").write_text(rules[1])
    n = 0
    for block in blocks(text, "sh"):
        for line in block.strip().splitlines():
            m = re.search(r"#\s*exit (\d+)", line)
            assert m, f"tutorial command without its exit code: {line}"
            p = run(tmp_path, line)
            assert p.returncode == int(m.group(1)), f"{line}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
            n += 1
    assert n >= 8
    assert (tmp_path / "race.json").is_file() and (tmp_path / "report.html").is_file()


def test_cli_reference_is_current() -> None:
    p = subprocess.run([sys.executable, "-m", "cowcheck.cli.docs"], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        pytest.fail(p.stderr)
    assert p.stdout == (DOCS / "cli.md").read_text(), "regenerate: python -m cowcheck.cli.docs > docs/cli.md"


def test_guide_examples_load_and_run(tmp_path: Path) -> None:
    text = (DOCS / "guide.md").read_text()
    (rule_src,) = blocks(text, "python")
    (scenario_src,) = blocks(text, "toml")
    (tmp_path / "rule.py").write_text(rule_src)
    (tmp_path / "scenario.toml").write_text(scenario_src)
    for rule, want in (("rule.py", 0), ("page-count", 0), ("anon-exclusive", 0)):
        p = run(tmp_path, f"cowcheck check scenario.toml -r {rule} --quiet")
        assert p.returncode == want, p.stdout + p.stderr
    # The guide's rule runs on the catalog scenario it was written about.
    p = run(tmp_path, "cowcheck check odirect-swap -r rule.py --quiet")
    assert p.returncode == 0, p.stdout + p.stderr
    # The guide's table names every hook of the base rule, and nothing else.
    from cowcheck.input.rule_files import HOOKS

    hooks = re.findall(r"^\| `(\w+)\(", text, re.M)
    assert sorted(hooks) == sorted(HOOKS) and len(HOOKS) == 10


def test_scenario_reference_is_current() -> None:
    from cowcheck.input.reference import render

    assert (DOCS / "scenario-format.md").read_text() == render(), (
        "regenerate: python -m cowcheck.input.reference > docs/scenario-format.md"
    )


@pytest.mark.parametrize("section", ["## Checking one scenario", "## The CI gate, reports and graphs"])
def test_readme_commands_run(tmp_path: Path, section: str) -> None:
    """Every command in these README sections, in a fresh directory, with the exit code
    its comment states (the last "exit N" on the line)."""
    text = (ROOT / "README.md").read_text()
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    (block,) = blocks(body, "sh")
    n = 0
    for line in block.strip().splitlines():
        codes = re.findall(r"exit (\d+)", line.partition("#")[2])
        assert codes, f"README command without its exit code: {line}"
        for cmd in line.partition("#")[0].split("&&"):
            p = run(tmp_path, cmd)
            assert p.returncode == int(codes[-1]), f"{cmd}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
            n += 1
    assert n >= 6
