"""79a61cc3fc04 "mm: avoid leaving partial pfn mappings around in error case"
(Linus Torvalds, v6.11; CVE-2024-47674): remap_pfn_range_notrack() zaps what it
mapped when it fails, through zap_page_range_single(), whose unmap_single_vma()
untracks the VMA before remap_pfn_range() does: with no PTE at vm_start yet,
get_pat_info() WARNs. Derived from the code of 79a61cc3fc04, not from a report.
"""

from cowcheck.rules import pfnmap_rule_class


class Pat611(pfnmap_rule_class("pat-6.9")):  # type: ignore[misc]
    name = "pat-6.11"
    title = "remap_pfn_range_notrack() zaps on error"
    kernels = "v6.11 - v6.14"
    commits = ("79a61cc3fc04 mm: avoid leaving partial pfn mappings around in error case",)
    remap_error_zaps = True


RULE = Pat611()
