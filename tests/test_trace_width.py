"""Traces that fit where kernel developers paste them (issue 23, item 5): the markdown
for a commit message keeps to 75 columns, names each token's origin once, and never
gives two steps the same label."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from cowcheck.checks.saved_trace import Replay, replay_file
from cowcheck.report.commit import command_lines, commit_message
from cowcheck.report.counterexample import distinct_labels
from cowcheck.report.diagram import COMMIT_WIDTH, render_columns, render_trace, wrap
from cowcheck.report.tokens import LEGEND_HEAD, token_legend, tokens_named

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.name for p in (ROOT / "counterexamples").glob("*.json"))
LEGEND_ENTRY = re.compile(r"^  t(\d+): (.*)$", re.M)


def replay(name: str, monkeypatch: pytest.MonkeyPatch) -> Replay:
    """The replay `cowcheck show counterexamples/NAME` makes from the checkout, so its
    commands name the file as a user typed it."""
    monkeypatch.chdir(ROOT)
    return replay_file(Path("counterexamples") / name)


def legend(text: str) -> dict[int, list[str]]:
    """Each token the legend explains, with every explanation it gets."""
    out: dict[int, list[str]] = {}
    for t, what in LEGEND_ENTRY.findall(text):
        out.setdefault(int(t), []).append(what)
    return out


def test_there_are_traces_to_check() -> None:
    assert len(NAMES) >= 40


@pytest.mark.parametrize("name", NAMES, ids=[n.removesuffix(".json") for n in NAMES])
def test_markdown_fits_in_75_columns_and_explains_each_token_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rp = replay(name, monkeypatch)
    md = commit_message(rp.shown())
    wide = [f"{len(ln)}: {ln}" for ln in md.splitlines() if len(ln) > COMMIT_WIDTH]
    assert not wide, "\n".join(wide)
    # Every step is drawn, and the violation.
    assert md.count("```") == 2 and f"VIOLATION {rp.trace.property_id}" in md
    assert all(f"{n:>2}. " in md for n in range(1, len(rp.trace) + 1))
    # The legend: once, and one entry for each token named anywhere, no more.
    assert md.count(LEGEND_HEAD) == 1
    explained = legend(md)
    named = tokens_named(LEGEND_ENTRY.sub("", md))
    assert named, "every saved counterexample names the data it lost or leaked"
    assert set(explained) == named
    assert all(len(whats) == 1 for whats in explained.values()), explained
    assert not any("not written along this trace" in w for whats in explained.values() for w in whats)
    # The terminal's wide columns explain the same tokens, each once too.
    cols = render_columns(rp.trace, rp.title)
    assert cols.count(LEGEND_HEAD) == 1
    assert {t: len(w) for t, w in legend(cols).items()} == dict.fromkeys(named, 1)


@pytest.mark.parametrize("name", NAMES, ids=[n.removesuffix(".json") for n in NAMES])
def test_no_two_steps_share_a_label(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = replay(name, monkeypatch).trace.steps
    twice = [k for k, n in Counter((s.actor, s.label) for s in steps).items() if n > 1]
    assert not twice
    # And the labels alone, whoever takes the step: none of the saved traces repeats one.
    assert len({s.label for s in steps}) == len(steps)


def test_the_two_halves_of_a_pte_copy_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writable PTE is copied in two steps (mm/fork.py) that used to share the label
    "fork: copy_pte_range(vaddr+0)"."""
    labels = [s.label for s in replay("fork-odirect--anon-exclusive--strict.json", monkeypatch).trace.steps]
    first = labels.index("fork: copy_pte_range(vaddr+0)")
    assert labels[first + 1] == "fork: copy_present_pte(vaddr+0): set the PTEs"


def test_repeated_steps_are_numbered() -> None:
    steps = [("P0", "write vaddr+0"), ("P0", "write vaddr+0"), ("P1", "write vaddr+0"), ("P0", "write vaddr+0")]
    assert distinct_labels(steps) == [
        "write vaddr+0",
        "write vaddr+0 (2nd time)",
        "write vaddr+0",
        "write vaddr+0 (3rd time)",
    ]
    assert distinct_labels([("a", "x")] * 12)[10:] == ["x (11th time)", "x (12th time)"]


def test_columns_where_they_fit_else_actor_prefixed_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two actors: one column each, side by side.
    two = replay("vmsplice-child--mapcount.json", monkeypatch)
    text = render_trace(two.trace, two.title, COMMIT_WIDTH)
    assert re.search(r"^    parent +child$", text, re.M) and " 1. fork()" in text
    # Four: 137 columns wide as columns, so one line per step, prefixed by its actor.
    four = replay("odirect-clear-refs--page-count.json", monkeypatch)
    assert max(len(ln) for ln in render_columns(four.trace, four.title).splitlines()) > COMMIT_WIDTH
    text = render_trace(four.trace, four.title, COMMIT_WIDTH)
    assert "=====" not in text
    for n, actor in enumerate(("thread0", "other process", "thread1", "device"), 1):
        assert re.search(rf"^ {n}\. {actor}: ", text, re.M), actor
    assert max(len(ln) for ln in text.splitlines()) <= COMMIT_WIDTH
    # Without a width: the wide columns, for a terminal.
    assert render_trace(four.trace, four.title) == render_columns(four.trace, four.title)


def test_the_legend_says_where_each_token_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    rp = replay("odirect-clear-refs--page-count.json", monkeypatch)
    for text in (render_columns(rp.trace, rp.title), render_trace(rp.trace, rp.title, COMMIT_WIDTH)):
        got = {t: " ".join(whats[0].split()) for t, whats in legend(text.replace("\n      ", " ")).items()}
        assert got == {
            1: "P0's data at vaddr+0, written before step 1",
            2: "P0's data at vaddr+512, written before step 1",
            3: "stored by thread1 (P0) at vaddr+512 in step 3",
            4: "written by device through P0's odirect (FOLL_GET|FOLL_WRITE) at vaddr+0 in step 4",
        }
    # Unasked, the legend explains every token the trace holds anywhere (for a page
    # that shows the state after each step), these among them.
    assert {ln.split(":")[0] for ln in token_legend(rp.trace)} >= {"t1", "t2", "t3", "t4"}
    zero = replay("open-large--mapcount.json", monkeypatch)
    assert "t0: zeroes" in render_columns(zero.trace, zero.title)


def test_a_trace_that_names_no_token_has_no_legend(monkeypatch: pytest.MonkeyPatch) -> None:
    rp = replay("gup-fast-fork--page-count.json", monkeypatch)
    monkeypatch.chdir(ROOT)
    cut = replay_file(Path("counterexamples/gup-fast-fork--page-count.json"), "anon-exclusive")
    assert cut.trace.diverged_at is not None  # stops before the device writes anything
    assert LEGEND_HEAD not in render_trace(cut.trace, cut.title, COMMIT_WIDTH)
    assert LEGEND_HEAD in render_trace(rp.trace, rp.title, COMMIT_WIDTH)


def test_a_long_command_is_cut_between_words_and_still_pastes() -> None:
    cmd = "cowcheck check models/scenarios/fork-odirect.toml -r anon-exclusive-6.1 --strict -p missed-cow"
    lines = command_lines("Check every path", cmd, COMMIT_WIDTH)
    assert lines[:2] == ["Check every path:", ""] and len(lines) > 3
    assert all(len(ln) <= COMMIT_WIDTH for ln in lines)
    body = [ln.strip() for ln in lines[2:]]
    assert all(b.endswith(" \\") for b in body[:-1])
    assert " ".join(b.removesuffix(" \\") for b in body) == cmd
    assert not any(b.endswith("-r \\") for b in body)  # an option stays with its value
    assert command_lines("Reproduce", "cowcheck replay t.json", COMMIT_WIDTH) == ["Reproduce: `cowcheck replay t.json`"]


def test_wrap_cuts_a_word_longer_than_the_line_only_when_asked() -> None:
    word = "x" * 30
    assert wrap(f"a {word}", 10) == ["a", word]
    assert wrap(f"a {word}", 10, hard=True) == ["a", "x" * 10, "x" * 10, "x" * 10]
    # The space before a word counts: a line is never one column too wide.
    assert wrap("aaaa bbbbb", 10) == ["aaaa bbbbb"] and wrap("aaaa bbbbbb", 10) == ["aaaa", "bbbbbb"]
