"""A counterexample as a self-contained HTML report: a sequence diagram of the
actors (SVG, no scripts, no external resources) with the page state after each
step; and the record every rendering starts from (``Shown``). The markdown for a
commit message is ``report/commit.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from cowcheck.report.counterexample import Trace
from cowcheck.report.diagram import describe_in, diverged_text

if TYPE_CHECKING:
    from cowcheck.checks.catalog import CatalogRow
    from cowcheck.checks.matrix import Cell


@dataclass(frozen=True, slots=True)
class Shown:
    """A trace with what a reader needs around it."""

    title: str  # "<scenario> under <rule>" [--strict]
    trace: Trace
    source: str = ""  # how to reproduce it: a `cowcheck check` or a `cowcheck replay`, with every option
    outcome: str = ""  # a replay's verdict on the trace (Replay.describe())
    check: str = ""  # beside a replay: the `cowcheck check` that searches every path
    search: str = ""  # the search options where not the defaults (repro.non_default)


def headline(t: Trace) -> str:
    """The verdict along the trace in a few words."""
    if t.property_id is not None:
        return f"{t.property_id} in {len(t)} steps"
    if t.diverged_at is not None:
        return f"inconclusive: the trace stops at step {t.diverged_at + 1}"
    return "no violation"


def _commands(s: Shown) -> list[tuple[str, str]]:
    out = [("Reproduce", s.source)] if s.source else []
    if s.check and s.check != s.source:
        out.append(("Check every path", s.check))
    return out


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 2em; }
.violation { background: #fde8e8; border-left: 4px solid #c00; padding: .5em 1em; }
.ok { background: #e8f6e8; border-left: 4px solid #080; padding: .5em 1em; }
.inconclusive { background: #fff4d6; border-left: 4px solid #b80; padding: .5em 1em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .5em; vertical-align: top; font-size: .9em; }
td.state { font-family: monospace; white-space: pre; }
.fail { color: #c00; font-weight: bold; } .pass { color: #080; }
svg text { font-family: monospace; font-size: 11px; }
table.matrix td { vertical-align: middle; }
table.matrix td.cell { white-space: nowrap; text-align: center; }
table.matrix a.verdict { color: inherit; text-decoration: none; }
table.matrix th.rule { font-family: monospace; }
table.matrix td.scenario { font-family: monospace; white-space: nowrap; }
.v-holds { color: #080; } .v-violated { color: #c00; } .v-incomplete { color: #b80; }
td.mismatch { background: #fde8e8; outline: 2px solid #c00; }
td.mismatch small { display: block; color: #c00; }
"""

_COL_W, _ROW_H, _TOP = 230, 34, 40


def sequence_svg(t: Trace) -> str:
    """Lifelines, one per actor, and a box per step on its actor's line."""
    actors: list[str] = []
    for st in t.steps:
        if st.actor not in actors:
            actors.append(st.actor)
    width = max(1, len(actors)) * _COL_W + 40
    height = _TOP + len(t.steps) * _ROW_H + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, a in enumerate(actors):
        x = 20 + i * _COL_W + _COL_W // 2
        parts.append(f'<text x="{x}" y="20" text-anchor="middle" font-weight="bold">{escape(a)}</text>')
        parts.append(f'<line x1="{x}" y1="28" x2="{x}" y2="{height - 10}" stroke="#999" stroke-dasharray="4 3"/>')
    for n, st in enumerate(t.steps):
        x = 20 + actors.index(st.actor) * _COL_W + 6
        y = _TOP + n * _ROW_H
        bad = t.property_id is not None and n == len(t.steps) - 1
        fill = "#fdd" if bad else "#eef"
        fit = (_COL_W - 24) // 7  # monospace 11px: about 7 px a character
        label = st.label if len(st.label) <= fit else st.label[: fit - 1] + "…"
        parts.append(
            f'<rect x="{x}" y="{y}" width="{_COL_W - 12}" height="{_ROW_H - 6}" rx="4" fill="{fill}" stroke="#669">'
            f"<title>{escape(st.label)}&#10;{escape(chr(10).join(st.notes))}</title></rect>"
        )
        parts.append(f'<text x="{x + 5}" y="{y + 18}">{n + 1}. {escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trace_section(s: Shown, anchor: str = "trace") -> str:
    t = s.trace
    if t.property_id is not None:
        verdict = f'<p class="violation"><b>VIOLATION {escape(t.property_id)}</b>: {escape(t.message or "")}</p>'
    elif t.diverged_at is not None:
        verdict = f'<p class="inconclusive"><b>INCONCLUSIVE</b>: {escape(diverged_text(t))}</p>'
    else:
        verdict = '<p class="ok">no violation along this trace</p>'
    if s.outcome:
        verdict += f"<p>{escape(s.outcome)}</p>"
    if s.search:
        verdict += f"<p>{escape(s.search)}</p>"
    rows = []
    for n, st in enumerate(t.steps):
        after = "\n".join(describe_in(t, t.states[n + 1])) if n + 1 < len(t.states) else ""
        notes = "<br>".join(escape(x) for x in st.notes)
        rows.append(
            f"<tr><td>{n + 1}</td><td>{escape(st.actor)}</td><td>{escape(st.label)}<br><small>{notes}</small></td>"
            f'<td class="state">{escape(after)}</td></tr>'
        )
    src = "".join(f"<p>{what}: <code>{escape(cmd)}</code></p>" for what, cmd in _commands(s))
    return (
        f'<section id="{escape(anchor)}"><h2>{escape(s.title)}</h2>{verdict}{src}'
        f'<div class="diagram">{sequence_svg(t)}</div>'
        "<table><tr><th>#</th><th>actor</th><th>step and kernel path</th><th>page state after the step</th></tr>"
        + "".join(rows)
        + "</table></section>"
    )


def html_page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def to_html(s: Shown) -> str:
    return html_page(f"cowcheck: {s.title}", trace_section(s))


@dataclass(frozen=True, slots=True)
class ReportRow:
    name: str
    expected: str
    got: str
    passed: bool
    message: str
    shown: Shown | None = None  # the counterexample, where there is one


def report_html(title: str, rows: Sequence[ReportRow]) -> str:
    """A whole gate or matrix run: a summary table linking to every counterexample."""
    bad = sum(not r.passed for r in rows)
    head = f"<p>{len(rows) - bad} of {len(rows)} passed.</p>"
    trs = []
    sections = []
    for i, r in enumerate(rows):
        cls, mark = ("pass", "✓") if r.passed else ("fail", "✗")
        got = escape(r.got)
        if r.shown is not None:
            got = f'<a href="#t{i}">{got}</a>'
            sections.append(trace_section(r.shown, f"t{i}"))
        trs.append(
            f'<tr><td class="{cls}">{mark}</td><td>{escape(r.name)}</td><td>{escape(r.expected)}</td>'
            f"<td>{got}</td><td>{escape(r.message)}</td></tr>"
        )
    table = (
        "<table><tr><th></th><th>check</th><th>expected</th><th>got</th><th>detail</th></tr>"
        + "".join(trs)
        + "</table>"
    )
    return html_page(title, head + table + "".join(sections))


MATRIX_TITLE = "cowcheck: the history matrix"


def matrix_html(rows: Sequence[CatalogRow], title: str = MATRIX_TITLE) -> str:
    """The history matrix (``run_catalog``'s rows) as the README draws it: a row per
    scenario, a column per rule, each cell ✓ holds, ✗ the violated property (the
    counterexample's length in steps) or ? incomplete. A cell that differs from what its
    scenario file expects is marked and says what was expected. Every cell links to its
    details: a ✗ to its counterexample, drawn below the grid as in the gate's report,
    any other to its figures in the list at the end; its tooltip gives them too."""
    from cowcheck.checks.matrix import Cell  # here: the matrix needs the API, which needs this module

    cells = [Cell.of(r) for r in rows]
    shown = [r.report.shown() for r in rows]
    rules = list(dict.fromkeys(c.rule for c in cells))
    scenarios = list(dict.fromkeys(c.scenario for c in cells))
    at = {(c.scenario, c.rule): i for i, c in enumerate(cells)}
    bad = [i for i, c in enumerate(cells) if not c.ok]
    head = (
        f"<p>{len(cells) - len(bad)} of {len(cells)} cells as their scenario files expect "
        f"({len(scenarios)} scenarios under {len(rules)} rules).</p>"
        "<p>✓ holds, ✗ the violated property (counterexample length in steps), ? incomplete. "
        "Each cell links to its counterexample or its figures.</p>"
    )
    if bad:
        items = "".join(
            f'<li><a href="#c{i}">{escape(cells[i].scenario)} under {escape(cells[i].rule)}</a>: '
            f"expected {escape(str(cells[i].expected))}, got {escape(cells[i].got)}</li>"
            for i in bad
        )
        head += f'<p class="violation">{len(bad)} cells differ from their scenario files:</p><ul>{items}</ul>'
    # A grid per model family: a rule decides only its own family's kernel paths.
    families = list(dict.fromkeys(r.report.scenario.family for r in rows))
    grids: list[str] = []
    for fam in families:
        mine = [i for i, r in enumerate(rows) if r.report.scenario.family == fam]
        fam_rules = list(dict.fromkeys(cells[i].rule for i in mine))
        trs = ["<tr><th>scenario</th>" + "".join(f'<th class="rule">{escape(r)}</th>' for r in fam_rules) + "</tr>"]
        for sc in dict.fromkeys(cells[i].scenario for i in mine):
            tds = [f'<td class="scenario">{escape(sc)}</td>']
            for rule in fam_rules:
                i = at.get((sc, rule))
                tds.append('<td class="cell"></td>' if i is None else _matrix_cell(i, cells[i], rows[i]))
            trs.append("<tr>" + "".join(tds) + "</tr>")
        caption = f"<h2>The {escape(fam)} family</h2>" if len(families) > 1 else ""
        anchor = "matrix" if not grids else f"matrix-{escape(fam)}"  # the first is where "back" goes
        grids.append(f'{caption}<table class="matrix" id="{anchor}">{"".join(trs)}</table>')
    grid = "".join(grids)
    back = '<p><a href="#matrix">back to the matrix</a></p></section>'
    sections = [trace_section(s, f"c{i}").replace("</section>", back) for i, s in enumerate(shown) if s is not None]
    listing = "".join(
        f'<tr id="c{i}"><td class="{"pass" if c.ok else "fail"}">{"✓" if c.ok else "✗"}</td>'
        f"<td>{escape(c.scenario)}</td><td>{escape(c.rule)}</td><td>{escape(c.expected or '-')}</td>"
        f"<td>{escape(c.got)}</td><td>{escape(_cell_detail(rows[i]))}</td></tr>"
        for i, c in enumerate(cells)
        if shown[i] is None
    )
    every = (
        f"<details open><summary>The cells without a counterexample ({sum(s is None for s in shown)}): "
        "their figures</summary>"
        "<table><tr><th></th><th>scenario</th><th>rule</th><th>expected</th><th>got</th><th>detail</th></tr>"
        f"{listing}</table></details>"
    )
    return html_page(title, head + grid + "".join(sections) + every)


def _cell_detail(row: CatalogRow) -> str:
    rep = row.report
    if rep.trace is None and rep.result.incomplete_reason:
        return f"incomplete: {rep.result.incomplete_reason}; {rep.summary()}"
    return rep.summary()


def _matrix_cell(i: int, c: Cell, row: CatalogRow) -> str:
    """One cell of the grid: its symbol, linking to its details (#c<i>)."""
    kind = "holds" if c.got == "holds" else "incomplete" if c.got == "incomplete" else "violated"
    tip = f"{c.scenario} under {c.rule}: {c.got} (expected: {c.expected or '-'}); {_cell_detail(row)}"
    note = "" if c.ok else f"<small>expected {escape(str(c.expected))}</small>"
    cls = f"cell v-{kind}" + ("" if c.ok else " mismatch")
    return (
        f'<td class="{cls}" title="{escape(tip)}"><a class="verdict" href="#c{i}">{escape(c.symbol())}</a>{note}</td>'
    )
