"""Instructions per state, counted by valgrind's callgrind: the per-state cost in a
unit that does not drift with the machine's load (wall times here drift by up to a
third within minutes, more than most single changes save).

Counts a bounded serial search of open-standard under anon-exclusive (subsumption
on, the default) and the same search bounded at its first level (imports, set-up and
20 states), and reports the difference per state. Needs valgrind (Debian's
package); it takes a few minutes under it.

Usage: python benchmarks/instructions.py [MAX_STATES] > /tmp/instructions.md
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

SEARCH = """
import sys
from cowcheck.api import check
from cowcheck.build import build_name
from cowcheck.engine import Bounds, SearchOptions
n = int(sys.argv[1])
print(build_name())
options = SearchOptions(Bounds(max_states=n))
print(check("open-standard", "anon-exclusive", options=options, minimise=False).stats.states)
"""


def count(max_states: int) -> tuple[int, int, str]:
    """(instructions, states explored, build) of one process."""
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    p = subprocess.run(
        [*valgrind, sys.executable, "-c", SEARCH, str(max_states)],
        capture_output=True,
        text=True,
        check=True,
        # Not the repository: "-c" puts the working directory first on sys.path, and the
        # sources there would be imported instead of the installed (maybe compiled) package.
        cwd=tempfile.gettempdir(),
    )
    m = re.search(r"Collected : (\d+)", p.stderr)
    if m is None:
        sys.exit(f"no instruction count from valgrind: {p.stderr[-500:]}")
    build, states = p.stdout.strip().splitlines()[-2:]
    return int(m.group(1)), int(states), build


def main() -> None:
    cap = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    base, base_states, _ = count(1)
    total, states, build = count(cap)
    per = (total - base) / (states - base_states)
    print(
        f"`python benchmarks/instructions.py {cap}`: open-standard under anon-exclusive, bounded at "
        f"{cap:,} states: {states:,} states and {total:,} instructions, against {base_states} states and "
        f"{base:,} instructions bounded at 1 (imports and set-up): **{per:,.0f} instructions per state** "
        f"(cowcheck {build})."
    )


if __name__ == "__main__":
    main()
