"""`cowcheck show` and `cowcheck report`: the three renderings of a saved trace, and the
HTML report opened in headless Chromium (Debian's `chromium` package)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import chromium, needs_chromium, run_cli_in

from cowcheck.checks.saved_trace import replay_file
from cowcheck.report.commit import commit_message
from cowcheck.report.document import Shown, to_html

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "counterexamples" / "odirect-swap--page-count.json"


cli = run_cli_in


def test_show_renders_columns_markdown_and_html(tmp_path: Path) -> None:
    rp = replay_file(TRACE)
    rc, cols, _ = cli(ROOT, "show", str(TRACE))
    assert rc == 0 and "VIOLATION wrong-cow" in cols and "reclaim" in cols
    rc, md, _ = cli(ROOT, "show", str(TRACE), "-f", "markdown")
    assert rc == 0
    assert md.startswith(f"cowcheck: odirect-swap under page-count: wrong-cow in {len(rp.trace)} steps")
    assert md.count("```") == 2 and "Reproduce:" in md and "cowcheck replay" in md
    assert "tokens (the data a write left in a 512-byte sector):" in md
    rc, _, _ = cli(ROOT, "show", str(TRACE), "-f", "html", "-o", str(tmp_path / "t.html"))
    html = (tmp_path / "t.html").read_text()
    assert rc == 0 and html.startswith("<!DOCTYPE html>")
    # Self-contained: no scripts and nothing fetched from elsewhere.
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    # One box per step on the sequence diagram, one row per step in the state table.
    assert html.count("<rect ") == len(rp.trace) and html.count("<tr><td>") == len(rp.trace)


def test_markdown_and_html_of_a_trace_that_no_longer_fails() -> None:
    rp = replay_file(TRACE, "anon-exclusive")
    shown = Shown("odirect-swap under anon-exclusive", rp.trace)
    md = commit_message(shown)
    assert "no violation" in md.splitlines()[0] and "no violation along this trace\n```" in md
    assert 'class="ok"' in to_html(shown)


def test_markdown_for_a_commit_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four actors do not fit in 75 columns side by side: one line per step, prefixed
    by its actor; the commands as the user typed the file."""
    monkeypatch.chdir(ROOT)
    rp = replay_file(TRACE.relative_to(ROOT))
    md = commit_message(rp.shown())
    assert md.startswith(f"cowcheck: odirect-swap under page-count: wrong-cow in {len(rp.trace)} steps\n")
    assert max(len(ln) for ln in md.splitlines()) <= 75
    assert " 1. thread0: " in md and " 2. reclaim: " in md
    assert md.count("```") == 2
    assert "Reproduce: `cowcheck replay counterexamples/odirect-swap--page-count.json`" in md
    # Narrower still: the same trace in 60 columns.
    assert max(len(ln) for ln in commit_message(rp.shown(), 60).splitlines()) <= 60


def test_show_bad_format_is_exit_2() -> None:
    rc, _, err = cli(ROOT, "show", str(TRACE), "-f", "pdf")
    assert rc == 2 and "--format" in err and "Traceback" not in err


@needs_chromium
def test_gate_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert cli(tmp_path, "init")[0] == 0
    cfg = tmp_path / "cowcheck.toml"
    cfg.write_text(cfg.read_text().replace('rule = "anon-exclusive"', 'rule = "page-count"'))
    rc, out, err = cli(tmp_path, "report", "-o", "report.html")
    assert rc == 0 and "2 of 5 passed" in out, err
    page = (tmp_path / "report.html").as_uri()
    shot = tmp_path / "report.png"
    dom = chromium(page, shot, "1400,1800", tmp_path / "p")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real page, not a blank one
    assert "2 of 5 passed." in dom
    assert dom.count("VIOLATION wrong-cow") == 2 and dom.count("VIOLATION missed-cow") == 2
    assert dom.count("<svg") == 4  # one sequence diagram per counterexample
    keep = os.environ.get("COWCHECK_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
