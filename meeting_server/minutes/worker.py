"""The render worker: rendering, signing and verifying run in a child process, never on the server's event loop.

`run_job(job, payload)` starts `python -m meeting_server.minutes.worker`, hands it the job on stdin and reads the
answer from stdout. Under eventlet the standard `subprocess` module is the green one, so the loop keeps serving
phones while the child works; outside eventlet (CLI, tests) it is a plain blocking call. A DomainError raised in
the child comes back as the same code and message.
"""

from __future__ import annotations

import atexit
import io
import logging
import pickle
import re
import signal
import struct
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meeting_server import faults, runner
from meeting_server.domain.errors import DomainError

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["WorkerError", "run_job", "run_warm"]

log = logging.getLogger(__name__)


class WorkerError(DomainError):
    """The worker process failed."""

    code = "worker.failed"


def run_job(job: str, payload: dict[str, Any], timeout: float = 120, pass_fds: tuple[int, ...] = ()) -> Any:
    """Run one job in a fresh worker process and return its result (raises the child's DomainError). `pass_fds`:
    open files the child inherits (a payload may name one instead of carrying its bytes: `pdf_fd`)."""
    try:
        proc = runner.run("meeting_server.minutes.worker", input=pickle.dumps((job, payload)), capture_output=True,
                          timeout=timeout, check=False, cwd=str(runner.ROOT), background=True, pass_fds=pass_fds)
    except subprocess.TimeoutExpired as exc:
        raise WorkerError("Xử lý biên bản quá lâu, đã dừng. Hãy thử lại.", "worker.timeout") from exc
    if proc.returncode != 0 or not proc.stdout:
        # What went wrong is for the log; the person is told what happened, never a traceback.
        tail = proc.stderr.decode("utf-8", "replace")[-2000:]
        log.error("minutes worker %s exited with %s:\n%s", job, proc.returncode, tail)
        fault = faults.disk_fault(OSError(tail))
        if fault is not None:
            raise fault
        raise WorkerError("Tiến trình xử lý biên bản gặp lỗi nên chưa làm được. Hãy thử lại; nếu vẫn lỗi, "
                          "hãy báo kỹ thuật viên xem nhật ký máy chủ.", "worker.failed")
    return _answer(proc.stdout)


class _Warm:
    """One long-lived worker for the editor's previews, so each preview skips Python start-up and the imports.

    Only key-free jobs go here: signing runs in a fresh process that ends with the job, so keys and PINs never
    outlive it, and uploads from the public /verify page are checked in a fresh process too.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()  # green under eventlet: one job at a time, the loop keeps going

    def call(self, job: str, payload: dict[str, Any]) -> Any:
        with self.lock:
            for attempt in (1, 2):
                if self.proc is None or self.proc.poll() is not None:
                    self.proc = runner.start("meeting_server.minutes.worker", "--serve", stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, cwd=str(runner.ROOT))
                try:
                    return _answer(self._exchange(pickle.dumps((job, payload))))
                except (OSError, EOFError, struct.error) as exc:
                    self.stop()
                    if attempt == 2:
                        raise WorkerError("Tiến trình dựng biên bản bị dừng. Hãy thử lại.") from exc
        raise AssertionError("unreachable")

    def _exchange(self, data: bytes) -> bytes:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(struct.pack(">Q", len(data)) + data)
        self.proc.stdin.flush()
        (size,) = struct.unpack(">Q", _read_exactly(self.proc.stdout, 8))
        return _read_exactly(self.proc.stdout, size)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _read_exactly(f: Any, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = f.read(left)
        if not chunk:
            raise EOFError("worker closed its output")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _answer(raw: bytes) -> Any:
    status, *rest = pickle.loads(raw)
    if status == "error":
        code, message, params = rest
        raise DomainError(message, code, params=params)
    return rest[0]


WARM_JOBS = frozenset({"preview"})
WARM_JOB_SECONDS = 120
_warm_lock = threading.Lock()


def warm_worker(app: Flask) -> _Warm:
    """The app's long-lived preview worker (in `app.extensions`, like the ballot writer), created on first use and
    stopped when the server process exits. It holds a child process and no data: every job brings its record."""
    w = app.extensions.get("minutes_warm_worker")
    if w is None:
        with _warm_lock:
            w = app.extensions.get("minutes_warm_worker")
            if w is None:
                w = _Warm()
                atexit.register(w.stop)
                app.extensions["minutes_warm_worker"] = w
    return w


def run_warm(app: Flask, job: str, payload: dict[str, Any]) -> Any:
    """Run a key-free job (the preview) in the app's long-lived worker."""
    if job not in WARM_JOBS:
        raise ValueError(f"{job} runs in a fresh worker (run_job)")
    return warm_worker(app).call(job, payload)


# --- jobs, run inside the child -------------------------------------------------------------------------------


def _preview(p: dict[str, Any]) -> dict[str, Any]:
    """The draft as PDF, as small JPEG page images, and each page's text (read aloud to screen-reader users)."""
    import pymupdf
    from PIL import Image

    from meeting_server.domain.minutes import build_minutes
    from meeting_server.minutes.render import render_minutes_pdf

    pdf = render_minutes_pdf(build_minutes(p["record"]))
    width = int(p.get("width") or 420)
    pages, texts = [], []
    with pymupdf.open(stream=pdf) as doc:
        for page in doc:
            texts.append(" ".join(page.get_text().split()))
            pix = page.get_pixmap(matrix=pymupdf.Matrix(width / page.rect.width, width / page.rect.width))
            img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=75)
            pages.append(buf.getvalue())
    return {"pdf": pdf, "pages": pages, "texts": texts}


def _finalize(p: dict[str, Any]) -> dict[str, Any]:
    """Render the record, attach it with the audit head, and sign as the secretary then as the chair."""
    from meeting_server.domain.minutes import build_minutes
    from meeting_server.minutes import sign
    from meeting_server.minutes.render import render_minutes_pdf

    record = p["record"]
    doc = build_minutes(record)
    pdf = render_minutes_pdf(doc)
    location = f"{record['council']['level']} {record['council']['name']}"
    order = (("secretary", "Sig_Secretary", "Thư ký kỳ họp ký biên bản", doc.signatures[0].name),
             ("chair", "Sig_Chair", "Chủ tọa ký biên bản", doc.signatures[1].name))
    signing = p["signing"]
    # The stamp shows the clerk-corrected time (a mini-PC may boot with a wrong clock).
    signed_at = datetime.fromisoformat(p["signed_at"]) if p.get("signed_at") else None
    for i, (role, field, reason, name) in enumerate(order):
        embed = {"record_json": p["record_json"], "audit_head": p["audit_head"]} if i == 0 else None
        with _signer(signing, role, name, record) as signer:
            pdf = sign.sign_minutes(pdf, signer, field, reason=reason, location=location, signer_name=name,
                                    embed=embed, signed_at=signed_at)
    return {"pdf": pdf}


class _Ctx:
    """Wrap a plain signer as a context manager, like the PKCS#11 one."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


def _signer(signing: dict[str, Any], role: str, name: str, record: dict[str, Any]) -> Any:
    """The key of `role` from the configured source: the server's CA, a PKCS#12 file, or a PKCS#11 token."""
    from meeting_server.minutes import certs, signer

    source = signing.get("source", "server")
    if source == "server":
        council = f"{record['council']['level']} {record['council']['name']}"
        ca = certs.ensure_local_ca(signing["ca_dir"], council)
        have = certs.issued(ca, role)
        if have is None or have.common_name != name:
            certs.issue_signer(ca, role, name, council)
        return _Ctx(signer.from_server_identity(ca, role))
    conf = (signing.get("roles") or {}).get(role) or {}
    if source == "pkcs12":
        passphrase = conf.get("passphrase")
        if passphrase is None and conf.get("passphrase_file"):
            passphrase = Path(conf["passphrase_file"]).read_bytes().strip()
        return _Ctx(signer.from_pkcs12_file(conf.get("path", ""), passphrase))
    if source == "pkcs11":
        pin = (signing.get("pins") or {}).get(role)
        if not pin:
            raise DomainError("Hãy nhập mã PIN của thiết bị ký số.", "signer.pin_required")
        cert = None
        if conf.get("cert_file"):  # for tokens that hold the key but not its certificate
            cert = _load_cert(Path(conf["cert_file"]))
        return signer.open_pkcs11_signer(signing.get("module", ""), conf.get("token_label", ""), pin,
                                         key_label=conf.get("key_label"), cert_label=conf.get("cert_label"),
                                         signing_cert=cert, raw_mechanism=bool(conf.get("raw_mechanism")))
    raise DomainError("Nguồn khóa ký không hợp lệ: %(source)r.", "signer.bad_config", params={"source": source})


def _load_cert(path: Path) -> Any:
    """An asn1crypto certificate from a PEM or DER file."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    if not path.is_file():
        raise DomainError("Không tìm thấy tệp chứng thư %(path)s.", "signer.cert_missing", params={"path": str(path)})
    raw = path.read_bytes()
    if pem.detect(raw):
        _, _, raw = pem.unarmor(raw)
    return asn1_x509.Certificate.load(raw)


def _verify(p: dict[str, Any]) -> dict[str, Any]:
    """Validate every signature of an uploaded PDF against the given trust roots (PEM bytes). The PDF is `pdf`
    (bytes) or read here from the inherited file `pdf_fd` (an upload as the server spooled it: its bytes never
    pass through the server's event loop); its SHA-256 is computed here too."""
    import hashlib

    from meeting_server.minutes.verify import verify_pdf

    pdf = p["pdf"] if "pdf" in p else _read_fd(int(p["pdf_fd"]))
    report = verify_pdf(pdf, list(p.get("roots") or []))
    return {
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "size": len(pdf),
        "ok": report.ok,
        "error": report.error,
        "record_json": report.record_json,
        "audit_head": report.audit_head,
        "signatures": [
            {"field": r.field, "signer_name": r.signer_name, "intact": r.intact, "valid": r.valid,
             "trusted": r.trusted, "self_issued": r.self_issued, "covers_whole_document": r.covers_whole_document,
             "changes_after": r.changes_after, "ok": r.ok, "trust_note": r.trust_note, "message": r.message,
             "signing_time": r.signing_time.isoformat() if r.signing_time else None}
            for r in report.signatures
        ],
    }


def _read_fd(fd: int) -> bytes:
    """The whole of an inherited file, from its start."""
    import os

    with os.fdopen(fd, "rb") as f:
        f.seek(0)
        return f.read()


def _prepare(p: dict[str, Any]) -> dict[str, Any]:
    """Render the record as PDF/A-3b with the record attached (and its audit head): the file the signers sign."""
    import pymupdf

    from meeting_server.domain.minutes import build_minutes
    from meeting_server.minutes import sign
    from meeting_server.minutes.pdfa import make_pdfa
    from meeting_server.minutes.render import render_minutes_pdf

    if not re.fullmatch(r"[0-9a-f]{64}", p["audit_head"]):
        raise DomainError("Mã băm cuối của nhật ký không hợp lệ.", "sign.bad_audit_head")
    doc = build_minutes(p["record"])
    pdf = make_pdfa(render_minutes_pdf(doc), attachment=(sign.RECORD_FILE_NAME, p["record_json"],
                                                          sign.record_description(p["audit_head"])))
    with pymupdf.open(stream=pdf) as opened:
        pages = opened.page_count
    return {"pdf": pdf, "pages": pages, "signers": [s.name for s in doc.signatures]}


def _seal_key(p: dict[str, Any]) -> dict[str, Any]:
    """Make a signer's key pair and certificate from the server's CA, the key sealed under the chosen PIN."""
    from meeting_server.minutes import certs, pinkey

    ca = certs.ensure_local_ca(p["ca_dir"], p["council"])
    sealed = pinkey.seal_new(ca, p["role"], p["name"], p["council"], p["pin"])
    return {"cert_pem": sealed.cert_pem, "sealed": sealed.sealed}


def _sign_step(p: dict[str, Any]) -> dict[str, Any]:
    """One signer's signature on the PDF as it stands: with their PIN-sealed key or with their PKCS#11 token."""
    from meeting_server.minutes import pinkey, sign

    signed_at = datetime.fromisoformat(p["signed_at"]) if p.get("signed_at") else None
    if p["method"] == "pin":
        ca_pem = Path(p["ca_dir"], "ca-cert.pem").read_bytes()
        ctx: Any = _Ctx(pinkey.open_signer(p["sealed"], p["cert_pem"], ca_pem, p["pin"]))
    elif p["method"] == "token":
        signing = dict(p["signing"])
        signing["pins"] = {p["role"]: p["pin"]}
        ctx = _signer(signing, p["role"], p["signer_name"], {})
    else:
        raise DomainError(f"Cách ký không hợp lệ: {p['method']!r}.", "signing.bad_method")
    with ctx as signer:
        pdf = sign.sign_minutes(p["pdf"], signer, p["field"], reason=p["reason"], location=p["location"],
                                signer_name=p["signer_name"], signed_at=signed_at)
        subject = signer.signing_cert.subject.human_friendly
    return {"pdf": pdf, "subject": subject}


def _check_upload(p: dict[str, Any]) -> dict[str, Any]:
    """An externally signed upload: the prepared PDF plus one valid signature by the expected person?"""
    from meeting_server.minutes.external import check_upload

    ok = check_upload(p["prepared"], p["upload"], field=p["field"], other_fields=p["other_fields"],
                      expected_name=p["expected_name"], cert_sha256=p.get("cert_sha256"),
                      trust_roots=list(p.get("roots") or []))
    return {"field": ok.field, "signer_name": ok.signer_name, "subject": ok.subject, "trusted": ok.trusted}


JOBS = {"preview": _preview, "finalize": _finalize, "verify": _verify, "prepare": _prepare, "seal_key": _seal_key,
        "sign_step": _sign_step, "check_upload": _check_upload}


def _do(raw: bytes) -> bytes:
    job, payload = pickle.loads(raw)
    try:
        out: tuple[Any, ...] = ("ok", JOBS[job](payload))
    except DomainError as err:
        out = ("error", err.code, err.template, err.params)
    except OSError as exc:  # a full or read-only disk (a temporary file, a font cache) is said as such
        fault = faults.disk_fault(exc)
        if fault is None:
            raise
        out = ("error", fault.code, fault.template, fault.params)
    return pickle.dumps(out)


def main() -> None:
    """One job: read it from stdin, write ("ok", result) or ("error", code, msgid, params) to stdout.

    With --serve: length-prefixed jobs until stdin closes (the server went away); a job running longer than
    WARM_JOB_SECONDS ends the process, and the server starts a fresh one.
    """
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    if "--serve" not in sys.argv:
        # A fresh job (a /verify upload, signing) yields the CPU to the server's event loop, which carries every
        # phone: on a 2-core box two validators at full speed otherwise delay each page turn (tests/web/test_limits).
        runner.yield_cpu()
        stdout.write(_do(stdin.read()))
        stdout.flush()
        return
    while True:
        try:
            (size,) = struct.unpack(">Q", _read_exactly(stdin, 8))
            raw = _read_exactly(stdin, size)
        except EOFError:
            return
        signal.alarm(WARM_JOB_SECONDS)
        out = _do(raw)
        signal.alarm(0)
        stdout.write(struct.pack(">Q", len(out)) + out)
        stdout.flush()


if __name__ == "__main__":
    main()

