"""The command line as a user meets it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

SEED = str(ROOT / "models/scenarios/odirect-clear-refs.toml")


def _one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_check_exit_codes() -> None:
    code, out, _ = run_cli("check", SEED, "--rule", "page-count")
    assert code == 1 and "read lost" in out and "do_wp_page: page_count 2 !=" in out
    code, out, _ = run_cli("check", SEED, "--rule", "anon-exclusive")
    assert code == 0 and out.startswith("holds:")
    code, out, _ = run_cli("check", "open-standard", "--rule", "anon-exclusive", "--max-states", "50")
    assert code == 3 and "incomplete" in out and "max-states 50" in out


def test_json_report() -> None:
    code, out, _ = run_cli("check", SEED, "--rule", "page-count", "--json")
    d = json.loads(out)
    assert code == 1 and d["verdict"] == "violated" and d["violation"]["property"] == "wrong-cow"
    assert [s["actor"] for s in d["trace"]] == ["thread0", "other process", "thread1", "device"]


def test_malformed_toml(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\nkind = "litmus\n')
    line = _one_line_error(*run_cli("check", str(f), "--rule", "page-count"))
    assert str(f) in line and "malformed TOML" in line


def test_unknown_rule() -> None:
    line = _one_line_error(*run_cli("check", SEED, "--rule", "no-such-rule"))
    assert "unknown rule 'no-such-rule'" in line and "anon-exclusive" in line


def test_unknown_action(tmp_path: Path) -> None:
    f = tmp_path / "badop.toml"
    f.write_text(Path(SEED).read_text().replace('op = "write"', 'op = "wirte"'))
    line = _one_line_error(*run_cli("check", str(f), "--rule", "page-count"))
    assert "actor[1].steps[0].op" in line and "unknown action 'wirte'" in line and str(f) in line


def test_negative_budget(tmp_path: Path) -> None:
    f = tmp_path / "neg.toml"
    f.write_text((ROOT / "models/scenarios/open-standard.toml").read_text().replace("fork = 1", "fork = -1"))
    line = _one_line_error(*run_cli("check", str(f), "--rule", "page-count"))
    assert "budget.fork" in line and "-1" in line


def test_missing_file() -> None:
    line = _one_line_error(*run_cli("check", "/no/such/file.toml", "--rule", "page-count"))
    assert "/no/such/file.toml" in line and "no such scenario file" in line
    line = _one_line_error(*run_cli("replay", "/no/such/trace.json"))
    assert "no such trace file" in line


@pytest.mark.parametrize(
    "args", [("--max-states", "0"), ("--max-depth", "-1"), ("--timeout", "-5"), ("--form", "sideways")]
)
def test_impossible_bounds(args: tuple[str, str]) -> None:
    line = _one_line_error(*run_cli("check", SEED, "--rule", "page-count", *args))
    assert args[0] in line


def test_replay_and_listing_verbs(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    code, _, _ = run_cli("check", SEED, "--rule", "page-count", "--save", str(trace), "-q")
    assert code == 1 and trace.exists()
    code, out, _ = run_cli("replay", str(trace))
    assert code == 1 and "still fails under page-count" in out
    code, out, _ = run_cli("replay", str(trace), "--rule", "anon-exclusive")
    assert code == 0 and "no longer fails" in out
    for verb in ("rules", "scenarios", "properties"):
        code, out, _ = run_cli(verb, "--json")
        assert code == 0 and json.loads(out)


def test_progress_on_a_log_and_quiet(tmp_path: Path) -> None:
    """Not a terminal: plain progress lines (states, depth, rate, frontier, memory), no
    control codes; --quiet: none."""
    env = {**os.environ, "COWCHECK_PROGRESS_EVERY": "0"}
    args = [sys.executable, "-m", "cowcheck", "check", "open-standard", "-r", "anon-exclusive", "--max-states", "3000"]
    p = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert p.returncode == 3
    lines = [ln for ln in p.stderr.splitlines() if "states/s" in ln]
    line = r"^[\d,]+ states, depth \d+, [\d,]+ states/s, frontier [\d,]+, [\d,]+ MiB, [\d,]+s$"
    assert lines and all(re.search(line, ln) for ln in lines), lines
    assert "\x1b[" not in p.stdout + p.stderr and "\r" not in p.stderr
    q = subprocess.run([*args, "--quiet"], capture_output=True, text=True, env=env, check=False)
    assert q.returncode == 3 and "states/s" not in q.stderr


def test_progress_on_a_terminal_is_one_line_rewritten() -> None:
    """On a terminal: the line is rewritten in place (a carriage return, then an erase
    to the end of the line), it moves within a BFS level, and it is erased at the end,
    so that the summary starts in column 0."""
    import pty

    args = [sys.executable, "-m", "cowcheck", "check", "open-standard", "-r", "anon-exclusive", "--max-states", "6000"]
    env = {**os.environ, "COWCHECK_PROGRESS_EVERY": "0", "COLUMNS": "200"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.execvpe(args[0], args, env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    assert os.waitstatus_to_exitcode(status) == 3, text
    progress = [s for s in re.findall(r"\r([^\r\n]*?)\x1b\[K", text) if "states/s" in s]
    states = [int(s.split(" states")[0].replace(",", "")) for s in progress]
    assert len(progress) >= 3 and states == sorted(states) and len(set(states)) >= 3, progress
    depths = {s.split("depth ")[1].split(",")[0] for s in progress}
    assert len(set(states)) > len(depths), "the line moves within a level, not once per level"
    last = text.rfind("\x1b[K")
    assert "\n" not in text[:last], "nothing but the progress line before it is erased"
    assert text[last + 3 :].startswith("incomplete: open-standard"), text[last:][:80]


def test_shell_completion_ships(tmp_path: Path) -> None:
    """The script completes verbs, options, and bundled scenarios and rules, in bash."""
    rc, out, err = run_cli("--completion", "bash")
    assert rc == 0 and "COMP_WORDS" in out and not err, (rc, out, err)
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    script = tmp_path / "c.bash"
    script.write_text(out)

    def complete(*words: str) -> set[str]:
        line = " ".join(["cowcheck", *(w or "''" for w in words)])
        words_set = f"COMP_WORDS=({line}); COMP_CWORD={len(words)}"
        prog = f'source {script}; {words_set}; _cowcheck; printf "%s\\n" "${{COMPREPLY[@]}}"'
        p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True, cwd=tmp_path)
        return set(p.stdout.split())

    assert "check" in complete("ch")
    assert {"--rule", "--max-states", "--workers"} <= complete("check", "--")
    assert "odirect-clear-refs" in complete("check", "odirect-c")
    assert "anon-exclusive-6.1" in complete("check", "x", "-r", "anon-")
    assert complete("show", "t", "-f", "") == {"columns", "markdown", "html"}
