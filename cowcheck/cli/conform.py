"""``cowcheck conform``: saved counterexamples and the kernel's selftests on real
kernels in QEMU, each result beside the model's prediction."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cowcheck.cli.args import Command, seconds
from cowcheck.cli.console import err, out, output_dir


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "traces",
        metavar="TRACE",
        type=Path,
        nargs="*",
        help="Saved counterexamples, directories of them, or litmus scenarios (their run); default: the bundled "
        "counterexamples and the runs of the litmus scenarios that have none.",
    )
    p.add_argument(
        "--kernel",
        type=Path,
        metavar="PATH",
        help="A kernel of your own (bzImage or vmlinux) instead of the Debian 5.10, 6.1 and 6.12; needs --rule.",
    )
    p.add_argument("--rule", metavar="RULE", help="The rule the --kernel claims to implement (a name or a file).")
    p.add_argument(
        "--modules",
        type=Path,
        metavar="DIR",
        help="With --kernel: its lib/modules/RELEASE directory (virtio and vfio modules, where not built in).",
    )
    p.add_argument(
        "--debian",
        metavar="LIST",
        default="5.10,6.1,6.12",
        help="Which Debian kernels to run, comma-separated (default: 5.10,6.1,6.12).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("conform-out"),
        metavar="DIR",
        help="Serial logs, programs, report.json (default: conform-out).",
    )
    p.add_argument(
        "--cache", type=Path, metavar="DIR", help="Downloads and builds (default: ~/.cache/cowcheck/conform)."
    )
    p.add_argument("--no-selftests", action="store_true", help="Do not build and run cow.c and gup_longterm.c.")
    p.add_argument("--timeout", type=seconds, default=1800.0, metavar="S", help="Per VM (default: 1800 s).")


def _traces(paths: list[Path]) -> list[Path]:
    """Trace files, directories of them, and litmus scenarios (files or bundled
    names). By default: the bundled counterexamples, and the run of each bundled
    litmus scenario that has none (it holds under every rule: a kernel should too)."""
    from cowcheck.errors import InputError
    from cowcheck.input.bundled import counterexamples_dir, find_scenario, scenarios_dir
    from cowcheck.input.scenario import load_scenario

    if not paths:
        saved = sorted(counterexamples_dir().glob("*.json"))
        names = {t.name.split("--")[0] for t in saved}
        litmus = [
            sc for sc in sorted(scenarios_dir().glob("*.toml")) if sc.stem not in names and load_scenario(sc).litmus
        ]
        return [*saved, *litmus]
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(p.glob("*.json"))
        elif p.is_file():
            found.append(p)
        elif p.suffix == "" and find_scenario(str(p)).is_file():
            found.append(find_scenario(str(p)))
        else:
            raise InputError(str(p), None, "no such trace file, directory or bundled scenario")
    if not found:
        raise InputError("TRACE", None, "expected at least one saved counterexample or litmus scenario")
    return found


def run(a: argparse.Namespace) -> int:
    from cowcheck.conform import debian, kernels
    from cowcheck.conform.run import conform
    from cowcheck.conform.show import render, to_json
    from cowcheck.errors import InputError
    from cowcheck.input.rule_files import load_rule

    if (a.kernel is None) != (a.rule is None):
        raise InputError("--kernel", None, "--kernel and --rule go together (the kernel and the rule it claims)")
    if a.timeout <= 0:
        raise InputError("--timeout", None, f"expected a positive number of seconds, got {a.timeout:g}")
    traces = _traces(a.traces)
    from cowcheck.reproduce.plan import anon_only

    for t in traces:
        anon_only(t)  # another family's trace is bad input before any download
    cache = a.cache or debian.default_cache()
    output_dir("--cache", cache, create=True)
    output_dir("--out", a.out, create=True)  # made by conform(), once there is something to write
    try:
        if a.kernel is not None:
            load_rule(a.rule, None)  # bad input before any download
            ks = [kernels.custom(a.kernel, a.rule, a.modules, cache)]
        else:
            names = [n.strip() for n in a.debian.split(",") if n.strip()]
            ks = kernels.fetch(cache, names)
        rep = conform(
            traces,
            ks,
            a.out,
            cache,
            with_selftests=not a.no_selftests,
            timeout=a.timeout,
            on_kernel=lambda k: err.print(f"booting {k.name} ({k.release}) under QEMU ..."),
        )
    except debian.ConformError as e:
        err.print(f"cowcheck conform: {e}")
        return 2
    out.print(render(rep))
    (a.out / "report.json").write_text(json.dumps(to_json(rep), indent=2) + "\n", encoding="utf-8")
    return rep.exit_code


CONFORM = Command(
    arguments,
    run,
    "Fetches the Debian kernels 5.10, 6.1 and 6.12 (or takes --kernel PATH --rule RULE), writes and compiles a "
    "reproducer per saved counterexample (cowcheck reproduce), boots each kernel under QEMU (TCG, a throttled "
    "data disk for O_DIRECT, a swap disk, the emulated IOMMU with QEMU's edu device for R/O long-term pins) and "
    "runs every reproducer and the kernel's own cow.c and gup_longterm.c. Prints a table of trace x kernel, "
    "predicted / observed, where predicted is the model's verdict for the schedule that kernel runs (with the "
    "GUP flags its syscalls take) under the rule of its era. Exit 1 on any disagreement or program error. "
    "One run shows one schedule: a disagreement refutes, an agreement on 'holds' is weak evidence.",
)
