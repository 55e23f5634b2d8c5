"""Shipped text cites what a reader can open.

The project's working notes (the design brief, the kernel reference with its section
labels A/R0-R5, B1-B21, D and E, the mail threads numbered seed 000-004, the issue
tracker) ship with no copy of cowcheck. Text that a user reads, in the docs, the
bundled rules, scenarios, properties and saved traces, docstrings and comments, and
what the CLI prints, cites a commit id with its subject and kernel version, a mail by
Message-ID (lore.kernel.org/r/<Message-ID>), a kernel file and function, or a
published paper instead. Each test lists every hit, file:line and the text.
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# (name, pattern): each is an internal label, never a kernel or literature name.
LABELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "seed 004", "seeds/004", "seed004"; and "the seed's race" without a number.
    ("mail thread by seed number", re.compile(r"\bseeds?\s*/?\s*0\d\d\b", re.I)),
    ("mail thread by seed number", re.compile(r"\bthe seed(?:'s|s)?\b", re.I)),
    ("internal document", re.compile(r"kernel[-_]reference|real-kernels\.md|design brief", re.I)),
    ("internal document", re.compile(r"\bDESIGN\b")),
    ("section sign", re.compile("§")),
    # The kernel reference's rules R0-R5 ("A/R2(3)"); R/O and R/W have no digit.
    ("rule label", re.compile(r"\bR\d{1,2}\b")),
    # Its bug list B1-B21 and parts D and E ("E (modelling checklist)"); C0-C3 are
    # allowed beside the ample-set conditions they name (see AMPLE below).
    ("bug or section label", re.compile(r"\b[BCDE]\d{1,2}\b")),
    ("section label", re.compile(r"\b[Pp]art [A-F]\b|\[[VMD]\]|\bA/R\d")),
    # The project's own tracker; other trackers are named ("Project Zero issue 2045").
    ("issue tracker", re.compile(r"(?<!Zero )\bissue #?\d+", re.I)),
)

# Partial-order reduction's ample-set conditions C0-C3 (Clarke, Grumberg and Peled,
# Model Checking, ch. 10) are a published name: allowed in text about ample sets.
AMPLE = re.compile(r"\bample[- ]set", re.I)
POR_LABEL = re.compile(r"^C[0-3]$")

# Text that is not prose: lint codes (noqa: B023), Message-IDs and URLs, whose
# characters may spell a label by accident.
NOT_PROSE = re.compile(r"noqa:[ \w,]*|type: ignore\[[^\]]*\]|<[^<>\s]+@[^<>\s]+>|https?://\S+|[\w.+-]+@[\w-]+\.[\w.-]+")


def hits(text: str, where: str) -> list[str]:
    out: list[str] = []
    ample = bool(AMPLE.search(text))
    for lineno, line in enumerate(text.splitlines(), 1):
        prose = NOT_PROSE.sub(" ", line)
        for name, pat in LABELS:
            for m in pat.finditer(prose):
                if ample and POR_LABEL.match(m.group()):
                    continue
                out.append(f"{where}:{lineno}: {name} {m.group()!r}: {line.strip()[:160]}")
    return out


def shipped_files() -> list[Path]:
    """Everything a user of the package or the repository reads."""
    files = [ROOT / "README.md", ROOT / "BENCHMARKS.md", ROOT / "counterexamples" / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    files += sorted((ROOT / "docs" / "ci").glob("*.yml"))
    files += sorted((ROOT / "models").rglob("*.py")) + sorted((ROOT / "models").rglob("*.toml"))
    files += sorted((ROOT / "properties").rglob("*.py"))
    files += sorted((ROOT / "cowcheck").rglob("*.py"))
    files += sorted((ROOT / "benchmarks").rglob("*.py"))
    return [f for f in files if f.is_file() and "__pycache__" not in f.parts]


def saved_traces() -> list[Path]:
    """The saved counterexamples ship in the wheel, each with its scenario's text."""
    return sorted((ROOT / "counterexamples").glob("*.json"))


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_the_file_list_is_complete() -> None:
    names = {_rel(p) for p in shipped_files()}
    for must in ("README.md", "docs/guide.md", "docs/tutorial.md", "docs/scenario-format.md", "docs/cli.md"):
        assert must in names
    assert sum(n.startswith("models/scenarios/") for n in names) >= 15
    assert sum(n.startswith("cowcheck/") for n in names) >= 50
    assert len(saved_traces()) >= 40


def test_the_patterns_catch_the_labels_and_nothing_else() -> None:
    caught = [
        "Drop the fork exception for FOLL_GET (seed 004).",
        "(seeds/004: 'also reproducible with only swap enabled')",
        "the seed's O_DIRECT race",
        "kernel-reference B7; reproducer page_count_do_wp_page.c",
        "cowcheck DESIGN.md section 6",
        "DESIGN.md §6",
        "[kernel-reference A/R2(1), v5.10.13 do_wp_page()]",
        "the write-fault rule stays R0 (reuse_swap_page())",
        "leaks through swap (B4)",
        "Part B bugs the model cannot express yet",
        "kernel-reference E (modelling checklist)",
        "issue 4's scale table",
        "the nodes that give C1 (bounded from the state)",
    ]
    for text in caught:
        assert hits(text, "x"), text
    clean = [
        "09854ba94c6a (mm: do_wp_page() simplification, 5.9)",
        "<20210110004435.26382-2-aarcange@redhat.com>",
        "<X/prosulFrEoNnoF@redhat.com> <FFA0057D-1A17-4DF4-9550-A8CDEE9E0CE0@gmail.com>",
        "https://lore.kernel.org/all/3ae33b08-d9ef-f846-56fb-645e3b9b4c66@redhat.com/",
        "R/O and R/W pins; FOLL_LONGTERM; v6.2; v5.11-rc4; 5.10.y",
        "CVE-2020-29374 (Jann Horn, Project Zero issue 2045)",
        "write(f, lambda: save(rep, f))  # noqa: B023 (called at once)",
        "x86 PAT; sha256 e3b0c44298fc1c14; PYTHONHASHSEED; --hypothesis-seed 3",
        "transient kernel references; by design; E.g. B-tree",
        "an ample set: C0-C2 here, the cycle proviso C3 in the engine",
        "COW fixes part 1; part 2",
    ]
    for text in clean:
        assert not hits(text, "x"), (text, hits(text, "x"))


@pytest.mark.parametrize("path", shipped_files(), ids=_rel)
def test_shipped_text_cites_what_a_reader_can_open(path: Path) -> None:
    found = hits(path.read_text(encoding="utf-8"), _rel(path))
    assert not found, "internal labels; cite a commit, a Message-ID or a kernel version:\n" + "\n".join(found)


def test_saved_traces_carry_no_internal_labels() -> None:
    """Regenerate with `cowcheck matrix --save-dir counterexamples` once the scenario
    files are clean: each trace embeds its scenario's text."""
    found: list[str] = []
    for p in saved_traces():
        found += hits(p.read_text(encoding="utf-8").replace("\\n", "\n"), _rel(p))
    assert not found, "\n".join(found)


VERBS = (
    "check", "replay", "rules", "scenarios", "properties", "catalog", "verify", "matrix",
    "init", "gate", "show", "report", "graph",
)  # fmt: skip
COMMANDS = (
    ("--help",),
    *((v, "--help") for v in VERBS),
    ("rules",),
    ("rules", "--json"),
    ("scenarios", "--json"),
    ("properties", "--json"),
)


def _run(args: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    return args, p.stdout + p.stderr


def test_cli_output_cites_what_a_reader_can_open() -> None:
    """What `--help`, `rules`, `scenarios` and `properties` print (a verb that does not
    exist only prints a usage error)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(_run, COMMANDS))
    assert any("rules" in out for _, out in outputs)
    found: list[str] = []
    for args, out in outputs:
        found += hits(out, "cowcheck " + " ".join(args))
    assert not found, "\n".join(found)
