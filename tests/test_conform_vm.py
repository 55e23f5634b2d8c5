"""cowcheck conform's machinery: the cpio writer, module ordering, vmlinux extraction,
the disk images and the qemu command line without QEMU; then one Debian kernel really
booted (skipped without qemu-system-x86_64 unless COWCHECK_REQUIRE_QEMU=1)."""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from cowcheck.conform import initramfs, kernels, vm
from cowcheck.conform.debian import ConformError, default_cache
from cowcheck.conform.initramfs import Entry, ModuleTree, newc
from cowcheck.conform.kernels import Kernel, extract_vmlinux, has_pvh_note, image_release

REQUIRE_QEMU = os.environ.get("COWCHECK_REQUIRE_QEMU") == "1"
HAVE_QEMU = shutil.which(vm.QEMU) is not None
needs_qemu = pytest.mark.skipif(
    not HAVE_QEMU and not REQUIRE_QEMU, reason="qemu-system-x86_64 not installed (apt install qemu-system-x86)"
)
needs_busybox = pytest.mark.skipif(
    not any(p.is_file() for p in initramfs.BUSYBOX_CANDIDATES) and not REQUIRE_QEMU,
    reason="busybox not installed (apt install busybox-static)",
)


def parse_newc(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int], int]]:
    """(path, mode, data, rdev, mtime) of each member, in archive order, trailer excluded."""
    out = []
    at = 0
    while True:
        assert data[at : at + 6] == b"070701", at
        f = [int(data[at + 6 + 8 * i : at + 14 + 8 * i], 16) for i in range(13)]
        mode, mtime, size, namesize = f[1], f[5], f[6], f[11]
        name = data[at + 110 : at + 110 + namesize]
        assert name.endswith(b"\0")
        at = (at + 110 + namesize + 3) & ~3
        body = data[at : at + size]
        at = (at + size + 3) & ~3
        if name == b"TRAILER!!!\0":
            assert at == len(data)
            return out
        out.append((name[:-1].decode(), mode, body, (f[9], f[10]), mtime))


def test_newc_round_trips() -> None:
    entries = [
        Entry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
        Entry("bin", stat.S_IFDIR | 0o755),
        Entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
        Entry("dev", stat.S_IFDIR | 0o755),
        Entry("init", stat.S_IFREG | 0o755, b"#!/bin/sh\necho hi\n"),
        Entry("odd", stat.S_IFREG | 0o644, b"12345"),  # a size that needs padding
    ]
    data = newc(entries)
    got = parse_newc(data)
    assert [g[0] for g in got] == sorted(e.path for e in entries)  # sorted: a directory before its contents
    want = {e.path: (e.mode, e.data, e.rdev) for e in entries}
    for path, mode, body, rdev, mtime in got:
        assert (mode, body, rdev) == want[path]
        assert mtime == 0
    assert newc(reversed(entries)) == data  # the order given does not matter


def _write(root: Path, rel: str, data: bytes = b"") -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def _assert_deps_first(order: list[str], deps: dict[str, list[str]]) -> None:
    for name in order:
        for d in deps.get(name, []):
            if d in order:
                assert order.index(d) < order.index(name), (d, name, order)


def test_load_order_from_modules_dep(tmp_path: Path) -> None:
    dep = {
        "kernel/drivers/vfio/pci/vfio-pci.ko": [
            "kernel/drivers/vfio/pci/vfio-pci-core.ko",
            "kernel/drivers/vfio/vfio.ko",
            "kernel/virt/lib/irqbypass.ko",
        ],
        "kernel/drivers/vfio/pci/vfio-pci-core.ko": ["kernel/drivers/vfio/vfio.ko", "kernel/virt/lib/irqbypass.ko"],
        "kernel/drivers/vfio/vfio.ko": [],
        "kernel/virt/lib/irqbypass.ko": [],
        "kernel/drivers/vfio/vfio_iommu_type1.ko": ["kernel/drivers/vfio/vfio.ko"],
        "kernel/drivers/block/virtio_blk.ko": [
            "kernel/drivers/virtio/virtio_ring.ko",
            "kernel/drivers/virtio/virtio.ko",
        ],
    }
    _write(tmp_path, "modules.dep", "".join(f"{k}: {' '.join(v)}\n" for k, v in dep.items()).encode())
    builtin = ["virtio.ko", "virtio_ring.ko", "virtio_pci.ko"]
    _write(tmp_path, "modules.builtin", "".join(f"kernel/drivers/virtio/{b}\n" for b in builtin).encode())
    order, missing = ModuleTree(tmp_path).load_order([*initramfs.MODULES, "no_such_module"])
    assert order == ["virtio_blk", "vfio", "vfio_iommu_type1", "irqbypass", "vfio_pci_core", "vfio_pci"]
    assert missing == ["no_such_module"]
    names = {initramfs.module_name(k): [initramfs.module_name(d) for d in v] for k, v in dep.items()}
    _assert_deps_first(order, names)


def _ko(depends: str) -> bytes:
    """A minimal ELF64 relocatable with a .modinfo section, as a module file has."""
    modinfo = b"license=GPL\0" + f"depends={depends}\0".encode() + b"vermagic=6.12.0 SMP\0"
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    body = modinfo + shstrtab
    shoff = 64 + len(body) + (-len(body) % 8)
    header = (
        b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2)
    )
    sections = bytes(64)
    sections += struct.pack("<IIQQQQIIQQ", 1, 1, 0, 0, 64, len(modinfo), 0, 0, 1, 0)
    sections += struct.pack("<IIQQQQIIQQ", 10, 3, 0, 0, 64 + len(modinfo), len(shstrtab), 0, 0, 1, 0)
    return header + body + bytes(-len(body) % 8) + sections


def test_load_order_from_modinfo(tmp_path: Path) -> None:
    # Debian's packages ship no modules.dep: the modules' own depends= are read, through xz.
    _write(tmp_path, "kernel/drivers/vfio/vfio.ko.xz", lzma.compress(_ko("")))
    _write(tmp_path, "kernel/drivers/vfio/vfio_iommu_type1.ko.xz", lzma.compress(_ko("vfio")))
    _write(tmp_path, "kernel/drivers/vfio/pci/vfio-pci-core.ko.xz", lzma.compress(_ko("vfio,irqbypass")))
    _write(tmp_path, "kernel/drivers/vfio/pci/vfio-pci.ko.xz", lzma.compress(_ko("vfio-pci-core,vfio")))
    _write(tmp_path, "kernel/virt/lib/irqbypass.ko", _ko(""))
    _write(tmp_path, "modules.builtin", b"kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/block/virtio_blk.ko\n")
    tree = ModuleTree(tmp_path)
    order, missing = tree.load_order(initramfs.MODULES)
    assert order == ["vfio", "vfio_iommu_type1", "irqbypass", "vfio_pci_core", "vfio_pci"]
    assert missing == []
    assert tree.contents("vfio_pci").startswith(b"\x7fELF")


def test_load_order_refuses_a_cycle(tmp_path: Path) -> None:
    _write(tmp_path, "modules.dep", b"a.ko: b.ko\nb.ko: a.ko\n")
    with pytest.raises(ConformError, match="cycle"):
        ModuleTree(tmp_path).load_order(["a"])


def _elf(extra: bytes = b"") -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(57) + b"Linux version 6.12.99-test (someone@somewhere) #1 SMP" + extra


def _bzimage(payload: bytes, version: bytes = b"6.12.99-test (someone@somewhere) #1") -> bytes:
    """A header-only bzImage: 4 setup sectors, the version string, the payload fields."""
    image = bytearray(5 * 512)
    image[0x1F1] = 4
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", image, 0x206, 0x20F)
    image[0x300 : 0x300 + len(version)] = version
    struct.pack_into("<H", image, 0x20E, 0x100)
    struct.pack_into("<II", image, 0x248, 16, len(payload))
    return bytes(image) + b"junk" * 4 + payload + struct.pack("<I", 12345) + b"trailing"


@pytest.mark.parametrize("compress", [lambda b: gzip.compress(b, mtime=0), lzma.compress], ids=["gzip", "xz"])
def test_extract_vmlinux(compress: object) -> None:
    elf = _elf(os.urandom(5000))
    packed = compress(elf)  # type: ignore[operator]
    image = _bzimage(packed)
    assert extract_vmlinux(image) == elf
    # Without the header's payload fields: found by scanning for the magic.
    assert extract_vmlinux(b"\0" * 1000 + b"\x1f\x8b" + packed + b"tail") == elf
    assert extract_vmlinux(elf) == elf
    assert image_release(image) == "6.12.99-test"
    assert image_release(elf) == "6.12.99-test"


def test_extract_vmlinux_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="no compressed ELF"):
        extract_vmlinux(b"\x1f\x8b\x08" + os.urandom(3000))


def test_has_pvh_note() -> None:
    def elf_with_note(name: bytes, ntype: int) -> bytes:
        note = struct.pack("<III", len(name) + 1, 4, ntype) + name + b"\0" + bytes(-(len(name) + 1) % 4) + bytes(4)
        header = (
            b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0)
        )
        phdr = struct.pack("<IIQQQQQQ", 4, 4, 120, 0, 0, len(note), len(note), 4)
        return header + phdr + note

    assert has_pvh_note(elf_with_note(b"Xen", 18))
    assert not has_pvh_note(elf_with_note(b"Xen", 17))
    assert not has_pvh_note(elf_with_note(b"GNU", 18))


def test_custom_kernel_input_errors(tmp_path: Path) -> None:
    from cowcheck.errors import InputError

    with pytest.raises(InputError, match="no such kernel image"):
        kernels.custom(tmp_path / "nope", "anon-exclusive", None)
    (tmp_path / "junk").write_bytes(b"not a kernel")
    with pytest.raises(InputError, match="neither a bzImage"):
        kernels.custom(tmp_path / "junk", "anon-exclusive", None)
    bz = tmp_path / "bzImage"
    bz.write_bytes(_bzimage(gzip.compress(_elf(), mtime=0)))
    with pytest.raises(InputError, match="no such modules directory"):
        kernels.custom(bz, "anon-exclusive", tmp_path / "modules")
    # A bzImage whose vmlinux has no PVH note is booted as it is.
    k = kernels.custom(bz, "anon-exclusive", None, cache=tmp_path / "cache")
    assert (k.name, k.release, k.vmlinux, k.modules) == ("custom", "6.12.99-test", bz, None)


def test_data_and_swap_disks(tmp_path: Path) -> None:
    image = vm.data_disk(tmp_path / "data.img", tokens=8).read_bytes()
    assert len(image) == 8 * 4096
    assert image[:4096] == bytes(4096)
    for t in range(1, 8):
        block = image[t * 4096 : (t + 1) * 4096]
        assert block == struct.pack("<Q", 0x636F776368000000 | t) * 512
    assert block[:8] == bytes([7, 0, 0, 0x68, 0x63, 0x77, 0x6F, 0x63])  # "cowch" read backwards
    swap = vm.swap_disk(tmp_path / "swap.img", mb=2)
    assert swap.stat().st_size == 2 << 20


def test_qemu_command(tmp_path: Path) -> None:
    k = Kernel("6.12", "anon-exclusive", "6.12.0", tmp_path / "vmlinux", None)
    argv = vm.command(k, tmp_path / "i.cpio.gz", data_disk=tmp_path / "d.img", swap_disk=tmp_path / "s.img", iommu=True)
    text = " ".join(argv)
    assert argv[:3] == ["qemu-system-x86_64", "-M", "q35"] and "-accel tcg" in text and "-no-reboot" in text
    assert "intel_iommu=on" in argv[argv.index("-append") + 1]
    # Every PCI device in its own fixed slot; the IOMMU before them.
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert devices[0] == "intel-iommu,intremap=off"
    assert [d.split("addr=")[1].split(",")[0] for d in devices[1:]] == ["0x4", "0x5", "0x6", "0x7"]
    assert devices[-1].startswith("edu,")
    assert f"x-iops-read={vm.THROTTLE_READ_IOPS}" in text and "driver=throttle,node-name=vdb" in text
    plain = vm.command(k, tmp_path / "i.cpio.gz", data_disk=None, swap_disk=tmp_path / "s.img", iommu=False)
    assert "edu" not in " ".join(plain) and "intel-iommu" not in " ".join(plain) and "throttle" not in " ".join(plain)
    # No data disk but a swap disk: a placeholder keeps the swap disk at vdc.
    assert [d.name for d in vm.disks(None, tmp_path / "s.img")] == ["vda", "vdb", "vdc"]


@needs_busybox
def test_initramfs_contents(tmp_path: Path) -> None:
    prog = tmp_path / "prog"
    prog.write_bytes(b"\x7fELF fake")
    prog.chmod(0o755)
    note = tmp_path / "note"
    note.write_text("data")
    k = Kernel("custom", "anon-exclusive", "6.12.0", tmp_path / "vmlinux", None)
    files = {"bin/prog": prog, "/etc/note": note}
    out = initramfs.build(k, tmp_path / "a.cpio.gz", files, "echo hello")
    data = out.read_bytes()
    assert initramfs.build(k, tmp_path / "b.cpio.gz", files, "echo hello").read_bytes() == data  # deterministic
    members = {m[0]: m for m in parse_newc(gzip.decompress(data))}
    assert members["bin/prog"][1] == stat.S_IFREG | 0o755 and members["bin/prog"][2] == b"\x7fELF fake"
    assert members["etc/note"][1] == stat.S_IFREG | 0o644
    assert stat.S_ISREG(members["bin/busybox"][1])
    assert stat.S_ISLNK(members["bin/sh"][1]) and members["bin/sh"][2] == b"busybox"
    assert members["dev/console"][3] == (5, 1)
    init = members["init"][2].decode()
    assert "COWCHECK-BOOT ok" in init and "poweroff -f" in init
    # No modules: every wanted one is reported absent at boot.
    assert all(f"COWCHECK-MODULE absent {m}" in init for m in initramfs.MODULES)
    assert members[initramfs.SCRIPT][2] == b"#!/bin/sh\necho hello\n"
    with pytest.raises(ValueError, match="init"):
        initramfs.build(k, tmp_path / "c.cpio.gz", {"init": note}, "")


# --- real boots ---------------------------------------------------------------------

BOOT_KERNEL = os.environ.get("COWCHECK_CONFORM_KERNEL", "6.12")


@pytest.fixture(scope="module")
def debian_kernel() -> Kernel:
    cache = default_cache()
    try:
        (k,) = kernels.fetch(cache, [BOOT_KERNEL])
    except ConformError as e:
        if REQUIRE_QEMU:
            raise
        pytest.skip(f"cannot fetch Debian's {BOOT_KERNEL}: {e}")
    return k


def _qemu_pids(marker: str) -> Iterator[int]:
    """The processes whose command line holds ``marker`` (a path unique to one test)."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "cmdline").read_bytes():
                    yield int(d.name)
            except OSError:
                continue


@needs_qemu
def test_boot_debian_kernel(debian_kernel: Kernel, tmp_path: Path) -> None:
    k = debian_kernel
    assert k.vmlinux.read_bytes()[:4] == b"\x7fELF"
    script = 'echo "hello from $(uname -r)"; echo "vfio groups:" /dev/vfio/*'
    image = initramfs.build(k, tmp_path / "initramfs.cpio.gz", {}, script)
    r = vm.boot(
        k,
        image,
        tmp_path / "console.log",
        data_disk=vm.data_disk(tmp_path / "data.img"),
        swap_disk=vm.swap_disk(tmp_path / "swap.img"),
        iommu=True,
        timeout=180,
    )
    assert not r.timed_out and r.returncode == 0, r.console[-3000:]
    assert f"COWCHECK-BOOT ok {k.release}" in r.console
    assert f"hello from {k.release}" in r.console
    assert "COWCHECK-END 0" in r.console
    assert "COWCHECK-SWAP on" in r.console
    group = re.search(r"COWCHECK-VFIO 0000:00:07.0 group (\d+)", r.console)
    assert group is not None, r.console
    assert f"/dev/vfio/{group[1]}" in r.console  # the edu device's group, ready for VFIO_GROUP_SET_CONTAINER
    assert "COWCHECK-MODULE" not in r.console, r.console  # every module present and loaded
    assert (tmp_path / "console.log").read_text(errors="replace") == r.console


@needs_qemu
def test_boot_timeout_kills_qemu(debian_kernel: Kernel, tmp_path: Path) -> None:
    image = initramfs.build(debian_kernel, tmp_path / "slow.cpio.gz", {}, "sleep 600")
    r = vm.boot(debian_kernel, image, tmp_path / "slow.log", data_disk=None, swap_disk=None, iommu=False, timeout=2)
    assert r.timed_out and r.seconds < 30
    assert list(_qemu_pids(str(image))) == []


def test_boot_without_qemu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vm, "QEMU", "qemu-system-nowhere")
    k = Kernel("6.12", "anon-exclusive", "6.12.0", tmp_path / "vmlinux", None)
    with pytest.raises(ConformError, match="qemu-system-nowhere not found"):
        vm.boot(k, tmp_path / "i.cpio.gz", tmp_path / "log", data_disk=None, swap_disk=None, iommu=False, timeout=5)


@needs_qemu
def test_qemu_refusing_to_start_is_one_line(tmp_path: Path) -> None:
    k = Kernel("custom", "anon-exclusive", "6.12.0", tmp_path / "no-vmlinux", None)
    with pytest.raises(ConformError, match=r"^qemu[\w-]*: .*no-vmlinux"):
        vm.boot(k, tmp_path / "i.cpio.gz", tmp_path / "log", data_disk=None, swap_disk=None, iommu=False, timeout=60)
