"""Issue 21, items 4 to 6: every crash is exit 2 with one line, bounds bound everything,
and signals end every verb with what was finished.

The issue's examples run as written, as a user runs them (a subprocess in a scratch
directory); the signal tests start the command in a session of its own, wait until
its handlers are installed and its search under way, signal it, and then check that
no process of the session is left.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, run_cli_in

from cowcheck.engine import MAX_WORKERS, Bounds, Capabilities, SearchOptions, Step, Verdict, explore
from cowcheck.engine.errors import WorkerFailed, portable
from cowcheck.engine.store import MAX_BITSTATE_MB, StoreSpec
from cowcheck.errors import InputError
from cowcheck.input.reuse_expr import MAX_DEPTH, MAX_LENGTH, compile_reuse

SEED = str(ROOT / "models/scenarios/odirect-clear-refs.toml")
GATE = """rule = "anon-exclusive"
[[check]]
scenario = "odirect-clear-refs"
expect = "holds"
"""
# A gate whose checks take seconds: long enough to be signalled under way.
LONG_GATE = (
    GATE
    + """[[check]]
scenario = "open-standard"
expect = "holds"
"""
)


def rule_file(body: str, header: str = "") -> str:
    """A rule file: anon-exclusive with ``do_wp_page`` replaced by ``body``."""
    return f"""{header}from cowcheck.rules import rule_class


class Mine(rule_class("anon-exclusive")):
    name = "mine"

    def do_wp_page(self, page, unshare):
{body}


RULE = Mine()
"""


LOOP = rule_file("        while True:\n            pass")
EXIT_IN_HOOK = rule_file("        sys.exit(7)", "import sys\n")  # line 9: sys.exit(7)
EXIT_AT_IMPORT = "import sys\n\nsys.exit(7)\n"


def files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if "__pycache__" not in p.parts}


def one_line(code: int, out: str, err: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback: that line."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cowcheck: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cowcheck.api import check
    from cowcheck.checks.saved_trace import save

    return save(check(SEED, "page-count"), tmp_path_factory.mktemp("trace") / "t.json")


# --- item 4: every crash is exit 2 with one line ---------------------------------------


@dataclass(frozen=True)
class Bad:
    name: str
    args: tuple[str, ...]
    says: tuple[str, ...]  # in the line
    files: tuple[tuple[str, str], ...] = ()  # written into the directory first


BAD = [
    Bad(
        "reuse-1000-nested-not",
        ("check", SEED, "-r", "anon-exclusive", "--reuse", "not " * 1000 + "exclusive"),
        ("--reuse", f"at most {MAX_LENGTH} characters"),
    ),
    Bad(
        "reuse-60000-minus",
        ("check", SEED, "-r", "anon-exclusive", "--reuse", "-" * 60000 + "1"),
        ("--reuse", f"at most {MAX_LENGTH} characters"),
    ),
    Bad(
        "reuse-too-deep",  # short enough, but deeper than the language allows
        ("check", SEED, "-r", "anon-exclusive", "--reuse", "not " * 40 + "exclusive"),
        ("--reuse", f"nested at most {MAX_DEPTH} levels"),
    ),
    Bad(
        "gate-junit-nodir",
        ("gate", "--junit", "nodir/j.xml"),
        ("--junit", "nodir/j.xml", "no such directory"),
        (("cowcheck.toml", GATE),),
    ),
    Bad(
        "gate-sarif-dir",
        ("gate", "--sarif", "adir"),
        ("--sarif", "adir", "is a directory"),
        (
            ("cowcheck.toml", GATE),
            ("adir/keep", ""),
        ),
    ),
    Bad(
        "report-o-nodir",
        ("report", "-o", "nodir/r.html"),
        ("--output", "nodir/r.html", "no such directory"),
        (("cowcheck.toml", GATE),),
    ),
    Bad("init-nodir", ("init", "nodir/sub"), ("nodir/sub", "no such directory")),
    Bad("init-file", ("init", "afile"), ("afile", "not a directory"), (("afile", "x"),)),
    Bad("graph-o-nodir", ("graph", SEED, "-r", "page-count", "-o", "nodir/g.dot"), ("--output", "no such directory")),
    Bad(
        "check-save-under-a-file",
        ("check", SEED, "-r", "page-count", "--save", "afile/t.json"),
        (
            "--save",
            "'afile' is not a directory",
        ),
        (("afile", "x"),),
    ),
    Bad(
        "verify-save-dir-file",
        ("verify", "page-count", "-s", SEED, "--save-dir", "afile"),
        (
            "--save-dir",
            "is not a directory",
        ),
        (("afile", "x"),),
    ),
    Bad(
        "matrix-save-dir-file",
        ("matrix", "-r", "page-count", "-j", "1", "--save-dir", "afile"),
        (
            "--save-dir",
            "is not a directory",
        ),
        (("afile", "x"),),
    ),
    Bad(
        "gate-binary-config",
        ("gate",),
        ("cowcheck.toml", "expected UTF-8 TOML", "0xff"),
        (("cowcheck.toml", "\udcff\udcfe\x00rule = 1"),),
    ),
    Bad(
        "gate-binary-config-explicit",
        ("gate", "--config", "c/cowcheck.toml"),
        ("c/cowcheck.toml", "UTF-8"),
        (("c/cowcheck.toml", "\udcffrule = 1"),),
    ),
    Bad(
        "gate-deep-config",
        ("gate",),
        ("cowcheck.toml", "nested too deeply"),
        (("cowcheck.toml", "rule = " + "[" * 100_000 + "]" * 100_000 + "\n"),),
    ),
    Bad(
        "scenario-deep-toml",
        ("check", "deep.toml", "-r", "page-count"),
        ("deep.toml", "nested too deeply"),
        (("deep.toml", 'name = "x"\nkind = "litmus"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n"),),
    ),
    Bad(
        "store-bitstate-huge",
        ("check", SEED, "-r", "page-count", "--store", "bitstate:99999999"),
        (
            "--store",
            f"at most {MAX_BITSTATE_MB} MiB",
        ),
    ),
    Bad(
        "trace-nested-100000", ("replay", "deep.json"), ("deep.json",), (("deep.json", "[" * 100_000 + "]" * 100_000),)
    ),
    Bad(
        "rule-exits-at-import",
        ("check", SEED, "-r", "exit7.py"),
        ("exit7.py:3", "sys.exit(7)", "at import"),
        (("exit7.py", EXIT_AT_IMPORT),),
    ),
    Bad(
        "rule-exits-in-hook",
        ("check", SEED, "-r", "exit7.py"),
        ("exit7.py:9", "sys.exit(7)", "do_wp_page"),
        (("exit7.py", EXIT_IN_HOOK),),
    ),
    Bad(
        "rule-exits-in-hook-in-a-worker",
        ("check", SEED, "-r", "exit7.py", "-j", "2"),
        (
            "exit7.py:9",
            "sys.exit(7)",
            "do_wp_page",
        ),
        (("exit7.py", EXIT_IN_HOOK),),
    ),
    Bad(
        "rule-exits-in-hook-in-a-cell-worker",
        ("matrix", "-r", "exit7.py", "-j", "2"),
        (
            "exit7.py:9",
            "sys.exit(7)",
            "do_wp_page",
        ),
        (("exit7.py", EXIT_IN_HOOK),),
    ),
    Bad(
        "rule-raises-in-a-worker",
        ("check", SEED, "-r", "boom.py", "-j", "2"),
        ("boom.py:8", "RuntimeError", "boom"),
        (("boom.py", rule_file('        raise RuntimeError("boom")')),),
    ),
    Bad("workers-1000", ("check", SEED, "-r", "page-count", "-j", "1000"), ("--workers", f"at most {MAX_WORKERS}")),
    Bad("catalog-workers-1000", ("catalog", "-j", "1000"), ("--workers", f"at most {MAX_WORKERS}")),
    Bad("matrix-workers-1000", ("matrix", "-j", "1000"), ("--workers", f"at most {MAX_WORKERS}")),
    Bad(
        "gate-workers-1000", ("gate", "-j", "1000"), ("--workers", f"at most {MAX_WORKERS}"), (("cowcheck.toml", GATE),)
    ),
    Bad("dask-local-1000", ("check", SEED, "-r", "page-count", "--dask", "local:1000"), ("--dask", "local:N")),
    Bad("timeout-nan", ("check", SEED, "-r", "page-count", "--timeout", "nan"), ("--timeout",)),
    Bad("usage-unknown-option", ("check", "--bogus"), ("--bogus", "cowcheck check --help")),
    Bad("usage-not-a-number", ("check", SEED, "-r", "page-count", "--max-states", "abc"), ("--max-states", "'abc'")),
    Bad("usage-missing-argument", ("check",), ("cowcheck check",)),
]


@pytest.mark.parametrize("case", BAD, ids=[b.name for b in BAD])
def test_bad_input_is_one_line_and_leaves_nothing(case: Bad, tmp_path: Path) -> None:
    for name, text in case.files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    before = files(tmp_path)
    line = one_line(*run_cli_in(tmp_path, *case.args))
    for s in case.says:
        assert s in line, line
    assert files(tmp_path) == before


def test_show_to_a_directory(tmp_path: Path, trace: Path) -> None:
    (tmp_path / "adir").mkdir()
    line = one_line(*run_cli_in(tmp_path, "show", str(trace), "-o", "adir"))
    assert "--output" in line and "is a directory" in line
    assert files(tmp_path) == {"adir"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        line = one_line(*run_cli_in(tmp_path, "check", SEED, "-r", "page-count", "--save", "ro/t.json"))
        assert "--save" in line and "permission denied" in line
    finally:
        ro.chmod(0o700)


def test_the_write_itself_failing_leaves_no_partial_file(tmp_path: Path) -> None:
    """/dev/full takes the open but not the write: what a full disk does."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    (tmp_path / "cowcheck.toml").write_text(GATE)
    line = one_line(*run_cli_in(tmp_path, "gate", "--sarif", "/dev/full"))
    assert "--sarif" in line and "cannot write" in line


def test_internal_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever fails unexpectedly: exit 2, never exit 1 (CI's "violated"); the
    traceback only on request."""
    from cowcheck import cli
    from cowcheck.cli import listing

    def broken() -> None:
        raise ZeroDivisionError("the unexpected")

    monkeypatch.setattr(listing, "_rules", broken)
    assert cli.run(["rules"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "cowcheck: internal error: ZeroDivisionError: the unexpected (set COWCHECK_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("COWCHECK_DEBUG", "1")
    assert cli.run(["rules"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("the unexpected (set COWCHECK_DEBUG=1 for the traceback)\n")


def test_flags_as_before_the_argparse_rewrite() -> None:
    """What typer took is taken still: --no-strict, --no-force, values attached to
    short options (-j4, -pwrong-cow), flags run together (-qj 2)."""
    from cowcheck.cli.program import _parse

    for argv in (
        ["check", SEED, "-r", "page-count", "--no-strict", "-j4", "-pwrong-cow", "-qj", "2"],
        ["verify", "page-count", "--no-strict", "-j1"],
        ["init", "--no-force"],
        ["check", SEED, "-r", "page-count", "--reuse", "-1 < refcount"],
    ):
        assert not isinstance(_parse(argv), int), argv


def test_help_and_version_still_exit_0(tmp_path: Path) -> None:
    code, out, err = run_cli_in(tmp_path, "check", "--help")
    assert code == 0 and "--rule" in out and not err
    code, out, _ = run_cli_in(tmp_path, "--version")
    assert code == 0 and out.startswith("cowcheck ")


def test_reuse_language_bounds() -> None:
    assert compile_reuse("exclusive or (refcount == 1 and not swapcache)")(
        {
            "exclusive": False,
            "refcount": 1,
            "swapcache": False,
        }
    )
    deepest = "not " * (MAX_DEPTH - 1) + "exclusive"  # 31 nots and a name: 32 levels
    assert compile_reuse(deepest)({"exclusive": False})
    with pytest.raises(InputError, match="nested at most"):
        compile_reuse("not " + deepest)
    with pytest.raises(InputError, match="nested at most"):
        compile_reuse("-" * (MAX_LENGTH - 1) + "1")  # within the length, far too deep
    with pytest.raises(InputError, match=f"at most {MAX_LENGTH} characters"):
        compile_reuse("1" + " " * MAX_LENGTH)


def test_store_sizes() -> None:
    assert StoreSpec.parse(f"bitstate:{MAX_BITSTATE_MB}").megabytes == MAX_BITSTATE_MB
    for bad in (f"bitstate:{MAX_BITSTATE_MB + 1}", "bitstate:99999999", "bitstate:²", "bitstate:" + "9" * 5000):
        with pytest.raises(ValueError, match="bitstate size"):
            StoreSpec.parse(bad)


def test_errors_travel_from_workers() -> None:
    e = InputError("rule.py:3", "field", "expected a thing")
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is InputError and str(copy) == str(e)
    try:
        raise SystemExit(7)
    except SystemExit as exc:
        sent = portable(exc, "search worker 1")
    assert isinstance(sent, WorkerFailed) and sent.kind == "SystemExit(7)"
    assert sent.frames and sent.frames[-1][2] == "test_errors_travel_from_workers"
    back = pickle.loads(pickle.dumps(sent))
    assert str(back) == "search worker 1 failed: SystemExit(7): 7" and back.frames == sent.frames


# --- item 5: bounds bound everything ---------------------------------------------------


@dataclass
class Stuck:
    """A chain of states whose successor at ``at`` never comes: a hook that loops."""

    at: int = 3

    def capabilities(self) -> Capabilities[int, str]:
        return Capabilities()

    def init_states(self) -> Sequence[int]:
        return [0]

    def actions(self, s: int) -> list[str]:
        return ["next"]

    def next_step(self, s: int, a: str) -> Step[int] | None:
        while s == self.at:
            pass
        return Step(s + 1) if s < 100 else None

    def canonical(self, s: int) -> object:
        return s

    def invariants(self) -> list[object]:
        return []

    def transition_checks(self) -> list[object]:
        return []


@pytest.mark.parametrize("workers", [1, 2])
def test_timeout_stops_a_model_that_never_returns(workers: int) -> None:
    import multiprocessing as mp

    t0 = time.monotonic()
    bounds = Bounds(timeout=0.5)
    r = explore(Stuck(), SearchOptions(bounds, workers=workers))  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 10
    assert r.verdict is Verdict.INCOMPLETE and r.incomplete_reason == "timeout 0.5s reached"
    assert r.stats.states >= 3  # the figures so far
    assert mp.active_children() == []
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the deadline is gone


# --- signals, processes ----------------------------------------------------------------


def _stat(pid: str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def session(sid: int) -> list[int]:
    """The live (not zombie) processes of a session."""
    alive = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            f = _stat(p.name)
        except (OSError, IndexError):
            continue
        if int(f[3]) == sid and f[0] != "Z":
            alive.append(int(p.name))
    return alive


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            f = _stat(p.name)
        except (OSError, IndexError):
            continue
        if int(f[1]) == pid and f[0] != "Z":
            out.append(int(p.name))
    return sorted(out)


class Run:
    """A command in a session of its own."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "cowcheck", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.pid = self.p.pid

    def wait_for(self, what: str, test: object, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not test():  # type: ignore[operator]
            assert self.p.poll() is None, f"ended before {what}: {self.p.communicate()}"
            assert time.monotonic() < end, f"no {what} after {timeout}s"
            time.sleep(0.05)

    def handlers(self) -> None:
        """Until cowcheck catches SIGTERM: main() has started."""

        def caught() -> bool:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
            return False

        self.wait_for("SIGTERM handler", caught)

    def workers(self, n: int) -> list[int]:
        self.wait_for(f"{n} worker processes", lambda: len(children(self.pid)) >= n)
        return children(self.pid)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            out, err = self.p.communicate()
            pytest.fail(f"still running {timeout}s later: {out} {err}")
        return self.p.returncode, out, err

    def left(self) -> list[int]:
        """Processes of the session still alive, a moment after the end."""
        end = time.monotonic() + 3
        while session(self.pid) and time.monotonic() < end:
            time.sleep(0.1)
        return session(self.pid)


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for r in started:  # nothing outlives a test
        if r.p.poll() is None or session(r.pid):
            os.killpg(r.pid, signal.SIGKILL)
            r.p.communicate()


def _start(runs: list[Run], cwd: Path, *args: str) -> Run:
    r = Run(cwd, *args)
    runs.append(r)
    return r


@pytest.mark.parametrize("workers", ["1", "2"])
def test_timeout_stops_a_rule_hook_that_loops_forever(workers: str, tmp_path: Path, runs: list[Run]) -> None:
    (tmp_path / "loop.py").write_text(LOOP)
    t0 = time.monotonic()
    r = _start(runs, tmp_path, "check", SEED, "-r", "loop.py", "--timeout", "2", "-j", workers)
    code, out, err = r.finish()
    assert code == 3, (out, err)
    assert time.monotonic() - t0 < 30
    assert "incomplete: odirect-clear-refs under mine: timeout 2s reached; explored " in out
    assert " states, " in out and "Traceback" not in err
    assert r.left() == []


def test_a_worker_killed_ends_the_run_with_one_line(tmp_path: Path, runs: list[Run]) -> None:
    r = _start(runs, tmp_path, "check", "open-standard", "-r", "anon-exclusive", "-j", "2", "-q")
    victim = r.workers(2)[-1]
    time.sleep(0.5)  # the search under way
    os.kill(victim, signal.SIGKILL)
    line = one_line(*r.finish())
    assert "search worker 1 of 2" in line and f"(pid {victim}) was killed by SIGKILL" in line
    assert r.left() == []


def test_a_cell_worker_killed_ends_the_run_with_one_line(tmp_path: Path, runs: list[Run]) -> None:
    r = _start(runs, tmp_path, "catalog", "-j", "2")
    victim = r.workers(3)[-1]  # the heavy cells' worker and two for the rest
    os.kill(victim, signal.SIGKILL)
    line = one_line(*r.finish())
    assert f"(pid {victim}) was killed by SIGKILL" in line and "the worker checking " in line
    assert r.left() == []


def test_workers_die_with_a_killed_coordinator(tmp_path: Path, runs: list[Run]) -> None:
    r = _start(runs, tmp_path, "check", "open-standard", "-r", "anon-exclusive", "-j", "2", "-q")
    r.workers(2)
    os.kill(r.pid, signal.SIGKILL)
    r.finish()
    assert r.left() == []  # PR_SET_PDEATHSIG


# --- item 6: SIGTERM and SIGINT end every verb -----------------------------------------

# (command, what the output says was finished, how long to let it run first)
VERBS = {
    "check": (("check", "open-standard", "-r", "anon-exclusive", "-q"), "explored "),
    "check -j 2": (("check", "open-standard", "-r", "anon-exclusive", "-q", "-j", "2"), "explored "),
    "verify": (("verify", "anon-exclusive"), " runs finished"),
    "matrix -j 2": (("matrix", "-j", "2"), " cells finished"),
    "catalog": (("catalog", "-j", "1"), " cells finished"),
    "catalog -j 2": (("catalog", "-j", "2"), " cells finished"),
    "gate": (("gate",), " checks finished"),
    "gate -j 2": (("gate", "-j", "2"), " checks finished"),
    "report": (("report",), " rows finished"),
}


# SIGINT takes SIGTERM's path; three verbs cover its cases (serial, search workers, cells).
SIGNALLED = [(v, signal.SIGTERM) for v in VERBS] + [(v, signal.SIGINT) for v in ("check -j 2", "catalog -j 2", "gate")]


@pytest.mark.parametrize(("verb", "sig"), SIGNALLED, ids=[f"{v}-{s.name}" for v, s in SIGNALLED])
def test_a_signal_ends_every_verb_with_what_was_finished(
    verb: str, sig: signal.Signals, tmp_path: Path, runs: list[Run]
) -> None:
    args, finished = VERBS[verb]
    (tmp_path / "cowcheck.toml").write_text(LONG_GATE)
    r = _start(runs, tmp_path, *args)
    r.handlers()
    time.sleep(1.5)  # under way
    if sig == signal.SIGINT:
        os.killpg(r.pid, sig)  # Ctrl-C: the whole process group
    else:
        os.kill(r.pid, sig)
    code, out, err = r.finish()
    assert code == 3, (out, err)
    said = out + err
    assert f"interrupted by {sig.name}" in said and finished in said, said
    assert "incomplete" in said and "Traceback" not in said
    assert r.left() == []
    assert files(tmp_path) == {"cowcheck.toml"}  # no JUnit file, no report: a partial one would pass for a run's


def test_a_second_signal_ends_at_once(tmp_path: Path, runs: list[Run]) -> None:
    r = _start(runs, tmp_path, "check", "open-standard", "-r", "anon-exclusive", "-q", "-j", "2")
    r.handlers()
    r.workers(2)
    os.kill(r.pid, signal.SIGSTOP)  # both land before it can act on the first
    os.kill(r.pid, signal.SIGTERM)
    os.kill(r.pid, signal.SIGINT)
    os.kill(r.pid, signal.SIGCONT)
    code, out, err = r.finish()
    assert code == 3, (out, err)
    assert "again: stopping now" in err
    assert r.left() == []
