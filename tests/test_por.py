"""Partial-order reduction: the engine's cycle proviso and the mm's ample sets.

The catalog-wide comparison against the unreduced search is in test_reductions.py;
these tests show that each condition does its job, so removing one fails a test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from cowcheck.api import build_model
from cowcheck.engine import Capabilities, Invariant, SearchOptions, Step, TransitionCheck, Verdict, explore

DEMO = Path(__file__).parent / "scenarios" / "por-device-reads.toml"


# The unreduced search: the old search()'s defaults, against which reductions are compared.
PLAIN = SearchOptions(subsume=False)


class Spinner:
    """Actor A toggles a flag forever (a cycle); actor B may once set ``bad``.
    The model claims {A's toggle} is always an ample set, which is true of C0-C2: the
    toggle is invisible and independent of B. Only the cycle proviso (C3) stops the
    search from postponing B forever."""

    def capabilities(self) -> Capabilities[tuple[int, bool], str]:
        return Capabilities(ample_candidates=self.ample_candidates)

    def init_states(self) -> Sequence[tuple[int, bool]]:
        return ((0, False),)

    def actions(self, state: tuple[int, bool]) -> list[str]:
        return ["toggle", "b"]

    def next_step(self, state: tuple[int, bool], action: str) -> Step[tuple[int, bool]] | None:
        flag, bad = state
        if action == "toggle":
            return Step((1 - flag, bad))
        return None if bad else Step((flag, True))

    def canonical(self, state: tuple[int, bool]) -> tuple[int, bool]:
        return state

    def invariants(self) -> Sequence[Invariant[tuple[int, bool]]]:
        return (Invariant("never-bad", lambda s: "bad" if s[1] else None),)

    def transition_checks(self) -> Sequence[TransitionCheck[tuple[int, bool], str]]:
        return ()

    def ample_candidates(self, state: tuple[int, bool], actions: Sequence[str]) -> Iterator[list[int]]:
        yield [0]


def test_cycle_proviso_keeps_postponed_actions() -> None:
    r = explore(Spinner(), SearchOptions(por=True, subsume=False))
    assert r.verdict is Verdict.VIOLATED
    # (0,F) -toggle-> (1,F) is new, so the ample set is used; from (1,F) the toggle
    # leads back to a visited state, so (1,F) is fully expanded and B runs. Without
    # the proviso the search would stop at two states and say "holds".
    assert r.violation is not None and r.violation.path.actions == ("toggle", "b")
    assert r.stats.ample == 1


def test_device_reads_of_an_unreachable_buffer_are_reduced() -> None:
    for rule in ("anon-exclusive", "mapcount"):
        full = explore(build_model(str(DEMO), rule), PLAIN)
        red = explore(build_model(str(DEMO), rule), SearchOptions(por=True, subsume=False))
        assert red.verdict is full.verdict is Verdict.HOLDS
        assert red.stats.ample > 0
        assert red.stats.states < full.stats.states


def test_no_ample_set_while_the_owner_still_maps_the_buffer(tmp_path: Path) -> None:
    """C1: without the munmap, P0's writes may still reach the pinned page, so a DMA
    read does not commute with them and nothing is reduced."""
    text = DEMO.read_text().replace('{ op = "munmap", vpage = 0 }', '{ op = "write", vpage = 0, cell = 1 }')
    f = tmp_path / "mapped.toml"
    f.write_text(text)
    full = explore(build_model(str(f), "anon-exclusive"), PLAIN)
    red = explore(build_model(str(f), "anon-exclusive"), SearchOptions(por=True, subsume=False))
    assert red.stats.ample == 0
    assert red.stats.states == full.stats.states


def test_a_property_reading_program_counters_turns_the_reduction_off(tmp_path: Path) -> None:
    """C2: ample sets hold only actions no property reads; a property that does not
    declare what it reads reads everything, program counters included."""
    model = build_model(str(DEMO), "anon-exclusive")
    model._prop_reads = model._prop_reads | {"pc"}
    r = explore(model, SearchOptions(por=True, subsume=False))
    assert r.stats.ample == 0
