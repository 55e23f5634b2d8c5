"""``cowcheck conform``: saved counterexamples on real kernels, against the model.

For each trace: a reproducer (``cowcheck.reproduce``), compiled static; for each
kernel: one VM that runs every reproducer and the kernel's own selftests; for each
(trace, kernel): the model's prediction for the schedule that kernel runs under the
rule of its era, beside what the program observed. A disagreement is a finding: the
model, the trace mapping or the kernel is wrong, and the report says which pair.

A run covers one schedule per trace and kernel: a disagreement refutes, and an
agreement on "holds" is weak evidence (another timing might still fail).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cowcheck.conform import initramfs, selftests, vm
from cowcheck.conform.debian import ConformError
from cowcheck.conform.kernels import Kernel
from cowcheck.engine.signals import Interrupted
from cowcheck.errors import InputError
from cowcheck.reproduce import COMPILE, Plan, Refused, compile_command, emit
from cowcheck.reproduce.mechanisms import VFIO, parse_version
from cowcheck.reproduce.plan import plan_path, program_name
from cowcheck.reproduce.predict import Prediction, predict

RESULT = re.compile(r"COWCHECK-RESULT (\S+) observed=(\S+) token=(-?\d+)(?: swapouts-refused=(\d+))? detail=\"(.*)\"")
RUN = re.compile(r"COWCHECK-RUN end (\S+) rc=(-?\d+)")
NOTE = re.compile(r"COWCHECK-NOTE (\S+) (.*)")
BOOT = re.compile(r"COWCHECK-BOOT ok (\S+)")
PROGRAM_TIMEOUT = 60  # seconds per reproducer inside the VM
COMPILE_TIMEOUT = 120.0
VERDICTS = ("holds", "missed-cow", "wrong-cow")


@dataclass(frozen=True, slots=True)
class Program:
    trace: Path
    name: str
    plan: Plan | None
    refused: str  # why there is no program ("" if there is one)
    binary: Path | None = None
    # The program of an earlier trace that runs the same schedule (another rule found
    # the same interleaving): the kernel runs that one, once, for both.
    same_as: str = ""


@dataclass(frozen=True, slots=True)
class Observed:
    verdict: str  # the program's own: holds, missed-cow, wrong-cow, skipped, error, or "none" (no line)
    detail: str
    notes: tuple[str, ...] = ()
    swapouts_refused: int = 0
    token: int = -1  # what the final read returned (-1: no token any step wrote)

    def judged(self, p: Prediction) -> str:
        """The verdict for the read, by the contract of the flags this kernel took
        (Prediction.table); skipped, error and none as they are."""
        if self.verdict not in VERDICTS:
            return self.verdict
        return p.judge(self.token) if self.token >= 0 else "error"


@dataclass(frozen=True, slots=True)
class Cell:
    program: str
    kernel: str
    predicted: Prediction
    observed: Observed

    @property
    def verdict(self) -> str:
        """What the kernel did, judged as the model judges its prediction."""
        return self.observed.judged(self.predicted)

    @property
    def agrees(self) -> bool | None:
        """None: nothing to compare (skipped, or the model cannot follow the run)."""
        if self.verdict in ("skipped", "error", "none") or self.predicted.verdict == "n/a":
            return None
        same_run = self.predicted.swapouts_refused == self.observed.swapouts_refused
        return self.predicted.verdict == self.verdict and same_run


@dataclass
class KernelRun:
    kernel: Kernel
    log: Path
    seconds: float
    timed_out: bool
    selftests: list[selftests.SelftestResult] = field(default_factory=list)
    release: str = ""  # what the booted kernel's uname -r said ("" if it never got that far)

    def version(self) -> tuple[int, int] | None:
        """(major, minor) of what ran: a custom image's version string may be absent."""
        for text in (self.release, self.kernel.release):
            try:
                return parse_version(text)
            except ValueError:
                continue
        return None


@dataclass
class ConformReport:
    programs: list[Program]
    runs: list[KernelRun]
    cells: list[Cell]
    seconds: float = 0.0
    interrupted: str = ""  # the signal that stopped the run before its last kernel

    @property
    def disagreements(self) -> list[Cell]:
        return [c for c in self.cells if c.agrees is False]

    @property
    def errors(self) -> list[Cell]:
        return [c for c in self.cells if c.verdict in ("error", "none")]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 3  # incomplete: what ran is reported, nothing is claimed of the rest
        compared = any(c.agrees is not None for c in self.cells)
        bad = self.disagreements or self.errors or any(r.timed_out for r in self.runs)
        return 1 if bad or not compared else 0


def programs(traces: Sequence[Path], sources: Path, binaries: Path) -> list[Program]:
    """A compiled reproducer per trace (a .json) or litmus scenario (a .toml: its
    run, ``plan_run``), or why there is none: the C source under
    ``sources`` (the run's output), the static binary under ``binaries`` (the
    cache), keyed by the hash of the source and the compiler command."""
    sources.mkdir(parents=True, exist_ok=True)
    binaries.mkdir(parents=True, exist_ok=True)
    out: list[Program] = []
    todo: list[tuple[Path, Path]] = []
    runs: dict[str, str] = {}  # schedule -> the first program that runs it
    for t in traces:
        try:
            p = plan_path(t)
        except Refused as e:
            out.append(Program(t, program_name(t), None, str(e)))
            continue
        run = repr((p.scenario.text, p.strict, p.user_steps, p.observation))
        if run in runs:
            out.append(Program(t, p.name, p, "", None, runs[run]))
            continue
        runs[run] = p.name
        src = emit(p)
        c = sources / f"{p.name}.c"
        c.write_text(src, encoding="utf-8")
        digest = hashlib.sha256((COMPILE + src).encode()).hexdigest()[:16]
        binary = binaries / f"{p.name}-{digest}"
        if not binary.is_file():
            todo.append((c, binary))
        out.append(Program(t, p.name, p, "", binary))
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(lambda job: compile_program(*job), todo))
    return out


def compile_program(src: Path, binary: Path) -> None:
    tmp = binary.with_name(binary.name + ".tmp")
    cmd = compile_command(str(src), str(tmp))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False)
    except FileNotFoundError:
        raise ConformError("gcc not found: install gcc, libc6-dev and liburing-dev") from None
    except subprocess.TimeoutExpired:
        raise ConformError(f"gcc took more than {COMPILE_TIMEOUT:.0f} s on {src}") from None
    if r.returncode != 0:
        first = next((ln for ln in r.stderr.splitlines() if "error" in ln), r.stderr.strip()[:200])
        raise ConformError(f"{src}: does not compile: {first}")
    tmp.replace(binary)  # whole or not at all: a cached binary is never half-written


def script(progs: Sequence[Program], with_selftests: bool) -> str:
    lines = []
    for p in progs:
        if p.binary is None:
            continue
        lines += [
            f'echo "COWCHECK-RUN begin {p.name}"',
            f"timeout -s KILL {PROGRAM_TIMEOUT} /repro/{p.name} 2>&1",
            f'echo "COWCHECK-RUN end {p.name} rc=$?"',
        ]
    text = "\n".join(lines) + "\n"
    if with_selftests:
        text += selftests.script("/selftests")
    return text


def parse(console: str) -> dict[str, Observed]:
    """Each reproducer's result from a console log."""
    found: dict[str, Observed] = {}
    notes: dict[str, list[str]] = {}
    for line in console.splitlines():
        line = line.rstrip("\r")
        m = NOTE.search(line)
        if m:
            notes.setdefault(m.group(1), []).append(m.group(2))
            continue
        m = RESULT.search(line)
        if m:
            name, verdict, token, refused, detail = m.groups()
            found[name] = Observed(verdict, detail, tuple(notes.get(name, ())), int(refused or 0), int(token))
            continue
        m = RUN.search(line)
        if m and m.group(1) not in found:
            found[m.group(1)] = Observed("none", f"no result line (exit status {m.group(2)})")
    return found


def needs_iommu(progs: Sequence[Program]) -> bool:
    return any(p.plan is not None and any(r.mechanism is VFIO for r in p.plan.schedule.refs) for p in progs)


def run_kernel(
    kernel: Kernel,
    progs: Sequence[Program],
    out: Path,
    cache: Path,
    selftest_bins: dict[str, Path] | None,
    timeout: float,
) -> tuple[KernelRun, dict[str, Observed]]:
    files = {f"repro/{p.name}": p.binary for p in progs if p.binary is not None}
    for name, b in (selftest_bins or {}).items():
        files[f"selftests/{name}"] = b
    image = initramfs.build(kernel, out / f"initramfs-{kernel.name}.cpio.gz", files, script(progs, bool(selftest_bins)))
    log = out / f"serial-{kernel.name}.log"
    disks = cache / "disks"
    disks.mkdir(parents=True, exist_ok=True)
    data = vm.data_disk(disks / "data.img")
    swap = vm.swap_disk(disks / f"swap-{kernel.name}.img")
    res = vm.boot(kernel, image, log, data_disk=data, swap_disk=swap, iommu=needs_iommu(progs), timeout=timeout)
    booted = BOOT.search(res.console)
    run = KernelRun(kernel, log, res.seconds, res.timed_out, release=booted.group(1) if booted else "")
    if selftest_bins:
        sections = selftests.split(res.console)
        for prog in selftest_bins:
            run.selftests += selftests.parse(sections.get(prog, ""), prog)
    return run, parse(res.console)


def conform(
    traces: Sequence[Path],
    kernels: Sequence[Kernel],
    out: Path,
    cache: Path,
    *,
    with_selftests: bool = True,
    timeout: float = 1800.0,
    on_kernel: Callable[[Kernel], None] | None = None,
) -> ConformReport:
    start = time.monotonic()
    if not traces:
        raise InputError("TRACE", None, "expected at least one saved counterexample or litmus scenario")
    for option, d in (("--cache", cache), ("--out", out)):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(option, str(d), f"cannot be created: {e.strerror or e}") from None
    progs = programs(traces, out / "repro", cache / "programs")
    bins = selftests.build(cache) if with_selftests else None
    report = ConformReport(progs, [], [])
    for k in kernels:
        if on_kernel is not None:
            on_kernel(k)
        try:
            run, observed = run_kernel(k, progs, out, cache, bins, timeout)
        except Interrupted as e:  # vm.boot has killed QEMU: report the kernels that ran
            report.interrupted = e.signame
            break
        report.runs.append(run)
        version = run.version()
        for p in progs:
            if p.plan is None:
                continue
            pred = (
                predict(p.plan, k.rule, version)
                if version is not None
                else Prediction("n/a", None, (), f"unknown kernel version {run.release or k.release!r}")
            )
            obs = observed.get(p.same_as or p.name, Observed("none", "the program never ran (the VM stopped first)"))
            report.cells.append(Cell(p.name, k.name, pred, obs))
    report.seconds = time.monotonic() - start
    return report
