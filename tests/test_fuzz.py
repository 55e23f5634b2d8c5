"""Fuzzing every input (issue 21, item 9): scenario files, rule files, --reuse
expressions, saved traces, gate configs, numeric options and output paths.

Each example is a command line (or a short sequence of them) run in a fresh temporary
directory holding its input files, through the same entry point as the console script
(``cowcheck.cli.main``), in this process: about 0.1 s an example where a subprocess
takes 0.35 s. Commands that fork workers (``-j`` of 2 or more) run as a real
subprocess in their own session, which also shows whether a process is left behind.

The property, for every input:
- the exit code is 0, 1, 2 or 3;
- exit 2 is exactly one line on stderr, naming the input (the file, or the option);
- exit 0, 1 or 3 prints a result on stdout (a user hook's ``sys.exit(0)`` is no "holds");
- no traceback, and no exception escapes ``main``;
- no file is left behind in the directory, except those the command was asked to
  write, and only when it did not fail with exit 2 (``__pycache__`` of a loaded rule
  file aside);
- where the input is out of its domain (``--max-states 0``, ``--timeout nan``, an
  unwritable output path), exit 2.

CI runs a fixed, derandomised set of examples per input class (about a minute on two
cores). To explore: ``COWCHECK_FUZZ_EXAMPLES=2000`` (random, not derandomised; add
``--hypothesis-seed N`` to repeat a run); ``COWCHECK_FUZZ_LOG=file.jsonl`` records every
failing example there instead of failing (a survey); ``COWCHECK_FUZZ_SUBPROCESS=1``
runs every command as a real subprocess. Failures found are kept below as
``REGRESSIONS``, minimised.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import copy
import datetime
import io
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from cowcheck.input.properties import DEFAULT as DEFAULT_PROPERTIES
from cowcheck.input.rule_files import BUILTIN_ORDER

ROOT = Path(__file__).resolve().parent.parent

# --- settings -------------------------------------------------------------------------

_LOCAL = int(os.environ.get("COWCHECK_FUZZ_EXAMPLES", "0") or 0)
_LOG = os.environ.get("COWCHECK_FUZZ_LOG", "")
_ALL_SUBPROCESS = os.environ.get("COWCHECK_FUZZ_SUBPROCESS", "") not in ("", "0")
# A subprocess (-j 2 and more) still running after this long has hung: killed, exit -999.
_TIMEOUT = float(os.environ.get("COWCHECK_FUZZ_TIMEOUT", "20"))

# Hypothesis keeps caches (and, after a failure, a patch) in its storage directory:
# in a temporary one, not .hypothesis/ in the checkout.
_STORAGE = tempfile.mkdtemp(prefix="cowcheck-fuzz-hypothesis-")
set_hypothesis_home_dir(_STORAGE)
atexit.register(shutil.rmtree, _STORAGE, ignore_errors=True)

settings.register_profile(
    "cowcheck-fuzz",
    derandomize=not _LOCAL,
    deadline=None,
    database=None,  # no .hypothesis/ directory left in the checkout
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


def fuzz(ci_examples: int) -> settings:
    """The profile with ``ci_examples`` examples in CI, COWCHECK_FUZZ_EXAMPLES locally."""
    return settings(settings.get_profile("cowcheck-fuzz"), max_examples=_LOCAL or ci_examples)


# --- the inputs the fuzzer starts from ------------------------------------------------------

SCENARIO_FILES = sorted((ROOT / "models" / "scenarios").glob("*.toml")) + sorted(
    (ROOT / "tests" / "scenarios").glob("*.toml")
)
LITMUS = sorted(
    p.stem for p in (ROOT / "models" / "scenarios").glob("*.toml") if 'kind = "litmus"' in p.read_text("utf-8")
)
TRACE_FILES = sorted((ROOT / "counterexamples").glob("*.json"))
MODEL_FILES = sorted(p for p in (ROOT / "models").glob("*.py") if not p.name.startswith("_"))
RULES = BUILTIN_ORDER
PROPERTIES = DEFAULT_PROPERTIES
REUSE_NAMES = (
    "refcount",
    "mapcount",
    "pincount",
    "maybe_dma_pinned",
    "exclusive",
    "swapcache",
    "swapcount",
    "locked",
    "unshare",
)
OPS = (
    "write",
    "read",
    "fork",
    "gup",
    "release",
    "mprotect",
    "munmap",
    "dontneed",
    "dontfork",
    "exit",
    "clear_refs",
    "dma_write",
    "dma_read",
    "swapout",
    "spec_get",
    "spec_put",
)
SCENARIO_KEYS = (
    *("name", "kind", "title", "source", "description", "world", "vpage", "actor", "budget", "gup_kinds", "expect"),
    *("threads", "vpages", "cells", "max_processes", "index", "state", "writable", "dontfork", "process", "steps"),
    *("op", "vpage", "cell", "flags", "fast", "ref", "prot", "after", "label", "notes", "strict"),
    *("read", "write", "fork", "gup", "gup_fast", "total", "swapout", "spec_ref", "clear_refs", "mprotect"),
    *RULES,
    "bogus",
    "",
)
SCENARIO_WORDS = (
    *OPS,
    *("litmus", "open", "thread", "device", "kernel", "outsider", "none", "present", "zero", "swapped", "ro", "rw"),
    *("FOLL_GET", "FOLL_PIN", "FOLL_WRITE", "FOLL_LONGTERM", "holds", "violated", "stuck", "incomplete"),
    *PROPERTIES,
    *RULES,
    *("teleport", "odirct", "", " ", "thread0:1", "device:2", "thread0:0", "thread0:99", "nobody:1", "a:b:1"),
)
BIG_INTS = (-1, 0, 2**31, 2**63 - 1, -(2**63), 2**64, 10**30, -(10**30))


@dataclass(frozen=True, slots=True)
class Deep:
    """A value nested ``depth`` arrays deep, written as text (no serialiser recursion)."""

    depth: int


# --- serialising mutated documents ----------------------------------------------------------


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, datetime.date | datetime.time):
        return v.isoformat()
    if isinstance(v, Deep):
        return "[" * v.depth + "]" * v.depth
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_str(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return _toml_str(str(v))


def dump_toml(doc: dict[str, Any]) -> str:
    """TOML for any mutated document: every key quoted, every table inline."""
    return "".join(f"{_toml_str(str(k))} = {_toml_value(v)}\n" for k, v in doc.items())


def dump_json(doc: Any, indent: int | None, ascii: bool = True) -> str:
    deep: dict[str, int] = {}

    def default(o: Any) -> Any:
        if isinstance(o, Deep):
            key = f"@@deep{len(deep)}@@"
            deep[key] = o.depth
            return key
        return str(o)

    text = json.dumps(doc, indent=indent, default=default, ensure_ascii=ascii)
    for key, depth in deep.items():
        text = text.replace(json.dumps(key), "[" * depth + "]" * depth)
    return text


# --- mutations ------------------------------------------------------------------------------


def _values(words: Sequence[str], keys: Sequence[str], toml: bool) -> st.SearchStrategy[Any]:
    scalar: st.SearchStrategy[Any] = st.one_of(
        st.sampled_from(words),
        st.integers(-3, 12),
        st.sampled_from(BIG_INTS),
        st.booleans(),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from([datetime.date(1979, 5, 27), datetime.time(7, 32)]) if toml else st.none(),
    )
    nested = st.recursive(
        scalar,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(keys) | st.text(max_size=4), c, max_size=3),
        max_leaves=6,
    )
    return st.one_of(scalar, nested, st.builds(Deep, st.sampled_from([3, 300, 1200, 100_000])))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        items: Iterator[tuple[Any, Any]] = iter(node.items())
    elif isinstance(node, list):
        items = iter(enumerate(node))
    else:
        return
    for k, v in items:
        yield (*prefix, k)
        yield from _paths(v, (*prefix, k))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _strings_in(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node] if len(node) < 40 else []
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings_in(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings_in(v)]
    return []


@st.composite
def mutated_doc(draw: st.DrawFn, doc: Any, words: Sequence[str], keys: Sequence[str], toml: bool) -> Any:
    """``doc`` with 1 to 4 of: a field deleted, duplicated, renamed, replaced by a value of
    another type or by a known name, an out-of-range integer, deep nesting, a new field."""
    doc = copy.deepcopy(doc)
    words = [*words, *_strings_in(doc)]
    values = _values(words, keys, toml)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "word", "int", "rename", "add", "wrap"]))
        if not paths or op == "add":
            where = draw(st.sampled_from([(), *[p for p in paths if isinstance(_at(doc, p), dict | list)]]))
            node = _at(doc, where)
            if isinstance(node, dict):
                node[draw(st.sampled_from(keys))] = draw(values)
            else:
                node.append(draw(values))
            continue
        path = draw(st.sampled_from(paths))
        parent, last = _at(doc, path[:-1]), path[-1]
        if op == "delete":
            del parent[last]
        elif op == "duplicate":
            if isinstance(parent, list):
                parent.insert(last, copy.deepcopy(parent[last]))
            else:
                parent[draw(st.sampled_from(keys))] = copy.deepcopy(parent[last])
        elif op == "replace":
            parent[last] = draw(values)
        elif op == "word":
            parent[last] = draw(st.sampled_from(words))
        elif op == "int":
            parent[last] = draw(st.sampled_from(BIG_INTS) | st.integers(-2, 100))
        elif op == "rename" and isinstance(parent, dict):
            value = parent.pop(last)
            parent[draw(st.sampled_from(keys) | st.text(max_size=6))] = value
        elif op == "wrap":
            v = parent[last]
            parent[last] = draw(st.sampled_from([[v], {"x": v}, str(v), [v, v]]))
    return doc


@st.composite
def mutated_lines(draw: st.DrawFn, text: str) -> str:
    """1 to 3 line edits: delete, duplicate, swap, or a line replaced by another or by text."""
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "copy", "insert"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "copy":
            lines[i] = lines[j]
        else:
            lines.insert(i, draw(st.text(max_size=30)) + "\n")
    return "".join(lines)


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncation, inserted or flipped bytes, a BOM, UTF-16, Latin-1 or plain binary."""
    op = draw(st.sampled_from(["truncate", "insert", "flip", "bom", "utf16", "latin1", "binary", "nul"]))
    i = draw(st.integers(0, len(data)))
    if op == "truncate":
        return data[:i]
    if op == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if op == "flip" and data:
        k = min(i, len(data) - 1)
        return data[:k] + bytes([data[k] ^ draw(st.integers(1, 255))]) + data[k + 1 :]
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    if op == "latin1":
        return data[:i] + "é€".encode("cp1252") + data[i:]
    if op == "nul":
        return data[:i] + b"\x00" + data[i:]
    return draw(st.binary(max_size=64))


@st.composite
def mutated_toml(draw: st.DrawFn, text: str, words: Sequence[str], keys: Sequence[str]) -> bytes:
    how = draw(st.sampled_from(["doc", "doc", "doc", "lines", "bytes"]))
    if how == "doc":
        return dump_toml(draw(mutated_doc(tomllib.loads(text), words, keys, toml=True))).encode()
    if how == "lines":
        return draw(mutated_lines(text)).encode()
    return draw(mutated_bytes(text.encode()))


# --- running a command and judging the outcome ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """Commands (argv after ``cowcheck``) run in order in a fresh directory holding
    ``files``; an exit-2 message must name one of ``names``; ``outputs`` may be left
    when a command did not fail with exit 2; with ``reject``, the last command must
    exit 2."""

    commands: tuple[tuple[str, ...], ...]
    files: tuple[tuple[str, bytes], ...] = ()
    names: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()
    reject: bool = False

    def __repr__(self) -> str:
        files = ", ".join(f"{n}: {len(d)} bytes {d[:160]!r}" for n, d in self.files)
        return f"Case({list(self.commands)!r}, files=[{files}], reject={self.reject})"

    def reproducer(self) -> str:
        lines = ["cd $(mktemp -d)" + "".join(f" && mkdir -p {shlex.quote(d)}" for d in self.dirs)]
        for name, data in self.files:
            text = data.decode("utf-8", "replace")
            show = text if len(data) < 1500 and text.isprintable() else f"<{len(data)} bytes>"
            lines.append(f"# {name}: {show!r}")
        lines += [shlex.join(("cowcheck", *cmd))[:600] for cmd in self.commands]
        return "\n".join(lines)


@dataclass(slots=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    crash: str  # an exception that escaped main(), formatted
    new_files: set[str]
    leftover: list[str]  # processes of the command's session still alive


def _listing(d: Path) -> set[str]:
    return {p.relative_to(d).as_posix() for p in d.rglob("*") if "__pycache__" not in p.relative_to(d).parts}


def _exit_code(code: object, err: io.TextIOBase) -> int:
    """What the interpreter would exit with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=err)
    return 1


def _run_in_process(cwd: Path, args: Sequence[str]) -> tuple[int, str, str, str]:
    from cowcheck import cli

    out_b, err_b = io.BytesIO(), io.BytesIO()
    # As a real process's streams: stdout strict, stderr backslashreplace.
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved_argv, saved_out, saved_err, saved_cwd = sys.argv, sys.stdout, sys.stderr, os.getcwd()
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    saved_timer = signal.getitimer(signal.ITIMER_REAL)
    saved_limit = sys.getrecursionlimit()
    saved_modules = set(sys.modules)
    crash = ""
    try:
        sys.argv = ["cowcheck", *args]
        sys.stdout, sys.stderr = out, err
        os.chdir(cwd)
        try:
            cli.main()
            code = 0
        except SystemExit as e:
            code = _exit_code(e.code, err)
        except BaseException:
            crash = traceback.format_exc()
            code = 1
    finally:
        out.flush()
        err.flush()
        sys.argv, sys.stdout, sys.stderr = saved_argv, saved_out, saved_err
        os.chdir(saved_cwd)
        signal.setitimer(signal.ITIMER_REAL, *saved_timer)  # no --timeout alarm left set
        for s, h in saved_signals.items():
            if h is not None:
                signal.signal(s, h)
        sys.setrecursionlimit(saved_limit)
        # Rule files loaded from this example's directory: not kept for the next one.
        for name in set(sys.modules) - saved_modules:
            f = getattr(sys.modules[name], "__file__", None) or ""
            if f.startswith(str(cwd)):
                del sys.modules[name]
    return code, out_b.getvalue().decode("utf-8", "replace"), err_b.getvalue().decode("utf-8", "replace"), crash


def _session_processes(sid: int) -> list[str]:
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # pgrp
            alive.append(stat.parent.name)
    return alive


def _run_subprocess(cwd: Path, args: Sequence[str], timeout: float = _TIMEOUT) -> tuple[int, str, str, list[str]]:
    p = subprocess.Popen(
        [sys.executable, "-m", "cowcheck", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = p.communicate(timeout=timeout)
        code = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        code = -999  # hung
    leftover = _session_processes(p.pid)
    if leftover:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), leftover


def _forks(args: Sequence[str]) -> bool:
    """Whether the command may start worker processes: -j/--workers of 2 or more."""
    for i, a in enumerate(args):
        value = args[i + 1] if a in ("-j", "--workers") and i + 1 < len(args) else None
        if a.startswith("--workers="):
            value = a.partition("=")[2]
        if value is not None:
            try:
                if int(value) >= 2:
                    return True
            except ValueError:
                pass
    return False


def run(case: Case) -> list[tuple[tuple[str, ...], Outcome]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="cowcheck-fuzz-") as tmp:
        cwd = Path(tmp)
        for d in case.dirs:
            (cwd / d).mkdir(parents=True, exist_ok=True)
        for name, data in case.files:
            (cwd / name).parent.mkdir(parents=True, exist_ok=True)
            (cwd / name).write_bytes(data)
        for cmd in case.commands:
            before = _listing(cwd)
            if _ALL_SUBPROCESS or _forks(cmd):
                code, out, err, leftover = _run_subprocess(cwd, cmd)
                crash = ""
            else:
                code, out, err, crash = _run_in_process(cwd, cmd)
                leftover = []
            results.append((cmd, Outcome(code, out, err, crash, _listing(cwd) - before, leftover)))
    return results


def _allowed(path: str, outputs: Sequence[str]) -> bool:
    """A new file or directory is one of the outputs, inside one, or a directory on the way."""
    for o in outputs:
        o = os.path.normpath(o)
        if o == "." or path == o or path.startswith(o + "/") or o.startswith(path + "/"):
            return True
    return False


def problems(case: Case, cmd: tuple[str, ...], o: Outcome, last: bool) -> list[str]:
    found = []
    if o.code not in (0, 1, 2, 3):
        found.append(f"exit code {o.code}")
    if o.crash or "Traceback (most recent call last)" in o.stderr:
        found.append("traceback")
    if o.code == 2:
        lines = re.split(r"\r\n|\r|\n", o.stderr.removesuffix("\n"))
        if len(lines) != 1 or not lines[0]:
            found.append(f"exit 2 with {len(lines)} lines on stderr")
        elif case.names and not any(n in lines[0] for n in case.names):
            found.append("exit 2 without naming the input")
    if o.code in (0, 1, 3) and not o.stdout.strip() and "interrupted" not in o.stderr:
        found.append(f"exit {o.code} with nothing on stdout")
    left = sorted(f for f in o.new_files if o.code == 2 or not _allowed(f, case.outputs))
    if left:
        found.append(f"files left behind: {left[:5]}")
    if o.leftover:
        found.append(f"{len(o.leftover)} processes left behind")
    if last and case.reject and o.code != 2:
        found.append(f"out-of-domain input accepted (exit {o.code})")
    return found


def check_case(case: Case, test: str = "") -> None:
    """Run ``case`` and assert the property (or, with COWCHECK_FUZZ_LOG, record it)."""
    results = run(case)
    report = []
    for i, (cmd, o) in enumerate(results):
        found = problems(case, cmd, o, i == len(results) - 1)
        if found:
            report.append((cmd, o, found))
    if not report:
        return
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            for cmd, o, found in report:
                entry = {
                    "test": test,
                    "command": list(cmd),
                    "commands": [list(c) for c in case.commands],
                    "files": {n: base64.b64encode(d).decode() for n, d in case.files},
                    "dirs": list(case.dirs),
                    "names": list(case.names),
                    "outputs": list(case.outputs),
                    "reject": case.reject,
                    "problems": found,
                    "code": o.code,
                    "stderr": o.stderr[-3000:],
                    "crash": o.crash[-3000:],
                    "stdout": o.stdout[:500],
                }
                f.write(json.dumps(entry) + "\n")
        return
    cmd, o, found = report[0]
    detail = o.crash.strip().splitlines()[-1:] or o.stderr.strip().splitlines()[:3]
    raise AssertionError(
        f"{'; '.join(found)}\n{case.reproducer()}\nfailing: {shlex.join(cmd)[:600]}\n"
        f"exit {o.code}; stderr: {o.stderr[:1500]!r}\n{detail}"
    )


# --- scenario files -------------------------------------------------------------------------


@st.composite
def scenario_cases(draw: st.DrawFn) -> Case:
    src = draw(st.sampled_from(SCENARIO_FILES))
    data = draw(mutated_toml(src.read_text("utf-8"), SCENARIO_WORDS, SCENARIO_KEYS))
    f = "fuzz-scenario.toml"
    rule = draw(st.sampled_from(RULES))
    bound = draw(st.sampled_from(["300", "1500"]))
    verb = draw(st.sampled_from(["check", "check", "check", "save", "graph", "verify"]))
    if verb == "check":
        extra = draw(st.sampled_from([(), ("--json",), ("--strict",), ("--form", "structural")]))
        cmds: tuple[tuple[str, ...], ...] = (("check", f, "-r", rule, "-q", "--max-states", bound, *extra),)
    elif verb == "save":
        cmds = (("check", f, "-r", rule, "-q", "--max-states", bound, "--save", "t.json"), ("replay", "t.json"))
    elif verb == "graph":
        cmds = (("graph", f, "-r", rule, "--max-states", bound, "-o", "g.dot"),)
    else:
        cmds = (("verify", rule, "-s", f, "--max-states", bound),)
    return Case(cmds, ((f, data),), names=(f, "t.json"), outputs=("t.json", "g.dot"))


@fuzz(40)
@given(scenario_cases())
def test_fuzz_scenario_files(case: Case) -> None:
    check_case(case, "scenario")


# --- rule files -----------------------------------------------------------------------------

FULL_RULE = """\
from cowcheck.mm.rule import ForkDecision, SwapinDecision, UnmapDecision, WpDecision
from cowcheck.rules import rule_class


class Full(rule_class("anon-exclusive")):
    name = "full"

    def do_wp_page(self, page, unshare):
        return WpDecision(page.exclusive, "exclusive")

    def gup_breaks_cow(self, flags):
        return False

    def gup_must_unshare(self, flags, page, have_vma):
        return flags.pin and not page.exclusive

    def gup_fast_checks_seq(self, flags):
        return True

    def fork_present(self, page, parent_has_pinned):
        return ForkDecision(page.maybe_dma_pinned, "copy if pinned")

    def swapout_add_to_swapcache(self, page):
        return True, "add_to_swap"

    def swapout_unmap(self, page):
        return UnmapDecision(True, "unmap")

    def do_swap_page(self, page, write, pte_exclusive):
        return SwapinDecision(pte_exclusive, pte_exclusive and write, "swap-in")

    def clear_refs_skips(self, page, has_pinned):
        return page.maybe_dma_pinned


RULE = Full()
"""

README_RULE = """\
from cowcheck.mm.rule import WpDecision
from cowcheck.rules import rule_class

class MyRule(rule_class("page-count-5.18")):
    name = "my-rule"
    def do_wp_page(self, page, unshare):
        reuse = page.mapcount == 1 and page.refcount == 1 + page.pincount
        return WpDecision(reuse, "my_rule: reuse unless another reference than pins")

RULE = MyRule()
"""

RULE_SOURCES = (FULL_RULE, README_RULE, *(p.read_text("utf-8") for p in MODEL_FILES))
DECISIONS = "from cowcheck.mm.rule import ForkDecision, SwapinDecision, UnmapDecision, WpDecision\n"
BAD_RETURNS = (
    *("True", "False", "None", "0", "1", '"reuse"', "(True,)", '(True, "x", 1, 2)', "[]", "object()", "page"),
    *('float("nan")', "NotImplemented", "self", "WpDecision(True, 5)", 'WpDecision("yes", "note")'),
    *('ForkDecision(True, "n")', 'UnmapDecision(True, "u")', 'SwapinDecision(True, True, "s")'),
    *('WpDecision(True, "x", wait_lock=True)', 'WpDecision(True, "x", free_swapcache=True)', "(1, 2)"),
)
HOOK_BODIES = (
    *('raise ValueError("boom")', "raise KeyError(1)", "1 / 0", "raise SystemExit(7)", "raise SystemExit(0)"),
    *('raise SystemExit("bye")', "import sys; sys.exit(3)", "raise KeyboardInterrupt", "raise MemoryError"),
    *("_forever(0)", 'raise BaseException("base")', "raise StopIteration", 'assert False, "no"'),
    *("import nonexistent_module_xyz", "raise GeneratorExit", "return self.no_such_hook()", 'print("noise")'),
)
MODULE_LINES = (
    *("RULE = None", "RULE = 5", "del RULE", "RULE = type(RULE)", 'raise ImportError("no")', "import sys; sys.exit(7)"),
    *("raise SystemExit", "raise KeyboardInterrupt", "x = 1 +", "import nonexistent_module_xyz", "_forever(0)"),
    *('RULE.name = "renamed"', "RULE.name = 5", "type(RULE).do_wp_page = 5", "type(RULE).name = None"),
    *("class Other(type(RULE)):\n    pass\n\nRULE = Other()", "RULE = [RULE]", "raise MemoryError"),
)
BAD_NAMES = ('""', '"page-count"', "5", "None", '"has space"', '"a/b"', '"x" * 1000', '"ünï"', '"anon-exclusive"')
BAD_SIGNATURES = ("(self)", "(self, *args)", "(self, page, unshare, extra)", "(self, a, b, c=1)", "(*args)", "()")


@st.composite
def mutated_rule(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(RULE_SOURCES))
    lines = text.splitlines()
    first_class = next(i for i, ln in enumerate(lines) if ln.startswith("class "))
    lines[first_class:first_class] = [DECISIONS.rstrip(), "def _forever(n):", "    return _forever(n + 1)", ""]
    for _ in range(draw(st.integers(1, 2))):
        op = draw(st.sampled_from(["return", "body", "module", "name", "signature", "hookname", "lines", "bytes"]))
        defs = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("def ") and ln.startswith("    ")]
        if op == "return":
            rets = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("return ") and ln.startswith("        ")]
            if rets:
                i = draw(st.sampled_from(rets))
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                lines[i] = indent + "return " + draw(st.sampled_from(BAD_RETURNS))
        elif op == "body" and defs:
            i = draw(st.sampled_from(defs))
            lines.insert(i + 1, "        " + draw(st.sampled_from(HOOK_BODIES)))
        elif op == "module":
            lines.append(draw(st.sampled_from(MODULE_LINES)))
        elif op == "name":
            names = [i for i, ln in enumerate(lines) if ln.startswith("    name = ")]
            if names:
                i = draw(st.sampled_from(names))
                bad = draw(st.sampled_from(BAD_NAMES))
                lines[i] = "    pass" if bad == '""' and draw(st.booleans()) else f"    name = {bad}"
        elif op == "signature" and defs:
            i = draw(st.sampled_from(defs))
            head, _, _ = lines[i].partition("(")
            lines[i] = head + draw(st.sampled_from(BAD_SIGNATURES)) + ":"
        elif op == "hookname" and defs:
            i = draw(st.sampled_from(defs))
            lines[i] = lines[i].replace("def ", "def " + draw(st.sampled_from(["x", "_", "do_"])), 1)
        elif op == "lines":
            lines = draw(mutated_lines("\n".join(lines))).splitlines()
        elif op == "bytes":
            return draw(mutated_bytes(("\n".join(lines) + "\n").encode()))
    return ("\n".join(lines) + "\n").encode()


@st.composite
def rule_cases(draw: st.DrawFn) -> Case:
    f = "fuzz_rule.py"
    data = draw(mutated_rule())
    scen = draw(st.sampled_from(LITMUS))
    verb = draw(st.sampled_from(["check", "check", "save", "verify", "reuse"]))
    if verb == "check":
        cmds: tuple[tuple[str, ...], ...] = (("check", scen, "-r", f, "-q", "--max-states", "1500"),)
    elif verb == "save":
        cmds = (("check", scen, "-r", f, "-q", "--max-states", "1500", "--save", "t.json"), ("replay", "t.json"))
    elif verb == "verify":
        other = draw(st.sampled_from(LITMUS))
        cmds = (("verify", f, "-s", scen, "-s", other, "--max-states", "800"),)
    else:
        cmds = (("check", scen, "-r", f, "--reuse", "refcount == 1", "-q", "--max-states", "1500"),)
    return Case(cmds, ((f, data),), names=(f, "t.json"), outputs=("t.json",))


@fuzz(40)
@given(rule_cases())
def test_fuzz_rule_files(case: Case) -> None:
    check_case(case, "rule")


# --- --reuse expressions --------------------------------------------------------------------


def _reuse_grammar() -> st.SearchStrategy[str]:
    atoms = st.one_of(
        st.sampled_from([*REUSE_NAMES, "True", "False"]),
        st.integers(-3, 5).map(str),
        st.sampled_from(["0", "99999999999999999999", "-1", "1_000", "0x10", "0o7", "0b1"]),
    )

    def grow(e: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(e, st.sampled_from(["and", "or"]), e).map(" ".join),
            st.tuples(e, st.sampled_from(["+", "-", "*"]), e).map(" ".join),
            st.tuples(e, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), e).map(" ".join),
            e.map(lambda x: f"not {x}"),
            e.map(lambda x: f"-{x}"),
            e.map(lambda x: f"({x})"),
        )

    return st.recursive(atoms, grow, max_leaves=10)


REUSE_TOKENS = (
    *REUSE_NAMES,
    *("True", "False", "None", "and", "or", "not", "(", ")", "+", "-", "*", "/", "//", "%", "**", "==", "<"),
    *("[", "]", "{", "}", ",", ".", ":", "=", ";", "'x'", "1.5", "1e9", "lambda", "if", "else", "__import__"),
    *("refcnt", "page", "__class__", "\\", "#", "\n", "\t", "@", "~", "<<", "&", "|", "^", "is", "in", "x", "f'{1}'"),
)

PATHOLOGICAL = (
    lambda n: "not " * n + "refcount",
    lambda n: "-" * n + "1",
    lambda n: "(" * n + "1" + ")" * n,
    lambda n: "refcount" + " + refcount" * n,
    lambda n: "1" + " == 1" * n,
    lambda n: "9" * n,
    lambda n: "refcount and " * n + "True",
    lambda n: "~" * n + "1",
    lambda n: "[" * n,
)


# A byte that is not UTF-8 on the command line reaches sys.argv as a lone surrogate.
ARGV_BYTES = st.sampled_from(["\udcff", "\udc80", "\udce9"])
ARGV_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")  # no NUL in argv


@st.composite
def reuse_exprs(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["grammar", "grammar", "grammar", "tokens", "text", "pathological"]))
    if kind == "grammar":
        return draw(_reuse_grammar())
    if kind == "tokens":
        return " ".join(draw(st.lists(st.sampled_from(REUSE_TOKENS), max_size=12)))
    if kind == "text":
        return draw(st.text(ARGV_CHARS | ARGV_BYTES, max_size=40))
    f = draw(st.sampled_from(PATHOLOGICAL))
    return str(f(draw(st.sampled_from([10, 200, 1000, 5000, 30_000]))))


@st.composite
def reuse_cases(draw: st.DrawFn) -> Case:
    expr = draw(reuse_exprs())
    base = draw(st.sampled_from(RULES))
    scen = draw(st.sampled_from(LITMUS))
    verb = draw(st.sampled_from(["check", "check", "spec", "verify", "save"]))
    bound = ("--max-states", "1500")
    if verb == "check":
        cmds: tuple[tuple[str, ...], ...] = (("check", scen, "-r", base, "--reuse", expr, "-q", *bound),)
    elif verb == "spec":
        cmds = (("check", scen, "-r", f"{base}+reuse({expr})", "-q", *bound),)
    elif verb == "verify":
        cmds = (("verify", base, "--reuse", expr, "-s", scen, "--max-states", "800"),)
    else:
        save = ("check", scen, "-r", base, "--reuse", expr, "-q", *bound, "--save", "t.json")
        cmds = (save, ("replay", "t.json"), ("show", "t.json", "-f", "markdown"))
    return Case(cmds, names=("--reuse", "--rule", "t.json"), outputs=("t.json",))


@fuzz(50)
@given(reuse_cases())
def test_fuzz_reuse_expressions(case: Case) -> None:
    check_case(case, "reuse")


# --- saved traces ---------------------------------------------------------------------------

TRACE_DOCS = [json.loads(p.read_text("utf-8")) for p in TRACE_FILES]
TRACE_KEYS = (
    *("format", "version", "rule", "scenario", "name", "path", "sha256", "toml", "properties", "form", "strict"),
    *("bounds", "search", "violation", "property", "message", "rule_file", "steps", "actor", "label", "action"),
    *("notes", "op", "pid", "vpage", "cell", "write", "step", "fast", "pin", "longterm", "prot", "bogus", ""),
)
TRACE_WORDS = (
    *SCENARIO_WORDS,
    *("cowcheck-trace", "observational", "structural", "my_rule.py", "../my_rule.py", "/etc/passwd", "nope.py"),
    *("anon-exclusive+reuse(refcount == 1)", "page-count+reuse(\x00)", "x+reuse(1)", "page-count+reuse(", "."),
    "page-count+reuse(" + "not " * 3000 + "1)",
    *("\udcff", "a\nb", "\x1b[2J"),
)


@st.composite
def mutated_trace(draw: st.DrawFn) -> bytes:
    doc = draw(st.sampled_from(TRACE_DOCS))
    how = draw(st.sampled_from(["doc", "doc", "doc", "toml", "lines", "bytes"]))
    indent = draw(st.sampled_from([None, 2]))
    if how == "doc":
        mutated = draw(mutated_doc(doc, TRACE_WORDS, TRACE_KEYS, toml=False))
        # Escaped (a lone surrogate as \udcff), or raw UTF-8 (a lone surrogate as invalid UTF-8).
        return dump_json(mutated, indent, ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if how == "toml":
        doc = copy.deepcopy(doc)
        toml = draw(mutated_toml(doc["scenario"]["toml"], SCENARIO_WORDS, SCENARIO_KEYS))
        doc["scenario"]["toml"] = toml.decode("utf-8", "surrogateescape")
        return json.dumps(doc, indent=indent).encode()
    text = json.dumps(doc, indent=2)
    if how == "lines":
        return draw(mutated_lines(text)).encode()
    return draw(mutated_bytes(text.encode()))


@st.composite
def trace_cases(draw: st.DrawFn) -> Case:
    f = "fuzz-trace.json"
    data = draw(mutated_trace())
    cmd = draw(
        st.sampled_from(
            [
                ("replay", f),
                ("replay", f, "--json"),
                ("replay", f, "-r", draw(st.sampled_from(RULES))),
                ("show", f, "-f", draw(st.sampled_from(["columns", "markdown", "html"]))),
                ("show", f, "-f", "html", "-o", "out.html"),
                ("graph", "odirect-clear-refs", "-r", "page-count", "--trace", f, "-o", "g.dot"),
            ]
        )
    )
    files = ((f, data), ("my_rule.py", FULL_RULE.encode()))
    return Case((cmd,), files, names=(f,), outputs=("out.html", "g.dot"))


@fuzz(50)
@given(trace_cases())
def test_fuzz_saved_traces(case: Case) -> None:
    check_case(case, "trace")


# --- gate configs ---------------------------------------------------------------------------

GATE_BASE: dict[str, Any] = {
    "rule": "anon-exclusive",
    "check": [
        {"scenario": "odirect-clear-refs", "expect": "holds"},
        {"name": "strict fork", "scenario": "fork-odirect", "strict": True, "expect": "missed-cow", "rule": "mapcount"},
        {
            "scenario": "my.toml",
            "rule": "my_rule.py",
            "expect": "violated",
            "max_states": 500,
            "timeout": 30.0,
            "properties": ["wrong-cow"],
        },
    ],
    "counterexample": [{"path": "traces/t.json"}, {"path": "traces/t.json", "rule": "mapcount", "name": "again"}],
}
GATE_KEYS = (
    *("rule", "check", "counterexample", "name", "scenario", "expect", "properties", "strict", "max_states"),
    *("timeout", "path", "tool", "cowcheck", "bogus", ""),
)
GATE_WORDS = (
    *LITMUS,
    *RULES,
    *PROPERTIES,
    *("holds", "violated", "incomplete", "stuck", "bogus", "my.toml", "my_rule.py", "traces/t.json", "nope.json"),
    *("../x", "/dev/null", "", "traces", "traces/", "anon-exclusive+reuse(refcount == 1)", "my_rule"),
)


@st.composite
def gate_cases(draw: st.DrawFn) -> Case:
    doc = draw(mutated_doc(GATE_BASE, GATE_WORDS, GATE_KEYS, toml=True))
    pyproject = draw(st.booleans())
    cfg = "pyproject.toml" if pyproject else "cowcheck.toml"
    text = dump_toml({"project": {"name": "x"}, "tool": {"cowcheck": doc}} if pyproject else doc)
    data = draw(mutated_bytes(text.encode())) if draw(st.integers(0, 9)) == 0 else text.encode()
    trace = draw(st.sampled_from(TRACE_FILES)).read_bytes()
    if draw(st.integers(0, 4)) == 0:
        trace = draw(mutated_trace())
    files = (
        (cfg, data),
        ("my.toml", (ROOT / "models" / "scenarios" / "odirect-clear-refs.toml").read_bytes()),
        ("my_rule.py", README_RULE.replace("page-count-5.18", "page-count").encode()),
        ("traces/t.json", trace),
    )
    cmd = draw(
        st.sampled_from(
            [
                ("gate",),
                ("gate", "--junit", "j.xml", "--sarif", "s.sarif"),
                ("gate", "--config", cfg),
                ("report", "-o", "r.html"),
            ]
        )
    )
    names = (cfg, "my.toml", "my_rule.py", "t.json", "traces")
    return Case((cmd,), files, names=names, outputs=("cowcheck-junit.xml", "j.xml", "s.sarif", "r.html"))


@fuzz(40)
@given(gate_cases())
def test_fuzz_gate_configs(case: Case) -> None:
    check_case(case, "gate")


# A minimal gate config: one check.
GATE_CONFIG = b'rule = "anon-exclusive"\n[[check]]\nscenario = "odirect-clear-refs"\nexpect = "holds"\n'


# --- numeric options ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opt:
    """An option's value as text, and whether it is out of the option's domain (must be
    exit 2) or may go either way (None: accepted or rejected, both are right)."""

    text: str
    bad: bool | None


def _int_opts(lo: int, hi: int | None = None) -> st.SearchStrategy[Opt]:
    def judge(v: int) -> bool | None:
        if v < lo:
            return True
        return hi is not None and v > hi

    ints = (st.integers(-5, 3000) | st.sampled_from(BIG_INTS)).map(lambda v: Opt(str(v), judge(v)))
    texts = st.sampled_from(
        [
            *(Opt(t, True) for t in ("nan", "inf", "-inf", "", "abc", "1.5", "1e3", "0x10", "--")),
            Opt("-0", judge(0)),
            *(Opt(t, None) for t in ("+5", " 7", "1_000", "٣", "9" * 5000)),
        ]
    )
    return ints | texts


FLOAT_OPTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda v: Opt(repr(v), True if math.isnan(v) or v <= 0 else (None if math.isinf(v) or v > 1e9 else False))
    ),
    st.sampled_from(
        [
            *(Opt(t, True) for t in ("nan", "-inf", "0", "-0.0", "", "abc", "-1e-300", "NaN")),
            *(Opt(t, None) for t in ("inf", "1e309", "1e308", "9" * 400)),
            *(Opt(t, False) for t in ("1e-300", "0.001", "5", "2.5")),
        ]
    ),
)
STORE_OPTS = st.sampled_from(
    [
        *(Opt(t, False) for t in ("exact", "fingerprint", "bitstate", "bitstate:1", "bitstate:16")),
        *(Opt(t, True) for t in ("bitstate:0", "bitstate:-1", "bitstate:abc", "bitstate:1e3", "bitstate:nan")),
        *(Opt(t, True) for t in ("exact:5", "", "BITSTATE", "bitstate:99999999", "bloom", ":")),
        *(Opt(t, None) for t in ("bitstate:" + "9" * 30, "bitstate: 4", "bitstate:٣", "bitstate:")),
    ]
)
# -j: 1000 and more is a fork bomb unless capped; those run as a subprocess, killed after _TIMEOUT.
WORKER_OPTS = st.sampled_from(
    [
        *(Opt(str(v), True) for v in (0, -1, -(2**63), 1000, 2**63, 10**30)),
        *(Opt(str(v), False) for v in (1, 1, 1, 2)),
        Opt("abc", True),
    ]
)


@st.composite
def option_cases(draw: st.DrawFn) -> Case:
    scen = draw(st.sampled_from(LITMUS))
    rule = draw(st.sampled_from(RULES))
    verb = draw(st.sampled_from(["check", "check", "check", "graph", "verify", "gate", "catalog"]))
    args: list[str] = []
    used: list[tuple[str, Opt]] = []

    def maybe(name: str, strategy: st.SearchStrategy[Opt], p: int = 2) -> None:
        if draw(st.integers(0, p - 1)) == 0:
            o = draw(strategy)
            used.append((name, o))
            args.extend([name, o.text])

    files: tuple[tuple[str, bytes], ...] = ()
    if verb == "check":
        args += ["check", scen, "-r", rule, "-q"]
        maybe("--max-states", _int_opts(1))
        maybe("--max-depth", _int_opts(1))
        maybe("--timeout", FLOAT_OPTS)
        maybe("--store", STORE_OPTS, 3)
        maybe("-j", WORKER_OPTS, 4)
        maybe("-p", st.sampled_from([*(Opt(p, False) for p in PROPERTIES), Opt("nope", True), Opt("", True)]), 4)
        maybe("--form", st.sampled_from([Opt("observational", False), Opt("structural", False), Opt("x", True)]), 5)
        if not any(n in ("--max-states", "--max-depth") for n, _ in used):
            args += ["--max-states", "2000"]
    elif verb == "graph":
        args += ["graph", scen, "-r", rule, "-o", "g.dot"]
        maybe("--radius", _int_opts(0), 1)
        maybe("--max-states", _int_opts(1))
        if draw(st.booleans()):
            args += ["--trace", "t.json"]
            files = (("t.json", (ROOT / "counterexamples" / "odirect-clear-refs--page-count.json").read_bytes()),)
    elif verb == "verify":
        args += ["verify", rule, "-s", scen]
        maybe("--max-states", _int_opts(1), 1)
        maybe("--timeout", FLOAT_OPTS)
    elif verb == "gate":
        args += ["gate"]
        maybe("-j", WORKER_OPTS, 1)
        files = (
            ("cowcheck.toml", GATE_CONFIG.replace(b"anon-exclusive", b"page-count").replace(b"holds", b"wrong-cow")),
        )
    else:
        # The whole catalog is too long for a fuzzer: only -j values that must be rejected.
        o = draw(WORKER_OPTS.filter(lambda o: o.bad is True))
        used.append(("-j", o))
        args += ["catalog", "-j", o.text]
    bad = [o.bad for _, o in used]
    names = tuple(n for n, _ in used) + tuple({"-j": "--workers", "-p": "--property"}.get(n, n) for n, _ in used)
    names += tuple(f for f, _ in files if f.endswith(".json"))
    return Case(
        (tuple(args),),
        files,
        names=names,
        outputs=("g.dot", "cowcheck-junit.xml"),
        reject=any(b is True for b in bad),
    )


@fuzz(50)
@given(option_cases())
def test_fuzz_numeric_options(case: Case) -> None:
    check_case(case, "options")


# --- output paths ---------------------------------------------------------------------------

# (path, out of domain for a file output, out of domain for a directory output)
OUTPUT_PATHS = (
    ("out.x", False, None),
    ("nodir/out.x", None, None),
    ("nodir/deeper/out.x", None, None),
    ("d", True, False),
    (".", True, None),
    ("d/", True, False),
    ("f/x", True, True),
    ("f", False, True),
    ("x" * 300, True, True),
    ("/proc/version", True, True),
    ("/dev/full", True, True),
    ("/proc/nonexistent/x", True, True),
    ("ünï.x", False, None),
)


@st.composite
def output_cases(draw: st.DrawFn) -> Case:
    path, bad_file, bad_dir = draw(st.sampled_from(OUTPUT_PATHS))
    verb = draw(st.sampled_from(["save", "junit", "sarif", "report", "init", "show", "graph", "save-dir"]))
    cmd: tuple[str, ...] = {
        "save": ("check", "odirect-clear-refs", "-r", "page-count", "-q", "--save", path),
        "junit": ("gate", "--junit", path),
        "sarif": ("gate", "--sarif", path),
        "report": ("report", "-o", path),
        "init": ("init", path),
        "show": ("show", "t.json", "-o", path),
        "graph": ("graph", "odirect-clear-refs", "-r", "page-count", "-o", path),
        "save-dir": ("verify", "page-count", "-s", "odirect-clear-refs", "--save-dir", path),
    }[verb]
    is_dir = verb in ("init", "save-dir")
    bad = bad_dir if is_dir else bad_file
    files = (
        ("cowcheck.toml", GATE_CONFIG),
        ("t.json", (ROOT / "counterexamples" / "odirect-clear-refs--page-count.json").read_bytes()),
        ("f", b"a file\n"),
    )
    outputs = (path, "cowcheck-junit.xml") if not path.startswith("/") else ("cowcheck-junit.xml",)
    names = (cmd[cmd.index(path) - 1] if cmd[cmd.index(path) - 1].startswith("-") else "", path, path.rstrip("/"))
    return Case((cmd,), files, names=tuple(n for n in names if n), outputs=outputs, dirs=("d",), reject=bad is True)


@fuzz(30)
@given(output_cases())
def test_fuzz_output_paths(case: Case) -> None:
    check_case(case, "outputs")


# --- what the fuzzer found, minimised -------------------------------------------------------


def _rule(body: str, module: str = "", base: str = 'rule_class("anon-exclusive")', hook: str = "do_wp_page") -> bytes:
    """A rule file whose ``hook`` runs ``body``, with ``module`` appended at the end."""
    params = {"do_wp_page": "page, unshare", "swapout_add_to_swapcache": "page", "do_swap_page": "page, write, e"}[hook]
    return (
        "from cowcheck.mm.rule import Rule, WpDecision\n"
        "from cowcheck.rules import rule_class\n\n\n"
        f"class R({base}):\n"
        '    name = "r"\n\n'
        f"    def {hook}(self, {params}):\n"
        f"        {body}\n\n\n"
        f"RULE = R()\n{module}"
    ).encode()


def _rule_case(src: bytes, scenario: str = "odirect-clear-refs", verb: str = "check") -> Case:
    cmd = ("check", scenario, "-r", "r.py", "-q") if verb == "check" else ("verify", "r.py", "-s", scenario)
    return Case((cmd,), (("r.py", src),), names=("r.py",))


def _check(*args: str, names: Sequence[str] = (), reject: bool = False, **files: bytes) -> Case:
    """``cowcheck check odirect-clear-refs -r page-count -q ARGS``."""
    cmd = ("check", "odirect-clear-refs", "-r", "page-count", "-q", *args)
    return Case((cmd,), tuple(files.items()), names=tuple(names), reject=reject)


def _cmd(*cmd: str, names: Sequence[str] = (), reject: bool = False, outputs: Sequence[str] = ()) -> Case:
    files = (
        ("cowcheck.toml", GATE_CONFIG),
        ("t.json", (ROOT / "counterexamples" / "odirect-clear-refs--page-count.json").read_bytes()),
        ("f", b"a file\n"),
    )
    return Case((cmd,), files, names=tuple(names), outputs=tuple(outputs), dirs=("d",), reject=reject)


def _gate(config: bytes) -> Case:
    return Case((("gate",),), (("cowcheck.toml", config),), names=("cowcheck.toml",))


def _trace(mutate: Any, *cmd: str) -> Case:
    doc = json.loads((ROOT / "counterexamples" / "odirect-clear-refs--page-count.json").read_text("utf-8"))
    text = mutate(doc)
    return Case(((*cmd, "t.json") if cmd else ("replay", "t.json"),), (("t.json", text.encode()),), names=("t.json",))


def _with(doc: dict[str, Any], **fields: Any) -> str:
    return json.dumps({**doc, **fields})


def _embedded(doc: dict[str, Any], toml: str) -> str:
    return json.dumps({**doc, "scenario": {**doc["scenario"], "toml": toml}})


DEEP_TOML = "name = " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_JSON = "[" * 100_000 + "]" * 100_000

REGRESSIONS: list[Any] = [
    # --reuse: bounded length and depth; a byte that is not UTF-8 (robustness: reuse_expr.py).
    pytest.param(_check("--reuse", "-" * 60_000 + "1", names=("--reuse",)), id="reuse-60000-minus"),
    pytest.param(_check("--reuse", "not " * 1000 + "refcount", names=["--reuse"]), id="reuse-1000-not"),
    pytest.param(_check("--reuse", "~" * 5000 + "1", names=["--reuse"]), id="reuse-5000-tilde"),
    pytest.param(_check("--reuse", "refcount" + " + refcount" * 5000, names=["--reuse"]), id="reuse-5000-plus"),
    pytest.param(
        Case(
            (("check", "odirect-clear-refs", "-q", "-r", "page-count+reuse(" + "-" * 60_000 + "1)"),),
            names=("--rule", "--reuse"),
        ),
        id="reuse-in-rule-name",
    ),
    pytest.param(_check("--reuse", "\udcff", names=("--reuse",)), id="reuse-non-utf8-byte"),
    # Rule files: whatever a hook or the module does is one line naming the file.
    pytest.param(_rule_case(_rule("import sys; sys.exit(7)")), id="rule-hook-sys-exit-7"),
    pytest.param(_rule_case(_rule("raise SystemExit(0)")), id="rule-hook-exit-0"),
    pytest.param(_rule_case(_rule('raise SystemExit("bye")')), id="rule-hook-exit-message"),
    pytest.param(_rule_case(_rule("import sys; sys.exit(3)")), id="rule-hook-exit-3"),
    pytest.param(_rule_case(_rule("raise KeyboardInterrupt")), id="rule-hook-keyboard-interrupt"),
    pytest.param(_rule_case(_rule("raise GeneratorExit")), id="rule-hook-generator-exit"),
    pytest.param(_rule_case(_rule('raise BaseException("base")')), id="rule-hook-base-exception"),
    pytest.param(_rule_case(_rule("return True")), id="rule-hook-returns-true"),
    pytest.param(_rule_case(_rule('return "reuse"')), id="rule-hook-returns-str"),
    pytest.param(_rule_case(_rule('return float("nan")'), verb="verify"), id="rule-hook-returns-nan"),
    pytest.param(
        _rule_case(_rule("return True", hook="swapout_add_to_swapcache"), "odirect-swap"),
        id="rule-swapout-returns-bool",
    ),
    pytest.param(
        Case(
            (("check", "vmsplice-child-swap", "-r", "r.py", "--reuse", "refcount == 1", "-q"),),
            (("r.py", _rule("return True", hook="do_swap_page")),),
            names=("r.py",),
        ),
        id="rule-returns-bool-under-reuse",
    ),
    pytest.param(_rule_case(_rule("return x", "type(RULE).do_wp_page = 5\n")), id="rule-hook-replaced-by-int"),
    pytest.param(_rule_case(_rule("pass", "raise SystemExit\n")), id="rule-module-exit"),
    pytest.param(_rule_case(_rule("pass", "raise KeyboardInterrupt\n")), id="rule-module-keyboard-interrupt"),
    pytest.param(
        _rule_case(_rule("return 1", base="Rule", hook="do_wp_page").replace(b"def do_wp_page", b"def _do_wp_page")),
        id="rule-without-hooks",
    ),
    # Saved traces.
    pytest.param(_trace(lambda d: _with(d, **{"a\nb": 1})), id="trace-unknown-field-with-newline"),
    pytest.param(_trace(lambda d: _embedded(d, DEEP_TOML), "show", "-f", "markdown"), id="trace-deep-embedded-toml"),
    pytest.param(
        _trace(lambda d: _embedded(d, "# \udcff\n" + d["scenario"]["toml"])), id="trace-embedded-toml-lone-surrogate"
    ),
    pytest.param(_trace(lambda d: DEEP_JSON), id="trace-100000-deep"),
    pytest.param(
        _trace(lambda d: _with(d, steps=[]).replace('"steps": []', '"steps": ' + DEEP_JSON)), id="trace-deep-steps"
    ),
    # Gate configs (replay: gate.py).
    pytest.param(_gate(b"\xff\xfe\x00binary"), id="gate-binary-config"),
    pytest.param(_gate(DEEP_TOML.replace("name", "rule").encode()), id="gate-deep-config"),
    pytest.param(_gate(GATE_CONFIG + b'rule = "no-such-rule"\n'), id="gate-check-unknown-rule"),
    pytest.param(_gate(GATE_CONFIG + b'properties = ["nope"]\n'), id="gate-check-unknown-property"),
    pytest.param(
        _gate(GATE_CONFIG.replace(b"odirect-clear-refs", b"no-such-scenario")), id="gate-check-unknown-scenario"
    ),
    # Numeric options (robustness: cli/).
    pytest.param(_check("--timeout", "inf", names=["--timeout"]), id="timeout-inf"),
    pytest.param(_check("--timeout", "1e309", names=["--timeout"]), id="timeout-1e309"),
    pytest.param(_check("--timeout", "1e-300", names=["--timeout"]), id="timeout-1e-300"),
    pytest.param(_check("--timeout", "nan", names=["--timeout"], reject=True), id="timeout-nan"),
    pytest.param(
        Case(
            (("verify", "page-count", "-s", "odirect-clear-refs", "--timeout", "nan"),),
            names=("--timeout",),
            reject=True,
        ),
        id="verify-timeout-nan",
    ),
    pytest.param(
        Case(
            (("graph", "odirect-clear-refs", "-r", "page-count", "--max-states", "0", "-o", "g.dot"),),
            names=("--max-states",),
            reject=True,
        ),
        id="graph-max-states-0",
    ),
    pytest.param(_check("--max-states", "abc", names=["--max-states"], reject=True), id="usage-error-one-line"),
    pytest.param(_check("-j", "1000", names=["--workers", "-j"], reject=True), id="workers-1000"),
    pytest.param(
        Case((("catalog", "-j", str(2**63)),), names=("--workers", "-j"), reject=True), id="catalog-workers-2e63"
    ),
    pytest.param(_check("--store", "bitstate:99999999", names=["--store"], reject=True), id="store-bitstate-huge"),
    # Output paths: checked before the search, nothing left behind (robustness: cli/).
    pytest.param(_cmd("show", "t.json", "-o", "/dev/full", names=["/dev/full"], reject=True), id="show-to-dev-full"),
    pytest.param(
        _cmd("show", "t.json", "-o", "/proc/version", names=["/proc/version"], reject=True), id="show-to-proc"
    ),
    pytest.param(_cmd("show", "t.json", "-o", "d", names=["-o", "d"], reject=True), id="show-to-dir"),
    pytest.param(_cmd("gate", "--sarif", "/dev/full", names=["--sarif"], reject=True), id="gate-sarif-dev-full"),
    pytest.param(_cmd("gate", "--sarif", "d", names=["--sarif"], reject=True), id="gate-sarif-dir"),
    pytest.param(
        _cmd("gate", "--junit", "nodir/j.xml", names=["--junit"], outputs=["nodir/j.xml"]), id="gate-junit-nodir"
    ),
    pytest.param(_cmd("report", "-o", "nodir/r.html", names=["-o"], outputs=["nodir/r.html"]), id="report-nodir"),
    pytest.param(_cmd("report", "-o", "x" * 300, names=["-o"], reject=True), id="report-name-too-long"),
    pytest.param(_cmd("init", "nodir/sub", names=["nodir/sub"], outputs=["nodir/sub"]), id="init-nodir"),
    pytest.param(_cmd("init", "/proc/version", names=["/proc/version"], reject=True), id="init-in-a-file"),
    pytest.param(
        _check("--save", "/proc/nonexistent/x", names=["--save", "/proc/nonexistent/x"], reject=True),
        id="save-unwritable",
    ),
    pytest.param(
        _cmd(
            "verify",
            "page-count",
            "-s",
            "odirect-clear-refs",
            "--save-dir",
            "f",
            names=["--save-dir", "f"],
            reject=True,
        ),
        id="save-dir-is-a-file",
    ),
    # Scenario files (lead: scenario.py).
    pytest.param(
        Case((("check", "s.toml", "-r", "page-count", "-q"),), (("s.toml", DEEP_TOML.encode()),), names=("s.toml",)),
        id="scenario-deep-nesting",
    ),
]


@pytest.mark.parametrize("case", REGRESSIONS)
def test_fuzz_regression(case: Case) -> None:
    check_case(case)
