"""The kernel's own COW selftests, ``cow.c`` and ``gup_longterm.c``, run beside the reproducers.

``cowcheck conform`` judges the catalog by hand-written reproducers; the kernel's mm
selftests test the same questions with the kernel developers' own programs, so each
conformance VM also runs them and the report lists every test's result. Where a cow.c
case runs the program of a catalog scenario (``SCENARIOS``), the report puts the two
side by side. The selftests are no gate: they change between kernel versions, so a
new failure is something to read, not a broken build.

Both programs are built once, from ``linux-source-6.12`` (Debian 12's security
suite): the 6.12 sources are the newest Debian 12 carries, and cow.c appeared only in
6.2. The same static binaries then run on every kernel, so a test's name means the
same on all of them; tests a kernel lacks support for report SKIP.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from cowcheck.conform import debian
from cowcheck.conform.debian import ConformError

PACKAGE = "linux-source-6.12"
PROGRAMS = ("cow", "gup_longterm")
MARKER = "COWCHECK-SELFTEST"

# The tree's top-level directory inside the package's tarball, and what of it the build
# reads: the top Makefile, scripts/, the uapi headers and arch/x86 for ``make headers``
# (arch/x86's syscall tables and tools are part of that target), tools/include for the
# selftests' own uapi copies, and the selftest sources. 33 MB of the tree's 1.5 GB; the
# time goes to decompressing the whole tarball either way.
_MEMBERS = (
    "Makefile",
    "scripts",
    "include/uapi",
    "arch/x86",
    "usr",
    "tools/include",
    "tools/testing/selftests/kselftest.h",
    "tools/testing/selftests/mm",
    "mm/gup_test.h",
)
_SELFTESTS = "tools/testing/selftests/mm"
# The selftests Makefile's flags (CFLAGS, LDLIBS, KHDR_INCLUDES, TOOLS_INCLUDES in
# selftests/lib.mk and mm/Makefile), plus -static: the initramfs has no libc.
_CFLAGS = ("-static", "-Wall", "-O2", "-U_FORTIFY_SOURCE")
_LDLIBS = ("-luring", "-lrt", "-lpthread", "-lm")
# What check_config.sh writes when liburing is there. Without it the io_uring tests,
# one of them a catalog scenario's, are compiled out: liburing-dev is required instead.
_LOCAL_CONFIG = "#define LOCAL_CONFIG_HAVE_LIBURING 1\n"
_INFO = "BUILD-INFO"  # in a finished build directory: how it was made; written last

EXTRACT_TIMEOUT = 900.0
HEADERS_TIMEOUT = 900.0
COMPILE_TIMEOUT = 300.0
QUERY_TIMEOUT = 60.0


# -- building --------------------------------------------------------------------------


def build(cache: Path) -> dict[str, Path]:
    """The static ``cow`` and ``gup_longterm`` binaries, built from ``linux-source-6.12``
    and kept under ``CACHE/selftests/VERSION``: a warm call only asks apt which version
    is current. Raises ConformError (one line) when a tool, a package or the build fails."""
    debian.apt_update(cache)
    deb = debian.download(cache, PACKAGE)
    version = _deb_version(deb)
    out = cache / "selftests" / _safe(version)
    if not _complete(out):
        _build_into(deb, version, out)
    return {p: out / p for p in PROGRAMS}


def cached(cache: Path) -> dict[str, Path]:
    """The finished builds under ``CACHE/selftests`` by source package version, without
    asking apt: for tests and reports that must not touch the network."""
    root = cache / "selftests"
    if not root.is_dir():
        return {}
    return {d.name: d for d in sorted(root.iterdir()) if _complete(d)}


def _deb_version(deb: Path) -> str:
    """The package version the .deb carries (its file name may quote an epoch)."""
    return debian.run_tool(["dpkg-deb", "-f", str(deb), "Version"], QUERY_TIMEOUT, f"dpkg-deb -f {deb.name}").strip()


def _safe(version: str) -> str:
    """``version`` as one directory name."""
    return re.sub(r"[^A-Za-z0-9.+~_-]", "_", version)


def _complete(d: Path) -> bool:
    """Whether ``d`` is a finished build: the info file is written after the binaries."""
    return (d / _INFO).is_file() and all(os.access(d / p, os.X_OK) for p in PROGRAMS)


def _check_host() -> None:
    """Fail early, and say why, where the build cannot work at all."""
    if platform.machine() != "x86_64":
        raise ConformError(
            f"the selftests are built for the x86_64 guests with the host's gcc; this is {platform.machine()}"
        )
    for tool, package in (("gcc", "gcc"), ("make", "make"), ("xz", "xz-utils"), ("tar", "tar"), ("dpkg", "dpkg")):
        if shutil.which(tool) is None:
            raise ConformError(f"building the kernel selftests needs {tool}: install {package}")


def _build_into(deb: Path, version: str, out: Path) -> None:
    """Build in a scratch directory beside ``out`` and rename it into place, so that an
    interrupted or concurrent build never leaves a half-made ``out``."""
    _check_host()
    if out.exists():  # unfinished: one of its files was removed since; build it again
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        scratch = Path(tmp)
        tree = _extract(deb, scratch)
        _headers(tree)
        staged = scratch / "out"
        staged.mkdir()
        _compile(tree, staged)
        for p in PROGRAMS:  # kept for reading test names and for whoever reads a result
            shutil.copy2(tree / _SELFTESTS / f"{p}.c", staged / f"{p}.c")
        (staged / _INFO).write_text(_info(version))
        try:
            staged.rename(out)
        except OSError:
            if not _complete(out):  # not another build's finished result: a real failure
                raise


def _extract(deb: Path, scratch: Path) -> Path:
    """The parts of the kernel tree the build reads, from the tarball inside the .deb."""
    root = debian.unpack(deb, scratch / "deb")
    tarballs = sorted((root / "usr" / "src").glob("linux-source-*.tar.xz"))
    if len(tarballs) != 1:
        raise ConformError(f"{deb.name}: expected one usr/src/linux-source-*.tar.xz, found {len(tarballs)}")
    top = tarballs[0].name.removesuffix(".tar.xz")
    # Debian's tarball is compressed in blocks, so xz -T0 decompresses on every core
    # (11 s instead of 19 s on two).
    debian.run_tool(
        ["tar", "-x", "-I", "xz -T0", "-f", str(tarballs[0]), "-C", str(scratch), *(f"{top}/{m}" for m in _MEMBERS)],
        EXTRACT_TIMEOUT,
        f"extracting {tarballs[0].name}",
    )
    shutil.rmtree(root)  # 150 MB that nothing reads again
    return scratch / top


def _headers(tree: Path) -> None:
    """``make headers``: the uapi headers in ``usr/include``, where the selftests look
    (vm_util.c needs 6.7+ uapi, newer than Debian 12's linux-libc-dev). Not
    ``headers_install``: it copies them out with rsync, which the machine may lack."""
    jobs = str(os.cpu_count() or 1)
    debian.run_tool(["make", "-s", f"-j{jobs}", "ARCH=x86", "headers"], HEADERS_TIMEOUT, "make headers", cwd=tree)


def _compile(tree: Path, staged: Path) -> None:
    """Compile each program as the selftests Makefile would, statically."""
    (staged / "local_config.h").write_text(_LOCAL_CONFIG)
    includes = ["-I", str(staged), "-I", str(tree), "-isystem", str(tree / "usr/include")]
    includes += ["-isystem", str(tree / "tools/include/uapi")]
    src = tree / _SELFTESTS
    for p in PROGRAMS:
        cmd = ["gcc", *_CFLAGS, *includes, f"{p}.c", "vm_util.c", "thp_settings.c", "-o", str(staged / p), *_LDLIBS]
        debian.run_tool(cmd, COMPILE_TIMEOUT, f"compiling {p}.c (is liburing-dev installed?)", cwd=src)
    (staged / "local_config.h").unlink()


def _info(version: str) -> str:
    """What went into the binaries, for the report."""
    gcc = debian.run_tool(["gcc", "--version"], QUERY_TIMEOUT, "gcc --version").splitlines()[0]
    flags = " ".join((*_CFLAGS, *_LDLIBS))
    return f"package {PACKAGE} {version}\ncompiler {gcc}\nflags {flags}\n"


# -- running in the VM -----------------------------------------------------------------


def script(binaries_dir_in_initramfs: str, timeout: int = 600) -> str:
    """The busybox-sh fragment /init runs: each program in turn, between marker lines
    that ``split`` finds in the console log. Output goes straight to the console, so a
    program that hangs or crashes the kernel still shows how far it got; ``timeout``
    (seconds, per program) stops a hang before the VM's own limit does.

    cow.c reads /proc/self/pagemap and the THP and hugetlb settings in /sys, and uses
    gup_test in debugfs where the kernel has it; gup_longterm creates its "local
    tmpfile" in the working directory, hence /tmp."""
    d = binaries_dir_in_initramfs.rstrip("/") or "/"
    lines = [
        "[ -e /proc/self/pagemap ] || mount -t proc proc /proc",
        "[ -d /sys/kernel/mm ] || mount -t sysfs sysfs /sys",
        "grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null",
        "mkdir -p /tmp",
        f"for p in {' '.join(PROGRAMS)}; do",
        f'  echo "{MARKER} begin $p"',
        f'  if [ -x "{d}/$p" ]; then',
        f'    (cd /tmp && timeout -s KILL {timeout} "{d}/$p" 2>&1)',
        "    rc=$?",
        "  else",
        f'    echo "# {d}/$p: not found"',
        "    rc=127",
        "  fi",
        f'  echo "{MARKER} end $p rc=$rc"',
        "done",
    ]
    return "\n".join(lines) + "\n"


_MARK = re.compile(rf"{MARKER} (begin|end) (\S+)(?: rc=(-?\d+))?")


def split(console: str) -> dict[str, str]:
    """Each program's output from a console log, by program. A program begun and never
    ended (the VM died or timed out) gets what it printed until the log ends. If a
    program ran twice, the last run counts."""
    return {p: text for p, (text, _) in _sections(console).items()}


def exit_codes(console: str) -> dict[str, int | None]:
    """Each program's exit status from a console log; None when it never ended."""
    return {p: rc for p, (_, rc) in _sections(console).items()}


def _sections(console: str) -> dict[str, tuple[str, int | None]]:
    found: dict[str, tuple[str, int | None]] = {}
    current: str | None = None
    body: list[str] = []
    for line in console.splitlines():
        m = _MARK.search(line)
        if m is None:
            if current is not None:
                body.append(line.rstrip("\r"))
            continue
        kind, program, rc = m.groups()
        if current is not None:  # an end marker, or a begin after a lost end
            ended = kind == "end" and program == current
            found[current] = ("\n".join(body) + "\n" if body else "", int(rc) if ended and rc is not None else None)
        current, body = (program, []) if kind == "begin" else (None, [])
    if current is not None:
        found[current] = ("\n".join(body) + "\n" if body else "", None)
    return found


# -- reading the results ---------------------------------------------------------------

Result = Literal["pass", "fail", "skip", "xfail", "xpass", "error"]
RESULTS: tuple[Result, ...] = get_args(Result)


@dataclass(frozen=True)
class SelftestResult:
    """One test's result. ``name`` is the test as the program announced it ("[RUN] ..."
    line, e.g. "Basic COW after fork() ... with base page"): the TAP line itself only
    says "No leak from parent into child". ``detail`` is the TAP description, or the
    reason after SKIP / XFAIL."""

    program: str
    number: int
    name: str
    result: Result
    detail: str = ""


_RUN = re.compile(r"^# \[RUN\] (.*\S)")
_TAP = re.compile(r"^(not ok|ok) (\d+)\b ?(.*)$")
# kselftest writes "ok N # SKIP why" and, through ksft_test_result_code(), "ok N name # SKIP why".
_DIRECTIVE = re.compile(r"^(.*?)\s*#\s*(SKIP|XFAIL|XPASS|TODO|error)\b\s*(.*)$", re.IGNORECASE)


def parse(output: str, program: str | None = None) -> list[SelftestResult]:
    """The results in ``output``: one program's TAP when ``program`` names it, else a
    console log with ``script``'s markers, each section under its program's name.
    Lines that are not TAP (kernel messages on the console, "# [INFO]") are passed
    over, and so are nested KTAP results (indented), which these programs do not use."""
    if program is not None:
        return _parse_tap(output, program)
    return [r for p, text in split(output).items() for r in _parse_tap(text, p)]


def _parse_tap(text: str, program: str) -> list[SelftestResult]:
    results: list[SelftestResult] = []
    name = ""
    for raw in text.splitlines():
        line = raw.rstrip("\r").rstrip()
        run = _RUN.match(line)
        if run:
            name = run.group(1)
            continue
        tap = _TAP.match(line)
        if tap:
            ok, number, rest = tap.groups()
            result, detail = _classify(ok == "ok", rest)
            results.append(SelftestResult(program, int(number), name or detail, result, detail))
    return results


def _classify(ok: bool, rest: str) -> tuple[Result, str]:
    """A TAP line's result and detail from its ok / not ok and its directive."""
    d = _DIRECTIVE.match(rest)
    if d is None:
        return ("pass" if ok else "fail"), rest.strip()
    description, directive, reason = d.group(1).strip(), d.group(2).upper(), d.group(3).strip()
    detail = reason or description
    if directive == "SKIP":
        return "skip", detail
    if directive == "ERROR":
        return "error", detail
    if directive in ("XFAIL", "TODO"):  # TAP's TODO is an expected failure: passing it is XPASS
        return ("xpass" if ok and directive == "TODO" else "xfail"), detail
    return ("xpass" if ok else "fail"), detail


def summary(results: Iterable[SelftestResult]) -> dict[Result, int]:
    """How many tests ended each way, every kind present (0 if none), in RESULTS order."""
    counts: dict[Result, int] = dict.fromkeys(RESULTS, 0)
    for r in results:
        counts[r.result] += 1
    return counts


# -- beside the catalog ----------------------------------------------------------------

# cow.c test name -> catalog scenario (models/scenarios/NAME.toml) running the same
# program: the same actors doing the same syscalls and accesses in the same order, on
# a base page. Not here: THP, hugetlb and KSM cases (the catalog models base pages);
# the anonymous GUP-fast variants (the anonymous scenarios' GUP is the slow path); the
# "mprotect() optimization" variants (an mprotect R/O-and-back that no scenario has).
# gup_longterm.c: see below. Near misses, left out on purpose:
# - "vmsplice() + unmap in parent after fork()" vmsplices after fork, when the page is
#   already shared: under gup-breaks-cow that GUP breaks COW, so it holds where
#   vmsplice-before-fork (vmsplice first, no COW to break) is a missed COW.
# - "Basic COW after fork() ... with swapped out base page" swaps out before fork and
#   the parent's write fault meets the child's swap entry; fork-swap-shared swaps out
#   after fork and the child writes after reading the page back: another decision.
# - "R/O-mapping a page registered as iouring fixed buffer": the pin, then
#   mprotect/clear_refs/mprotect and a write; odirect-clear-refs-pin has one clear_refs,
#   a short-term pin and a device write, odirect-mprotect a FOLL_GET.
# - "R/O GUP pin on R/O-mapped previously-shared page": needs the child to exit, which
#   no scenario does; "... exclusive page": an mprotect R/O-and-back, as above.
# - The swapped-out variants of the others swap the page out before the program starts
#   and the first access swaps it back in: no scenario starts swapped out.
# The RO pins (ro-pin-after-fork, ro-longterm-zeropage) need gup_test, which Debian's
# kernels do not build (CONFIG_GUP_TEST=n): they skip there, and show as skipped.
SCENARIOS: Mapping[str, str] = MappingProxyType(
    {
        # fork; the child vmsplice()s the page (R/O FOLL_GET), munmaps it; the parent
        # writes; the child reads the pipe: vmsplice-child's actors step for step
        # (CVE-2020-29374; the scenario's source names this test).
        "vmsplice() + unmap in child ... with base page": "vmsplice-child",
        # The same with the page swapped out before fork. The child's vmsplice swaps it
        # in (it stays in the swapcache: the swap entry was shared), its munmap leaves
        # the parent's swap entry the only mapping, and the parent's write fault meets
        # what vmsplice-child-swap's reclaim leaves: the page in the swapcache, held by
        # the pipe, mapped by nobody, swapcount 1. do_swap_page()'s reuse decision is
        # the one under test in both (Debian 5.10: both a missed COW, cowcheck conform).
        "vmsplice() + unmap in child ... with swapped out base page": "vmsplice-child-swap",
        # vmsplice() (R/O FOLL_GET) while the page is exclusive, fork, the parent
        # munmaps, the child writes, the parent reads the pipe: vmsplice-before-fork's
        # program (its source names this test).
        "vmsplice() before fork(), unmap in parent after fork() ... with base page": "vmsplice-before-fork",
        # io_uring_register_buffers (FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM), fork, the
        # parent writes, IORING_OP_WRITE_FIXED reads through the pin: fork-io-uring.
        "fork() with an iouring fixed buffer ... with base page": "fork-io-uring",
        # fork (the child stays), a R/O FOLL_PIN|FOLL_LONGTERM pin by gup_test (slow
        # GUP), the parent writes, gup_test reads through the pin: ro-pin-after-fork.
        "R/O GUP pin on R/O-mapped shared page ... with base page": "ro-pin-after-fork",
        # A read maps the shared zero page; a R/O long-term pin (slow GUP) on it; a
        # write; a read through the pin: ro-longterm-zeropage (84209e87c696).
        "R/O longterm GUP pin ... with shared zeropage": "ro-longterm-zeropage",
        # "Non-anonymous memory tests in private mappings": the page is mapped
        # MAP_PRIVATE and read (a second, MAP_SHARED mapping reads it too), a R/O
        # long-term pin by gup_test, slow or fast, a write through the private mapping,
        # and a read through the pin: the ro-longterm-* scenarios. A tmpfile is on
        # whatever /tmp is; a private mapping of any file behaves the same here.
        "R/O longterm GUP-fast pin ... with shared zeropage": "ro-longterm-zeropage-fast",
        "R/O longterm GUP pin ... with memfd": "ro-longterm-memfd",
        "R/O longterm GUP-fast pin ... with memfd": "ro-longterm-memfd-fast",
        "R/O longterm GUP pin ... with tmpfile": "ro-longterm-tmpfile",
        "R/O longterm GUP-fast pin ... with tmpfile": "ro-longterm-tmpfile-fast",
    }
)


# gup_longterm.c has no entry: its R/W long-term pins of a MAP_SHARED "local tmpfile"
# are longterm-shared-file's program only on a filesystem that needs dirty
# tracking, and in the VM the working directory is the initramfs (shmem-like, where
# the pin is rightly taken). Its other cases only check that a pin is taken.


def matching(results: Iterable[SelftestResult]) -> list[tuple[SelftestResult, str]]:
    """The cow.c results that have a catalog scenario, each with that scenario's name,
    in the order they ran."""
    return [(r, SCENARIOS[r.name]) for r in results if r.program == "cow" and r.name in SCENARIOS]
