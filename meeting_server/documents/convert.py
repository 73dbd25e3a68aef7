"""Office files to PDF with LibreOffice headless, each run in its own throw-away profile."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from meeting_server.documents.model import IngestError

log = logging.getLogger(__name__)

# Debian and the LibreOffice tarballs put soffice in these places when it is not on PATH.
_KNOWN_PATHS = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)


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


def libreoffice_available() -> bool:
    """True when office files can be converted on this machine."""
    return soffice_path() is not None


def convert_to_pdf(src: Path, out_pdf: Path, *, source_format: str, timeout_s: float) -> None:
    """Write the PDF rendering of office file `src` to `out_pdf`; raises IngestError on any failure."""
    soffice = soffice_path()
    if soffice is None:
        raise IngestError.of("doc.convert_unavailable")
    work = Path(tempfile.mkdtemp(prefix="meeting-soffice-"))
    try:
        # LibreOffice picks its import filter partly by extension; the upload's own name is not trusted.
        infile = work / f"input.{source_format}"
        shutil.copyfile(src, infile)
        outdir = work / "out"
        outdir.mkdir()
        # A private profile lets conversions run side by side; a shared one makes a second soffice
        # hand its job to the first and exit, or wait on the profile lock.
        profile = (work / "profile").as_uri()
        cmd = [
            soffice,
            f"-env:UserInstallation={profile}",
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
        env = dict(os.environ, HOME=str(work))
        with subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
            # Its own session, so a timeout kills oosplash and soffice.bin together.
            start_new_session=True,
            preexec_fn=_lift_soft_memory_limit,
        ) as proc:
            try:
                output, _ = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise IngestError.of("doc.timeout") from None
        result = outdir / "input.pdf"
        if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            log.warning(
                "soffice failed on %s (rc=%s): %s", src, proc.returncode, output.decode("utf-8", "replace")[-500:]
            )
            raise IngestError.of("doc.office_damaged")
        out_pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out_pdf.with_name(out_pdf.name + ".part")
        shutil.move(str(result), tmp_out)
        os.replace(tmp_out, out_pdf)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _lift_soft_memory_limit() -> None:
    # A render worker caps its own address space; LibreOffice maps far more than it uses, so it gets the
    # hard limit back (raising a soft limit up to the hard one needs no privilege).
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
