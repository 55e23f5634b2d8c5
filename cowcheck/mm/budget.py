"""An open scenario's budget (or a litmus scenario's [budget]): how many actions of
each kind a run may still take, as a tuple in the scenario's order (``MMState.budget``)."""

from __future__ import annotations

from cowcheck.mm.world import World


class Budget:
    def __init__(self, world: World) -> None:
        self.kinds = tuple(k for k, _ in world.budget)
        self.start = tuple(n for _, n in world.budget)
        self.index = {k: i for i, k in enumerate(self.kinds)}
        self.total = self.index.get("total")  # every charged action spends one of these too
        self._avail_cache: dict[tuple[int, ...], frozenset[str]] = {}
        self._last_avail: tuple[tuple[int, ...], frozenset[str]] = ((-1,), frozenset())
        self._clipped: dict[tuple[int, ...], tuple[int, ...]] = {}

    def available(self, budget: tuple[int, ...]) -> frozenset[str]:
        """The kinds left: one computation per distinct budget vector."""
        # The search asks this for one state's actions in a row, with one budget tuple:
        # the same object gives the same answer without hashing it again. (One
        # attribute holds both, so that threads sharing the model never see a budget
        # with another budget's answer.)
        last = self._last_avail
        if budget is last[0]:
            return last[1]
        got = self._avail_cache.get(budget)
        if got is None:
            if self.total is not None and budget[self.total] <= 0:
                got = frozenset()
            else:
                got = frozenset(k for k, n in zip(self.kinds, budget, strict=True) if n > 0)
            self._avail_cache[budget] = got
        self._last_avail = (budget, got)
        return got

    def charge(self, budget: tuple[int, ...], kind: str) -> tuple[int, ...]:
        """``budget`` after one action of ``kind``."""
        bl = list(budget)
        bl[self.index[kind]] -= 1
        if self.total is not None:
            bl[self.total] -= 1
        return tuple(bl)

    def clipped(self, budget: tuple[int, ...]) -> tuple[int, ...]:
        """Each kind clipped to ``total``: no kind can be spent more often than
        ``total`` allows (``MMModel.split_budget`` says why that is sound)."""
        got = self._clipped.get(budget)
        if got is None:
            t = self.total
            got = budget if t is None else tuple(min(n, budget[t]) for n in budget)
            self._clipped[budget] = got
        return got
