"""cowcheck conform's reading of a console log and its verdict, without QEMU: the
result lines a program prints, how a read is judged by the prediction's contract,
and when the run exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from cowcheck.conform.kernels import Kernel
from cowcheck.conform.run import Cell, ConformReport, KernelRun, Observed, Program, parse
from cowcheck.conform.show import render
from cowcheck.reproduce import plan
from cowcheck.reproduce.predict import Prediction, predict

CONSOLE = (
    "COWCHECK-BOOT ok 6.1.0-57-amd64\r\n"
    "COWCHECK-RUN begin a\r\n"
    "COWCHECK-NOTE a P0: reference 0 (odirect): this kernel takes FOLL_GET|FOLL_WRITE\r\n"
    'COWCHECK-RESULT a observed=wrong-cow token=1 swapouts-refused=1 detail="P0 reads vaddr+0: t1"\r\n'
    "COWCHECK-RUN end a rc=1\r\n"
    "COWCHECK-RUN begin b\r\n"
    "COWCHECK-RUN end b rc=139\r\n"
    "COWCHECK-RUN begin c\r\n"
    'COWCHECK-RESULT c observed=skipped token=-1 detail="no edu device"\r\n'
    "COWCHECK-RUN end c rc=77\r\n"
)


def test_parse_reads_results_notes_and_programs_that_printed_nothing() -> None:
    got = parse(CONSOLE)
    assert got["a"] == Observed(
        "wrong-cow",
        "P0 reads vaddr+0: t1",
        ("P0: reference 0 (odirect): this kernel takes FOLL_GET|FOLL_WRITE",),
        1,
        1,
    )
    assert got["b"].verdict == "none" and "exit status 139" in got["b"].detail
    assert got["c"].verdict == "skipped" and got["c"].token == -1


def _cell(pred: Prediction, obs: Observed) -> Cell:
    return Cell("t", "6.1", pred, obs)


def test_a_read_is_judged_by_the_contract_of_the_flags_the_kernel_took() -> None:
    p = plan(ROOT / "counterexamples" / "fork-odirect-pin--mapcount.json")
    pred = predict(p, "page-count", (5, 10))  # FOLL_GET on 5.10: the child may see it
    leak = Observed("missed-cow", "", token=p.expected)  # the program's own table: a pin's
    assert _cell(pred, leak).verdict == "holds" and _cell(pred, leak).agrees is True
    assert _cell(pred, Observed("holds", "", token=999)).verdict == "error"
    assert _cell(pred, Observed("holds", "", token=-1)).verdict == "error"


def test_agreement_needs_the_same_verdict_and_the_same_reclaim() -> None:
    pred = Prediction("holds", 1, (), table={1: "holds", 3: "missed-cow"}, swapouts_refused=1)
    assert _cell(pred, Observed("holds", "", token=1, swapouts_refused=1)).agrees is True
    assert _cell(pred, Observed("holds", "", token=1)).agrees is False  # the kernel swapped, the model did not
    assert _cell(pred, Observed("missed-cow", "", token=3, swapouts_refused=1)).agrees is False
    assert _cell(pred, Observed("skipped", "no edu")).agrees is None
    assert _cell(pred, Observed("none", "exit 139")).agrees is None
    assert _cell(Prediction("n/a", None, (), "not enabled"), Observed("holds", "", token=1)).agrees is None


def _report(cells: list[Cell]) -> ConformReport:
    k = Kernel("6.1", "anon-exclusive-6.1", "6.1.0-57-amd64", Path("vmlinux"), None)
    progs = [Program(Path("t.json"), "t", None, "step 2 ([a] fork()): runs inside another actor's kernel operation")]
    return ConformReport(progs, [KernelRun(k, Path("serial-6.1.log"), 40.0, False)], cells, 41.0)


def test_exit_1_on_a_disagreement_an_error_or_nothing_compared() -> None:
    pred = Prediction("holds", 1, (), table={1: "holds", 3: "missed-cow"})
    ok = _cell(pred, Observed("holds", "", token=1))
    assert _report([ok]).exit_code == 0
    assert _report([ok, _cell(pred, Observed("missed-cow", "", token=3))]).exit_code == 1
    err = _cell(pred, Observed("none", "exit 139"))
    assert _report([ok, err]).exit_code == 1 and _report([ok, err]).disagreements == []
    assert _report([_cell(pred, Observed("skipped", "no edu"))]).exit_code == 1
    text = render(_report([ok, _cell(pred, Observed("missed-cow", "", token=3))]))
    assert "DISAGREE" in text and "1 of 2 agree, 1 disagree" in text
    assert "not reproducible from user space (1):" in text and "t: step 2 ([a] fork())" in text


def test_bad_options_are_one_line_before_anything_is_fetched(tmp_path: Path) -> None:
    from conftest import run_cli

    trace = str(ROOT / "counterexamples" / "vmsplice-child--mapcount.json")
    cases = [
        (["--timeout", "-5"], "--timeout: expected a positive number of seconds"),
        (["--debian", "7.0"], "--debian: expected a list of 5.10, 6.1, 6.12 (got '7.0')"),
        (["--debian", ","], "--debian: expected at least one of"),
        (["--out", "/etc/passwd/x"], "--out: /etc/passwd/x:"),
        (["--cache", "/etc/passwd"], "--cache: /etc/passwd: is not a directory"),
    ]
    for extra, message in cases:
        cache = [] if "--cache" in extra else ["--cache", str(tmp_path / "c")]
        code, stdout, err = run_cli("conform", trace, *extra, *cache, "--no-selftests")
        assert code == 2 and message in err and err.count("\n") == 1 and stdout == "", (extra, err)
    assert not (tmp_path / "c" / "apt").exists()  # nothing was fetched
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli("conform", str(empty), "--cache", str(tmp_path / "c"))
    assert code == 2 and "TRACE: expected at least one saved counterexample" in err


def test_a_schedule_two_rules_found_runs_once(tmp_path: Path) -> None:
    """mapcount-4.8 finds fork-io-uring's interleaving exactly as mapcount does: the
    kernel runs the program once, and both traces read its result."""
    import shutil

    from cowcheck.conform import run

    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    traces = [ROOT / "counterexamples" / f"fork-io-uring--{r}.json" for r in ("mapcount", "mapcount-4.8")]
    traces.append(ROOT / "counterexamples" / "dirty-cow--mapcount-4.8.json")
    first, second, dirty = run.programs(traces, tmp_path / "src", tmp_path / "bin")
    assert (first.same_as, second.same_as) == ("", "fork-io-uring--mapcount")
    assert first.binary is not None and second.binary is None and second.plan is not None
    assert dirty.plan is None and "inside __get_user_pages()'s retry loop" in dirty.refused
    assert "fork-io-uring--mapcount-4.8" not in run.script([first, second, dirty], False)
    k = Kernel("6.1", "anon-exclusive-6.1", "6.1.0-57-amd64", Path("vmlinux"), None)
    obs = Observed("holds", "the device reads t2")
    cells = [Cell(p.name, k.name, predict(p.plan, "anon-exclusive-6.1", (6, 1)), obs) for p in (first, second)]
    kr = KernelRun(k, Path("serial.log"), 1.0, False)
    text = render(ConformReport([first, second, dirty], [kr], cells))
    assert "fork-io-uring--mapcount-4.8 = fork-io-uring--mapcount" in text
