"""Debian packages fetched through a private apt state, never the system's.

``cowcheck conform`` needs kernels from bookworm, its security suite and bullseye's
security suite (for 5.10). Adding those to /etc/apt would change what the machine
installs, so apt runs here with its own sources.list, lists and archives under
``CACHE/apt`` (``-o Dir::...``); only apt.conf.d is shared, for the machine's proxy and
transport settings. Packages are downloaded with ``apt-get download`` and unpacked with
``dpkg -x``: nothing is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# Debian's archive keyring holds the bullseye and bookworm archive and security keys
# alike (measured: it verifies bullseye-security's InRelease), so one keyring serves
# every source and no source needs [trusted=yes].
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SOURCES = (
    ("http://deb.debian.org/debian", "bookworm"),
    ("http://deb.debian.org/debian", "bookworm-updates"),
    ("http://deb.debian.org/debian-security", "bookworm-security"),
    ("http://deb.debian.org/debian-security", "bullseye-security"),  # Linux 5.10
)
FRESH_SECONDS = 24 * 3600  # lists younger than this are not fetched again
UPDATE_TIMEOUT = 600.0
DOWNLOAD_TIMEOUT = 1200.0  # a kernel image is 57-107 MB
QUERY_TIMEOUT = 120.0
UNPACK_TIMEOUT = 600.0
_UPDATED = "updated"  # its mtime: the last successful update; its text: the sources.list it used
_UNPACKED = ".cowcheck-unpacked"  # in an unpacked tree: the .deb it came from


class ConformError(Exception):
    """The environment cannot run a conformance check (no qemu, apt failed, no
    network...): the CLI prints the one-line message, no traceback."""


def default_cache() -> Path:
    """Where downloads and unpacked kernels are kept: ``$COWCHECK_CONFORM_CACHE``, or
    ``~/.cache/cowcheck/conform``."""
    env = os.environ.get("COWCHECK_CONFORM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "cowcheck" / "conform"


def run_tool(cmd: list[str], timeout: float, what: str, cwd: Path | None = None) -> str:
    """``cmd``'s standard output; a missing tool, a timeout or a failure is a
    ConformError saying ``what`` failed, with the tool's last line of complaint."""
    try:
        p = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise ConformError(f"{what}: {cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise ConformError(f"{what}: {cmd[0]} did not finish in {timeout:.0f} s") from None
    if p.returncode != 0:
        lines = [ln.strip() for ln in (p.stderr + p.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith(("E:", "dpkg", "error"))] or lines
        raise ConformError(f"{what}: {cmd[0]} exited with {p.returncode}: {errors[-1] if errors else 'no message'}")
    return p.stdout


def _apt_dir(cache: Path) -> Path:
    return cache / "apt"


def _sources_list() -> str:
    return "".join(f"deb [signed-by={KEYRING}] {uri} {suite} main\n" for uri, suite in SOURCES)


def _apt_options(cache: Path) -> list[str]:
    apt = _apt_dir(cache)
    return [
        "-o", f"Dir::Etc::SourceList={apt / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={apt / 'lists'}",
        "-o", f"Dir::Cache={apt / 'cache'}",
        # Some images' apt.conf.d turns the binary caches off; without them every
        # apt-cache query parses all lists again (1.5 s instead of 0.1 s).
        "-o", "Dir::Cache::pkgcache=pkgcache.bin",
        "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
        # Nothing is installed: the system's dpkg status must not shape what apt picks.
        "-o", "Dir::State::status=/dev/null",
        "-o", "Acquire::Languages=none",
        "-o", "APT::Architecture=amd64",
    ]  # fmt: skip


def apt_update(cache: Path, force: bool = False) -> None:
    """Fetch the package lists into the private state, unless a run less than a day
    ago already did with the same sources (and not ``force``)."""
    if shutil.which("apt-get") is None:
        raise ConformError("apt-get not found: fetching Debian kernels needs apt (or pass --kernel PATH)")
    if not KEYRING.is_file():
        raise ConformError(f"{KEYRING} not found: install debian-archive-keyring")
    apt = _apt_dir(cache)
    sources = _sources_list()
    marker = apt / _UPDATED
    fresh = marker.is_file() and time.time() - marker.stat().st_mtime < FRESH_SECONDS
    if not force and fresh and marker.read_text() == sources:
        return
    for d in (apt / "lists" / "partial", apt / "cache" / "archives" / "partial"):
        d.mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text(sources)
    marker.unlink(missing_ok=True)
    run_tool(["apt-get", *_apt_options(cache), "-q", "update"], UPDATE_TIMEOUT, "apt-get update")
    marker.write_text(sources)


def _version_key(name: str) -> tuple[tuple[int, str], ...]:
    # Natural order: linux-image-6.12.9 before 6.12.10, ABI 6.1.0-9 before 6.1.0-10.
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", name))


def newest(cache: Path, pattern: str) -> str:
    """The newest package (in natural version order of its name) whose whole name
    matches ``pattern`` among those the private lists offer; apt_update first."""
    out = run_tool(["apt-cache", *_apt_options(cache), "pkgnames"], QUERY_TIMEOUT, "apt-cache pkgnames")
    rx = re.compile(pattern)
    names = [n for n in out.split() if rx.fullmatch(n)]
    if not names:
        raise ConformError(f"no Debian package matches {pattern!r} (is the package list current? {cache / 'apt'})")
    return max(names, key=_version_key)


def download(cache: Path, package: str) -> Path:
    """The package's .deb under ``CACHE/debs``, downloaded only if not there yet."""
    debs = cache / "debs"
    have = sorted(debs.glob(f"{glob_escape(package)}_*.deb"))
    if have:
        return have[-1]
    debs.mkdir(parents=True, exist_ok=True)
    # Into a scratch directory first: an interrupted download leaves no truncated .deb
    # that a later run would take for a good one.
    with tempfile.TemporaryDirectory(dir=debs, prefix=".download-") as tmp:
        run_tool(
            ["apt-get", *_apt_options(cache), "-q", "download", package],
            DOWNLOAD_TIMEOUT,
            f"apt-get download {package}",
            cwd=Path(tmp),
        )
        got = sorted(Path(tmp).glob("*.deb"))
        if len(got) != 1:
            raise ConformError(f"apt-get download {package}: expected one .deb, got {len(got)}")
        return got[0].replace(debs / got[0].name)


def glob_escape(s: str) -> str:
    """``s`` with glob's special characters quoted (package names may hold ``+``, which
    glob leaves alone, but versions in file names may not)."""
    return re.sub(r"([*?\[])", r"[\1]", s)


def unpack(deb: Path, dest: Path) -> Path:
    """``deb``'s files under ``dest`` (``dpkg -x``), skipped when ``dest`` already holds
    this .deb's unpacking; returns ``dest``."""
    marker = dest / _UNPACKED
    if marker.is_file() and marker.read_text() == deb.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Unpack beside ``dest`` and rename: a half-unpacked tree never carries the marker.
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        run_tool(["dpkg", "-x", str(deb), str(tmp)], UNPACK_TIMEOUT, f"dpkg -x {deb.name}")
        (tmp / _UNPACKED).write_text(deb.name)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest
