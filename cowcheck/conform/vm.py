"""One boot of a kernel under QEMU's TCG (KVM is not usable on these machines), its
serial console into a log, and QEMU never left running.

The disks keep their names whatever is attached: vda is an empty placeholder, vdb the
data disk (or another placeholder when there is a swap disk and no data disk), vdc the
swap disk, each in a fixed PCI slot (virtio-blk names disks in probe order, which is
slot order). The data disk sits behind QEMU's throttle filter, which holds a request
*before* its data is copied, so an O_DIRECT read stays in flight with its pages pinned
and the "DMA" lands at completion.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cowcheck.conform.debian import ConformError
from cowcheck.conform.initramfs import SWAP_SERIAL
from cowcheck.conform.kernels import Kernel

QEMU = "qemu-system-x86_64"
# Read requests per second the data disk admits. The throttle's bucket holds a tenth
# of a second's worth, so a first (priming) read passes at once and fills it; a read
# submitted g s later waits 0.4 - g s at 2/s. Measured on Debian's 5.10, 6.1 and 6.12:
# a 2 KiB O_DIRECT read by Linux AIO on /dev/vdb, 0, 20 and 50 ms after the priming
# read, completes after 400, 380 and 350 ms (+-5), its buffer untouched at 100 ms. The
# cost: the kernel's partition scan of vdb is throttled too, about 0.9 s of each boot.
THROTTLE_READ_IOPS = 2
BLOCK = 4096
TOKEN_BASE = 0x636F7763_68000000  # "cowch" in the high bytes, the token number in the low
SLOT = {"vda": 4, "vdb": 5, "vdc": 6, "edu": 7}
SERIAL = {"data": "cowcheck-data", "swap": SWAP_SERIAL, "none": "cowcheck-none"}


@dataclass
class Disk:
    """A virtio-blk disk: the guest's name for it, its image (None: an empty 1 MiB
    read-only placeholder), whether it is throttled, and its serial."""

    name: str  # vda, vdb, vdc
    image: Path | None
    serial: str
    throttled: bool = False

    def args(self) -> list[str]:
        n = self.name
        if self.image is None:
            backing = ["-blockdev", f"driver=null-co,node-name={n},size=1048576,read-zeroes=on,read-only=on"]
        else:
            fmt = f"{n}-raw" if self.throttled else n
            backing = [
                "-blockdev", f"driver=file,node-name={n}-file,filename={_opt(self.image)}",
                "-blockdev", f"driver=raw,node-name={fmt},file={n}-file",
            ]  # fmt: skip
            if self.throttled:
                backing += [
                    "-object", f"throttle-group,id={n}-throttle,x-iops-read={THROTTLE_READ_IOPS}",
                    "-blockdev", f"driver=throttle,node-name={n},throttle-group={n}-throttle,file={fmt}",
                ]  # fmt: skip
        return [*backing, "-device", f"virtio-blk-pci,drive={n},addr={SLOT[n]:#x},serial={self.serial}"]


def _opt(path: Path) -> str:
    # QEMU's option syntax doubles a comma inside a value.
    return str(path.resolve()).replace(",", ",,")


def disks(data_disk: Path | None, swap_disk: Path | None) -> list[Disk]:
    """vda, vdb, vdc as the module docstring says."""
    out = [Disk("vda", None, SERIAL["none"])]
    if data_disk is not None:
        out.append(Disk("vdb", data_disk, SERIAL["data"], throttled=True))
    elif swap_disk is not None:
        out.append(Disk("vdb", None, SERIAL["none"]))
    if swap_disk is not None:
        out.append(Disk("vdc", swap_disk, SERIAL["swap"]))
    return out


@dataclass(frozen=True)
class BootResult:
    returncode: int  # QEMU's: 0 after the guest powered off (or rebooted: panic=-1 with -no-reboot)
    seconds: float
    console: str  # the serial console, as in the log
    timed_out: bool  # killed after the timeout: console holds what came before
    command: tuple[str, ...] = ()


def command(
    kernel: Kernel,
    initramfs: Path,
    *,
    data_disk: Path | None,
    swap_disk: Path | None,
    iommu: bool,
    memory_mb: int = 1024,
    cpus: int = 2,
    cmdline: Sequence[str] = (),
) -> list[str]:
    """The qemu command line of ``boot``."""
    append = ["console=ttyS0", "panic=-1", "quiet", *(["intel_iommu=on"] if iommu else []), *cmdline]
    argv = [
        # RDRAND seeds the guest's crng at once: without it 6.12's getrandom() (mkswap's
        # UUID) waits ~3 s for jitter entropy under TCG.
        QEMU, "-M", "q35", "-accel", "tcg", "-cpu", "qemu64,+rdrand", "-smp", str(cpus), "-m", str(memory_mb),
        "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
        "-kernel", str(kernel.vmlinux), "-initrd", str(initramfs), "-append", " ".join(append),
    ]  # fmt: skip
    if iommu:
        # Before the PCI devices it translates for.
        argv += ["-device", "intel-iommu,intremap=off"]
    for disk in disks(data_disk, swap_disk):
        argv += disk.args()
    if iommu:
        argv += ["-device", f"edu,addr={SLOT['edu']:#x}"]
    return argv


def boot(
    kernel: Kernel,
    initramfs: Path,
    log: Path,
    *,
    data_disk: Path | None,
    swap_disk: Path | None,
    iommu: bool,
    timeout: float,
    memory_mb: int = 1024,
    cpus: int = 2,
    cmdline: Sequence[str] = (),
) -> BootResult:
    """Boot ``kernel`` with ``initramfs`` until it powers off or ``timeout`` seconds
    pass, the console going to ``log``. QEMU runs in its own process group and is
    killed with it on timeout or on any exception (Ctrl-C included)."""
    if shutil.which(QEMU) is None:
        raise ConformError(f"{QEMU} not found: install qemu-system-x86")
    argv = command(
        kernel, initramfs, data_disk=data_disk, swap_disk=swap_disk, iommu=iommu,
        memory_mb=memory_mb, cpus=cpus, cmdline=cmdline,
    )  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    timed_out = False
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                _kill(proc)
    seconds = time.monotonic() - start
    console = log.read_text(errors="replace")
    if proc.returncode != 0 and not timed_out and re.match(r"qemu[\w-]*: ", console):
        raise ConformError(console.splitlines()[0])  # QEMU refused to start: its own one-line error
    return BootResult(proc.returncode, seconds, console, timed_out, tuple(argv))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def data_disk(path: Path, tokens: int = 64) -> Path:
    """The data disk image: block t (4 KiB at t * 4096) holds the 8-byte little-endian
    token ``TOKEN_BASE | t`` 512 times, block 0 zeroes; so whatever an O_DIRECT read
    brought into a page tells which block it came from."""
    blocks = [bytes(BLOCK)] + [struct.pack("<Q", TOKEN_BASE | t) * (BLOCK // 8) for t in range(1, tokens)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(blocks))
    return path


def swap_disk(path: Path, mb: int = 64) -> Path:
    """A zeroed (sparse) swap disk image of ``mb`` MiB; the guest's /init runs mkswap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(mb << 20)
    return path
