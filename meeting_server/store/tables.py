"""The tables. Every piece of state lives here, none in module globals, so several server processes can share it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def core_table(mapped: type[Any]) -> Table:
    """The Core table of a mapped class, for the hot paths' prebuilt statements that skip the ORM's per-row work."""
    table: Table = mapped.__table__
    return table


def utcnow() -> datetime:
    """Aware UTC now; the only clock the store uses (see services.clock for the clerk's correction)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone, PostgreSQL would."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Meeting(Base):
    """One sitting (kỳ họp) of a council, with what is live right now (current item, presented page, seq)."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_name: Mapped[str] = mapped_column(String(200))  # "Hội đồng nhân dân xã Tân Lập"
    council_level: Mapped[str] = mapped_column(String(20), default="xã")  # xã | phường | thị trấn
    locality: Mapped[str] = mapped_column(String(120))  # "Tân Lập"
    session_title: Mapped[str] = mapped_column(String(200))  # "Kỳ họp thứ Hai"
    term: Mapped[str] = mapped_column(String(120))  # "khóa I, nhiệm kỳ 2026 - 2031"
    place: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    seated_count: Mapped[int] = mapped_column(Integer)  # N, confirmed by the clerk
    quorum_rule: Mapped[str] = mapped_column(String(30), default="two_thirds")
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | in_progress | ended
    current_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_item.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    kiosk_token: Mapped[str] = mapped_column(String(64), unique=True)
    guest_token: Mapped[str] = mapped_column(String(64), unique=True)
    #: Grows by one with every change the screens must show; clients detect gaps with it.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting",
        order_by="AgendaItem.position",
        foreign_keys="AgendaItem.meeting_id",
        cascade="all, delete-orphan",
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", order_by="Participant.position", cascade="all, delete-orphan"
    )

    @property
    def full_title(self) -> str:
        """"Kỳ họp thứ Hai, Hội đồng nhân dân xã Tân Lập khóa I, nhiệm kỳ 2026 - 2031"."""
        return f"{self.session_title}, {self.council_name} {self.term}".strip()


class AgendaItem(Base):
    """One point of the agenda, in order."""

    __tablename__ = "agenda_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")

    meeting: Mapped[Meeting] = relationship(back_populates="items", foreign_keys=[meeting_id])


class Participant(Base):
    """A person with a join card: delegate (chair and secretary are delegates too), invited guest or clerk."""

    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("meeting_id", "full_name", "title", name="uq_participant_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # STT in the clerk's list
    full_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200), default="")  # chức vụ
    group_name: Mapped[str] = mapped_column(String(120), default="")  # tổ đại biểu
    role: Mapped[str] = mapped_column(String(20))  # clerk | chair | secretary | delegate | guest
    #: The secret of the join card's QR (at least 128 random bits). Kept in clear so cards can be reprinted;
    #: revoking replaces it, which makes the old card fail at once.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    token_issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="participants")
    # Loaded with the participants in one more query: the roster walks everyone's attendance.
    attendance: Mapped[Attendance | None] = relationship(
        back_populates="participant", uselist=False, cascade="all, delete-orphan", lazy="selectin"
    )


class RevokedToken(Base):
    """A card that was reported lost: its QR gets a clear "this card was revoked" page, never access."""

    __tablename__ = "revoked_token"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attendance(Base):
    """Where a person stands now; its history is in the audit log."""

    __tablename__ = "attendance"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), default="unknown")  # unknown | present | absent | left
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    marked_by: Mapped[str] = mapped_column(String(20), default="")  # self, or the actor who marked it

    participant: Mapped[Participant] = relationship(back_populates="attendance")


class AuditEvent(Base):
    """Append-only, hash-chained record of everything that happened (see domain.audit)."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    meeting_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    at: Mapped[str] = mapped_column(String(40))  # ISO-8601 UTC, part of the hashed payload
    kind: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64))


class JoinFailure(Base):
    """Bad join tokens per client address and minute, to slow down guessing (in the database, not in memory)."""

    __tablename__ = "join_failure"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class LoginSession(Base):
    """A browser bound to a card by its join link: the server-side half of the session cookie, which carries only
    a random session id (stored here as its SHA-256, so a copy of the database opens no session). Logout deletes
    the row, revoking the card deletes all rows of its token, and a row unused for `SESSION_IDLE_SECONDS` no
    longer resolves (services/tokens.py). Times are epoch seconds: compared on the hot card check, no conversion."""

    __tablename__ = "login_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[int] = mapped_column(Integer)
    last_seen: Mapped[int] = mapped_column(Integer, index=True)


class Setting(Base):
    """Server-wide key/value settings (clock offset, chosen address pin, …)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class AuditHead(Base):
    """The newest link of the audit chain. Updating it first takes the write lock, so two writers never fork
    the chain (SQLite serialises writers; PostgreSQL locks the row)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


# --- speakers ---


class SpeakRequest(Base):
    """One delegate's request to speak (đăng ký phát biểu) on one agenda item, and when they held the floor.

    The partial unique indexes are the database's guard against two requests racing past the rule check: one
    open request per person and item, one speaker per meeting.
    """

    __tablename__ = "speak_request"
    __table_args__ = (
        Index(
            "uq_speak_request_open", "participant_id", "agenda_item_id", unique=True,
            sqlite_where=text("status IN ('waiting', 'speaking')"),
            postgresql_where=text("status IN ('waiting', 'speaking')"),
        ),
        Index(
            "uq_speak_request_speaking", "meeting_id", unique=True,
            sqlite_where=text("status = 'speaking'"), postgresql_where=text("status = 'speaking'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_item.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | speaking | done | withdrawn
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Seconds the chair gave with the floor (changeable while speaking); None while waiting.
    limit_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: speak | follow_up (chất vấn bổ sung) | debate (tranh luận): the last two on the question `question_id`.
    kind: Mapped[str] = mapped_column(String(20), default="speak", server_default="speak")
    question_id: Mapped[int | None] = mapped_column(ForeignKey("question.id", ondelete="SET NULL"), nullable=True)


class SpeakerSetting(Base):
    """Per-meeting settings of the speakers' list: the speaking time "Mời phát biểu" gives by default."""

    __tablename__ = "speaker_setting"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    default_limit_s: Mapped[int] = mapped_column(Integer, default=300)


# --- question time ---


class Question(Base):
    """A question (chất vấn) a delegate filed, or the clerk filed for them from a paper form, and how it ended.

    The rules are domain.questions; `position` is the chair's order; `due_date` the date a written answer is owed.
    The partial unique index is the database's guard for the rule "one question on the floor per meeting".
    """

    __tablename__ = "question"
    __table_args__ = (
        Index("uq_question_called", "meeting_id", unique=True,
              sqlite_where=text("status = 'called'"), postgresql_where=text("status = 'called'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))  # the asker
    addressee_name: Mapped[str] = mapped_column(String(120), default="")
    addressee_title: Mapped[str] = mapped_column(String(200), default="")  # "Chủ tịch UBND xã"
    topic: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    on_paper: Mapped[bool] = mapped_column(Boolean, default=False)  # filed by the clerk from a paper form
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    filed_by: Mapped[str] = mapped_column(String(120), default="")
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="filed")  # domain.questions.Status
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"),
                                                       nullable=True)  # the item it was called under
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answer_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_by: Mapped[str] = mapped_column(String(120), default="")
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    written_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- minutes ---


class MinutesDraft(Base):
    """One version of a meeting's minutes: the clerk's free texts while a draft, frozen with its signed PDF once
    final. A correction after signing is a new version that names the one it corrects (`previous_id`)."""

    __tablename__ = "minutes_draft"
    __table_args__ = (UniqueConstraint("meeting_id", "version", name="uq_minutes_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("minutes_draft.id"), nullable=True)
    #: draft | prepared (frozen PDF, waiting for the signers) | final (both signed); "signing" is the old one-click flow
    status: Mapped[str] = mapped_column(String(20), default="draft")
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    prepared_by: Mapped[str] = mapped_column(String(120), default="")
    prepared_path: Mapped[str] = mapped_column(String(300), default="")  # PDF/A with the record, before signatures
    prepared_sha256: Mapped[str] = mapped_column(String(64), default="")
    prepared_pages: Mapped[int] = mapped_column(Integer, default=0)
    #: opening, conclusions, summaries {agenda item id: text}, recipients [..], document_number, correction_note
    texts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Grows with every autosave, so a late save from an old browser tab cannot overwrite a newer one.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finalized_by: Mapped[str] = mapped_column(String(120), default="")
    record_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # the record embedded in the PDF
    record_sha256: Mapped[str] = mapped_column(String(64), default="")
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    pdf_path: Mapped[str] = mapped_column(String(300), default="")  # relative to the data directory
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")

class MinutesSignature(Base):
    """One signer's step on a prepared version of the minutes: who must sign (fixed when the clerk prepares),
    and once signed, how (PIN key, PKCS#11 token or an uploaded external signature) and the PDF it produced."""

    __tablename__ = "minutes_signature"
    __table_args__ = (UniqueConstraint("draft_id", "role", name="uq_minutes_signature_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("minutes_draft.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1 = secretary, 2 = chair: the signing order
    role: Mapped[str] = mapped_column(String(20))  # secretary | chair
    field: Mapped[str] = mapped_column(String(40))  # Sig_Secretary | Sig_Chair
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participant.id", ondelete="SET NULL"),
                                                       nullable=True)
    signer_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | signed
    method: Mapped[str] = mapped_column(String(20), default="")  # pin | token | external
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cert_subject: Mapped[str] = mapped_column(Text, default="")
    pdf_path: Mapped[str] = mapped_column(String(300), default="")  # the PDF after this signature
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")


class SignerKey(Base):
    """A signer's own key pair on the box (issued by the server's CA): the private key only encrypted under a
    key derived from the signer's PIN (scrypt + AES-GCM), never in clear. Wrong PINs are counted here, so the
    limit holds across server processes."""

    __tablename__ = "signer_key"
    __table_args__ = (UniqueConstraint("role", "person_name", name="uq_signer_key_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    person_name: Mapped[str] = mapped_column(String(120))
    cert_pem: Mapped[str] = mapped_column(Text)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- documents ---


class Document(Base):
    """An uploaded document of a meeting; its bytes live under their content hash, its pages in the render cache."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_item.id", ondelete="SET NULL"), nullable=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the uploaded bytes
    original_name: Mapped[str] = mapped_column(String(255), default="")  # shown, never used as a path
    mime: Mapped[str] = mapped_column(String(100), default="")
    source_format: Mapped[str] = mapped_column(String(20), default="")  # pdf, docx, jpeg, … (found by content)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300), default="")
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    pages_rendered: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="processing")  # processing | ready | failed
    failure_code: Mapped[str] = mapped_column(String(40), default="")
    failure_message: Mapped[str] = mapped_column(Text, default="")
    #: Tài liệu mật: only delegates, the chair and the clerk see it; pages carry the viewer's name.
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    downloadable: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DocumentPage(Base):
    """The text of one page (1-based), kept for search snippets; the folded text is indexed in FTS5."""

    __tablename__ = "document_page"

    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), primary_key=True)
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    width_pt: Mapped[float] = mapped_column(default=0.0)
    height_pt: Mapped[float] = mapped_column(default=0.0)
    text: Mapped[str] = mapped_column(Text, default="")


class DocumentPageText(Base):
    """One page's text for reading mode (documents/reading.py): its blocks as JSON, and where they came from."""

    __tablename__ = "document_page_text"

    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), primary_key=True)
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: [{"k": "h" | "p", "t": text}, …] as JSON.
    blocks: Mapped[str] = mapped_column(Text, default="[]")
    #: "pdf" (the PDF's own text), "ocr" (recognised), "pending" (a scan waiting for OCR), "failed" (OCR gave up).
    source: Mapped[str] = mapped_column(String(8), default="pdf")


class Presentation(Base):
    """What the projector and every following phone show now, and who may turn its pages (one row per meeting)."""

    __tablename__ = "presentation"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id", ondelete="SET NULL"), nullable=True)
    page: Mapped[int] = mapped_column(Integer, default=1)
    presenter_participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), nullable=True
    )
    #: The delegate the chair handed presenting to (one at a time), besides the chair and the clerk.
    granted_participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), nullable=True
    )
    #: The chair chose to put a confidential document on the projector.
    confidential_on_projector: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PageNote(Base):
    """A delegate's private note on one page; only its author reads it."""

    __tablename__ = "page_note"
    __table_args__ = (UniqueConstraint("document_id", "page_no", "participant_id", name="uq_page_note"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    page_no: Mapped[int] = mapped_column(Integer)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- comments on drafts ---


class DraftComment(Base):
    """A delegate's comment on a draft document (góp ý dự thảo), anchored to a page and a passage they marked (or
    the whole page, or the whole document), and the answer the drafting body or the clerk gave to it."""

    __tablename__ = "draft_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    page_no: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the whole document
    quote: Mapped[str] = mapped_column(Text, default="")  # the passage marked, as the page's text has it
    #: [[x0, y0, x1, y1], …] in PDF points of that page, origin top left (one per line of the passage)
    rects: Mapped[Any] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20), default="")  # "" | accepted | explained | not_accepted
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CommentSetting(Base):
    """Per-meeting setting of comments: whether delegates see each other's comments and answers (default: not)."""

    __tablename__ = "comment_setting"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    shared_with_delegates: Mapped[bool] = mapped_column(Boolean, default=False)


# --- voting ---


class Poll(Base):
    """One vote, election or confidence rating, attached to an agenda item; `spec` holds the domain PollSpec."""

    __tablename__ = "poll"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_item.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(30))  # open | secret | election | confidence_rating | confidence_vote
    title: Mapped[str] = mapped_column(String(300))
    #: threshold, seats, candidates, officials, rating_base (domain.voting.PollSpec without kind/title).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="draft")  # draft | open | closed | cancelled
    allow_change: Mapped[bool] = mapped_column(Boolean, default=True)  # open votes only; secret never
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    revote_of_id: Mapped[int | None] = mapped_column(ForeignKey("poll.id", ondelete="SET NULL"), nullable=True)
    countdown_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The countdown's end: a cast that commits after it is refused, whether or not the timer task still runs.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str] = mapped_column(String(120), default="")  # the actor, or "countdown"
    # The backup after the close (realtime/voting.back_up_after_close) is done: made, or tried and its failure
    # logged. NULL on a closed poll while it is due, so that another process makes it if the closer died first.
    backed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Counting committee's totals of paper ballots (secret kinds), domain PaperTotals.to_dict().
    paper: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: domain Result.to_dict() plus the announcement lines, fixed when the poll closes.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class PollVoter(Base):
    """Who may vote in a poll: fixed at opening (delegates present then), plus delegates marked present while open.

    `voted` is participation: set in the same transaction as the ballot. For secret kinds this table is the only
    place that names the voter; the ballot row (SecretBallot) names nobody.
    """

    __tablename__ = "poll_voter"

    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), default="opened")  # opened | arrived (present while open)
    voted: Mapped[bool] = mapped_column(Boolean, default=False)


class OpenBallot(Base):
    """An open vote's ballot: who chose what, one row per delegate and poll (primary key), changeable while open
    when the poll allows it. `proxy_by` names the secretary who recorded it for a delegate without a device."""

    __tablename__ = "open_ballot"

    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True)
    choice: Mapped[dict[str, Any]] = mapped_column(JSON)
    proxy_by: Mapped[str] = mapped_column(String(120), default="")
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SecretBallot(Base):
    """A secret ballot: a random key, the poll and the choice, and nothing else: no voter, no time.

    SQLite is chosen on purpose here: a `WITHOUT ROWID` table is stored in the order of its primary key, a random
    128-bit value, so neither a rowid nor the storage order follows the order of casting (which participation
    records and the audit trail reveal). On PostgreSQL the heap follows insertion, so the table is rebuilt in key
    order at close (`CLUSTER`, services.voting.checkpoint_after_close); its WAL keeps the order (docs/SECRECY.md).
    """

    __tablename__ = "secret_ballot"
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), index=True)
    choice: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeviceSession(Base):
    """A card's screen connected over Socket.IO now: one row per connection, written at connect and removed at
    disconnect by the server process that holds it (`pid`), so every process knows whether a delegate's own device
    is live (the secretary records a vote only for a delegate without one). A process that died without removing
    its rows is recognised by its process lease having run out (`owner`, on any box) and its rows are ignored."""

    __tablename__ = "device_session"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    pid: Mapped[int] = mapped_column(Integer)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The process as a lease owner (domain/leases.owner_id): it runs while its process lease does, on any box.
    #: None in rows written before 0014_device_owner, judged by `pid` on this box.
    owner: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Resolution(Base):
    """The register of resolutions (sổ nghị quyết): what the clerk fills in after the session for a poll that passed,
    the number and date of issue. The vote, its counts and the minutes come from the poll and the record."""

    __tablename__ = "resolution"

    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(40), default="")  # "05/NQ-HĐND"
    issued_on: Mapped[str] = mapped_column(String(10), default="")  # ISO date, "2026-07-15"
    title: Mapped[str] = mapped_column(String(300), default="")  # trích yếu; the poll's subject when empty
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Lease(Base):
    """One owner at a time across server processes for a piece of work (domain/leases.py): the countdown that closes
    a poll, processing an upload. The owner renews `expires_at` every few seconds; once it has passed, another
    process takes the lease, and the work, over. Plain rows and compare-and-swap UPDATEs: the same on SQLite and
    PostgreSQL (services/leases.py)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
