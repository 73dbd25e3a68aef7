"""The demo meeting seeded into an empty data directory, from files shipped in meeting_server/demo/."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain.roster import parse_rows
from meeting_server.domain.timefmt import VN
from meeting_server.services import meetings, roster, rosterfile, unit
from meeting_server.store.tables import Meeting, Participant

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"

AGENDA = (
    ("Khai mạc kỳ họp; thông qua chương trình kỳ họp", "Chủ tọa khai mạc, thư ký báo cáo số đại biểu có mặt."),
    ("Báo cáo tình hình kinh tế - xã hội năm 2026 và nhiệm vụ năm 2027", "Ủy ban nhân dân xã trình bày."),
    ("Tờ trình và dự thảo Nghị quyết về Kế hoạch chuyển đổi số năm 2027",
     "Tài liệu: kế hoạch chuyển đổi số của các xã trong tỉnh để tham khảo."),
    ("Thảo luận tại hội trường", "Đại biểu đăng ký phát biểu."),
    ("Biểu quyết thông qua Nghị quyết", "Biểu quyết công khai: tán thành, không tán thành, không biểu quyết."),
    ("Bế mạc kỳ họp", ""),
)

#: The shipped list names two chairs (chair and vice-chair) but no session secretary; the chair names one
#: at the opening, so the demo does it for them.
DEMO_SECRETARY = "Nông Thị Mai"
DEMO_GUESTS = (("Nguyễn Văn Bình", "Chủ tịch UBND xã"), ("Đặng Thị Hoa", "Đại diện Mặt trận Tổ quốc xã"))


def is_empty(s: Session) -> bool:
    """True when no meeting exists yet."""
    return s.scalar(select(Meeting.id).limit(1)) is None


def seed(s: Session) -> Meeting:
    """Create "Kỳ họp thứ Hai, HĐND xã Đồng Lê khóa I, nhiệm kỳ 2026 - 2031" with its agenda and delegates, in one
    unit of work (the use cases it is made of join it)."""
    with unit.of_work(s):
        return _seed(s)


def open_room(app: Flask, s: Session, base: str, *, seed_demo: bool) -> tuple[list[int], bool]:
    """At start, in one transaction: the demo meeting and its documents in an empty data directory (when
    `seed_demo`), else the uploads a stop cut short; and the address the server chose. Returns the documents to
    process and whether the demo was seeded."""
    from meeting_server.services import documents, links

    seeded = False
    with unit.of_work(s):
        if seed_demo and is_empty(s):
            m = seed(s)
            s.flush()
            pending = documents.attach_files(app, s, m, demo_documents(), 3, "system:demo")
            name_documents(s, pending)
            seeded = True
        else:
            pending = documents.unfinished(s)  # uploads cut short by a stop: process them again
        links.set_public_base(s, base)
    return pending, seeded


def _seed(s: Session) -> Meeting:
    today = datetime.now(VN).date()
    f = meetings.MeetingFields(
        council_level="xã",
        locality="Đồng Lê",
        session_title="Kỳ họp thứ Hai",
        term="khóa I, nhiệm kỳ 2026 - 2031",
        place="Hội trường Ủy ban nhân dân xã Đồng Lê",
        starts_at=datetime.combine(today, time(8, 0), VN),
        seated_count=30,
        quorum_rule="two_thirds",
    )
    actor = "system:demo"
    m = meetings.create(s, f, actor)
    for title, description in AGENDA:
        meetings.add_item(s, m, title, description, actor)
    # The bundled list is trusted: read in this process (an upload is read in a child, roster.read_table).
    table = rosterfile.parse((DEMO_DIR / "dai-bieu-hdnd-xa.csv").read_bytes())
    table += [["", name, title, "", "Khách mời"] for name, title in DEMO_GUESTS]
    roster.apply(s, m, parse_rows(table), actor)
    secretary = s.scalar(select(Participant).where(Participant.meeting_id == m.id,
                                                   Participant.full_name == DEMO_SECRETARY))
    if secretary is not None:
        secretary.role = "secretary"
    return m


#: Every shipped PDF carries the same metadata title; the demo names them as a clerk would.
DEMO_TITLES = {
    "ke-hoach-cds-dong-le.pdf": "Kế hoạch chuyển đổi số của HĐND xã Đồng Lê",
    "ke-hoach-cds-loi-bac.pdf": "Kế hoạch chuyển đổi số của HĐND xã Lợi Bác năm 2026 (tham khảo)",
    "ke-hoach-cds-phuc-loi.pdf": "Kế hoạch đổi mới sáng tạo và chuyển đổi số của HĐND phường Phúc Lợi (tham khảo)",
    "ke-hoach-cds-vinh-lai.pdf": "Kế hoạch chuyển đổi số của HĐND xã Vĩnh Lại (tham khảo)",
    "ke-hoach-nq57-chu-se.pdf": "Kế hoạch thực hiện Nghị quyết 57-NQ/TW của HĐND xã Chư Sê (tham khảo)",
}


def name_documents(s: Session, document_ids: list[int]) -> None:
    """Give the demo documents their titles (processing keeps a title the clerk set)."""
    from meeting_server.store.tables import Document

    for doc in s.scalars(select(Document).where(Document.id.in_(document_ids))):
        doc.title = DEMO_TITLES.get(doc.original_name, doc.title)


def demo_documents() -> list[Path]:
    """The shipped PDFs (attached to the draft-resolution item once documents are ingested)."""
    return sorted(DEMO_DIR.glob("*.pdf"))
