"""Which user-space action takes which kind of GUP reference, on which kernel.

User space cannot call get_user_pages() with flags of its choosing (GUP_TEST is not
built in distribution kernels): it reaches GUP through a syscall that picks the
flags itself, and which flags a syscall picks changed across versions. Each model
reference is reproduced through the one syscall that gives its flags on some
kernel; ``taken_on`` says what that syscall gives on a given kernel, and the
conformance run predicts with that, not with the trace's flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cowcheck.mm.rule import GupFlags


@dataclass(frozen=True, slots=True)
class Mechanism:
    name: str  # the C program's name for it
    action: str  # what the program does, for comments and reports
    kernel_path: str  # where the reference is taken
    device_read: bool  # the device can read the page through it
    device_write: bool  # the device can write the page through it

    def taken_on(self, version: tuple[int, int]) -> GupFlags:
        """The flags this kernel's syscall uses (``version``: major, minor)."""
        return _TAKEN[self.name](version)


VMSPLICE = Mechanism(
    "vmsplice",
    "vmsplice() of the page into a pipe; the device read is a read() of the pipe",
    # iter_to_pipe() -> iov_iter_get_pages{,2}() -> get_user_pages_fast(): FOLL_GET,
    # read-only, in 5.10, 6.1 and 6.12 alike.
    "vmsplice_to_pipe() -> iov_iter_get_pages() -> get_user_pages_fast(), FOLL_GET",
    device_read=True,
    device_write=False,
)
ODIRECT = Mechanism(
    "odirect",
    "an O_DIRECT read of the throttled data disk submitted with Linux AIO; the device write lands at completion",
    # io_submit() -> blkdev_read_iter() -> __blkdev_direct_IO{,_async}() ->
    # bio_iov_iter_get_pages(), all inside io_submit(): iov_iter_get_pages{,2}() ->
    # get_user_pages_fast(FOLL_WRITE), a FOLL_GET, up to 6.4 (6.2.12, 6.3.8 and 6.4.6
    # read so); iov_iter_extract_pages() -> pin_user_pages_fast(), a FOLL_PIN released
    # by unpin_user_page() (BIO_PAGE_PINNED), from 6.5.
    "__blkdev_direct_IO() -> bio_iov_iter_get_pages(): get_user_pages_fast() (FOLL_GET) up to 6.4, "
    "pin_user_pages_fast() (FOLL_PIN) from 6.5",
    device_read=False,
    device_write=True,
)
IO_URING = Mechanism(
    "io_uring",
    "io_uring_register(IORING_REGISTER_BUFFERS); the device reads with IORING_OP_WRITE_FIXED and writes "
    "with IORING_OP_READ_FIXED; release is IORING_UNREGISTER_BUFFERS",
    # Slow GUP under the mmap lock in 5.10 and 6.1; io_pin_pages() ->
    # pin_user_pages_fast() in 6.12. The flags are the same.
    "io_sqe_buffer_register() -> pin_user_pages{,_fast}(FOLL_WRITE | FOLL_LONGTERM)",
    device_read=True,
    device_write=True,
)
VFIO = Mechanism(
    "vfio",
    "VFIO_IOMMU_MAP_DMA with read access only, for QEMU's edu device behind the emulated IOMMU; the device "
    "read is an edu DMA; release is VFIO_IOMMU_UNMAP_DMA",
    "vfio_pin_pages_remote() -> vaddr_get_pfns() -> pin_user_pages_remote(FOLL_LONGTERM), no FOLL_WRITE",
    device_read=True,
    device_write=False,
)

_R = GupFlags(False, False, False)
_TAKEN = {
    "vmsplice": lambda v: _R,
    "odirect": lambda v: GupFlags(v >= (6, 5), True, False),
    "io_uring": lambda v: GupFlags(True, True, True),
    "vfio": lambda v: GupFlags(True, False, True),
}


def mechanism_for(flags: GupFlags) -> Mechanism | None:
    """The syscall that takes a reference with these flags on some kernel, or None
    where none does reliably (a R/O short-term pin is an O_DIRECT write, which is
    FOLL_GET before 6.5 and whose device read cannot be watched)."""
    if flags == _R:
        return VMSPLICE
    if flags.write and not flags.longterm:
        return ODIRECT  # FOLL_GET or FOLL_PIN, as the kernel decides
    if flags == GupFlags(True, True, True):
        return IO_URING
    if flags == GupFlags(True, False, True):
        return VFIO
    return None


def parse_version(release: str) -> tuple[int, int]:
    """(major, minor) of a ``uname -r`` string such as ``6.1.0-47-amd64``."""
    m = re.match(r"(\d+)\.(\d+)", release)
    if m is None:
        raise ValueError(f"not a kernel release: {release!r}")
    return int(m.group(1)), int(m.group(2))
