"""The initramfs a conformance VM boots: busybox, the kernel's modules, the caller's
programs, and an /init that sets the machine up, runs the caller's script and powers off.

The cpio is written here (newc, sorted, every mtime 0, gzip without a timestamp), so the
same inputs give the same bytes and no cpio tool is needed.
"""

from __future__ import annotations

import gzip
import stat
import struct
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cowcheck.conform.debian import ConformError
from cowcheck.conform.kernels import Kernel, decompress

BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
# The block devices of the VM (vm.py's disks), the vfio stack for QEMU's edu device,
# in the order wanted; their dependencies come first and the built-in ones are skipped.
MODULES = ("virtio_pci", "virtio_blk", "vfio", "vfio_iommu_type1", "vfio_pci")
# Without interrupt remapping (intel-iommu,intremap=off) vfio refuses to attach a group
# unless told that unsafe interrupts are fine.
MODULE_PARAMS = {"vfio_iommu_type1": "allow_unsafe_interrupts=1"}
EDU = ("1234", "11e8")  # QEMU's edu PCI device: vendor, device
SWAP_DEVICE = "/dev/vdc"
SWAP_SERIAL = "cowcheck-swap"  # vm.py gives the swap disk this serial: no other disk is ever mkswap'ed
# The caller's script, a file of its own: a syntax error in it ends that shell, not /init.
SCRIPT = "cowcheck.sh"


# --- cpio ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    path: str  # inside the archive, no leading "/"
    mode: int  # st_mode, file type included
    data: bytes = b""  # a file's contents, a symlink's target
    rdev: tuple[int, int] = (0, 0)  # a device node's major, minor


def directory(path: str) -> Entry:
    return Entry(path, stat.S_IFDIR | 0o755)


def newc(entries: Iterable[Entry]) -> bytes:
    """The entries as a newc ("070701") cpio archive, in path order (a directory
    sorts before what it holds), inode numbers from 1, uid, gid and mtime 0."""
    out = bytearray()
    for ino, e in enumerate([*sorted(entries, key=lambda e: e.path), Entry("TRAILER!!!", 0)], start=1):
        name = e.path.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        fields = (ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0, *e.rdev, len(name), 0)
        if e.path == "TRAILER!!!":
            fields = (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(name), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + name
        out += b"\0" * (-len(out) % 4)
        out += e.data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


# --- modules ------------------------------------------------------------------------


def module_name(path: str) -> str:
    """A module's name from its file (``kernel/drivers/vfio/pci/vfio-pci.ko.xz`` ->
    ``vfio_pci``): the kernel treats - and _ in module names alike."""
    return path.rsplit("/", 1)[-1].split(".ko", 1)[0].replace("-", "_")


class ModuleTree:
    """A kernel's lib/modules/<release>: which module is built in, where each loadable
    one lies and what it depends on. modules.dep when there is one; Debian's packages
    ship none (depmod makes it on install), and then each module's own
    ``.modinfo`` ``depends=`` says it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        builtin = root / "modules.builtin"
        self.builtin = {module_name(p) for p in builtin.read_text().split()} if builtin.is_file() else set()
        self.paths: dict[str, str] = {}
        self._deps: dict[str, tuple[str, ...]] = {}
        dep = root / "modules.dep"
        if dep.is_file():
            for line in dep.read_text().splitlines():
                rel, _, rest = line.partition(":")
                if rel.strip():
                    self.paths[module_name(rel)] = rel.strip()
                    self._deps[module_name(rel)] = tuple(module_name(d) for d in rest.split())
        else:
            for p in sorted(root.rglob("*.ko*")):
                if p.is_file() and p.name.split(".ko", 1)[1] in ("", ".xz", ".gz", ".zst"):
                    self.paths.setdefault(module_name(p.name), str(p.relative_to(root)))

    def contents(self, name: str) -> bytes:
        """The module's ELF, decompressed (busybox insmod takes no .ko.xz)."""
        data = (self.root / self.paths[name]).read_bytes()
        return data if data.startswith(b"\x7fELF") else decompress(data)

    def depends(self, name: str) -> tuple[str, ...]:
        if name not in self._deps:
            self._deps[name] = modinfo_depends(self.contents(name))
        return self._deps[name]

    def load_order(self, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
        """The loadable modules among ``wanted`` and their dependencies, each after
        what it needs; and the wanted or needed modules this kernel has neither built
        in nor as a file (a caller may do without them)."""
        order: list[str] = []
        missing: list[str] = []
        state: dict[str, bool] = {}  # False: being visited, True: done

        def visit(name: str) -> None:
            if state.get(name) is True or name in self.builtin:
                return
            if state.get(name) is False:
                raise ConformError(f"{self.root}: modules depend on each other in a cycle through {name}")
            if name not in self.paths:
                if name not in missing:
                    missing.append(name)
                return
            state[name] = False
            for dep in self.depends(name):
                visit(dep)
            state[name] = True
            order.append(name)

        for name in wanted:
            visit(module_name(name))
        return order, missing


def modinfo_depends(ko: bytes) -> tuple[str, ...]:
    """The ``depends=`` of a module's ``.modinfo`` section (ELF64, little-endian)."""
    shoff = struct.unpack_from("<Q", ko, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _, _, _, offset, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, offset, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, offset, size = section(i)
        if ko[stroff + name : ko.index(b"\0", stroff + name)] == b".modinfo":
            for field in ko[offset : offset + size].split(b"\0"):
                if field.startswith(b"depends="):
                    return tuple(module_name(d) for d in field[8:].decode().split(",") if d)
            return ()
    return ()


# --- the archive --------------------------------------------------------------------


def busybox() -> Path:
    """The host's static busybox (a dynamic one would find no libc in the initramfs)."""
    for p in BUSYBOX_CANDIDATES:
        if p.is_file():
            if _is_dynamic(p.read_bytes()):
                raise ConformError(f"{p} is dynamically linked: install busybox-static")
            return p
    raise ConformError("busybox not found: install busybox-static")


def _is_dynamic(elf: bytes) -> bool:
    phoff = struct.unpack_from("<Q", elf, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return any(struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 3 for i in range(phnum))  # PT_INTERP


def applets(bb: Path) -> list[str]:
    try:
        p = subprocess.run([str(bb), "--list"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise ConformError(f"{bb} --list failed: {e}") from None
    return sorted(set(p.stdout.split()))


def build(kernel: Kernel, out: Path, files: Mapping[str, Path], init_script: str) -> Path:
    """Write the gzip'ed initramfs to ``out`` and return it: busybox with a /bin link
    per applet, the kernel's MODULES (decompressed, dependencies included), ``files``
    (archive path -> host file, executables mode 0755) and an /init that runs
    ``init_script`` (a shell fragment) between the set-up and the power-off."""
    bb = busybox()
    entries: dict[str, Entry] = {}

    def add(e: Entry) -> None:
        parts = e.path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), directory("/".join(parts[:i])))
        entries[e.path] = e

    for d in ("dev", "proc", "sys", "tmp", "mnt", "root", "etc", "sbin"):
        add(directory(d))
    add(Entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))  # /init's stdio, before devtmpfs is mounted
    for name in applets(bb):
        add(Entry(f"bin/{name}", stat.S_IFLNK | 0o777, b"busybox"))
    add(Entry("bin/busybox", stat.S_IFREG | 0o755, bb.read_bytes()))  # its --list names itself too

    loads: list[tuple[str, str]] = []  # (name, path inside the archive)
    missing: list[str] = list(MODULES)
    if kernel.modules is not None:
        tree = ModuleTree(kernel.modules)
        order, missing = tree.load_order(MODULES)
        for name in order:
            inside = f"lib/modules/{kernel.release}/{tree.paths[name].split('.ko', 1)[0]}.ko"
            add(Entry(inside, stat.S_IFREG | 0o644, tree.contents(name)))
            loads.append((name, inside))

    for inside, host in sorted(files.items()):
        inside = inside.strip("/")
        if inside in ("init", SCRIPT):
            raise ValueError(f"the initramfs's /{inside} is build()'s own: pass init_script instead")
        executable = host.stat().st_mode & 0o111
        add(Entry(inside, stat.S_IFREG | (0o755 if executable else 0o644), host.read_bytes()))
    add(Entry("init", stat.S_IFREG | 0o755, init(loads, missing).encode()))
    add(Entry(SCRIPT, stat.S_IFREG | 0o755, f"#!/bin/sh\n{init_script}\n".encode()))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(gzip.compress(newc(entries.values()), compresslevel=6, mtime=0))
    tmp.replace(out)
    return out


def init(loads: Sequence[tuple[str, str]], missing: Sequence[str]) -> str:
    """The /init shell script: set-up, the caller's SCRIPT, power-off. Every line it
    prints starts with COWCHECK- so a caller can find it among the kernel's messages."""
    insmods = "\n".join(
        f"insmod /{path} {MODULE_PARAMS.get(name, '')}".rstrip() + f" || echo 'COWCHECK-MODULE failed {name}'"
        for name, path in loads
    )
    absent = "\n".join(f"echo 'COWCHECK-MODULE absent {name}'" for name in missing)
    vendor, device = EDU
    return f"""#!/bin/sh
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
{insmods}
{absent}
p=/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
[ -w $p ] && echo 1 > $p
if [ -b {SWAP_DEVICE} ] && [ "$(cat /sys/block/{SWAP_DEVICE[5:]}/serial 2>/dev/null)" = {SWAP_SERIAL} ]; then
    mkswap {SWAP_DEVICE} > /dev/null && swapon {SWAP_DEVICE} && echo 'COWCHECK-SWAP on'
    # No swap readahead: a swap-in brings in the one page the model's does.
    echo 0 > /proc/sys/vm/page-cluster
fi
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat $d/vendor)" = 0x{vendor} ] && [ "$(cat $d/device)" = 0x{device} ]; then
        if [ -d /sys/bus/pci/drivers/vfio-pci ] && [ -e $d/iommu_group ]; then
            echo {vendor} {device} > /sys/bus/pci/drivers/vfio-pci/new_id
            echo "COWCHECK-VFIO ${{d##*/}} group $(basename $(readlink $d/iommu_group))"
        else
            echo "COWCHECK-VFIO unavailable ${{d##*/}}"
        fi
    fi
done
echo "COWCHECK-BOOT ok $(uname -r)"
sh /{SCRIPT}
echo "COWCHECK-END $?"
sync
poweroff -f
"""
