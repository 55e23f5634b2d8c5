"""cowcheck/conform/selftests.py: reading cow.c's and gup_longterm's TAP, splitting a
console log by program, the cow.c -> catalog mapping, and (where the sources are at
hand) building the two programs from linux-source-6.12."""

from __future__ import annotations

import os
import struct
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT

from cowcheck.conform import debian, selftests
from cowcheck.conform.selftests import SelftestResult

# Captured on a Linux 6.18 host (root, no swap, no gup_test, THP with mTHP sizes) from
# script()'s fragment running the cow and gup_longterm that build() made from
# linux-source-6.12 6.12.118-1~deb12u1; cut down to these lines, nothing edited.
# The full run: cow 280 pass, 498 skip; gup_longterm 6 pass, 44 skip.
CONSOLE = """\
COWCHECK-SELFTEST begin cow
TAP version 13
# [INFO] detected PMD size: 2048 KiB
# [INFO] detected THP size: 16 KiB
# [INFO] detected hugetlb page size: 2048 KiB
# [INFO] huge zeropage is enabled
1..778
# [INFO] Anonymous memory tests in private mappings
# [RUN] Basic COW after fork() ... with base page
ok 1 No leak from parent into child
# [RUN] Basic COW after fork() ... with swapped out base page
ok 2 # SKIP MADV_PAGEOUT did not work, is swap enabled?
# [RUN] vmsplice() + unmap in child ... with base page
ok 109 No leak from parent into child
# [RUN] vmsplice() + unmap in child ... with swapped out base page
ok 110 # SKIP MADV_PAGEOUT did not work, is swap enabled?
# [RUN] vmsplice() before fork(), unmap in parent after fork() ... with base page
ok 217 No leak from child into parent
# [RUN] fork() with an iouring fixed buffer ... with base page
ok 379 Longterm R/W pin is reliable
# [RUN] R/O GUP pin on R/O-mapped shared page ... with base page
ok 433 # SKIP gup_test not available
# [RUN] Basic COW after fork() when collapsing after fork() (upper shared)
ok 760 No leak from parent into child
# [RUN] Non-anonymous memory tests in private mappings
# [RUN] Basic COW ... with shared zeropage
ok 761 Other mapping not modified
# [RUN] R/O longterm GUP pin ... with shared zeropage
ok 767 # SKIP gup_test not available
# [RUN] R/O longterm GUP-fast pin ... with memfd hugetlb (1048576 kB)
ok 778 # SKIP need more free huge pages
# Totals: pass:280 fail:0 xfail:0 xpass:0 skip:498 error:0
COWCHECK-SELFTEST end cow rc=0
COWCHECK-SELFTEST begin gup_longterm
# [INFO] detected hugetlb page size: 2048 KiB
TAP version 13
1..50
# [RUN] R/W longterm GUP pin in MAP_SHARED file mapping ... with memfd
ok 1 # SKIP gup_test not available
# [RUN] io_uring fixed buffer with MAP_SHARED file mapping ... with tmpfile
ok 42 Should have failed
# Totals: pass:6 fail:0 xfail:0 xpass:0 skip:44 error:0
COWCHECK-SELFTEST end gup_longterm rc=0
"""


# The non-anonymous cases of cow.c from a conform VM on Debian's 6.12.118+deb12-amd64
# (serial log), cut down to these lines, nothing edited. Debian builds no gup_test.
CONSOLE_NON_ANON = """\
COWCHECK-SELFTEST begin cow
TAP version 13
1..761
# [RUN] Non-anonymous memory tests in private mappings
# [RUN] R/O longterm GUP pin ... with shared zeropage
ok 752 # SKIP gup_test not available
# [RUN] R/O longterm GUP pin ... with memfd
ok 753 # SKIP gup_test not available
# [RUN] R/O longterm GUP pin ... with tmpfile
ok 754 # SKIP gup_test not available
# [RUN] R/O longterm GUP-fast pin ... with shared zeropage
ok 757 # SKIP gup_test not available
# [RUN] R/O longterm GUP-fast pin ... with memfd
ok 758 # SKIP gup_test not available
# [RUN] R/O longterm GUP-fast pin ... with tmpfile
ok 759 # SKIP gup_test not available
# Totals: pass:423 fail:0 xfail:0 xpass:0 skip:338 error:0
COWCHECK-SELFTEST end cow rc=0
"""


# The same binaries in a QEMU VM on Debian's 5.10.0-46-amd64 with a swap disk (serial
# console: CRLF line ends), cut down the same way. That run: cow 63 pass, 21 fail, 89 skip.
CONSOLE_5_10 = (
    "COWCHECK-SWAP on\r\n"
    "COWCHECK-BOOT ok 5.10.0-46-amd64\r\n"
    "COWCHECK-SELFTEST begin cow\r\n"
    "TAP version 13\r\n"
    "# [INFO] detected PMD size: 2048 KiB\r\n"
    "# [RUN] vmsplice() + unmap in child ... with base page\r\n"
    "ok 23 No leak from parent into child\r\n"
    "# [RUN] vmsplice() + unmap in child ... with swapped out base page\r\n"
    "not ok 24 Leak from parent into child\r\n"
    "# [RUN] R/O-mapping a page registered as iouring fixed buffer ... with base page\r\n"
    "not ok 67 Longterm R/W pin is reliable\r\n"
    "Bail out! 21 out of 173 tests failed\r\n"
    "# Totals: pass:63 fail:21 xfail:0 xpass:0 skip:89 error:0\r\n"
    "COWCHECK-SELFTEST end cow rc=1\r\n"
    "[   17.990785] reboot: Power down\r\n"
)


def test_parse_real_console() -> None:
    results = selftests.parse(CONSOLE)
    cow = [r for r in results if r.program == "cow"]
    gup = [r for r in results if r.program == "gup_longterm"]
    assert [r.number for r in cow] == [1, 2, 109, 110, 217, 379, 433, 760, 761, 767, 778]
    assert cow[0] == SelftestResult(
        "cow", 1, "Basic COW after fork() ... with base page", "pass", "No leak from parent into child"
    )
    assert cow[1].result == "skip" and cow[1].detail == "MADV_PAGEOUT did not work, is swap enabled?"
    # cow.c announces "Non-anonymous memory tests" as a [RUN] with no result of its own:
    # the next [RUN] names the next result.
    assert cow[8].name == "Basic COW ... with shared zeropage"
    assert gup == [
        SelftestResult(
            "gup_longterm",
            1,
            "R/W longterm GUP pin in MAP_SHARED file mapping ... with memfd",
            "skip",
            "gup_test not available",
        ),
        SelftestResult(
            "gup_longterm",
            42,
            "io_uring fixed buffer with MAP_SHARED file mapping ... with tmpfile",
            "pass",
            "Should have failed",
        ),
    ]
    assert selftests.summary(cow) == {"pass": 6, "fail": 0, "skip": 5, "xfail": 0, "xpass": 0, "error": 0}
    assert list(selftests.summary([])) == list(selftests.RESULTS)


def test_parse_real_failures() -> None:
    results = selftests.parse(CONSOLE_5_10)
    assert [(r.number, r.result, r.detail) for r in results] == [
        (23, "pass", "No leak from parent into child"),
        (24, "fail", "Leak from parent into child"),
        (67, "fail", "Longterm R/W pin is reliable"),
    ]
    assert results[1].name == "vmsplice() + unmap in child ... with swapped out base page"
    assert selftests.exit_codes(CONSOLE_5_10) == {"cow": 1}
    # 5.10 is the page-count era, where vmsplice-child-swap is a missed COW: cow.c agrees.
    assert [(r.result, s) for r, s in selftests.matching(results)] == [
        ("pass", "vmsplice-child"),
        ("fail", "vmsplice-child-swap"),
    ]


def test_parse_one_program() -> None:
    """Bare TAP, as the program prints it, is attributed to the program named."""
    tap = selftests.split(CONSOLE)["cow"]
    assert "COWCHECK" not in tap
    assert selftests.parse(tap, "cow") == [r for r in selftests.parse(CONSOLE) if r.program == "cow"]


def test_parse_every_kselftest_form() -> None:
    """The lines kselftest.h writes for outcomes no captured run showed (hugetlb
    vmsplice is XFAIL where huge pages are free), with kernel messages between the
    lines and a nested KTAP result; written by hand from kselftest.h's formats."""
    console = (
        "[    3.1] random: crng init done\r\n"
        "COWCHECK-SELFTEST begin cow\r\n"
        "# [RUN] vmsplice() + unmap in child ... with swapped out base page\r\n"
        "not ok 110 Leak from parent into child\r\n"
        "[   12.345678] cow (91): drop_caches: 1\r\n"
        "# [RUN] vmsplice() + unmap in child ... with hugetlb (2048 kB)\r\n"
        "ok 111 # XFAIL Leak from parent into child\r\n"
        "ok 112 # skip lower-case directive\r\n"
        "not ok 113 # error something broke\r\n"
        "ok 114 some_test # XPASS unexpectedly fine\r\n"
        "  ok 1 nested subtest\r\n"
        "not ok 115 some_todo # TODO not yet\r\n"
        "Bail out! 1 out of 115 tests failed\r\n"
        "COWCHECK-SELFTEST end cow rc=1\r\n"
    )
    got = [(r.number, r.result, r.detail) for r in selftests.parse(console)]
    assert got == [
        (110, "fail", "Leak from parent into child"),
        (111, "xfail", "Leak from parent into child"),
        (112, "skip", "lower-case directive"),
        (113, "error", "something broke"),
        (114, "xpass", "unexpectedly fine"),
        (115, "xfail", "not yet"),
    ]
    first = selftests.parse(console)[0]
    assert first.name == "vmsplice() + unmap in child ... with swapped out base page"
    assert selftests.exit_codes(console) == {"cow": 1}


def test_split_when_a_program_never_ends() -> None:
    """A VM that dies inside a program leaves a begin with no end: what it printed
    still counts, its exit status is unknown; a later begin closes it too."""
    console = (
        "COWCHECK-SELFTEST begin cow\nok 1 fine\n"
        "COWCHECK-SELFTEST begin gup_longterm\nok 1 also fine\n"
        "[  99.0] Kernel panic - not syncing: something\n"
    )
    assert selftests.split(console) == {
        "cow": "ok 1 fine\n",
        "gup_longterm": "ok 1 also fine\n[  99.0] Kernel panic - not syncing: something\n",
    }
    assert selftests.exit_codes(console) == {"cow": None, "gup_longterm": None}
    assert selftests.split("no markers at all\n") == {}


def test_script_fragment_runs(tmp_path: Path) -> None:
    """The fragment under the system's POSIX sh (busybox sh, as in the VM, would run its
    own mount applet and mount debugfs on this machine) with stand-in programs and a
    stand-in ``mount``: markers, output and exit codes arrive as split() reads them, and
    a missing program is reported, not fatal."""
    bindir, fake = tmp_path / "bin", tmp_path / "fake"
    bindir.mkdir()
    fake.mkdir()
    (bindir / "cow").write_text(
        "#!/bin/sh\necho 'TAP version 13'\necho '# [RUN] x ... with base page'\necho 'ok 1 y'\n"
    )
    (bindir / "cow").chmod(0o755)
    (fake / "mount").write_text("#!/bin/sh\nexit 0\n")
    (fake / "mount").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    p = subprocess.run(
        ["sh", "-c", selftests.script(str(bindir), timeout=60)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert selftests.exit_codes(p.stdout) == {"cow": 0, "gup_longterm": 127}
    assert selftests.parse(p.stdout) == [SelftestResult("cow", 1, "x ... with base page", "pass", "y")]
    assert "not found" in selftests.split(p.stdout)["gup_longterm"]


def _catalog() -> set[str]:
    names = set()
    for f in (ROOT / "models" / "scenarios").glob("*.toml"):
        names.add(tomllib.loads(f.read_text())["name"])
    return names


def test_mapping_names_catalog_scenarios() -> None:
    catalog = _catalog()
    assert set(selftests.SCENARIOS.values()) <= catalog
    # Base pages only: no THP, hugetlb. memfd and tmpfile pages are the page-cache
    # pages of the ro-longterm-* scenarios, whose backing says which.
    variants = {name.split(" ... with ", 1)[1] for name in selftests.SCENARIOS}
    assert variants <= {"base page", "swapped out base page", "shared zeropage", "memfd", "tmpfile"}
    for name, scenario in selftests.SCENARIOS.items():
        backing = {"memfd": "shmem", "tmpfile": "file"}.get(name.split(" ... with ", 1)[1], "anon")
        doc = tomllib.loads((ROOT / "models" / "scenarios" / f"{scenario}.toml").read_text())
        assert all(vp.get("backing", "anon") == backing for vp in doc.get("vpage", [])), name
        assert ("GUP-fast" in name) == scenario.endswith("-fast"), name


def test_matching_pairs_results_with_scenarios() -> None:
    pairs = selftests.matching(selftests.parse(CONSOLE))
    assert [(r.number, s) for r, s in pairs] == [
        (109, "vmsplice-child"),
        (110, "vmsplice-child-swap"),
        (217, "vmsplice-before-fork"),
        (379, "fork-io-uring"),
        (433, "ro-pin-after-fork"),
        (767, "ro-longterm-zeropage"),
    ]
    more = selftests.matching(selftests.parse(CONSOLE_NON_ANON))
    assert [(r.number, s) for r, s in more] == [
        (752, "ro-longterm-zeropage"),
        (753, "ro-longterm-memfd"),
        (754, "ro-longterm-tmpfile"),
        (757, "ro-longterm-zeropage-fast"),
        (758, "ro-longterm-memfd-fast"),
        (759, "ro-longterm-tmpfile-fast"),
    ]
    # Every mapped test ran in the captured output: none is a name cow.c does not print.
    assert {r.name for r, _ in pairs + more} == set(selftests.SCENARIOS)


def _cached_cow_c() -> Path | None:
    builds = selftests.cached(debian.default_cache())
    return next((d / "cow.c" for d in reversed(builds.values()) if (d / "cow.c").is_file()), None)


def test_mapping_names_cow_c_tests() -> None:
    """Each mapped name is a test-case description in cow.c's tables and a variant
    that its run_with_* functions announce."""
    source = _cached_cow_c()
    if source is None:
        pytest.skip("no cached selftest build (cowcheck conform builds one)")
    text = source.read_text()
    for name in selftests.SCENARIOS:
        desc, variant = name.split(" ... with ", 1)
        assert f'"{desc}",' in text, desc
        assert f"[RUN] %s ... with {variant}\\n" in text, variant


REQUIRE_QEMU = os.environ.get("COWCHECK_REQUIRE_QEMU") == "1"


def _source_cached(cache: Path) -> bool:
    return bool(selftests.cached(cache)) or any((cache / "debs").glob(f"{selftests.PACKAGE}_*.deb"))


def _static_x86_64(path: Path) -> bool:
    """An x86-64 ELF without a program interpreter (PT_INTERP): statically linked."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or struct.unpack_from("<H", data, 0x12)[0] != 62:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


@pytest.mark.skipif(
    not REQUIRE_QEMU and not _source_cached(debian.default_cache()),
    reason="linux-source-6.12 not cached (set COWCHECK_REQUIRE_QEMU=1 to fetch and build it)",
)
def test_build() -> None:
    cache = debian.default_cache()
    built = selftests.build(cache)
    assert set(built) == set(selftests.PROGRAMS)
    for path in built.values():
        assert _static_x86_64(path), path
    info = (built["cow"].parent / "BUILD-INFO").read_text()
    assert info.startswith(f"package {selftests.PACKAGE} ")
    stamp = {p: path.stat().st_mtime_ns for p, path in built.items()}
    again = selftests.build(cache)
    assert again == built and {p: path.stat().st_mtime_ns for p, path in again.items()} == stamp


def test_missing_compiler_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = selftests.shutil.which
    monkeypatch.setattr(selftests.shutil, "which", lambda tool: None if tool == "gcc" else real(tool))
    monkeypatch.setattr(selftests.platform, "machine", lambda: "x86_64")
    with pytest.raises(debian.ConformError, match=r"^building the kernel selftests needs gcc: install gcc$"):
        selftests._check_host()
