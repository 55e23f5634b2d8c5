"""The kernels a conformance run boots: Debian's 5.10, 6.1 and 6.12, or the user's own.

QEMU boots an uncompressed vmlinux through its PVH entry point about 2 s faster than
the bzImage under TCG, where the decompressor runs emulated; so the vmlinux is taken
out of the bzImage once (what the kernel tree's scripts/extract-vmlinux does) and kept.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cowcheck.conform import debian
from cowcheck.conform.debian import ConformError
from cowcheck.errors import InputError

ELF_MAGIC = b"\x7fELF"
_MAGICS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),  # Debian's 6.12
    (b"\x1f\x8b\x08", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
)
ZSTD_TIMEOUT = 120.0


@dataclass(frozen=True)
class Kernel:
    name: str  # "5.10", "6.1", "6.12" or "custom"
    rule: str  # the cowcheck rule of its era
    release: str  # uname -r
    vmlinux: Path  # what qemu -kernel boots: an uncompressed ELF with a PVH entry (a bzImage only without one)
    modules: Path | None  # lib/modules/<release>, or None when everything needed is built in


@dataclass(frozen=True)
class DebianKernel:
    name: str
    rule: str
    package: str  # a regular expression for the package's whole name; the newest match is taken


# The -unsigned packages carry the same vmlinuz as the signed ones without the
# signature, and reach the archive first (the signed 6.12 build lags a release).
DEBIAN: tuple[DebianKernel, ...] = (
    DebianKernel("5.10", "page-count", r"linux-image-5\.10\.0-\d+-amd64-unsigned"),  # bullseye-security
    DebianKernel("6.1", "anon-exclusive-6.1", r"linux-image-6\.1\.0-\d+-amd64-unsigned"),  # bookworm(-security)
    DebianKernel("6.12", "anon-exclusive", r"linux-image-6\.12\.\d+\+deb12-amd64-unsigned"),  # bookworm-security
)


def fetch(cache: Path, names: Sequence[str] = ("5.10", "6.1", "6.12")) -> list[Kernel]:
    """The newest Debian build of each named kernel, downloaded, unpacked and its
    vmlinux extracted under ``cache`` (each step skipped when already done)."""
    known = {k.name: k for k in DEBIAN}
    if not names:
        raise InputError("--debian", None, f"expected at least one of {', '.join(known)}")
    for n in names:
        if n not in known:
            raise InputError("--debian", None, f"expected a list of {', '.join(known)} (got {n!r})")
    debian.apt_update(cache)
    out = []
    for n in names:
        spec = known[n]
        package = debian.newest(cache, spec.package)
        try:
            deb = debian.download(cache, package)
        except ConformError:
            # Lists up to a day old may name a build the archive has since replaced.
            debian.apt_update(cache, force=True)
            package = debian.newest(cache, spec.package)
            deb = debian.download(cache, package)
        root = debian.unpack(deb, cache / "kernels" / package)
        images = sorted((root / "boot").glob("vmlinuz-*"))
        if len(images) != 1:
            raise ConformError(f"{package}: expected one boot/vmlinuz-*, found {len(images)}")
        release = images[0].name.removeprefix("vmlinuz-")
        modules = _modules_dir(root, release)
        vmlinux = _cached_vmlinux(images[0], root / f"vmlinux-{release}")
        out.append(Kernel(n, spec.rule, release, vmlinux, modules))
    return out


def _modules_dir(root: Path, release: str) -> Path | None:
    for d in (root / "lib" / "modules" / release, root / "usr" / "lib" / "modules" / release):
        if d.is_dir():
            return d
    return None


def custom(path: Path, rule: str, modules: Path | None, cache: Path | None = None) -> Kernel:
    """A kernel of the user's (``--kernel PATH``): a bzImage or a vmlinux. A bzImage's
    vmlinux is extracted into ``cache`` (default: debian.default_cache()) unless it has
    no PVH entry, in which case the bzImage itself is booted."""
    if not path.is_file():
        raise InputError(str(path), None, "no such kernel image (--kernel takes a bzImage or a vmlinux)")
    if modules is not None and not modules.is_dir():
        raise InputError(str(modules), None, "no such modules directory (expected lib/modules/<release>)")
    image = path.read_bytes()
    if image.startswith(ELF_MAGIC):
        if not has_pvh_note(image):
            raise InputError(
                str(path), None, "a vmlinux without a PVH entry (CONFIG_PVH) cannot be booted: pass the bzImage"
            )
        vmlinux = path
    elif is_bzimage(image):
        where = (cache or debian.default_cache()) / "custom" / hashlib.sha256(image).hexdigest()[:16] / "vmlinux"
        vmlinux = _cached_vmlinux(path, where)
        if not has_pvh_note(vmlinux.read_bytes()):
            vmlinux = path
    else:
        raise InputError(str(path), None, "neither a bzImage nor an ELF vmlinux")
    release = image_release(image) or (modules.name if modules is not None else "unknown")
    return Kernel("custom", rule, release, vmlinux, modules)


def _cached_vmlinux(bzimage: Path, dest: Path) -> Path:
    if dest.is_file():
        return dest
    try:
        elf = extract_vmlinux(bzimage.read_bytes())
    except ValueError as e:
        raise ConformError(f"{bzimage}: {e}") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(elf)
    tmp.replace(dest)  # never a truncated vmlinux under the cached name
    return dest


def is_bzimage(image: bytes) -> bool:
    return image[0x202:0x206] == b"HdrS"


def extract_vmlinux(image: bytes) -> bytes:
    """The uncompressed ELF inside a bzImage (``image`` itself if it is one already).

    The boot protocol's payload fields (2.08+) say where the compressed kernel lies;
    failing those, every compression magic is tried in turn, as extract-vmlinux does.
    ValueError when nothing decompresses to an ELF."""
    if image.startswith(ELF_MAGIC):
        return image
    candidates = []
    if is_bzimage(image) and struct.unpack_from("<H", image, 0x206)[0] >= 0x208:
        setup = ((image[0x1F1] or 4) + 1) * 512
        offset, length = struct.unpack_from("<II", image, 0x248)
        if length:
            candidates.append(image[setup + offset : setup + offset + length])
    for magic, _ in _MAGICS:
        at = image.find(magic)
        for _ in range(8):  # a few false hits of a short magic are fine, thousands are not
            if at < 0:
                break
            candidates.append(image[at:])
            at = image.find(magic, at + 1)
    for blob in candidates:
        try:
            out = decompress(blob)
        except (ValueError, OSError, EOFError, lzma.LZMAError, zlib.error):
            continue
        if out.startswith(ELF_MAGIC):
            return out
    raise ValueError("no compressed ELF kernel found in the image")


def decompress(blob: bytes) -> bytes:
    """The first stream in ``blob`` (xz, zstd, gzip, bzip2 or lzma, told by its magic),
    trailing bytes ignored. ValueError for anything else."""
    kind = next((k for m, k in _MAGICS if blob.startswith(m)), None)
    if kind == "xz" or kind == "lzma":
        d = lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE)
        return d.decompress(blob)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
    if kind == "bzip2":
        return bz2.BZ2Decompressor().decompress(blob)
    if kind == "zstd":
        return _unzstd(blob)
    raise ValueError("unknown compression")


def _unzstd(blob: bytes) -> bytes:
    # Python 3.11 has no zstd; the zstd tool decodes the first frame and then complains
    # about what follows (the bzImage's appended size), so its exit code is not asked.
    # A truncated or corrupt frame gives no ELF, and the caller checks for one.
    zstd = shutil.which("zstd")
    if zstd is None:
        raise ConformError("zstd not found: a zstd-compressed kernel (Debian's 6.12) needs it (apt-get install zstd)")
    try:
        p = subprocess.run([zstd, "-dcq"], input=blob, capture_output=True, timeout=ZSTD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ConformError(f"zstd did not finish in {ZSTD_TIMEOUT:.0f} s") from None
    return p.stdout


def has_pvh_note(elf: bytes) -> bool:
    """Whether an ELF vmlinux has the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY,
    type 18, owner "Xen") that ``qemu -kernel`` needs to boot it."""
    if elf[4:5] != b"\x02":  # ELFCLASS64 only: x86_64 kernels
        return False
    phoff, phentsize, phnum = struct.unpack_from("<Q", elf, 0x20)[0], *struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, at)
            name = elf[at + 12 : at + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            at += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def image_release(image: bytes) -> str | None:
    """``uname -r`` of a bzImage (its header's version string) or a vmlinux (its
    linux_banner), or None."""
    if is_bzimage(image):
        at = struct.unpack_from("<H", image, 0x20E)[0]
        if at:
            text = image[0x200 + at : 0x200 + at + 256].split(b"\0")[0]
            if text.split():
                return text.split()[0].decode("ascii", "replace")
    m = re.search(rb"Linux version (\S+) \(", image)
    return m.group(1).decode("ascii", "replace") if m else None
