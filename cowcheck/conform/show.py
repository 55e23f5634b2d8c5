"""The conformance report: a table of trace x kernel (predicted / observed), the
traces no program can run and why, and the selftests with the catalog beside them."""

from __future__ import annotations

from typing import Any

from cowcheck.conform import selftests
from cowcheck.conform.run import Cell, ConformReport
from cowcheck.errors import InputError


def catalog_verdict(scenario: str, rule: str) -> str:
    """What the catalog expects of ``scenario`` under ``rule`` (``cowcheck catalog``
    checks that it is what the model finds)."""
    from cowcheck.input.bundled import find_scenario
    from cowcheck.input.scenario import load_scenario

    try:
        return load_scenario(find_scenario(scenario)).expect.get(rule, "?")
    except InputError:
        return "?"


def _mark(c: Cell) -> str:
    a = c.agrees
    return "ok" if a else ("--" if a is None else "DISAGREE")


def cell_text(c: Cell) -> str:
    pred, obs = c.predicted.verdict, c.verdict
    if c.predicted.swapouts_refused:
        pred += " (swapout refused)"
    if c.observed.swapouts_refused:
        obs += " (swapout refused)"
    return f"{pred} / {obs}  {_mark(c)}"


def table(rep: ConformReport) -> tuple[list[str], list[list[str]]]:
    kernels = [r.kernel.name for r in rep.runs]
    by = {(c.program, c.kernel): c for c in rep.cells}
    rows = []
    for name in dict.fromkeys(c.program for c in rep.cells):
        rows.append([name, *(cell_text(by[name, k]) if (name, k) in by else "" for k in kernels)])
    heads = ["trace", *(f"{r.kernel.name} ({r.kernel.rule})" for r in rep.runs)]
    return heads, rows


def render(rep: ConformReport) -> str:
    heads, rows = table(rep)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]
    lines = ["predicted / observed: the model's verdict for the schedule each kernel runs, and what it did", ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    refused = [p for p in rep.programs if p.plan is None]
    if refused:
        lines += ["", f"not reproducible from user space ({len(refused)}):"]
        lines += [f"  {p.name}: {p.refused}" for p in refused]
    shared = [p for p in rep.programs if p.same_as]
    if shared:
        lines += ["", f"the same schedule as an earlier trace, run once for both ({len(shared)}):"]
        lines += [f"  {p.name} = {p.same_as}" for p in shared]
    odd = [c for c in rep.cells if c.agrees is not True]
    if odd:
        lines += ["", "to read:"]
        for c in odd:
            why = c.predicted.reason or c.observed.detail
            lines.append(f"  {c.program} on {c.kernel}: predicted {c.predicted.verdict}, observed {c.verdict}: {why}")
    for r in rep.runs:
        if r.selftests:
            counts = selftests.summary(r.selftests)
            text = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            lines += ["", f"selftests on {r.kernel.name} ({r.kernel.release}): {text}"]
            for res, scenario in selftests.matching(r.selftests):
                lines.append(
                    f"  {res.result:5} {res.program} #{res.number} {res.name}  <->  {scenario}: "
                    f"{catalog_verdict(scenario, r.kernel.rule)} under {r.kernel.rule}"
                )
        state = "timed out" if r.timed_out else f"{r.seconds:.0f} s"
        lines.append(f"VM {r.kernel.name}: {state}; serial log {r.log}")
    if rep.interrupted:
        lines += ["", f"interrupted by {rep.interrupted}: the kernels after the last one shown did not run"]
    agree = sum(1 for c in rep.cells if c.agrees)
    lines += [
        "",
        f"{agree} of {len(rep.cells)} agree, {len(rep.disagreements)} disagree, "
        f"{sum(1 for c in rep.cells if c.agrees is None)} not compared, {len(rep.errors)} errors; "
        f"{len(refused)} traces refused; {rep.seconds:.0f} s",
    ]
    return "\n".join(lines)


def to_json(rep: ConformReport) -> dict[str, Any]:
    return {
        "kernels": [
            {
                "name": r.kernel.name,
                "release": r.kernel.release,
                "rule": r.kernel.rule,
                "log": str(r.log),
                "seconds": round(r.seconds, 1),
                "timed_out": r.timed_out,
                "selftests": [
                    {"program": s.program, "number": s.number, "name": s.name, "result": s.result} for s in r.selftests
                ],
            }
            for r in rep.runs
        ],
        "refused": {p.name: p.refused for p in rep.programs if p.plan is None},
        "same_as": {p.name: p.same_as for p in rep.programs if p.same_as},
        "cells": [
            {
                "trace": c.program,
                "kernel": c.kernel,
                "predicted": c.predicted.verdict,
                "predicted_token": c.predicted.token,
                "predicted_swapouts_refused": c.predicted.swapouts_refused,
                "swapouts_refused": c.observed.swapouts_refused,
                "as_run": list(c.predicted.as_run),
                "observed": c.verdict,
                "program_verdict": c.observed.verdict,
                "token": c.observed.token,
                "detail": c.observed.detail,
                "notes": list(c.observed.notes),
                "agrees": c.agrees,
            }
            for c in rep.cells
        ],
        "seconds": round(rep.seconds, 1),
        "interrupted": rep.interrupted,
    }
