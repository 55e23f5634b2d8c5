"""The C text of a reproducer: the runtime and device mechanisms (c/*.h), then the
plan's schedule as one ``case`` per user step, each commented with the trace steps
it runs, and the table that judges the final read.
"""

from __future__ import annotations

from importlib import resources

from cowcheck.mm.state import PTE_PRESENT, PTE_SWAP, MMState, Page
from cowcheck.mm.world import VpageInit
from cowcheck.reproduce.mechanisms import IO_URING, ODIRECT, VFIO, VMSPLICE
from cowcheck.reproduce.plan import Plan
from cowcheck.reproduce.schedule import Reference, UStep

VERDICT_C = {"holds": "V_HOLDS", "missed-cow": "V_MISSED", "wrong-cow": "V_WRONG"}
COMPILE = "gcc -std=gnu11 -O1 -Wall -static -o {out} {src} -luring -lpthread"


def compile_command(src: str, out: str) -> list[str]:
    """COMPILE as an argument list (paths may hold spaces)."""
    return [out if w == "{out}" else src if w == "{src}" else w for w in COMPILE.split()]


def _c_text(name: str) -> str:
    return resources.files("cowcheck.reproduce").joinpath("c", name).read_text(encoding="utf-8")


def _comment(text: str) -> str:
    return text.replace("*/", "* /")


def _cstr(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _gup(r: Reference, s: UStep) -> list[str]:
    m = r.mechanism
    if m is VMSPLICE:
        return [f"vmsplice_take({r.slot}, page_addr({s.vpage}));"]
    if m is ODIRECT:
        return [f"odirect_submit({r.slot}, (void *)cell_addr({s.vpage}, {r.cell}), CELL, {r.token});"]
    if m is IO_URING:
        return [f"uring_register(page_addr({s.vpage}), PAGE);"]
    return [f"edu_map_ro(page_addr({s.vpage}), PAGE);"]


def _device_read(r: Reference, v: int, c: int) -> str:
    m = r.mechanism
    if m is VMSPLICE:
        return f"vmsplice_device_read({r.slot}, {c} * CELL)"
    if m is IO_URING:
        return f"uring_device_read({c} * CELL, 8)"
    assert m is VFIO
    return f"edu_device_read({c} * CELL, 8)"


def _body(plan: Plan, k: int, s: UStep) -> list[str]:
    refs = plan.schedule.refs
    r = refs[s.ref] if s.ref >= 0 else None
    v, c = s.vpage, s.cell
    if s.op == "write":
        return [f"*cell_addr({v}, {c}) = repro_token({s.token});"]
    if s.op == "read":
        return [f"(void)*cell_addr({v}, {c});"]
    if s.op == "fork":
        return [f"do_fork({s.child});"]
    if s.op == "gup":
        assert r is not None
        return _gup(r, s)
    if s.op == "dma_read":
        assert r is not None
        return [f"(void){_device_read(r, v, c)};"]
    if s.op == "dma_write":
        assert r is not None
        if r.mechanism is ODIRECT:
            return [f"odirect_wait({r.slot}); /* the data (t{s.token}) lands at completion */"]
        return [f"uring_device_write({c} * CELL, CELL, {s.token});"]
    if s.op == "release":
        assert r is not None
        if r.mechanism is ODIRECT:
            return ["/* bio_release_pages() dropped the reference when the read completed */"]
        if r.mechanism is VMSPLICE:
            return [f"vmsplice_release({r.slot});"]
        if r.mechanism is IO_URING:
            return ["uring_unregister();"]
        return ["edu_unmap();"]
    if s.op == "munmap":
        return [f'if (munmap(page_addr({v}), PAGE)) repro_error("munmap: %s", strerror(errno));']
    if s.op == "mprotect":
        prot = "PROT_READ | PROT_WRITE" if s.prot == "rw" else "PROT_READ"
        return [f'if (mprotect(page_addr({v}), PAGE, {prot})) repro_error("mprotect: %s", strerror(errno));']
    if s.op in ("dontneed", "dontfork"):
        advice = "MADV_DONTNEED" if s.op == "dontneed" else "MADV_DONTFORK"
        return [f'if (madvise(page_addr({v}), PAGE, {advice})) repro_error("madvise: %s", strerror(errno));']
    if s.op == "clear_refs":
        return ['write_proc("/proc/self/clear_refs", "4");']
    if s.op == "swapout":
        return [
            f"if (!pageout(page_addr({v}))) {{",
            "\tsh->swapouts_refused++;",
            f'\trepro_note("MADV_PAGEOUT left vaddr+{v * 4096} mapped (step {k + 1})");',
            "}",
        ]
    if s.op == "observe":
        o = plan.observation
        if o.kind == "cpu":
            return [f"observe(*cell_addr({v}, {c}));"]
        assert r is not None
        return [f"observe({_device_read(r, v, c)});"]
    raise ValueError(f"no C for {s.op}")


def _inflight_checks(plan: Plan, k: int) -> list[str]:
    """Before step k: every O_DIRECT read the model has not yet completed must
    still be in flight, or the kernel ran another schedule than the model's."""
    out = []
    steps = plan.schedule.steps
    for r in plan.schedule.refs:
        if r.mechanism is not ODIRECT:
            continue
        start = next(i for i, s in enumerate(steps) if s.op == "gup" and s.ref == r.number)
        end = next((i for i, s in enumerate(steps) if s.op == "dma_write" and s.ref == r.number), len(steps))
        if start < k <= end and steps[k].proc == r.owner:
            out.append(
                f'if (odirect_completed({r.slot})) repro_skip("the O_DIRECT read of program step {start + 1} '
                f'completed before program step {k + 1}: the disk did not hold it in flight");'
            )
    return out


def _setup(plan: Plan, init: MMState) -> list[str]:
    """Process 0's pages as the scenario starts them (mm/model.py init_states)."""
    out: list[str] = []
    p0 = init.procs[0]
    pages = dict(init.pages)
    slots = dict(init.slots)
    for v, vi in enumerate(plan.scenario.vpages):
        if vi.backing != "anon":
            out += _setup_file(v, vi, pages)
            continue
        pte = p0.ptes[v]
        content: tuple[int, ...] = ()
        if pte.kind == PTE_PRESENT and pte.target in pages:
            content = pages[pte.target].content
        elif pte.kind == PTE_SWAP:
            content = slots[pte.target].content
        out.append(f"/* vaddr+{v * 4096}: {vi.state}{'' if vi.writable else ', read-only'} */")
        for c, t in enumerate(content):
            out.append(f"*cell_addr({v}, {c}) = repro_token({t});")
        if vi.state == "swapped":
            out.append(f'if (!pageout(page_addr({v}))) repro_skip("MADV_PAGEOUT cannot swap out vaddr+{v * 4096}");')
        if not vi.writable:
            out.append(f'if (mprotect(page_addr({v}), PAGE, PROT_READ)) repro_error("mprotect: %s", strerror(errno));')
        if vi.state == "zero":
            out.append(f"(void)*cell_addr({v}, 0); /* a read fault maps the shared zero page */")
        if vi.dontfork:
            out.append(
                f'if (madvise(page_addr({v}), PAGE, MADV_DONTFORK)) repro_error("madvise: %s", strerror(errno));'
            )
    return out


def _setup_file(v: int, vi: VpageInit, pages: dict[int, Page]) -> list[str]:
    """A file-backed vpage (plan._generated says which): the file's data, its mapping,
    and the read that maps its page-cache page for ``present``."""
    (data,) = [p.content for p in pages.values() if p.file == v]
    tokens = ", ".join(f"repro_token({t})" for t in data)
    shmem = vi.backing in ("shmem", "shared-shmem")
    shared = vi.backing.startswith("shared-")
    what = f"{'MAP_SHARED' if shared else 'MAP_PRIVATE'} of {'a memfd' if shmem else 'a regular file'}"
    out = [
        f"/* vaddr+{v * 4096}: {what}, {vi.state}{'' if vi.writable else ', read-only'} */",
        "{",
        f"\tconst uint64_t file_{v}[] = {{{tokens}}};",
        f"\tmap_file({v}, {int(shmem)}, {int(shared)}, {int(vi.writable)}, file_{v}, {len(data)});",
        "}",
    ]
    if vi.state == "present":
        out.append(f"(void)*cell_addr({v}, 0); /* do_read_fault(): the page-cache page, R/O */")
    return out


def _process_init(plan: Plan) -> list[str]:
    out = ["static void process_init(int p)", "{"]
    for p in range(plan.schedule.nprocs):
        mine = sorted({r.mechanism.name for r in plan.schedule.refs if r.owner == p})
        calls = [f"\t\t{_INIT[m]}();" for m in mine if m in _INIT]
        if calls:
            out += [f"\tif (p == {p}) {{", *calls, "\t}"]
    out += ["\t(void)p;", "}"]
    return out


_INIT = {"odirect": "odirect_init", "io_uring": "uring_init", "vfio": "edu_init"}


def _notes(plan: Plan) -> list[str]:
    """What the kernel decides that user space cannot (the GUP flags, GUP-fast or
    the slow path), beside what the trace has: printed by the program."""
    out = []
    for r in plan.schedule.refs:
        m = r.mechanism
        traced = f"the trace has {r.flags.describe()} by {'GUP-fast' if r.fast else 'slow GUP'}"
        head = f"reference {r.number} ({r.name or m.name}, {m.name}): {traced}; this kernel"
        if m is ODIRECT:
            out.append(
                f'repro_note("{head} takes %s by GUP-fast, falling back to slow GUP where the PTE does not allow '
                'the access", kernel_version() >= 6005 ? "FOLL_PIN|FOLL_WRITE" : "FOLL_GET|FOLL_WRITE");'
            )
        elif m is VMSPLICE:
            out.append(f'repro_note("{head} takes FOLL_GET by GUP-fast (get_user_pages_fast())");')
        elif m is IO_URING:
            out.append(
                f'repro_note("{head} takes FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM by %s", kernel_version() >= 6012 ? '
                '"GUP-fast (pin_user_pages_fast(), as 6.12 does)" : "slow GUP (pin_user_pages(), as 5.10 and 6.1 do)");'
            )
        else:
            out.append(f'repro_note("{head} takes FOLL_PIN|FOLL_LONGTERM by slow GUP (pin_user_pages_remote())");')
    return out


def emit(plan: Plan) -> str:
    sched = plan.schedule
    steps = sched.steps
    lines: list[str] = []
    head = [
        f"cowcheck reproducer for {plan.name}",
        f"trace: {plan.path}",
        f"scenario: {plan.scenario.name}; rule: {plan.rule.name}{' --strict' if plan.strict else ''}",
        f"model: {plan.violation}: {plan.message}",
        f"found by: {plan.command}",
        f"check: {plan.observation.describe()}; under {plan.rule.name} the model reads t{plan.expected} there",
        "",
        f"build: {COMPILE.format(out=plan.name, src=plan.name + '.c')}",
        "run as root (clear_refs, MADV_PAGEOUT, vfio); prints one COWCHECK-RESULT line;",
        "exit 0 holds, 1 missed-cow or wrong-cow, 77 skipped, 2 error.",
    ]
    if plan.moved:
        head += [
            "",
            "Reordered: trace step(s) "
            + ", ".join(str(k) for k in plan.moved)
            + " ran inside another actor's kernel operation; here each operation runs whole",
            "first, which the model says ends the same way.",
        ]
    refs_text = [
        f"reference {r.number}: {r.flags.describe()} ({r.name or 'unnamed'}) of P{r.owner}: {r.mechanism.action}; "
        f"the kernel takes it in {r.mechanism.kernel_path}"
        for r in sched.refs
    ]
    if refs_text:
        head += ["", *refs_text]
    lines.append("/*")
    lines += [_comment(f" * {h}".rstrip()) for h in head]
    lines.append(" */")
    lines += [
        f"#define REPRO_NAME {_cstr(plan.name)}",
        f"#define REPRO_NSTEPS {len(steps)}",
        f"#define REPRO_NPROCS {sched.nprocs}",
        f"#define REPRO_NVPAGES {len(plan.scenario.vpages)}",
        f"#define REPRO_CELLS {plan.scenario.cells}",
        "",
        "/* Not every program uses every mechanism. */",
        '#pragma GCC diagnostic ignored "-Wunused-function"',
        _c_text("runtime.h"),
        _c_text("devices.h"),
        "",
    ]
    lines += _process_init(plan)
    lines += ["", "static void run_step(int k)", "{", "\tswitch (k) {"]
    for k, s in enumerate(steps):
        who = f"P{s.proc} {s.executor}"
        what = "; ".join(s.labels)
        at = f"trace step {', '.join(map(str, s.covers))}: " if s.covers else ""
        lines.append(f"\tcase {k}: /* {_comment(f'{who}: {at}{what}')} */")
        lines += [f"\t\t{x}" for x in _inflight_checks(plan, k) + _body(plan, k, s)]
        lines.append("\t\tbreak;")
    lines += ["\t}", "}", ""]
    for i, (p, name) in enumerate(sched.executors):
        mine = [str(k) for k, s in enumerate(steps) if (s.proc, s.executor) == (p, name)]
        lines.append(f"static const int executor{i}_steps[] = {{{', '.join(mine)}}};")
    lines.append("const struct executor executors[] = {")
    for i, (p, name) in enumerate(sched.executors):
        n = sum(1 for s in steps if (s.proc, s.executor) == (p, name))
        lines.append(f"\t{{{p}, {_cstr(name)}, {n}, executor{i}_steps}},")
    lines += ["};", f"const int nexecutors = {len(sched.executors)};", ""]
    lines.append("/* The final read's value -> verdict, by the model's ghost state at the end of the trace. */")
    lines.append("static const struct verdict_entry verdicts[] = {")
    for t, v in plan.table.items():
        lines.append(f"\t{{{t}, {VERDICT_C[v]}}},")
    lines += ["};", ""]
    lines += ["static void setup(void)", "{", *[f"\t{x}" for x in _setup(plan, plan.init)], "}", ""]
    lines += [
        "int main(void)",
        "{",
        "\trepro_main_init();",
        "\tsetup();",
        *[f"\tvmsplice_setup({r.slot});" for r in sched.refs if r.mechanism is VMSPLICE],
        *[f"\t{x}" for x in _notes(plan)],
        "\tprocess_init(0);",
        "\tdrain_lru();",
        "\tstart_executors(0);",
        "\twait_turn(REPRO_NSTEPS);",
        "\tfor (int p = 1; p < REPRO_NPROCS; p++)",
        "\t\tif (sh->pids[p] > 0)",
        "\t\t\twaitpid(sh->pids[p], NULL, 0);",
        "\tint token;",
        "\tsh->verdict = judge(verdicts, sizeof(verdicts) / sizeof(verdicts[0]), sh->observed, &token);",
        "\tsh->token = token;",
        "\tif (token >= 0)",
        f'\t\tsnprintf(sh->detail, sizeof(sh->detail), "{_comment(plan.observation.describe())}: t%d '
        f'(the model under {plan.rule.name}: t{plan.expected})", token);',
        "\telse",
        '\t\tsnprintf(sh->detail, sizeof(sh->detail), "read 0x%016" PRIx64 ", which no step wrote", sh->observed);',
        "\tfinish();",
        "}",
    ]
    return "\n".join(lines) + "\n"
