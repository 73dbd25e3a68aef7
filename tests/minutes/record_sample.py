"""A realistic meeting record for the minutes tests and benchmarks, built from the shared delegate list."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

DELEGATES_CSV = Path(__file__).resolve().parents[2] / "meeting_server" / "demo" / "dai-bieu-hdnd-xa.csv"
_FALLBACK = [("Hoàng Quốc Cường", "Chủ tịch HĐND xã"), ("Vi Văn Sơn", "Phó Chủ tịch HĐND xã")]


def delegates(n: int) -> list[tuple[str, str]]:
    """(name, title) pairs: the shared sample list if present, padded with made-up names to n."""
    rows: list[tuple[str, str]] = []
    if DELEGATES_CSV.exists():
        with DELEGATES_CSV.open(encoding="utf-8-sig", newline="") as f:
            rows = [(r["Họ và tên"], r["Chức vụ"]) for r in csv.DictReader(f)]
    rows = rows or list(_FALLBACK)
    surnames = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
    given = ["Thị Hồng Nhung", "Văn Quyết", "Đức Thắng", "Thị Ánh Tuyết", "Quang Huy", "Minh Khôi"]
    i = 0
    while len(rows) < n:
        rows.append((f"{surnames[i % 10]} {given[i % 6]}", "Đại biểu HĐND xã"))
        i += 1
    return rows[:n]


def make_record(n_delegates: int = 30, n_items: int = 6, n_polls: int = 6, n_speeches: int = 12) -> dict[str, Any]:
    """A commune council sitting with the given numbers of delegates, agenda items, polls and speeches."""
    people = delegates(n_delegates)
    participants: list[dict[str, Any]] = []
    for i, (name, title) in enumerate(people):
        p: dict[str, Any] = {"name": name, "title": title, "attendance": "present"}
        if i == n_delegates - 1:
            p.update(attendance="absent", reason="đi công tác theo quyết định của UBND huyện")
        elif i == n_delegates - 2:
            p.update(attendance="absent")
        elif i == n_delegates - 3:
            p.update(attendance="late", at="08:15")
        elif i == n_delegates - 4:
            p.update(attendance="left_early", at="10:40", reason="việc gia đình đột xuất")
        participants.append(p)
    yes, no, abstain = 25, 2, 1
    agenda = []
    poll_no = speech_no = 0
    for k in range(n_items):
        item: dict[str, Any] = {
            "title": f"Tờ trình số {15 + k}/TTr-UBND về việc thông qua nội dung thứ {k + 1} của kỳ họp",
            "documents": [
                {
                    "title": f"Tờ trình số {15 + k}/TTr-UBND ngày 01/7/2026 của Ủy ban nhân dân xã",
                    "presenter": f"{people[2][0]}, {people[2][1]}",
                },
                {
                    "title": f"Báo cáo thẩm tra số {30 + k}/BC-HĐND của Ban Kinh tế - Ngân sách",
                    "presenter": f"{people[3][0]}, {people[3][1]}",
                },
            ],
            "speeches": [],
            "summary": (
                "Các đại biểu cơ bản thống nhất với nội dung tờ trình; đề nghị Ủy ban nhân dân xã làm rõ "
                "nguồn kinh phí thực hiện, tiến độ giải ngân vốn đầu tư công và trách nhiệm của từng bộ phận "
                "chuyên môn. Đại diện Ủy ban nhân dân xã đã tiếp thu, giải trình làm rõ các ý kiến của đại biểu."
            ),
            "polls": [],
        }
        per_item = n_speeches // n_items + (1 if k < n_speeches % n_items else 0)
        for _ in range(per_item):
            name, title = people[4 + speech_no % (n_delegates - 8)]
            # Speeches of about three minutes one after another from 07:50, within the four-hour sitting.
            start = 7 * 60 + 50 + speech_no * 3
            item["speeches"].append(
                {
                    "speaker": name,
                    "title": title,
                    "from": f"{start // 60:02d}:{start % 60:02d}",
                    "to": f"{(start + 3) // 60:02d}:{(start + 3) % 60:02d}",
                }
            )
            speech_no += 1
        per_item = n_polls // n_items + (1 if k < n_polls % n_items else 0)
        for j in range(per_item):
            secret = (poll_no % 5) == 4
            poll: dict[str, Any] = {
                "subject": f"Thông qua Nghị quyết số {poll_no + 1}/NQ-HĐND (nội dung {k + 1}.{j + 1})",
                "mode": "secret" if secret else "open",
                "passed": True,
            }
            if secret:
                poll["lines"] = [
                    "Số phiếu phát ra: 28 phiếu; số phiếu thu vào: 28 phiếu; phiếu hợp lệ: 27; không hợp lệ: 1.",
                    "Đồng ý: 24/30 đại biểu, chiếm 80,00% tổng số đại biểu HĐND xã.",
                    "Không đồng ý: 3/30 đại biểu, chiếm 10,00% tổng số đại biểu HĐND xã.",
                ]
            else:
                poll["lines"] = [
                    f"Tán thành: {yes}/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã.",
                    f"Không tán thành: {no}/30 đại biểu, chiếm 6,67% tổng số đại biểu HĐND xã.",
                    f"Không biểu quyết: {abstain}/30 đại biểu, chiếm 3,33% tổng số đại biểu HĐND xã.",
                ]
                poll["named"] = {
                    "Tán thành": [p[0] for p in people[:yes]],
                    "Không tán thành": [p[0] for p in people[yes : yes + no]],
                    "Không biểu quyết": [p[0] for p in people[yes + no : yes + no + abstain]],
                }
            item["polls"].append(poll)
            poll_no += 1
        agenda.append(item)
    return {
        "meeting_id": 42,
        "council": {"name": "Tân Lập", "level": "xã"},
        "document_number": "12",
        "session": {"title": "Kỳ họp thứ Hai", "term": "I", "term_years": "2026 - 2031"},
        "place": "Hội trường Ủy ban nhân dân xã Tân Lập",
        "started_at": "2026-07-15T07:30:00+07:00",
        "ended_at": "2026-07-15T11:30:00+07:00",
        "delegate_count": n_delegates,
        "participants": participants,
        "chairs": [{"name": people[0][0], "title": people[0][1]}, {"name": people[1][0], "title": people[1][1]}],
        "secretaries": [{"name": "Lò Thị Mai", "title": "Đại biểu HĐND xã, Văn phòng HĐND và UBND xã"}],
        "guests": [
            {"name": "Đinh Công Tráng", "title": "Phó Bí thư Thường trực Đảng ủy xã"},
            {"title": "Đại diện Ủy ban Mặt trận Tổ quốc Việt Nam xã"},
            {"title": "Trưởng các thôn, bản trên địa bàn xã"},
        ],
        "opening": (
            "Thay mặt Đoàn Chủ tịch, đồng chí Chủ tịch Hội đồng nhân dân xã khai mạc kỳ họp, nêu rõ mục đích, "
            "yêu cầu và những nội dung chính sẽ được xem xét, quyết định tại kỳ họp.\n\n"
            "Kỳ họp đã nghe Thường trực Hội đồng nhân dân xã báo cáo tình hình thực hiện nhiệm vụ sáu tháng đầu "
            "năm và phương hướng nhiệm vụ sáu tháng cuối năm 2026."
        ),
        "agenda": agenda,
        "conclusions": (
            "Đồng chí Chủ tọa kỳ họp phát biểu bế mạc, đề nghị Ủy ban nhân dân xã, các ban của Hội đồng nhân dân "
            "và các đại biểu triển khai thực hiện các nghị quyết đã được thông qua."
        ),
        "recipients": [
            "Thường trực HĐND huyện",
            "Thường trực Đảng ủy xã",
            "Thường trực HĐND xã",
            "UBND xã",
            "Các đại biểu HĐND xã",
        ],
    }
