"""Office files to PDF with LibreOffice headless, each run in its own throw-away profile, inside the box.

The box (meeting_server/office.py): no network (its own network namespace), links and linked images not fetched
(the profile's settings below), an address-space and CPU-time limit, a wall-clock timeout, and killed with the
worker that started it (its own PID namespace, which the kernel empties when its first process dies, and that
process dies with `unshare`, which dies with the worker). Each run works in a directory of its own under the data
directory, locked by the worker while it runs: `reap_leftovers` kills what a dead worker left there.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from meeting_server import office
from meeting_server.documents.model import IngestError

__all__ = ["PROFILE_SETTINGS", "convert_to_pdf", "default_work_root", "libreoffice_available", "reap_leftovers",
           "soffice_path"]

log = logging.getLogger(__name__)

soffice_path = office.soffice_path

#: Written into each run's fresh profile: no macros; links (Writer 0 = never, Calc 1 = never) not updated; and
#: linked images or other resources of a document outside a trusted location (none is) not fetched.
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks"
 oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel"
 oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution"
 oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link"
 oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link"
 oor:op="fuse"><value>1</value></prop></item>
</oor:items>
"""


def libreoffice_available() -> bool:
    """True when office files can be converted on this machine."""
    return soffice_path() is not None


def default_work_root() -> Path:
    """Where runs work when the caller names no directory (the server names one in its data directory)."""
    return Path(tempfile.gettempdir()) / "meeting-convert"


def convert_to_pdf(src: Path, out_pdf: Path, *, source_format: str, timeout_s: float, memory_mb: int = 2048,
                   work_root: Path | None = None) -> None:
    """Write the PDF rendering of office file `src` to `out_pdf`; raises IngestError on any failure."""
    soffice = soffice_path()
    if soffice is None:
        raise IngestError.of("doc.convert_unavailable")
    component = office.missing_component(soffice, source_format)
    if component is not None:
        raise IngestError.of("doc.convert_part_missing", package=office.PACKAGE_OF_COMPONENT[component])
    boxed = office.box_required()
    if boxed:
        available, why = office.box_available()
        if not available:
            log.warning("no conversion: the converter's box cannot start here (%s); see %s", why, office.BOX_SETTING)
            raise IngestError.of("doc.convert_unsafe")
    root = work_root or default_work_root()
    reap_leftovers(root)
    root.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    # Locked while this run lasts, on a descriptor soffice does not inherit: a free lock with the directory still
    # there means the worker died, and `reap_leftovers` may kill what runs there. The directory gets its name only
    # once locked, so no reaper takes a run that is starting for a dead one.
    starting = root / f".{name}"
    starting.mkdir()
    lock = open(starting / "lock", "ab")  # noqa: SIM115  (closed in finally, after the directory is gone)
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    work = root / name
    os.rename(starting, work)
    try:
        _convert(soffice, src, out_pdf, work, source_format, timeout_s, memory_mb, boxed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        lock.close()


def _convert(soffice: str, src: Path, out_pdf: Path, work: Path, source_format: str, timeout_s: float,
             memory_mb: int, boxed: bool) -> None:
    # LibreOffice picks its import filter partly by extension; the upload's own name is not trusted.
    infile = work / f"input.{source_format}"
    shutil.copyfile(src, infile)
    outdir = work / "out"
    outdir.mkdir()
    # A private profile lets conversions run side by side; a shared one makes a second soffice hand its job to the
    # first and exit, or wait on the profile lock.
    profile = work / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(PROFILE_SETTINGS, encoding="utf-8")
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--invisible",
        "--nologo",
        "--nodefault",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        str(infile),
    ]
    if boxed:
        cmd = office.box_command(cmd)
    env = dict(os.environ, HOME=str(work))
    cpu_s = int(timeout_s) + 10

    def in_child() -> None:
        office.die_with_parent()
        office.limit_resources(memory_mb, cpu_s)

    with subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=work,
        # Its own session and process group, so a timeout kills unshare, oosplash and soffice.bin together.
        start_new_session=True,
        preexec_fn=in_child,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise IngestError.of("doc.timeout") from None
    result = outdir / "input.pdf"
    if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
        log.warning("soffice failed on %s (rc=%s): %s", src, proc.returncode, output.decode("utf-8", "replace")[-500:])
        if proc.returncode in (-signal.SIGKILL, -signal.SIGXCPU, 128 + signal.SIGKILL, 128 + signal.SIGXCPU):
            raise IngestError.of("doc.timeout")
        raise IngestError.of("doc.office_damaged")
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out_pdf.with_name(out_pdf.name + ".part")
    shutil.move(str(result), tmp_out)
    os.replace(tmp_out, out_pdf)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def reap_leftovers(root: Path) -> int:
    """Kill the processes of runs whose worker died (their lock is free), remove their directories; returns how
    many processes were killed. A run whose worker lives (another server process's) is left alone."""
    killed = 0
    try:
        runs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return 0
    for work in runs:
        try:
            lock = open(work / "lock", "ab")  # noqa: SIM115
        except OSError:
            continue
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live worker's run
            killed += _kill_running_in(work)
            shutil.rmtree(work, ignore_errors=True)
    if killed:
        log.warning("killed %d converter processes left by a stopped server in %s", killed, root)
    return killed


def _kill_running_in(work: Path) -> int:
    """SIGKILL every process whose working directory is `work` (soffice runs there: see _convert)."""
    target = str(work)
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == target or cwd.startswith(target + "/"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
