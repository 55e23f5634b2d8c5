"""Rules as tables and formulas: what reaches a rule's hooks (``record``, ``harvest``)
and where two rules decide differently (``compare``). The z3-backed parts (the CEGIS
synthesis of ``cowcheck synth``, the comparison beyond the harvested states) build on
these."""
