"""Structured facts emitted by operations, for transition properties and metrics."""

from __future__ import annotations

from typing import NamedTuple


class WpCopy(NamedTuple):
    """wp_page_copy() replaced ``old`` by ``new`` in pid's page table."""

    pid: int
    vpage: int
    old: int
    new: int
    unshare: bool
