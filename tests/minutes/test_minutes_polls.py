"""Polls in the minutes: a record built from a real meeting plus polls (as the voting branch will give them) goes
through the same worker job as finalizing, and the signed PDF shows counts, "83,33%" shares and named lists."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.minutes.verify import verify_pdf
from meeting_server.minutes.worker import run_job
from meeting_server.services import record as record_service
from meeting_server.store import db


def with_polls(record: dict[str, Any]) -> dict[str, Any]:
    """An open vote with named lists and a secret ballot with totals only, on the draft-resolution item."""
    names = [p["name"] for p in record["participants"]]
    item = record["agenda"][4]
    item["polls"] = [
        {"item_id": item["item_id"], "subject": "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027",
         "mode": "open", "passed": True,
         "lines": ["Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã.",
                   "Không tán thành: 2/30 đại biểu, chiếm 6,67% tổng số đại biểu HĐND xã.",
                   "Không biểu quyết: 1/30 đại biểu, chiếm 3,33% tổng số đại biểu HĐND xã."],
         "named": {"Tán thành": names[:25], "Không tán thành": names[25:27], "Không biểu quyết": names[27:28]}},
        {"item_id": item["item_id"], "subject": "Bầu Phó Chủ tịch HĐND xã", "mode": "secret", "passed": False,
         "lines": ["Số phiếu phát ra: 28 phiếu; số phiếu thu vào: 28 phiếu; phiếu hợp lệ: 27; không hợp lệ: 1.",
                   "Đồng ý: 15/30 đại biểu, chiếm 50,00% tổng số đại biểu HĐND xã."]},
    ]
    return record


@pytest.fixture
def record(app: Any) -> dict[str, Any]:
    with db.standalone_session(app) as s:
        return with_polls(record_service.build_record(s, 1))


def test_signed_minutes_show_poll_results(record: dict[str, Any], tmp_path: Path) -> None:
    data = json.dumps(record, ensure_ascii=False).encode()
    out = run_job("finalize", {"record": record, "record_json": data, "audit_head": "ab" * 32,
                               "signing": {"source": "server", "ca_dir": str(tmp_path / "ca")}})
    pdf = out["pdf"]
    text = " ".join(" ".join(p.get_text().split()) for p in pymupdf.open(stream=pdf))
    assert "Kết quả biểu quyết công khai: Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027." in text
    assert "Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã." in text
    assert "Không tán thành: 2/30 đại biểu, chiếm 6,67% tổng số đại biểu HĐND xã." in text
    assert f"Đại biểu tán thành: {record['participants'][0]['name']}, " in text
    assert "Hội đồng nhân dân xã đã thông qua nội dung trên." in text
    assert "Kết quả bỏ phiếu kín: Bầu Phó Chủ tịch HĐND xã." in text and "Nội dung trên không được thông qua." in text
    report = verify_pdf(pdf)
    assert report.ok and json.loads(report.record_json or b"") == json.loads(data)
    path = tmp_path / "bb.pdf"
    path.write_bytes(pdf)
    if shutil.which("pdfsig"):
        sig = subprocess.run(["pdfsig", str(path)], check=False, capture_output=True, text=True, timeout=60).stdout
        assert sig.count("Signature is Valid.") == 2


def test_secret_ballot_with_names_is_refused_by_the_worker(record: dict[str, Any]) -> None:
    record["agenda"][4]["polls"][1]["named"] = {"Đồng ý": ["Ai đó"]}
    with pytest.raises(DomainError) as err:
        run_job("preview", {"record": record})
    assert err.value.code == "minutes.secret_named"


def test_record_from_attendance(app: Any) -> None:
    """Absent with reason, late with the time, left early with the reason; chair, secretary, guests; term split."""
    from datetime import UTC, datetime

    from meeting_server.services import attendance, meetings
    from meeting_server.store.tables import Participant

    with db.standalone_session(app) as s:
        m = meetings.get(s, 1)
        people = [p for p in m.participants if p.role == "delegate"]
        attendance.joined(s, m, people[0])
        attendance.mark(s, m, people[1].id, "absent", "Ốm", None, "clerk:1")
        meetings.set_status(s, m, "in_progress", "chair:1", below_quorum_ok=True)
        attendance.joined(s, m, people[2])
        attendance.mark(s, m, people[0].id, "left", "Việc gia đình", None, "clerk:1")
        s.commit()
        rec = record_service.build_record(s, m.id)
        assert rec["session"] == {"title": "Kỳ họp thứ Hai", "term": "I", "term_years": "2026 - 2031"}
        assert rec["council"] == {"name": "Đồng Lê", "level": "xã"}
        by_name = {p["name"]: p for p in rec["participants"]}
        assert by_name[people[1].full_name] == {**by_name[people[1].full_name], "attendance": "absent",
                                                "reason": "Ốm"}
        late = by_name[people[2].full_name]
        assert late["attendance"] == "late"
        assert datetime.fromisoformat(late["at"]).utcoffset().total_seconds() == 7 * 3600
        assert by_name[people[0].full_name]["attendance"] == "left_early"
        assert by_name[people[0].full_name]["reason"] == "Việc gia đình"
        assert by_name[people[3].full_name]["attendance"] == "absent" and "reason" not in by_name[people[3].full_name]
        assert [c["name"] for c in rec["chairs"]] == [p.full_name for p in m.participants if p.role == "chair"]
        assert rec["secretaries"][0]["name"] == "Nông Thị Mai"
        assert len(rec["guests"]) == 2 and all(g["name"] for g in rec["guests"])
        assert datetime.fromisoformat(rec["started_at"]) <= datetime.now(UTC)
        assert len(rec["agenda"]) == 6 and rec["agenda"][0]["polls"] == [] and rec["audit"]["seq"] > 0
        assert s.query(Participant).count() > 30
        from meeting_server.domain.minutes import build_minutes

        assert "Ốm" in build_minutes(rec).plain_text()
