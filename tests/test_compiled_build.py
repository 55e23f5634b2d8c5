"""The optional compiled build (mypyc, pyproject.toml) against the interpreted code.

The wheel is built from a copy of the sources with the hook switched on, as the README
tells users to, and installed into a folder of its own. The same probe then runs
under both builds in separate processes, side by side, and its output must be the
same line for line: every catalog cell's verdict, state and transition counts, depth
and rendered counterexample; open-standard searched serially, by 2 worker processes and
on a local Dask cluster; the other search modes (partial-order reduction, process
symmetry, no subsumption, the fingerprint and bitstate stores); every saved
counterexample replayed. mypyc checks annotations at run time and compiles integer
and tuple operations its own way, so agreement on all of this is what says the
compiled build explores the same state space.

Building needs a C compiler and the build requirements from the registry (about a
minute here); open cells are bounded so that both runs stay short, which
keeps the comparison exact (a bounded search stops at the same state every run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import ROOT, run_cli_in

from cowcheck import __version__

PROBE = r"""
import importlib.util, json, sys
from dataclasses import replace
from cowcheck.api import check
from cowcheck.build import compiled_modules
from cowcheck.input.bundled import counterexamples_dir, scenario_files
from cowcheck.engine import Bounds, SearchOptions, StoreSpec
from cowcheck.report.diagram import render_columns
from cowcheck.input.rule_files import builtin_rules
from cowcheck.input.scenario import load_scenario
from cowcheck.checks.saved_trace import replay_file

import cowcheck.mm.work

def emit(kind, **fields):
    print(json.dumps({"kind": kind, **fields}, sort_keys=True))

emit("build", compiled=compiled_modules(), work=cowcheck.mm.work.__file__.rsplit("/", 1)[-1])
cap = SearchOptions(Bounds(max_states=int(sys.argv[1])))
for path in scenario_files():
    sc = load_scenario(path)
    for strict in (False, True):
        if strict and not sc.expect_strict:
            continue
        for name in sorted(builtin_rules()):
            rep = check(sc, name, strict=strict, options=cap)
            st = rep.stats
            emit(
                "cell", scenario=sc.name, rule=name, strict=strict, verdict=rep.verdict.name,
                states=st.states, transitions=st.transitions, depth=st.max_depth,
                trace=render_columns(rep.trace, rep.title) if rep.trace is not None else None,
            )
modes = [("serial", SearchOptions()), ("2 workers", SearchOptions(workers=2))]
if importlib.util.find_spec("distributed") is not None:
    modes.append(("dask local:2", SearchOptions(dask="local:2")))
for mode, how in modes:
    rep = check("open-standard", "anon-exclusive", options=how)
    emit("open-standard", mode=mode, verdict=rep.verdict.name, states=rep.stats.states)
# The other search modes, each through its own compiled code path, bounded.
options = {
    "por": replace(cap, por=True),
    "symmetry": replace(cap, symmetry=True),
    "no-subsume": replace(cap, subsume=False),
    "fingerprint": replace(cap, store=StoreSpec.parse("fingerprint")),
    "bitstate": replace(cap, store=StoreSpec.parse("bitstate:1")),
}
cases = [("open-standard", "anon-exclusive"), ("open-standard", "page-count"), ("gup-fast-fork", "mapcount")]
cases.append((sys.argv[2], "anon-exclusive"))  # a scenario where partial-order reduction reduces
for name, how in options.items():
    for sc, rule in cases:
        rep = check(sc, rule, options=how)
        st = rep.stats
        emit(
            "option", option=name, scenario=sc.rsplit("/", 1)[-1], rule=rule, verdict=rep.verdict.name,
            states=st.states, transitions=st.transitions, ample=st.ample,
            trace=[s.action.to_json() for s in rep.trace.steps] if rep.trace is not None else None,
        )
for path in sorted(counterexamples_dir().glob("*.json")):
    rp = replay_file(path)
    emit("replay", file=path.name, fails=rp.trace.property_id, steps=len(rp.trace))
"""

# Cells beyond this many states stop as incomplete, in both builds alike.
CAP = 4000
POR_DEMO = ROOT / "tests" / "scenarios" / "por-device-reads.toml"


def _sources(dest: Path) -> Path:
    """The working tree's sources (tracked, and new files not ignored), without build
    artefacts: a wheel built in place would leave its extensions beside the sources."""
    if (ROOT / ".git").exists():
        ls_files = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
        listed = subprocess.run(ls_files, cwd=ROOT, capture_output=True, text=True, check=True)
        for rel in listed.stdout.splitlines():
            src = ROOT / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:
        ignore = shutil.ignore_patterns(".*", "__pycache__", "build", "dist", "*.so", "venv")
        shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)
    return dest


@pytest.fixture(scope="module")
def compiled_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("the compiled build needs a C compiler")
    tmp = tmp_path_factory.mktemp("compiled")
    src = _sources(tmp / "src")
    env = {**os.environ, "HATCH_BUILD_HOOK_ENABLE_MYPYC": "1"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(src)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("cowcheck-*.whl")
    site = tmp / "site"
    install = [*pip, "install", "--no-deps", "--target", str(site), str(wheel)]
    inst = subprocess.run(install, capture_output=True, text=True)
    assert inst.returncode == 0, inst.stderr
    return site


def _listed_modules() -> list[str]:
    hook = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    return sorted(p.strip("/").removesuffix(".py").replace("/", ".") for p in hook["hooks"]["mypyc"]["include"])


def _probe(pythonpath: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, str(CAP), str(POR_DEMO)],
        env=env,
        cwd=pythonpath,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(p: subprocess.Popen[str]) -> list[dict[str, object]]:
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines()]


def test_compiled_build_explores_exactly_what_the_interpreted_one_does(compiled_site: Path) -> None:
    compiled, interpreted = _probe(compiled_site), _probe(ROOT)
    got, want = _lines(compiled), _lines(interpreted)

    # The compiled modules are the ones pyproject.toml lists, and they are what ran.
    assert got[0] == {"kind": "build", "compiled": _listed_modules(), "work": got[0]["work"]}
    assert str(got[0]["work"]).endswith(".so")
    assert want[0]["compiled"] == [] and want[0]["work"] == "work.py"

    kinds = [line["kind"] for line in want[1:]]
    assert kinds.count("cell") >= 160 and kinds.count("replay") >= 40 and kinds.count("option") == 20
    # Partial-order reduction did reduce somewhere, so its path ran.
    assert any(line["ample"] for line in want if line.get("option") == "por")
    # Violations with traces, holds and bounded cells are all among them.
    verdicts = {line["verdict"] for line in want if line["kind"] == "cell"}
    assert verdicts == {"HOLDS", "VIOLATED", "INCOMPLETE"}
    # The partitioned searches, on processes and on Dask (a test dependency) alike.
    runs = {line["mode"]: line for line in want if line["kind"] == "open-standard"}
    assert set(runs) == {"serial", "2 workers"} | ({"dask local:2"} if find_spec("distributed") else set())
    assert {(r["verdict"], r["states"]) for r in runs.values()} == {("HOLDS", runs["serial"]["states"])}
    assert all(line["fails"] for line in want if line["kind"] == "replay")
    assert len(got) == len(want)
    for g, w in zip(got[1:], want[1:], strict=True):
        assert g == w


def test_version_names_the_build(compiled_site: Path) -> None:
    def version(where: Path) -> str:
        # "python -m" puts the working directory first on sys.path: the package there runs.
        code, out, err = run_cli_in(where, "--version")
        assert code == 0, err
        return out.strip()

    n = len(_listed_modules())
    assert version(compiled_site).startswith(f"cowcheck {__version__} (mypyc-compiled ({n} modules), Python ")
    assert version(ROOT).startswith(f"cowcheck {__version__} (interpreted, Python ")
