"""``cowcheck compare A B``: where two rules decide ``do_wp_page`` differently, over
the bookkeeping states that actually reach it.

The states are harvested (``harvest.py``) from exhaustive walks of each scenario
under each of the two rules (a state one rule never reaches may be reached under the
other, whose earlier decisions differ). On that set the comparison is plain
enumeration: exact for these scenarios within their bounds, and each difference
comes with a shortest trace that reaches it. "A reuses only where B does" is then a
claim about the harvested states, not about every bookkeeping state: a walk a bound
stopped is named, and the claim is not made."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowcheck.api import resolve_rule
from cowcheck.input.bundled import scenario_files
from cowcheck.input.scenario import Scenario, load_scenario
from cowcheck.input.sources import scenario_paths
from cowcheck.mm.rule import Rule
from cowcheck.synth.formula import INVARIANTS, NoProof, only_where, rule_formula
from cowcheck.synth.harvest import Harvest, harvest
from cowcheck.synth.record import Seen

INV = "; ".join(INVARIANTS)


@dataclass(frozen=True, slots=True)
class Difference:
    """A state that reaches the hook where the two rules decide differently."""

    seen: Seen
    a_reuses: bool
    b_reuses: bool
    witness: Harvest  # the first walk (scenario order, A's before B's) that reached it

    def steps(self) -> int:
        return len(self.witness.witnesses[self.seen])


@dataclass(slots=True)
class Comparison:
    a: Rule
    b: Rule
    scenarios: list[str] = field(default_factory=list)
    harvests: list[Harvest] = field(default_factory=list)
    seen: dict[Seen, Harvest] = field(default_factory=dict)  # each state, with its first witness
    differences: list[Difference] = field(default_factory=list)
    seconds: float = 0.0
    # z3, beyond the harvested states: per direction ("a", "b"), None if proved for
    # every state satisfying formula.INVARIANTS, else a state where it fails; absent
    # when a rule's decision has no formula.
    beyond: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    no_proof: str = ""  # why z3 gave no answer, when both decisions are formulas

    @property
    def complete(self) -> bool:
        return all(h.complete for h in self.harvests)

    def only_where(self, first: str) -> list[Difference]:
        """The states where ``first`` ("a" or "b") reuses and the other copies."""
        return [d for d in self.differences if (d.a_reuses if first == "a" else d.b_reuses)]

    def claim(self, first: str) -> str:
        x, y = (self.a, self.b) if first == "a" else (self.b, self.a)
        against = self.only_where(first)
        if against:
            return f"{x.name} reuses where {y.name} copies: {len(against)} of {len(self.seen)} states"
        if not self.complete:
            return f"{x.name} reuses only where {y.name} does on the states harvested, but a bound cut a walk short"
        return f"{x.name} reuses only where {y.name} does, on all {len(self.seen)} states that reach do_wp_page"

    def text(self) -> str:
        lines = [
            f"compare {self.a.name} with {self.b.name}: {len(self.seen)} bookkeeping states reach do_wp_page "
            f"in exhaustive walks of {len(self.scenarios)} scenarios under both rules",
            self.claim("a"),
            self.claim("b"),
        ]
        for d in self.differences:
            who = self.a.name if d.a_reuses else self.b.name
            other = self.b.name if d.a_reuses else self.a.name
            h = d.witness
            lines.append(
                f"  {d.seen.describe()}: {who} reuses, {other} copies; reached in {h.scenario.name} "
                f"under {h.rule.name}{' --strict' if h.strict else ''} in {d.steps()} steps"
            )
        lines += [f"incomplete: {h.scenario.name} under {h.rule.name}" for h in self.harvests if not h.complete]
        if self.no_proof:
            lines.append(f"z3: no answer: {self.no_proof}")
        elif not self.beyond:
            lines.append("z3: no formula for both decisions (a --reuse rule, or a built-in rule's WP_REUSE), no proof")
        stopped = sum(h.violating for h in self.harvests)
        if stopped:
            lines.append(
                f"({stopped:,} states violate a property and are not expanded, as in the search: what lies past "
                "them is not harvested)"
            )
        for first, state in self.beyond.items():
            x, y = (self.a, self.b) if first == "a" else (self.b, self.a)
            if state is None:
                lines.append(f"z3: {x.name} reuses only where {y.name} does, for every state satisfying {INV}")
            else:
                shown = ", ".join(f"{k} {int(v) if not isinstance(v, bool) else v}" for k, v in state.items())
                lines.append(f"z3: {x.name} reuses where {y.name} copies, e.g. {shown}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def claim(first: str) -> bool | None:
            return False if self.only_where(first) else (True if self.complete else None)

        return {
            "a": self.a.name,
            "b": self.b.name,
            "scenarios": self.scenarios,
            "states": len(self.seen),
            "complete": self.complete,
            "a_reuses_only_where_b_does": claim("a"),
            "b_reuses_only_where_a_does": claim("b"),
            "differences": [
                {
                    "page": d.seen.page._asdict(),
                    "unshare": d.seen.unshare,
                    "reuses": self.a.name if d.a_reuses else self.b.name,
                    "scenario": d.witness.scenario.name,
                    "rule": d.witness.rule.name,
                    "strict": d.witness.strict,
                    "steps": [s.label for s in d.witness.trace(d.seen).steps],
                }
                for d in self.differences
            ],
            "beyond": {
                ("a_reuses_only_where_b_does" if k == "a" else "b_reuses_only_where_a_does"): (
                    {"proved": True} if v is None else {"proved": False, "state": v}
                )
                for k, v in self.beyond.items()
            },
            "invariants": list(INVARIANTS),
            "seconds": round(self.seconds, 2),
        }


def reuses(rule: Rule, seen: Seen) -> bool:
    """The rule's write-fault decision on ``seen``: reuse (True) or copy."""
    return bool(rule.do_wp_page(seen.page, seen.unshare).reuse)


def compare(
    a: Rule | str,
    b: Rule | str,
    scenarios: Sequence[str | Path] | None = None,
    *,
    max_states: int | None = None,
    on_walk: Callable[[Harvest], None] | None = None,
) -> Comparison:
    """Where ``a`` and ``b`` decide ``do_wp_page`` differently on the states that reach
    it in the scenarios (default: the bundled catalog, with --strict where a scenario
    states verdicts for it), each walk bounded by ``max_states`` if given."""
    t0 = time.perf_counter()
    out = Comparison(resolve_rule(a), resolve_rule(b))
    files = scenario_paths(scenarios) if scenarios else scenario_files()
    for f in files:
        sc: Scenario = load_scenario(f)
        out.scenarios.append(sc.name)
        for strict in (False, True) if sc.expect_strict else (False,):
            for rule in (out.a, out.b):
                h = harvest(sc, rule, strict, max_states)
                out.harvests.append(h)
                for s in h.witnesses:
                    out.seen.setdefault(s, h)
                if on_walk is not None:
                    on_walk(h)
    for s in out.seen:
        ra, rb = reuses(out.a, s), reuses(out.b, s)
        if ra != rb:
            # The shortest witness among the walks that reached it.
            best = min((x for x in out.harvests if s in x.witnesses), key=lambda x: len(x.witnesses[s]))
            out.differences.append(Difference(s, ra, rb, best))
    out.differences.sort(key=lambda d: (not d.a_reuses, d.steps(), d.seen))
    fa, fb = rule_formula(out.a), rule_formula(out.b)
    if fa is not None and fb is not None:
        try:
            out.beyond = {"a": only_where(fa, fb), "b": only_where(fb, fa)}
        except NoProof as e:
            out.no_proof = str(e)
    out.seconds = time.perf_counter() - t0
    return out
