"""LibreOffice on this machine: where it is, which of its parts are installed, and the box it runs in.

Standard library only, so `doctor` and the document workers ask the same questions. The box: LibreOffice converts
files from outside (Word/Excel uploads) and follows what they point to, so it runs in network, user and PID
namespaces of its own (`unshare`, util-linux: no network at all, and every process of it dies with the one that
started it), under an address-space and a CPU-time limit.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

from meeting_server import runner

__all__ = [
    "BOX_SETTING",
    "COMPONENT_OF_FORMAT",
    "box_available",
    "box_command",
    "box_required",
    "die_with_parent",
    "limit_resources",
    "missing_component",
    "soffice_path",
]

#: Set to "off" to convert without the network box where the kernel refuses namespaces (an explicit, documented
#: choice: docs/DOCUMENTS.md); any other value, or none, keeps the box, and conversion is refused without it.
BOX_SETTING = "MEETING_CONVERT_SANDBOX"

# Debian and the LibreOffice tarballs put soffice in these places when it is not on PATH.
_KNOWN_PATHS = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
)

#: The LibreOffice part each office format needs, by the library that part installs in program/ (Debian packages
#: libreoffice-writer-nogui, -calc-nogui, -impress-nogui; the last pulls in -draw-nogui, which holds libsdlo.so).
COMPONENT_OF_FORMAT = {
    "docx": "writer", "doc": "writer", "odt": "writer",
    "xlsx": "calc", "xls": "calc", "ods": "calc",
    "pptx": "impress", "ppt": "impress", "odp": "impress",
}
_COMPONENT_LIBRARY = {"writer": "libswlo.so", "calc": "libsclo.so", "impress": "libsdlo.so"}
#: What a person installs for each part, in doctor's words.
PACKAGE_OF_COMPONENT = {
    "writer": "libreoffice-writer-nogui",
    "calc": "libreoffice-calc-nogui",
    "impress": "libreoffice-impress-nogui",
}


def soffice_path() -> str | None:
    """The LibreOffice executable, or None when LibreOffice is not installed.

    The environment variable MEETING_SOFFICE, when set, names the executable and nothing else is tried.
    """
    configured = os.environ.get("MEETING_SOFFICE")
    if configured is not None:
        return configured if configured and os.access(configured, os.X_OK) else None
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in _KNOWN_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    for opt in sorted(Path("/opt").glob("libreoffice*/program/soffice"), reverse=True):
        if os.access(opt, os.X_OK):
            return str(opt)
    return None


def missing_component(soffice: str, source_format: str) -> str | None:
    """The LibreOffice part ("writer", "calc", "impress") a format needs and this installation lacks, else None.

    Without its part, LibreOffice says only that the file "could not be loaded", as it does of a damaged file; the
    clerk must hear that the server lacks something, not that the file is bad. An installation laid out otherwise
    (no program/ directory beside the executable) is taken to be complete.
    """
    component = COMPONENT_OF_FORMAT.get(source_format)
    if component is None:
        return None
    program = Path(os.path.realpath(soffice)).parent
    if not (program / "soffice.bin").exists() and not (program / "soffice").exists():
        return None
    if not any(program.glob("lib*lo.so")):
        return None  # not an installation whose libraries we know
    return None if (program / _COMPONENT_LIBRARY[component]).exists() else component


# --- the box ---------------------------------------------------------------------------------------------------


def box_required() -> bool:
    """False only when the administrator chose to convert without the box (MEETING_CONVERT_SANDBOX=off)."""
    return os.environ.get(BOX_SETTING, "").strip().lower() not in ("off", "0", "no", "false")


_UNSHARE = ("--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child")


def box_command(argv: list[str]) -> list[str]:
    """`argv` run in the box: its own user, network (only a loopback that is down) and PID namespaces. The
    forked first process of the PID namespace dies with `unshare` (--kill-child), and the kernel then kills every
    process left in the namespace: soffice.bin, which oosplash forks, cannot outlive its worker."""
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    return [unshare, *_UNSHARE, "--", *argv]


@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) not found"
    try:
        done = subprocess.run([unshare, *_UNSHARE, "--", "true"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
    return None


def box_available() -> tuple[bool, str]:
    """Whether this machine can start the box, and why not (unshare's own words); asked once per process."""
    why = _probe()
    return why is None, why or ""


# --- limits and parent death -------------------------------------------------------------------------------------

def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when the thread that started it ends: a killed server (or render
    worker) leaves no converter running (`runner.die_with_parent`, the one prctl call)."""
    runner.die_with_parent(sig)


def limit_resources(memory_mb: int, cpu_s: int) -> None:
    """Cap this process (and what it starts) at `memory_mb` of address space and `cpu_s` seconds of CPU; the hard
    limits too, so LibreOffice cannot raise them back. For a `preexec_fn` (after fork, before exec)."""
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu_s:
        # SIGXCPU at the soft limit, SIGKILL at the hard one: a converter stuck in a loop ends even unwatched.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
