"""cowcheck conform on the three Debian kernels under QEMU: every reproducible saved
counterexample, predicted against observed, and the kernel's own selftests.

Needs qemu-system-x86_64 (and the network to the Debian archive on a cold cache):
skipped where QEMU is missing, unless COWCHECK_REQUIRE_QEMU=1, which CI sets.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli

REQUIRE = os.environ.get("COWCHECK_REQUIRE_QEMU") == "1"
pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None and not REQUIRE,
    reason="QEMU not installed (apt install qemu-system-x86)",
)
KERNELS = ("5.10", "6.1", "6.12")
# What the hand-written reproducers of these scenarios showed on each kernel (5.10
# page-count, 6.1 anon-exclusive-6.1, 6.12 anon-exclusive): the generated programs
# must show the same. fork-odirect is run with --strict, and on 6.12 the O_DIRECT
# read is a FOLL_PIN (the fork-odirect-pin case); odirect-clear-refs on 6.12 too.
MEASURED = {
    "vmsplice-child": ("holds", "holds", "holds"),
    "vmsplice-child-swap": ("missed-cow", "holds", "holds"),
    "fork-io-uring": ("holds", "holds", "holds"),
    "fork-io-uring-dontfork": ("holds", "holds", "holds"),
    "odirect-clear-refs": ("wrong-cow", "holds", "holds"),
    "fork-odirect": ("missed-cow", "missed-cow", "holds"),
    "ro-longterm-zeropage": ("wrong-cow", "wrong-cow", "holds"),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("conform")
    cache = Path(os.environ.get("COWCHECK_CONFORM_CACHE", Path.home() / ".cache" / "cowcheck" / "conform"))
    code, stdout, err = run_cli("conform", "--out", str(out), "--cache", str(cache))
    doc: dict[str, Any] = json.loads((out / "report.json").read_text())
    doc["exit"], doc["stdout"], doc["stderr"] = code, stdout, err
    return doc


def test_every_reproducible_counterexample_runs_as_predicted_on_every_kernel(report: dict[str, Any]) -> None:
    assert report["exit"] == 0, report["stdout"][-4000:] + report["stderr"][-2000:]
    # Every saved counterexample, and the run of each litmus scenario that has none.
    traces = sorted(p.stem for p in (ROOT / "counterexamples").glob("*.json"))
    runs = [
        "file-private-cow--run",
        "fork-io-uring-dontfork--run",
        "fork-swap-shared--run",
        "longterm-private-file--run",
        "longterm-shared-shmem--run",
    ]
    cells = report["cells"]
    ran = sorted({c["trace"] for c in cells})
    assert sorted([*ran, *report["refused"]]) == sorted([*traces, *runs])
    # tests/test_reproduce.py says which traces and why; three runs have no device read.
    assert len(report["refused"]) == 36 and "fork-swap-shared--run" in report["refused"]
    # The traces another rule found too run once; every trace still gets its cells.
    assert report["same_as"] and all(report["same_as"][t] in ran for t in report["same_as"])
    assert len(cells) == len(ran) * len(KERNELS)
    bad = [c for c in cells if c["agrees"] is not True]
    assert not bad, bad
    assert "DISAGREE" not in report["stdout"]


def test_the_hand_written_reproducers_results_are_reproduced(report: dict[str, Any]) -> None:
    by = {(c["trace"], c["kernel"]): c["observed"] for c in report["cells"]}
    shown = 0
    for scenario, verdicts in MEASURED.items():
        traces = {t for t, _ in by if t.split("--")[0] == scenario}
        if scenario == "fork-odirect":
            traces = {t for t in traces if t.endswith("--strict")}
        assert traces, scenario
        for t in traces:
            for k, v in zip(KERNELS, verdicts, strict=True):
                assert by[t, k] == v, (t, k)
                shown += 1
    assert shown >= 3 * len(MEASURED)


def test_r_o_long_term_pins_of_page_cache_pages_unshare_from_6_2(report: dict[str, Any]) -> None:
    """84209e87c696 on real kernels, through vfio on stock Debian builds (no gup_test):
    a R/O long-term pin of a memfd or tmpfile page in a private mapping misses the
    process's later write on 5.10 and 6.1, and sees it on 6.12, as cow.c's "R/O
    longterm GUP pin ... with memfd/tmpfile" did on a 6.1 kernel built with GUP_TEST."""
    by = {(c["trace"], c["kernel"]): c["observed"] for c in report["cells"]}
    for scenario in ("ro-longterm-memfd", "ro-longterm-memfd-fast", "ro-longterm-tmpfile", "ro-longterm-tmpfile-fast"):
        traces = {t for t, _ in by if t.split("--")[0] == scenario}
        assert traces, scenario
        for t in traces:
            assert [by[t, k] for k in KERNELS] == ["wrong-cow", "wrong-cow", "holds"], t


def test_the_kernels_selftests_ran_and_the_logs_are_kept(report: dict[str, Any]) -> None:
    for k in report["kernels"]:
        assert Path(k["log"]).is_file()
        assert not k["timed_out"]
        results = {s["result"] for s in k["selftests"] if s["program"] == "cow"}
        assert "pass" in results, k["name"]


def test_a_kernel_of_your_own_is_checked_against_the_rule_you_claim(tmp_path: Path) -> None:
    """--kernel PATH --rule RULE: Debian's 6.12 image as if you had built it, once
    claimed as anon-exclusive (it is) and once as page-count (it is not: 5.10's
    O_DIRECT race under clear_refs no longer fails on it)."""
    from cowcheck.conform import kernels

    cache = Path(os.environ.get("COWCHECK_CONFORM_CACHE", Path.home() / ".cache" / "cowcheck" / "conform"))
    (k,) = kernels.fetch(cache, ["6.12"])
    assert k.modules is not None
    traces = [
        str(ROOT / "counterexamples" / f"{t}.json")
        for t in ("odirect-clear-refs--page-count", "vmsplice-child--mapcount")
    ]
    common = ["--kernel", str(k.vmlinux), "--modules", str(k.modules), "--no-selftests", "--cache", str(cache)]
    code, stdout, err = run_cli("conform", *traces, *common, "--rule", "anon-exclusive", "--out", str(tmp_path / "a"))
    assert code == 0, stdout + err
    assert "custom (anon-exclusive)" in stdout and "2 of 2 agree" in stdout
    code, stdout, err = run_cli("conform", *traces, *common, "--rule", "page-count", "--out", str(tmp_path / "b"))
    assert code == 1, stdout + err
    assert "odirect-clear-refs--page-count on custom: predicted wrong-cow, observed holds" in stdout


def test_bad_input_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    code, _, err = run_cli("conform", "--kernel", str(tmp_path / "bzImage"))
    assert code == 2 and err.count("\n") == 1 and "--kernel and --rule go together" in err
    code, _, err = run_cli("conform", str(tmp_path / "nope.json"))
    assert code == 2 and "no such trace file, directory or bundled scenario" in err and "Traceback" not in err
    img = tmp_path / "bzImage"
    img.write_bytes(b"not a kernel")
    code, _, err = run_cli("conform", "--kernel", str(img), "--rule", "anon-exclusive", "--out", str(tmp_path))
    assert code == 2 and "neither a bzImage nor an ELF vmlinux" in err and "Traceback" not in err


def test_ctrl_c_reports_what_ran_and_leaves_no_qemu_behind(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    cache = Path(os.environ.get("COWCHECK_CONFORM_CACHE", Path.home() / ".cache" / "cowcheck" / "conform"))
    trace = str(ROOT / "counterexamples" / "vmsplice-child--mapcount.json")
    argv = [sys.executable, "-m", "cowcheck", "conform", trace, "--debian", "6.12,6.1", "--no-selftests"]
    p = subprocess.Popen(
        [*argv, "--cache", str(cache), "--out", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert p.stderr is not None
    seen = ""
    while "booting 6.1 " not in seen:  # the first kernel ran, the second is booting
        line = p.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 3, out + err
    assert "interrupted by SIGINT" in out and "vmsplice-child--mapcount" in out and "Traceback" not in err
    assert "6.12 (anon-exclusive)" in out and "6.1 (anon-exclusive-6.1)" not in out
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False)
    assert left.stdout == "", left.stdout
