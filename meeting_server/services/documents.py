"""Documents of a meeting: upload, ingest in the render pool, who may see what, presenting, search and notes.

CPU work (inspecting, drawing pages) runs in the worker processes of `documents.RenderPool`; here a green thread only
waits for it. Originals are stored under their content hash, never under the name the browser sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import Flask, current_app
from sqlalchemy import bindparam, case, delete, func, insert, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from meeting_server import faults
from meeting_server.documents import (
    DEFAULT_LIMITS,
    LARGE_WIDTH,
    PHONE_WIDTH,
    STANDARD_WIDTHS,
    IngestError,
    JobCancelled,
    Limits,
    Priority,
    RenderPool,
    cache_path,
    fastpath,
    fold_vietnamese,
    snippet,
    to_fts5_query,
    to_tsquery,
    watermark_key,
)
from meeting_server.documents.sniff import may_need_conversion
from meeting_server.domain import limits as text_limits
from meeting_server.domain import payload
from meeting_server.domain.documents import document_rights, may_be_handed_presenting, rights_of
from meeting_server.domain.errors import DomainError, Forbidden, NotFound
from meeting_server.domain.permissions import Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.services import audit, unit
from meeting_server.services.unit import Change, Done
from meeting_server.store import db
from meeting_server.store.prepared import DBConn, Prepared
from meeting_server.store.tables import (
    AgendaItem,
    Document,
    DocumentPage,
    DocumentPageText,
    Meeting,
    PageNote,
    Participant,
    Presentation,
    core_table,
    utcnow,
)

log = logging.getLogger(__name__)

FORMATS = ("webp", "jpeg")
MIME = {"webp": "image/webp", "jpeg": "image/jpeg"}
SEARCH_MAX_HITS = 50
#: The watermark of a confidential page the chair put on the projector (there is no viewer to name).
PROJECTOR_WATERMARK = "Màn hình chiếu - tài liệu mật"


# --- settings and places ---------------------------------------------------------------------------------------


def limits(app: Flask) -> Limits:
    """The upload limits: app settings `DOCUMENT_*` over the core's defaults."""
    c = app.config
    d = DEFAULT_LIMITS
    return Limits(
        max_upload_bytes=int(c.get("DOCUMENT_MAX_UPLOAD_BYTES", d.max_upload_bytes)),
        max_pages=int(c.get("DOCUMENT_MAX_PAGES", d.max_pages)),
        max_page_side_mm=float(c.get("DOCUMENT_MAX_PAGE_SIDE_MM", d.max_page_side_mm)),
        max_image_pixels=int(c.get("DOCUMENT_MAX_IMAGE_PIXELS", d.max_image_pixels)),
        render_timeout_s=float(c.get("DOCUMENT_RENDER_TIMEOUT_S", d.render_timeout_s)),
        inspect_timeout_s=float(c.get("DOCUMENT_INSPECT_TIMEOUT_S", d.inspect_timeout_s)),
        ocr_timeout_s=float(c.get("DOCUMENT_OCR_TIMEOUT_S", d.ocr_timeout_s)),
        convert_timeout_s=float(c.get("DOCUMENT_CONVERT_TIMEOUT_S", d.convert_timeout_s)),
        worker_memory_mb=int(c.get("DOCUMENT_WORKER_MEMORY_MB", d.worker_memory_mb)),
        convert_memory_mb=int(c.get("DOCUMENT_CONVERT_MEMORY_MB", d.convert_memory_mb)),
    )


def root(app: Flask) -> Path:
    """data_dir/documents: originals/<sha256>, derived/<sha256>.pdf, cache/…, tmp/, claims/<id>."""
    return Path(app.config["DATA_DIR"]) / "documents"


def original_path(app: Flask, content_hash: str) -> Path:
    return root(app) / "originals" / content_hash


def derived_path(app: Flask, content_hash: str) -> Path:
    return root(app) / "derived" / f"{content_hash}.pdf"


def pdf_path(app: Flask, content_hash: str) -> Path:
    """The PDF whose pages are drawn: the derived one (converted, image, decrypted) when there is one."""
    derived = derived_path(app, content_hash)
    return derived if derived.exists() else original_path(app, content_hash)


def cache_dir(app: Flask) -> Path:
    return root(app) / "cache"


def convert_dir(app: Flask) -> Path:
    """Where LibreOffice works, one directory per run (documents.convert: what a killed server left is reaped)."""
    return root(app) / "convert"


def convert_pool(app: Flask) -> RenderPool:
    """The conversion lane: Office uploads are converted (and then inspected) by workers of their own
    (`DOCUMENT_CONVERT_WORKERS`, default 1), so a slow conversion never holds up a page: page drawing keeps every
    worker of `pool`. Its worker starts with the first Office upload and stops after `DOCUMENT_CONVERT_IDLE_S`."""
    p = app.extensions.get("convert_pool")
    if p is None:
        idle = app.config.get("DOCUMENT_CONVERT_IDLE_S", 120)
        p = RenderPool(cache_dir(app), size=int(app.config.get("DOCUMENT_CONVERT_WORKERS", 1)), limits=limits(app),
                       nice=10, background=True, idle_s=float(idle) if idle else None, keep_first=not idle,
                       convert_dir=convert_dir(app), name="convert")
        app.extensions["convert_pool"] = p
    return p


def reap_converters(app: Flask) -> int:
    """At start: kill the converters a killed server process of this data directory left running (see
    documents.convert.reap_leftovers); those of a live one are left alone. Returns how many were killed."""
    from meeting_server.documents.convert import reap_leftovers

    return reap_leftovers(convert_dir(app))


def ahead_pool(app: Flask) -> RenderPool:
    """The lane of work nobody waits for: every page drawn ahead after an upload, and OCR of scanned pages. Its
    worker (`DOCUMENT_AHEAD_WORKERS`, default 1) runs at the lowest niceness (SCHED_BATCH, nice 19: a weight of 15
    against the loop's 1024), so that the server's loop, woken by a page turn or a ballot, gets the core back at
    once instead of waiting out a drawing worker's time slice (on a 2-core box the render pool's nice-5 workers drew
    two converted Word files ahead at a full core, and the loop waited 3–11 ms at a time: scripts/bench/room_loop.py
    inflight). Not the idle class: on a box kept busy by other programs an idle-class worker got no CPU at all, did
    not even start within its 30 s, and the drawing ahead was given up. A page somebody asks for is still drawn by
    `pool`, whose workers keep their nice 5. Its worker stops when idle (`DOCUMENT_AHEAD_IDLE_S`, 120 s)."""
    p = app.extensions.get("ahead_pool")
    if p is None:
        idle = app.config.get("DOCUMENT_AHEAD_IDLE_S", 120)
        p = RenderPool(cache_dir(app), size=int(app.config.get("DOCUMENT_AHEAD_WORKERS", 1)), limits=limits(app),
                       nice=19, idle_s=float(idle) if idle else None, keep_first=not idle, name="ahead")
        app.extensions["ahead_pool"] = p
    return p


def pool(app: Flask) -> RenderPool:
    """The app's render pool, started on first use (workers are separate processes; see documents.pool). It draws
    pages and inspects PDFs and images; Office files go to `convert_pool`."""
    p = app.extensions.get("render_pool")
    if p is None:
        size = app.config.get("DOCUMENT_WORKERS")
        # Past the first worker, a worker idle for 2 minutes stops (~50 MB each) and starts again with the next job.
        idle = app.config.get("DOCUMENT_WORKER_IDLE_S", 120)
        p = RenderPool(cache_dir(app), size=int(size) if size else None, limits=limits(app),
                       idle_s=float(idle) if idle else None)
        app.extensions["render_pool"] = p
    return p


# --- upload ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredUpload:
    """An upload written under its content hash."""

    content_hash: str
    size: int
    path: Path


def store_upload(app: Flask, stream: IO[bytes], max_bytes: int) -> StoredUpload:
    """Copy the uploaded bytes to originals/<sha256>; the same bytes twice are stored once."""
    tmp_dir = root(app) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"up-{os.getpid()}-{time.monotonic_ns()}"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as f:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise IngestError.of("doc.too_large", size_mb=_mb(size) + "+", limit_mb=_mb(max_bytes))
                digest.update(chunk)
                f.write(chunk)
        if size == 0:
            raise IngestError.of("doc.unsupported")
        content_hash = digest.hexdigest()
        dest = original_path(app, content_hash)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink()
        else:
            os.replace(tmp, dest)
        return StoredUpload(content_hash, size, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f}".replace(".", ",").removesuffix(",0")


def clean_name(name: str) -> str:
    """The browser's file name, for display only: no path, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "tai-lieu"


def create(
    s: Session,
    m: Meeting,
    up: StoredUpload,
    original_name: str,
    mime: str,
    *,
    item_id: int | None,
    confidential: bool,
    downloadable: bool,
    actor: str,
) -> Done[Document]:
    """A new document in `processing` (the caller then starts `process`); every role gets its document list."""
    with unit.of_work(s):
        doc = _create(s, m, up, original_name, mime, item_id=item_id, confidential=confidential,
                      downloadable=downloadable, actor=actor)
    return Done(doc, unit.change(m, documents=True))


def _create(s: Session, m: Meeting, up: StoredUpload, original_name: str, mime: str, *, item_id: int | None,
            confidential: bool, downloadable: bool, actor: str) -> Document:
    if item_id is not None:
        _item(s, m, item_id)
    position = (s.scalar(select(func.max(Document.position)).where(Document.meeting_id == m.id)) or 0) + 1
    name = clean_name(original_name)
    doc = Document(
        meeting_id=m.id,
        agenda_item_id=item_id,
        position=position,
        content_hash=up.content_hash,
        original_name=name,
        mime=(mime or "")[:100],
        size_bytes=up.size,
        title=name.rsplit(".", 1)[0][:300],
        status="processing",
        confidential=confidential,
        downloadable=downloadable and not confidential,
        uploaded_by=actor,
    )
    s.add(doc)
    s.flush()
    unit.bump(m)
    audit.record(s, m.id, "document.uploaded", actor, {
        "document_id": doc.id, "content_hash": up.content_hash, "name": name, "size": up.size,
        "item_id": item_id, "confidential": confidential,
    })
    return doc


def _item(s: Session, m: Meeting, item_id: int) -> AgendaItem:
    it = s.get(AgendaItem, item_id)
    if it is None or it.meeting_id != m.id:
        raise DomainError("Nội dung chương trình không tồn tại.", "document.invalid_item")
    return it


#: Told of processing: ("progress", doc, None), or ("ready" | "failed", doc, the committed Change to announce).
Notify = Callable[[str, Document, Change | None], None]


@contextmanager
def claim(app: Flask, document_id: int) -> Iterator[bool]:
    """Whether this process may process the document now: True while it holds the document's lease, False if
    another live server process does.

    Every server process takes up the uploads it finds unfinished at start; with several processes on one database
    (docs/ARCHITECTURE.md, "Several processes") only one of them may, or the text would be indexed twice. A lease
    (services/leases.py), not an flock, so that it holds across boxes sharing a PostgreSQL database as it does on one
    box: the heartbeat of the process renews it while the work lasts (realtime/leases.py); a killed process stops
    renewing, and within seconds another process's heartbeat takes the document up (`taken_over`).
    """
    from meeting_server.domain.leases import document as lease_name
    from meeting_server.services import leases

    me, name = leases.owner(app), lease_name(document_id)
    with db.standalone_session(app) as s:
        d = s.get(Document, int(document_id))
        mine = leases.take(s, name, me, meeting_id=d.meeting_id if d is not None else None)
    try:
        yield mine
    finally:
        if mine:
            with db.standalone_session(app) as s:
                leases.release(s, name, me)


def taken_over(s: Session, now: Any = None) -> list[int]:
    """The uploads still `processing` whose processing lease ran out: the process that held it is gone (a process
    renews its leases every few seconds while it lives). Another process takes them up (`process` takes the lease
    over, and the audit log says so)."""
    from meeting_server.domain import leases as lease_rules
    from meeting_server.store.tables import Lease

    now = now or utcnow()
    names = {lease_rules.document(i): i for i in s.scalars(select(Document.id).where(Document.status == "processing"))}
    if not names:
        return []
    rows = s.execute(select(Lease.name, Lease.owner, Lease.expires_at).where(Lease.name.in_(names))).all()
    return sorted(names[r.name] for r in rows if r.expires_at <= now)


def process(app: Flask, document_id: int, notify: Notify, *, password: str | None = None) -> None:
    """Inspect the upload in a worker, index its text, draw its first page, mark it ready, then draw the rest.

    Runs in a background (green) thread; `notify(kind, doc, change)` is called with kind "progress", "ready" or
    "failed" (these two with the committed `Change`). Each step commits on its own: the worker takes seconds and the
    write lock must not wait for it.
    Left to another process of the same data directory that is processing it already (`claim`).
    """
    with claim(app, document_id) as mine:
        if not mine:
            log.info("document %s: another server process is processing it", document_id)
            return
        _process(app, document_id, notify, password)


def _process(app: Flask, document_id: int, notify: Notify, password: str | None) -> None:
    p = pool(app)
    with db.standalone_session(app) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            return
        content_hash = doc.content_hash
        try:
            _inspect_into(app, s, doc, p, password)
            s.commit()  # do not hold SQLite's write lock while a worker draws
            if not doc.confidential:
                # The first page at phone width before "ready": the first delegate to open it does not wait.
                p.render(pdf_path(app, content_hash), content_hash, 0, PHONE_WIDTH, priority=Priority.HIGH)
        except IngestError as err:
            notify("failed", doc, _fail(s, doc, err.code, err.message))
            return
        except JobCancelled:
            return
        except Exception as exc:  # never leave a document spinning in "processing"
            fault = faults.disk_fault(exc)
            if fault is not None:  # the server's disk, not the file: say so (and it can be retried once fixed)
                log.error("processing document %s: %s (%s)", document_id, fault.code, exc)
                notify("failed", doc, _fail(s, doc, fault.code, fault.message))
                return
            log.exception("processing document %s failed", document_id)
            notify("failed", doc, _fail(s, doc, "doc.damaged", IngestError.of("doc.damaged").message))
            return
        doc.status = "ready"
        doc.pages_rendered = 0 if doc.confidential else 1
        m = s.get(Meeting, doc.meeting_id)
        assert m is not None
        unit.bump(m)
        audit.record(s, m.id, "document.ready", "system:documents",
                     {"document_id": doc.id, "pages": doc.page_count, "title": doc.title})
        s.commit()
        sync_fast_path(app, s, document_id, content_hash)  # signed page URLs work from now on (not confidential)
        notify("ready", doc, unit.change(m, documents=True))
        if not doc.confidential:
            # Pages of a confidential document are drawn per viewer, with the viewer's name on them.
            pre_render(app, s, doc, notify)
        recognize_pages(app, s, doc)


def pre_render(app: Flask, s: Session, doc: Document, notify: Notify) -> None:
    """Draw every page at both widths ahead of time (in `ahead_pool`), reporting progress now and then."""
    p = ahead_pool(app)
    path = pdf_path(app, doc.content_hash)
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 0.25:
            last[0] = now
            # A count on the clerk's screen, committed alone without the fsync (db.relax_durability): ~1.5 ms of
            # the loop each on this disk, four times a second per document drawn. A power cut may lose the newest
            # count, never a page (they are files) nor anything of the record.
            db.relax_durability(s)
            doc.pages_rendered = done
            s.commit()
            notify("progress", doc, None)

    from meeting_server.documents import pre_render_document

    try:
        # Every page at phone width first (what most screens ask for; the clerk's progress follows this pass),
        # then the large width for tablets and the projector.
        phone = pre_render_document(p, path, doc.content_hash, doc.page_count, (PHONE_WIDTH,), progress)
        large = pre_render_document(p, path, doc.content_hash, doc.page_count, (LARGE_WIDTH,))
    except JobCancelled:
        return
    failed = len(phone.failed) + len(large.failed)
    if failed:
        log.warning("document %s: %d page images failed", doc.id, failed)
    log.info("document %s: %d pages drawn at %d px in %.1f s, at %d px in %.1f s", doc.id, doc.page_count,
             PHONE_WIDTH, phone.seconds, LARGE_WIDTH, large.seconds)


def _inspect_into(app: Flask, s: Session, doc: Document, p: RenderPool, password: str | None) -> None:
    """Fill the document's pages and text, from a twin already ingested when there is one (same bytes).

    This runs on the server's loop, so the CPU work is the worker's: it reads the text and folds it for the
    search index (DocInfo.page_folded); a twin's folded text is copied in SQL. The rows go in as one executemany
    per table, not one ORM object per page (a 300-page upload is 900 rows)."""
    twin = s.scalar(select(Document).where(
        Document.content_hash == doc.content_hash, Document.status == "ready", Document.id != doc.id).limit(1))
    folded: list[tuple[int, str]] | None = None
    if twin is not None and pdf_path(app, doc.content_hash).exists():
        doc.page_count, doc.source_format = twin.page_count, twin.source_format
        if doc.title == doc.original_name.rsplit(".", 1)[0] and twin.title:
            doc.title = twin.title
        rows = [tuple(r) for r in s.execute(
            select(DocumentPage.page_no, DocumentPage.width_pt, DocumentPage.height_pt, DocumentPage.text)
            .where(DocumentPage.document_id == twin.id).order_by(DocumentPage.page_no))]
        reading = [tuple(r) for r in s.execute(
            select(DocumentPageText.page_no, DocumentPageText.blocks, DocumentPageText.source)
            .where(DocumentPageText.document_id == twin.id))]
    else:
        original = original_path(app, doc.content_hash)
        lane = convert_pool(app) if may_need_conversion(original) else p
        info = lane.inspect(original, password=password, pdf_out=derived_path(app, doc.content_hash))
        doc.page_count, doc.source_format = info.page_count, info.source_format
        if info.title and doc.title == doc.original_name.rsplit(".", 1)[0]:
            doc.title = text_limits.fit(text_limits.DOCUMENT_TITLE, info.title)  # only when the clerk has not named it
        rows = [(i + 1, w, h, info.page_texts[i]) for i, (w, h) in enumerate(info.page_sizes)]
        folded = list(enumerate(info.page_folded, start=1))
        scans = set(info.ocr_pages)
        reading = [(i + 1, json.dumps(blocks, ensure_ascii=False), "pending" if i + 1 in scans else "pdf")
                   for i, blocks in enumerate(info.page_blocks)]
    s.execute(delete(DocumentPage).where(DocumentPage.document_id == doc.id))
    s.execute(delete(DocumentPageText).where(DocumentPageText.document_id == doc.id))
    _fts_delete(s, doc.id)
    if rows:
        s.execute(insert(DocumentPage), [{"document_id": doc.id, "page_no": no, "width_pt": w, "height_pt": h,
                                          "text": t} for no, w, h, t in rows])
    if reading:
        s.execute(insert(DocumentPageText), [{"document_id": doc.id, "page_no": no, "blocks": blocks,
                                              "source": source} for no, blocks, source in reading])
    if folded is None:  # the twin's index rows, already folded
        s.execute(text("INSERT INTO document_page_fts (folded, document_id, page_no) "
                       "SELECT folded, :d, page_no FROM document_page_fts WHERE document_id = :t"),
                  {"d": doc.id, "t": twin.id if twin is not None else None})
    else:
        _fts_insert(s, doc.id, folded)
    s.flush()


def recognize_pages(app: Flask, s: Session, doc: Document) -> int:
    """OCR the scanned pages of a ready document, one at a time in the render pool (background priority), each
    committed as it comes: its reading blocks, and its text in the search index. Returns how many were read.

    A page whose OCR fails (no tesseract, over Limits.ocr_timeout_s) is marked "failed" and keeps its image only.
    """
    pending = s.scalars(select(DocumentPageText.page_no).where(
        DocumentPageText.document_id == doc.id, DocumentPageText.source == "pending")
        .order_by(DocumentPageText.page_no)).all()
    if not pending:
        return 0
    document_id, content_hash = doc.id, doc.content_hash
    path = pdf_path(app, content_hash)
    read = 0
    for page_no in pending:
        s.rollback()  # no read snapshot held while tesseract works
        started = time.monotonic()
        try:
            result = ahead_pool(app).recognize(path, content_hash, page_no - 1)
        except JobCancelled:
            return read
        except IngestError as err:  # the worker was killed (timeout) or crashed on this page
            result = {"blocks": [], "failed": err.code}
        row = s.get(DocumentPageText, (document_id, page_no))
        page = s.get(DocumentPage, (document_id, page_no))
        if row is None or page is None:  # the document was removed meanwhile
            return read
        blocks = result.get("blocks") or []
        row.blocks = json.dumps(blocks, ensure_ascii=False)
        row.source = "failed" if result.get("failed") else "ocr"
        page.text = "\n".join(str(b.get("t", "")) for b in blocks)
        s.execute(text("DELETE FROM document_page_fts WHERE document_id = :d AND page_no = :p"),
                  {"d": document_id, "p": page_no})
        _fts_insert(s, document_id, [(page_no, fold_vietnamese(page.text))])  # one page: short
        s.commit()
        read += 0 if result.get("failed") else 1
        log.info("document %s page %d: OCR %s in %.1f s (%d blocks)", document_id, page_no, row.source,
                 time.monotonic() - started, len(blocks))
    return read


def _fail(s: Session, doc: Document, code: str, message: str) -> Change | None:
    s.rollback()
    doc = s.get(Document, doc.id) or doc
    doc.status = "failed"
    doc.failure_code = code
    doc.failure_message = message
    m = s.get(Meeting, doc.meeting_id)
    if m is not None:
        unit.bump(m)
        audit.record(s, m.id, "document.failed", "system:documents",
                     {"document_id": doc.id, "code": code})
    s.commit()
    return unit.change(m, documents=True) if m is not None else None


def retry_with_password(s: Session, m: Meeting, document_id: int, password: str, actor: str) -> Done[Document]:
    """Put a password-protected upload back into processing (the caller starts `process` with the password)."""
    doc = get(s, m, document_id)
    if doc.status != "failed" or doc.failure_code != "doc.encrypted":
        raise DomainError("Tài liệu này không cần mật khẩu.", "document.no_password_needed")
    if not password:
        raise DomainError("Hãy nhập mật khẩu.", "document.password_missing")
    with unit.of_work(s):
        doc.status, doc.failure_code, doc.failure_message = "processing", "", ""
        unit.bump(m)
        audit.record(s, m.id, "document.password_given", actor, {"document_id": doc.id})
    return Done(doc, unit.change(m, documents=True))


# --- reading ---------------------------------------------------------------------------------------------------


def can_see(who: Principal, doc: Document, pres: Presentation | None = None) -> bool:
    """Whether this principal may see the document (domain/documents.py has the rule)."""
    if doc.meeting_id != who.meeting_id:
        return False
    on_projector = pres is not None and bool(pres.confidential_on_projector) and pres.document_id == doc.id
    return document_rights(who.role, confidential=doc.confidential, on_projector=on_projector).see


def watermark_for(who: Principal, doc: Document) -> str | None:
    """The name written over a confidential page: the viewer's own."""
    if not doc.confidential:
        return None
    if who.role == Role.KIOSK:
        return PROJECTOR_WATERMARK
    return f"{who.name} - tài liệu mật" if who.name else "Tài liệu mật"


def get(s: Session, m: Meeting, document_id: int) -> Document:
    doc = s.get(Document, document_id)
    if doc is None or doc.meeting_id != m.id:
        raise NotFound("Không tìm thấy tài liệu.")
    return doc


def visible(s: Session, who: Principal, document_id: int) -> Document:
    """The document if this principal may see it; a hidden one looks like it does not exist."""
    doc = s.get(Document, document_id)
    # The presentation matters only for a confidential document on the projector: spare the query otherwise.
    pres = s.get(Presentation, who.meeting_id) if doc is not None and doc.confidential else None
    if doc is None or not can_see(who, doc, pres):
        raise NotFound("Không tìm thấy tài liệu.")
    return doc


#: The authenticated page route, drawn per viewer for a confidential document; `{id}` is the document's id.
PAGE_ROUTE = "/documents/{id}/pages/{page}.{fmt}?w={width}"


def page_key(app: Flask | None = None) -> bytes:
    """The key that signs page URLs (derived from the app's secret key once, kept with the app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    key = app.extensions.get("page_url_key")
    if key is None:
        secret = app.secret_key
        if not secret:
            raise RuntimeError("the app has no secret key to sign page URLs with")
        key = app.extensions["page_url_key"] = fastpath.derive_key(secret)
    return key


def page_url_template(doc: Document) -> str:
    """Where a document's page images are, with `{page}`, `{width}` and `{fmt}` for the client to fill in.

    A non-confidential document gets its signed URL, the same for every card (the fast path serves it without the
    database); a confidential one the authenticated route, whose pages carry each viewer's name.
    """
    if doc.confidential:
        return PAGE_ROUTE.replace("{id}", str(doc.id))
    return fastpath.url_template(page_key(), doc.id, doc.content_hash)


def page_urls(doc: Document, page_no: int, fmt: str = "webp") -> dict[str, str]:
    """One page's image URL at each standard width."""
    template = page_url_template(doc)
    return {str(w): template.format(page=page_no, width=w, fmt=fmt) for w in STANDARD_WIDTHS}


def summary(doc: Document, who: Principal) -> dict[str, Any]:
    """One document as a list shows it."""
    out: dict[str, Any] = {
        "id": doc.id,
        "title": doc.title,
        "original_name": doc.original_name,
        "item_id": doc.agenda_item_id,
        "status": doc.status,
        "page_count": doc.page_count,
        "confidential": doc.confidential,
        "downloadable": may_download(who, doc),
        # The switch "on the projector too" is offered for a confidential document to those who decide it.
        "projector_switch": doc.confidential and document_rights(who.role, confidential=True).project,
    }
    if doc.status == "ready":
        out["page_url"] = page_url_template(doc)
    if doc.status == "failed":
        out["error"] = {"code": doc.failure_code, "message": doc.failure_message}
    if who.can(Permission.DOCUMENT_MANAGE):
        out.update(pages_rendered=doc.pages_rendered, size_bytes=doc.size_bytes, allow_download=doc.downloadable,
                   source_format=doc.source_format)
    return out


def detail(doc: Document, who: Principal) -> dict[str, Any]:
    """GET /api/v1/documents/<id>: status, failure message, page count and every page's image URLs."""
    out = summary(doc, who)
    out["pages"] = [{"page": n, "images": page_urls(doc, n)} for n in range(1, doc.page_count + 1)] \
        if doc.status == "ready" else []
    if out["downloadable"]:
        out["download_url"] = f"/documents/{doc.id}/original"
    return out


def listing(s: Session, who: Principal, docs: list[Document] | None = None) -> list[dict[str, Any]]:
    """The meeting's documents this principal may see, in upload order (`docs`: already loaded rows)."""
    pres = s.get(Presentation, who.meeting_id)
    if docs is None:
        docs = list(s.scalars(select(Document).where(Document.meeting_id == who.meeting_id)
                              .order_by(Document.position, Document.id)))
    out = []
    for d in docs:
        if not can_see(who, d, pres):
            continue
        if d.status != "ready" and not who.can(Permission.DOCUMENT_MANAGE):
            continue  # delegates see a document once it can be read
        out.append(summary(d, who))
    return out


def may_download(who: Principal, doc: Document) -> bool:
    """The original only where the clerk allowed it, never for a confidential document."""
    if doc.confidential or doc.status != "ready":
        return False
    return doc.downloadable or who.can(Permission.DOCUMENT_MANAGE)


@dataclass(frozen=True)
class PageImage:
    """A page image file and how to name it for caches."""

    path: Path
    etag: str
    mime: str
    private: bool


def page_image(app: Flask, s: Session, who: Principal, document_id: int, page_no: int, width: int,
               fmt: str) -> PageImage:
    """The cached image of a page, drawn now (the presented page first in the queue) when it is not yet there."""
    if fmt not in FORMATS:
        raise NotFound("Không tìm thấy trang.")
    if width not in STANDARD_WIDTHS:
        raise DomainError("Độ rộng ảnh không hợp lệ (720 hoặc 1600).", "document.bad_width")
    doc = visible(s, who, document_id)
    if doc.status != "ready" or not 1 <= page_no <= doc.page_count:
        raise NotFound("Không tìm thấy trang.")
    wm = watermark_for(who, doc)
    wm_key = watermark_key(wm) if wm else None
    etag = fastpath.etag(doc.content_hash, page_no, width, fmt)
    if wm_key:
        etag = etag[:-1] + f'-{wm_key}"'
    path = _drawn(app, s, doc, page_no, width, fmt, wm)
    return PageImage(path, etag, MIME[fmt], private=wm is not None)


def _drawn(app: Flask, s: Session, doc: Document, page_no: int, width: int, fmt: str, wm: str | None) -> Path:
    """The cached image of a page, drawn now when missing (the presented page jumps the queue)."""
    path = cache_path(cache_dir(app), doc.content_hash, page_no - 1, width, fmt, watermark_key(wm) if wm else None)
    if not path.exists():
        pres = s.get(Presentation, doc.meeting_id)
        presented = pres is not None and pres.document_id == doc.id and pres.page == page_no
        content_hash = doc.content_hash
        s.rollback()  # release the read snapshot while waiting for the worker
        path = pool(app).render(pdf_path(app, content_hash), content_hash, page_no - 1, width, fmt=fmt,
                                watermark=wm, priority=Priority.HIGH if presented else Priority.NORMAL)
    return path


def signed_page_image(app: Flask, s: Session, document_id: int, content_hash: str, page_no: int, width: int,
                      fmt: str) -> PageImage:
    """A page by its signed URL (the caller checked the signature), when the fast path could not answer: the page
    is not drawn yet, or the document's public marker is missing. The database decides; the marker is put back."""
    if fmt not in FORMATS or width not in STANDARD_WIDTHS:
        raise NotFound("Không tìm thấy trang.")
    doc = s.get(Document, document_id)
    if (doc is None or doc.content_hash != content_hash or doc.confidential or doc.status != "ready"
            or not 1 <= page_no <= doc.page_count):
        raise NotFound("Không tìm thấy trang.")
    if not sync_fast_path(app, s, document_id, content_hash):
        raise NotFound("Không tìm thấy trang.")  # made confidential or removed while this request ran
    doc = s.get(Document, document_id)
    if doc is None:
        raise NotFound("Không tìm thấy trang.")
    path = _drawn(app, s, doc, page_no, width, fmt, None)
    return PageImage(path, fastpath.etag(content_hash, page_no, width, fmt), MIME[fmt], private=False)


def _public_hash(s: Session, document_id: int) -> str | None:
    """The content hash of a ready, non-confidential document, else None (a fresh query, not the identity map)."""
    return s.scalar(select(Document.content_hash).where(
        Document.id == document_id, Document.status == "ready", Document.confidential.is_(False)))


def sync_fast_path(app: Flask, s: Session, document_id: int, content_hash: str, *, may_open: bool = True) -> bool:
    """Make the document's public marker agree with the database: present only while the document is ready and not
    confidential. Returns whether the document is public (then the marker is there, unless the disk refused it).

    Call it after every commit that may change that, and with `may_open=False` before such a commit too (it then
    only closes, seeing the session's own uncommitted change), so a document made confidential or removed is closed
    before the change is visible to anyone. Opening writes the marker and then reads the database again in a new
    transaction, removing the marker if a clerk's change committed meanwhile; the clerk's side removes it again
    after committing. Whichever order they run in, no marker outlives a confidential commit.
    """
    marker = fastpath.marker_path(cache_dir(app), document_id, content_hash)
    if _public_hash(s, document_id) != content_hash:
        marker.unlink(missing_ok=True)
        return False
    if marker.exists() or not may_open:
        return marker.exists()
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        log.warning("cannot write %s: signed page URLs of document %s go through Flask", marker, document_id)
        return True
    s.rollback()  # a new read transaction: see what committed since the first read
    if _public_hash(s, document_id) != content_hash:
        marker.unlink(missing_ok=True)
        return False
    return True


def original(app: Flask, s: Session, who: Principal, document_id: int) -> tuple[Path, str, str]:
    """The original upload (path, download name, mime) where downloading is allowed."""
    doc = visible(s, who, document_id)
    if not may_download(who, doc):
        raise Forbidden("Tài liệu này không được phép tải về.", "document.no_download")
    return original_path(app, doc.content_hash), doc.original_name, doc.mime or "application/octet-stream"


# --- the clerk's changes ----------------------------------------------------------------------------------------


def update(app: Flask, s: Session, m: Meeting, document_id: int, changes: dict[str, Any],
           actor: str) -> Done[Document]:
    """Change a document's title, agenda item, confidential or downloadable flags; every role gets its list.

    The signed page URLs close before the commit that makes it confidential, and open after the one that makes it
    public (see `sync_fast_path`)."""
    with unit.of_work(s):
        doc = _update(s, m, document_id, changes, actor)
        content_hash = doc.content_hash
        sync_fast_path(app, s, document_id, content_hash, may_open=False)
    sync_fast_path(app, s, document_id, content_hash)
    return Done(doc, unit.change(m, documents=True))


def _update(s: Session, m: Meeting, document_id: int, changes: dict[str, Any], actor: str) -> Document:
    doc = get(s, m, document_id)
    done: dict[str, Any] = {}
    if "title" in changes:
        title = text_limits.clean(text_limits.DOCUMENT_TITLE, changes["title"])
        if not title:
            raise DomainError("Hãy nhập tên tài liệu.", "document.invalid")
        doc.title = done["title"] = title
    if "item_id" in changes:
        item_id = changes["item_id"]
        if item_id is not None:
            if isinstance(item_id, bool) or not isinstance(item_id, int):
                raise DomainError("Nội dung chương trình không hợp lệ.", "document.invalid_item")
            _item(s, m, item_id)
        doc.agenda_item_id = done["item_id"] = item_id
    for flag in ("confidential", "downloadable"):
        if flag in changes:
            if not isinstance(changes[flag], bool):
                raise payload.invalid()
            setattr(doc, flag, changes[flag])
            done[flag] = changes[flag]
    if doc.confidential:
        doc.downloadable = False
    if not done:
        return doc
    unit.bump(m)
    audit.record(s, m.id, "document.updated", actor, dict(done, document_id=doc.id))
    return doc


def remove(app: Flask, s: Session, m: Meeting, document_id: int, actor: str) -> Change:
    """Remove a document; its stored bytes go too when no other document uses them. Its signed page URLs stop at
    once; every role gets its list."""
    with unit.of_work(s):
        content_hash = _remove(app, s, m, document_id, actor)
    sync_fast_path(app, s, document_id, content_hash)  # removes what a racing request put back
    return unit.change(m, documents=True)


def _remove(app: Flask, s: Session, m: Meeting, document_id: int, actor: str) -> str:
    doc = get(s, m, document_id)
    content_hash = doc.content_hash
    _fts_delete(s, doc.id)
    pres = s.get(Presentation, m.id)
    if pres is not None and pres.document_id == doc.id:
        pres.document_id = None
    s.delete(doc)
    unit.bump(m)
    audit.record(s, m.id, "document.removed", actor, {"document_id": document_id, "content_hash": content_hash})
    s.flush()
    sync_fast_path(app, s, document_id, content_hash, may_open=False)  # closed before the removal commits
    others = s.scalar(select(func.count()).select_from(Document).where(Document.content_hash == content_hash))
    if not others:
        for lane in (pool(app), ahead_pool(app)):
            lane.cancel_pending(content_hash)
        for path in (original_path(app, content_hash), derived_path(app, content_hash)):
            path.unlink(missing_ok=True)
    return content_hash


# --- presenting -------------------------------------------------------------------------------------------------


def presentation(s: Session, meeting_id: int) -> Presentation:
    pres = s.get(Presentation, meeting_id)
    if pres is None:
        pres = Presentation(meeting_id=meeting_id, page=1)
        s.add(pres)
        s.flush()
    return pres


@dataclass(frozen=True)
class Presented:
    """What a page turn changed, for the broadcast (and the page to draw first: `content_hash`, `page_count`)."""

    meeting_id: int
    document_id: int | None
    page: int
    seq: int
    confidential: bool
    on_projector: bool
    content_hash: str | None = None
    page_count: int = 0


_pres_t = core_table(Presentation)
_doc_t = core_table(Document)
_meeting_t = core_table(Meeting)
# A page turn is the room's most frequent write: prebuilt statements on the DBAPI connection (store.prepared), one
# read of each row and two writes.
_PRES_ROW = Prepared(select(_pres_t.c.document_id, _pres_t.c.granted_participant_id,
                            _pres_t.c.confidential_on_projector).where(_pres_t.c.meeting_id == bindparam("m")))
_DOC_ROW = Prepared(select(_doc_t.c.meeting_id, _doc_t.c.status, _doc_t.c.page_count, _doc_t.c.confidential,
                           _doc_t.c.content_hash).where(_doc_t.c.id == bindparam("d")))
_PRES_SET = Prepared(sql_update(_pres_t).where(_pres_t.c.meeting_id == bindparam("m")).values(
    document_id=bindparam("d"), page=bindparam("p"), presenter_participant_id=bindparam("by"),
    confidential_on_projector=bindparam("proj")))
#: A relative turn ("next page"): the page moves from the one stored, within the document, in the statement that
#: writes it, so two taps sent before either's `presented` came back land on two pages (never twice on one).
_stepped = _pres_t.c.page + bindparam("step")
_PRES_STEP = Prepared(sql_update(_pres_t).where(_pres_t.c.meeting_id == bindparam("m"),
                                               _pres_t.c.document_id == bindparam("d")).values(
    page=case((_stepped < 1, 1), (_stepped > bindparam("n"), bindparam("n")), else_=_stepped),
    presenter_participant_id=bindparam("by"), confidential_on_projector=bindparam("proj"))
    .returning(_pres_t.c.page))
_NEXT_SEQ = Prepared(sql_update(_meeting_t).where(_meeting_t.c.id == bindparam("m")).values(seq=_meeting_t.c.seq + 1)
                     .returning(_meeting_t.c.seq))


def present(s: Session, meeting_id: int, who: Principal, document_id: int | None, page: int,
            on_projector: bool | None = None, step: int | None = None) -> Presented:
    """Show a document's page to every follower and the projector (document_id None: back to the idle screen).
    With `step` (the presenter's ◀ ▶), the page moves by that many from the page stored when the room shows this
    document already, stopping at the first and last page; otherwise `page` is shown."""
    presented = _present(db.dbapi(s), meeting_id, who, document_id, page, on_projector, s, step)
    assert presented is not None  # with a session, every turn is made
    m = s.identity_map.get(identity_key(Meeting, meeting_id))
    if m is not None:
        set_committed_value(m, "seq", presented.seq)  # a Meeting already loaded in this session sees the new seq
    return presented


def turn(app: Flask, conn: DBConn, meeting_id: int, who: Principal, document_id: int | None, page: int,
         on_projector: bool | None = None, step: int | None = None) -> Presented:
    """A page turn, the room's hot path and its documented exception to `unit.of_work`: committed here with
    SQLite's `synchronous=NORMAL` (a page turn decides nothing: no fsync before every screen turns), on the DBAPI
    connection `conn` when it stays within the document shown (`turn_page`), else through a Session (`present`,
    which the audit log keeps). The caller announces the `Presented` (realtime.announce.presented)."""
    db.relax_durability(conn)
    presented = turn_page(conn, meeting_id, who, document_id, page, on_projector, step)
    if presented is not None:
        conn.commit()
        return presented
    with db.standalone_session(app) as s:
        db.relax_durability(s)
        presented = present(s, meeting_id, who, document_id, page, on_projector, step)
        s.commit()
    return presented


def turn_page(conn: DBConn, meeting_id: int, who: Principal, document_id: int | None, page: int,
              on_projector: bool | None = None, step: int | None = None) -> Presented | None:
    """`present` without a Session, for the room's hot path: another page of the document already shown. None,
    having written nothing, when the turn needs more (another document, which the audit log keeps, or the
    meeting's first turn): then `present` makes it. Refusals are the same as `present`'s."""
    return _present(conn, meeting_id, who, document_id, page, on_projector, None, step)


def _present(conn: DBConn, meeting_id: int, who: Principal, document_id: int | None, page: int,
             on_projector: bool | None, s: Session | None, step: int | None = None) -> Presented | None:
    pres = _PRES_ROW.first(conn, m=meeting_id)
    if pres is None:
        if s is None:
            return None
        presentation(s, meeting_id)  # the meeting's first page turn creates its row
        pres = _PRES_ROW.first(conn, m=meeting_id)
        assert pres is not None
    shown_doc, granted_participant_id, confidential_on_projector = pres
    rights = rights_of(who, granted_participant_id)
    if not rights.present:
        raise Forbidden("Bạn không được trình bày tài liệu. Chủ tọa có thể giao quyền trình bày cho bạn.",
                        "document.not_presenter")
    confidential, content_hash, page_count = False, None, 0
    if document_id is None:
        page = 1
    else:
        doc = _DOC_ROW.first(conn, d=document_id)
        if doc is None or doc[0] != meeting_id:
            raise NotFound("Không tìm thấy tài liệu.")
        _meeting, status, page_count, doc_confidential, content_hash = doc
        if status != "ready":
            raise DomainError("Tài liệu chưa sẵn sàng để trình bày.", "document.not_ready")
        if not 1 <= page <= page_count:
            raise DomainError("Trang không hợp lệ: tài liệu có %(pages)d trang.", "document.bad_page",
                              params={"pages": page_count})
        confidential = bool(doc_confidential)
    on_proj = bool(confidential_on_projector)
    if on_projector is not None:
        if on_projector and not rights.project:
            raise Forbidden("Chỉ chủ tọa mới quyết định chiếu tài liệu mật.", "document.projector_forbidden")
        on_proj = bool(on_projector)
    elif document_id != shown_doc:
        on_proj = False  # a new document starts off the projector if it is confidential
    changed_doc = document_id != shown_doc
    if changed_doc and s is None:
        return None
    stepped = None
    if step is not None and not changed_doc and document_id is not None:
        stepped = _PRES_STEP.rows(conn, m=meeting_id, d=document_id, step=max(-page_count, min(page_count, step)),
                                  n=page_count, by=who.participant_id, proj=on_proj)
    if stepped:
        (page,), = stepped
    else:
        _PRES_SET.run(conn, m=meeting_id, d=document_id, p=page, by=who.participant_id, proj=on_proj)
    (seq,), = _NEXT_SEQ.rows(conn, m=meeting_id)
    if changed_doc:
        assert s is not None
        # Page turns are many and carry no decision; the audit log keeps which document was shown, and by whom.
        audit.record(s, meeting_id, "document.presented", who.actor, {"document_id": document_id, "page": page})
    return Presented(meeting_id, document_id, page, seq, confidential, on_proj,
                     content_hash if not confidential else None, page_count)


def stop_presenting(s: Session, m: Meeting, actor: str, because: str) -> bool:
    """The projector follows the agenda: moving to another item or opening a vote takes the presented document off
    every screen (back to the idle screen), unless the chair keeps it. Joins the caller's unit of work; the audit
    log says why (`because`: "agenda.current" or "vote.opened"). False when nothing was presented."""
    pres = s.get(Presentation, m.id)
    if pres is None or pres.document_id is None:
        return False
    document_id, page = pres.document_id, pres.page
    pres.document_id = None
    pres.page = 1
    pres.confidential_on_projector = False
    audit.record(s, m.id, "document.presentation_ended", actor,
                 {"document_id": document_id, "page": page, "because": because})
    return True


def grant(s: Session, m: Meeting, participant_id: int | None, actor: str) -> Change:
    """The chair hands presenting to a delegate (or takes it back with None); every screen gets a new `state`, and
    the one who had it and the one who has it now their own (`me.can_present` changes for them, not for their role)."""
    with unit.of_work(s):
        pres = presentation(s, m.id)
        if participant_id is not None:
            p = s.get(Participant, participant_id)
            if p is None or p.meeting_id != m.id or not may_be_handed_presenting(Role(p.role)):
                raise DomainError("Chỉ giao quyền trình bày cho đại biểu của kỳ họp.", "document.bad_grantee")
        before = pres.granted_participant_id
        pres.granted_participant_id = participant_id
        unit.bump(m)
        audit.record(s, m.id, "document.presenter_granted", actor, {"participant_id": participant_id})
    people = tuple(dict.fromkeys(p for p in (before, participant_id) if p is not None))
    return unit.change(m, state=True, people=people)


def presented_payload(p: Presented, ts: int, visible_doc: bool = True) -> dict[str, Any]:
    """The `presented` event: small, the same bytes for every client of a room."""
    if not visible_doc:
        return {"document_id": None, "page": None, "seq": p.seq, "ts": ts}
    return {"document_id": p.document_id, "page": p.page, "seq": p.seq, "ts": ts}


def state(s: Session, m: Meeting, who: Principal) -> dict[str, Any]:
    """The documents part of the `state` snapshot: the list and what is presented."""
    pres = s.get(Presentation, m.id)
    presented: dict[str, Any] = {"document_id": None, "page": None}
    grantee = None
    if pres is not None:
        grantee = pres.granted_participant_id
        if pres.document_id is not None:
            doc = s.get(Document, pres.document_id)
            if doc is not None and can_see(who, doc, pres):
                presented = {"document_id": doc.id, "page": pres.page}
    presenter: dict[str, Any] = {"granted_participant_id": grantee}
    if grantee is not None:
        p = s.get(Participant, grantee)
        presenter["granted_name"] = p.full_name if p else ""
    if who.can(Permission.AGENDA_CONTROL):
        # Whom presenting may be handed to, for the chair's list (domain/documents.py decides who).
        presenter["candidates"] = [{"id": p.id, "name": p.full_name} for p in m.participants
                                   if may_be_handed_presenting(Role(p.role))]
    return {
        "documents": listing(s, who),
        "presented": presented,
        "presenter": presenter,
        # For a document the list does not hold (a confidential one the chair put on the projector after this list
        # was sent): the authenticated route, `{id}` to fill in. Listed documents carry their own `page_url`.
        "page_route": PAGE_ROUTE,
    }


# --- reading mode ---------------------------------------------------------------------------------------------


def page_text(s: Session, who: Principal, document_id: int, page_no: int) -> dict[str, Any]:
    """One page's text for reading mode, to those who may see the document (the rule of its page images):
    {"page", "blocks": [{"k": "h" | "p", "t"}], "source": "pdf" | "ocr" | "pending" | "failed", "confidential"}."""
    doc = visible(s, who, document_id)
    if doc.status != "ready" or not 1 <= page_no <= doc.page_count:
        raise NotFound("Không tìm thấy trang.")
    row = s.get(DocumentPageText, (document_id, page_no))
    if row is not None:
        blocks, source = json.loads(row.blocks or "[]"), row.source
    else:  # ingested before reading mode: the search text, a paragraph a line
        page = s.get(DocumentPage, (document_id, page_no))
        lines = (page.text if page else "").splitlines()
        blocks, source = [{"k": "p", "t": line} for line in lines if line.strip()], "pdf"
    return {"document_id": doc.id, "page": page_no, "page_count": doc.page_count, "blocks": blocks,
            "source": source, "confidential": bool(doc.confidential)}


# --- search -----------------------------------------------------------------------------------------------------


def search(s: Session, who: Principal, query: str) -> list[dict[str, Any]]:
    """Pages of the meeting's visible documents matching every typed word, with or without diacritics."""
    # Pages holding the typed words side by side come first ("bien ban": "biên bản" before "Ủy ban … biến"),
    # then the pages holding them all anywhere, each group by the index's rank.
    rows: list[tuple[int, int]] = []
    for phrase in (True, False):
        rows += page_matches(s, query[:200], "d.meeting_id = :m", {"m": who.meeting_id}, SEARCH_MAX_HITS * 2,
                             phrase=phrase)
    rows = list(dict.fromkeys(rows))
    pres = s.get(Presentation, who.meeting_id)
    folded_q = fold_vietnamese(query)
    hits: list[dict[str, Any]] = []
    docs: dict[int, Document | None] = {}
    for document_id, page_no in rows:
        if document_id not in docs:
            d = s.get(Document, document_id)
            docs[document_id] = d if d is not None and can_see(who, d, pres) else None
        doc = docs[document_id]
        if doc is None:
            continue
        page = s.get(DocumentPage, (document_id, page_no))
        hits.append({"document_id": doc.id, "title": doc.title, "page": page_no,
                     "snippet": snippet(page.text if page else "", folded_q)})
        if len(hits) >= SEARCH_MAX_HITS:
            break
    return hits


def page_query(s: Session, user_text: str, *, phrase: bool = False) -> str:
    """What the user typed as this database's full-text query: FTS5's MATCH text on SQLite, to_tsquery's text on
    PostgreSQL (both over the same Python-folded page text); "" when nothing searchable was typed."""
    if s.get_bind().dialect.name == "postgresql":
        return to_tsquery(user_text, phrase=phrase)
    return to_fts5_query(user_text, phrase=phrase)


def page_matches(s: Session, user_text: str, where: str, params: dict[str, Any], limit: int, *,
                 phrase: bool = False, expanding: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """(document_id, page_no) of the ready documents' pages matching `user_text`, best first; `where` filters on
    the documents (alias d). SQLite: the FTS5 table and its rank. PostgreSQL: the tsvector table made by
    migration 0004, `@@ to_tsquery('simple', …)` and ts_rank."""
    q = page_query(s, user_text, phrase=phrase)
    if not q:
        return []
    if s.get_bind().dialect.name == "postgresql":
        match, order = "f.tsv @@ to_tsquery('simple', :q)", "ts_rank(f.tsv, to_tsquery('simple', :q)) DESC, f.page_no"
    else:
        match, order = "document_page_fts MATCH :q", "f.rank"
    stmt = text(
        "SELECT f.document_id, f.page_no FROM document_page_fts f JOIN document d ON d.id = f.document_id "
        f"WHERE {match} AND {where} AND d.status = 'ready' ORDER BY {order} LIMIT :n")
    if expanding:
        stmt = stmt.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    return [(int(r[0]), int(r[1])) for r in s.execute(stmt, {**params, "q": q, "n": limit})]


def _fts_insert(s: Session, document_id: int, pages: list[tuple[int, str]]) -> None:
    """Index pages given as (page_no, text already folded by textsearch.fold_vietnamese)."""
    if not pages:
        return
    s.execute(text("INSERT INTO document_page_fts (folded, document_id, page_no) VALUES (:f, :d, :p)"),
              [{"f": f, "d": document_id, "p": no} for no, f in pages])


def rebuild_page_index(conn: Session | Connection, batch: int = 500) -> int:
    """Fill an empty `document_page_fts` from the stored page texts, folded as `_fts_insert` folds them (for
    `meeting-server migrate --to`: SQLite's FTS5 rows cannot be copied into PostgreSQL's tsvector table, nor the
    other way); the number of pages indexed."""
    done = 0
    rows = conn.execute(select(DocumentPage.document_id, DocumentPage.page_no, DocumentPage.text)
                        .order_by(DocumentPage.document_id, DocumentPage.page_no)).all()
    for i in range(0, len(rows), batch):
        part = rows[i:i + batch]
        conn.execute(text("INSERT INTO document_page_fts (folded, document_id, page_no) VALUES (:f, :d, :p)"),
                     [{"f": fold_vietnamese(t or ""), "d": d, "p": no} for d, no, t in part])
        done += len(part)
    return done


def _fts_delete(s: Session, document_id: int) -> None:
    s.execute(text("DELETE FROM document_page_fts WHERE document_id = :d"), {"d": document_id})


# --- private notes ----------------------------------------------------------------------------------------------


def _note_author(who: Principal) -> int:
    if who.participant_id is None or not who.can(Permission.NOTES_WRITE):
        raise Forbidden("Chỉ người có thẻ cá nhân mới ghi chú được.", "notes.forbidden")
    return who.participant_id


def notes(s: Session, who: Principal, document_id: int) -> dict[str, str]:
    """This person's notes on a document: {page: text}."""
    author = _note_author(who)
    visible(s, who, document_id)
    rows = s.scalars(select(PageNote).where(PageNote.document_id == document_id,
                                            PageNote.participant_id == author)).all()
    return {str(n.page_no): n.text for n in rows}


def save_note(s: Session, who: Principal, document_id: int, page_no: int, note: str) -> None:
    """Keep (or clear, with empty text) this person's note on a page. Notes are private: no audit, no seq, nothing
    to announce."""
    with unit.of_work(s):
        _save_note(s, who, document_id, page_no, note)


def _save_note(s: Session, who: Principal, document_id: int, page_no: int, note: str) -> None:
    author = _note_author(who)
    doc = visible(s, who, document_id)
    if not 1 <= page_no <= doc.page_count:
        raise DomainError("Trang không hợp lệ.", "document.bad_page")
    note = text_limits.clean(text_limits.PAGE_NOTE, note)
    row = s.scalar(select(PageNote).where(PageNote.document_id == document_id, PageNote.page_no == page_no,
                                          PageNote.participant_id == author))
    if not note.strip():
        if row is not None:
            s.delete(row)
        return

    if row is None:
        s.add(PageNote(document_id=document_id, page_no=page_no, participant_id=author, text=note))
    else:
        row.text = note
        row.updated_at = utcnow()


def export_notes(s: Session, who: Principal) -> str:
    """All of this person's notes of the meeting as plain text, in document and page order."""
    author = _note_author(who)
    rows = s.execute(select(PageNote, Document).join(Document, Document.id == PageNote.document_id)
                     .where(PageNote.participant_id == author, Document.meeting_id == who.meeting_id)
                     .order_by(Document.position, Document.id, PageNote.page_no)).all()
    m = s.get(Meeting, who.meeting_id)
    lines = [f"Ghi chú của {who.name}", m.full_title if m else "", ""]
    current = None
    for note, doc in rows:
        if doc.id != current:
            current = doc.id
            lines += ["", f"== {doc.title} =="]
        lines += [f"-- Trang {note.page_no} --", note.text.strip(), ""]
    if not rows:
        lines.append("(Chưa có ghi chú nào.)")
    return "\n".join(lines).strip() + "\n"


__all__ = [
    "FORMATS", "LARGE_WIDTH", "PHONE_WIDTH", "PageImage", "Presented", "StoredUpload", "ahead_pool", "can_see",
    "convert_pool", "create", "reap_converters",
    "detail", "export_notes", "grant", "limits", "listing", "my_rights", "notes", "original", "page_image", "pool",
    "present", "presented_payload", "process", "remove", "save_note", "search", "signed_page_image", "state",
    "store_upload", "sync_fast_path", "update", "page_key", "page_url_template",
]


def my_rights(m: Meeting, who: Principal) -> dict[str, Any]:
    """For the `me` part of one person's `state`: whether they may present now, the chair's grant included.
    Personal, so never in a role room's `state`."""
    from sqlalchemy.orm import object_session

    s = object_session(m)
    assert s is not None
    row = _GRANTED.first(db.dbapi(s), m=m.id)  # every phone that connects asks: a prebuilt statement
    return {"can_present": rights_of(who, row[0] if row is not None else None).present}


_GRANTED = Prepared(select(core_table(Presentation).c.granted_participant_id)
                    .where(core_table(Presentation).c.meeting_id == bindparam("m")))


def documents_state(m: Meeting, who: Principal) -> dict[str, Any]:
    """For services.snapshot.build: the documents part of the `state` snapshot, in the meeting's own session."""
    from sqlalchemy.orm import object_session

    s = object_session(m)
    assert s is not None
    return state(s, m, who)


def attach_files(app: Flask, s: Session, m: Meeting, paths: list[Path], item_position: int, actor: str) -> list[int]:
    """Store files from disk as documents of the agenda item at `item_position` (the demo's shipped PDFs);
    in the caller's unit of work (`demo.open_room`), which then starts processing of the returned ids."""
    item = next((it for it in m.items if it.position == item_position), None)
    ids = []
    for path in paths:
        with open(path, "rb") as f:
            up = store_upload(app, f, limits(app).max_upload_bytes)
        doc = create(s, m, up, path.name, "application/pdf", item_id=item.id if item else None,
                     confidential=False, downloadable=True, actor=actor).value
        ids.append(doc.id)
    return ids


def unfinished(s: Session) -> list[int]:
    """Documents left in `processing` by a stop of the server; `serve` starts them again."""
    return list(s.scalars(select(Document.id).where(Document.status == "processing").order_by(Document.id)))
