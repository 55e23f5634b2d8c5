"""pat-invalid-free: memtype_free() always finds what it frees. Kernel failure:
"x86/PAT: freeing invalid memtype" (memtype_erase() finds neither an EXACT nor an
END match): an untrack of a range no entry has, as after a VMA split unmapped from
the front, or a partial mremap() (David Hildenbrand, <20250422144942.2871395-1-david@redhat.com>).
"""

from __future__ import annotations

from cowcheck.engine import Step
from cowcheck.pfnmap.kernel import InvalidFree
from cowcheck.pfnmap.property import PfnProperty
from cowcheck.pfnmap.state import PfnState


def check(s: PfnState, step: Step[PfnState]) -> str | None:
    for e in step.events:
        if isinstance(e, InvalidFree):
            return e.text
    return None


PROPERTY = PfnProperty(
    id="pat-invalid-free",
    title="memtype_free() never frees what is not reserved",
    models='"x86/PAT: freeing invalid memtype" (memtype_free(), arch/x86/mm/pat/memtype.c)',
    cite="memtype_erase() EXACT/END match; 81baf8450165 (6.16) keeps EXACT only",
    observational_step=check,
    structural_step=check,
)
