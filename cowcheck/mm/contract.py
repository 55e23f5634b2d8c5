"""The kernel's documented contract for GUP references: what each one is owed.

- Pins (FOLL_PIN) with FOLL_WRITE are coherent both ways: device writes reach the
  process and the process's writes reach the device (Documentation/core-api/
  pin_user_pages.rst; the PageAnonExclusive series, 5.19).
- R/O pins are coherent only when FOLL_LONGTERM: "We only care about R/O long-term
  pining: R/O short-term pinning does not have the semantics to observe successive
  changes through the process page tables" (gup_must_unshare(), mm/internal.h,
  84209e87c696, v6.2). Short-term R/O pins owe isolation only.
- FOLL_GET with FOLL_WRITE (O_DIRECT reads while they used get_user_pages()): device
  writes must reach the process, except across a fork. open(2): "O_DIRECT I/Os should
  never be run concurrently with the fork(2) system call, if the memory buffer is a
  private mapping ... data corruption and undefined behavior in parent and child"; so
  the device's data reaching the child is outside the contract too.
- R/O FOLL_GET owes isolation only.
- Every reference owes isolation: the device never sees data that another process
  wrote after the two diverged.

``strict`` drops the fork exception: Andrea Arcangeli's position, that every GUP
reference anchors the page ("From the VM standpoint all GUP in are equal and breaking
one, means breaking them all the same", "[PATCH 1/1] mm: restore full accuracy in COW
page reuse", <20210110004435.26382-2-aarcange@redhat.com>, 9 Jan 2021).
"""

from __future__ import annotations

from cowcheck.mm.state import Ref


def owes_device_writes(ref: Ref, strict: bool) -> bool:
    """Device writes through ``ref`` must show up in the owner's memory."""
    return ref.write and (ref.pin or strict or ref.crossed == 0)


def owes_cpu_writes(ref: Ref) -> bool:
    """The owner's CPU writes must show up to the device reading through ``ref``."""
    return ref.pin and (ref.write or ref.longterm)


def coherent(ref: Ref, strict: bool) -> bool:
    return owes_device_writes(ref, strict) or owes_cpu_writes(ref)


def describe_ref(ref: Ref) -> str:
    flags = ["FOLL_PIN" if ref.pin else "FOLL_GET"]
    if ref.write:
        flags.append("FOLL_WRITE")
    if ref.longterm:
        flags.append("FOLL_LONGTERM")
    return f"{ref.name or 'reference'} ({'|'.join(flags)})"
