"""The second model family: x86 PAT memtype tracking of VM_PFNMAP mappings.

Peter Xu, "[PATCH] mm/x86/pat: Only untrack the pfn range if unmap
region", <20240712144244.3090089-1-peterx@redhat.com>: ``untrack_pfn()`` sits in
``unmap_single_vma()``, so a ``zap_page_range_single()`` of one page frees the
reservation of the whole VMA while other PTEs still map its pfns. This package
models a device's pfns, the memtype tree (``memtype.py``), VMAs with VM_PFNMAP and
VM_PAT or a ``pfnmap_track_ctx`` (``state.py``), and the kernel paths that track
and untrack them (``track.py``, ``remap.py``, ``unmap.py``, ``fork.py``,
``mremap.py``, ``device.py``; ``model.py`` offers and runs them), under each
placement Linux has had (``rule.py``, the eras in ``models/pfnmap/``). It gives the
engine a ``Model`` (``model.py``) and knows nothing of how the search runs, nor of
anonymous memory (``mm/``).
"""
