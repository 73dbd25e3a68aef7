"""The clerk's console: meeting details, agenda, the delegate list import, join cards, lost cards."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from openpyxl import Workbook

from tests.conftest import SHARED, csrf_token


@pytest.fixture
def clerk(login: Any) -> Any:
    return login("clerk")


def _post(client: Any, path: str, data: dict[str, Any], **kw: Any) -> Any:
    data = dict(data, csrf_token=csrf_token(client, "/clerk/"))
    return client.post(path, data=data, **kw)


def _upload(client: Any, content: bytes, name: str) -> Any:
    return _post(client, "/clerk/roster/preview", {"file": (io.BytesIO(content), name)},
                 content_type="multipart/form-data")


def _participants(client: Any, meeting_id: int) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/meetings/{meeting_id}/participants").get_json()["participants"]


def test_console_shows_the_demo_meeting(clerk: Any) -> None:
    html = clerk.get("/clerk/").get_data(as_text=True)
    assert "Kỳ họp thứ Hai" in html and "Hoàng Quốc Cường" in html and "Bế mạc kỳ họp" in html


def _beside(clerk: Any, r: Any, anchor: str, text: str) -> None:
    """A refused console form comes back to the form (its #anchor) with the reason beside it, not an error page."""
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#{anchor}"), r.headers.get("Location")
    page = clerk.get("/clerk/").get_data(as_text=True)
    said = re.findall(rf'<p class="flash flash-error said"[^>]*data-said="{anchor}">(.*?)</p>', page, re.S)
    assert said and text in said[0], said


def test_edit_meeting_and_refuse_a_bad_n(clerk: Any, app_links: dict[str, Any]) -> None:
    form = {"council_level": "phường", "locality": "Tân Định", "session_title": "Kỳ họp thứ Ba",
            "term": "khóa I, nhiệm kỳ 2026 - 2031", "place": "Hội trường", "starts_at": "2026-12-15T08:00",
            "seated_count": "25", "quorum_rule": "two_thirds"}
    r = _post(clerk, "/clerk/meeting", form, follow_redirects=True)
    assert r.status_code == 200 and "Đã lưu thông tin kỳ họp" in r.get_data(as_text=True)
    m = clerk.get(f"/api/v1/meetings/{app_links['meeting_id']}").get_json()
    assert m["council_name"] == "Hội đồng nhân dân phường Tân Định"
    assert m["starts_at"] == "2026-12-15T01:00:00+00:00"  # 08:00 in Vietnam is 01:00 UTC
    assert m["attendance"]["required"] == 17  # ⌈2·25/3⌉
    r = _post(clerk, "/clerk/meeting", dict(form, seated_count="0"))
    # Refused beside the form: back to the meeting step's form, the reason in it (not an error page).
    assert r.status_code == 302 and r.headers["Location"].endswith("/clerk/#meeting-form")
    page = clerk.get("/clerk/").get_data(as_text=True)
    form_html = page[page.index('id="meeting-form"'):page.index("</form>", page.index('id="meeting-form"'))]
    assert 'data-said="meeting-form"' in form_html and "Tổng số đại biểu" in form_html
    r = _post(clerk, "/clerk/meeting", dict(form, seated_count="ba mươi"))
    _beside(clerk, r, "meeting-form", "phải là số")
    assert clerk.get(f"/api/v1/meetings/{app_links['meeting_id']}").get_json()["seated_count"] == 25


def test_agenda_add_move_delete(clerk: Any, app_links: dict[str, Any]) -> None:
    mid = app_links["meeting_id"]
    _post(clerk, "/clerk/agenda", {"title": "Chất vấn và trả lời chất vấn", "description": ""})
    items = clerk.get(f"/api/v1/meetings/{mid}/agenda").get_json()["items"]
    assert items[-1]["title"] == "Chất vấn và trả lời chất vấn" and items[-1]["position"] == 7
    _post(clerk, f"/clerk/agenda/{items[-1]['id']}", {"action": "up"})
    items2 = clerk.get(f"/api/v1/meetings/{mid}/agenda").get_json()["items"]
    assert [i["title"] for i in items2][5:] == ["Chất vấn và trả lời chất vấn", "Bế mạc kỳ họp"]
    _post(clerk, f"/clerk/agenda/{items[-1]['id']}", {"action": "delete"})
    assert len(clerk.get(f"/api/v1/meetings/{mid}/agenda").get_json()["items"]) == 6
    r = _post(clerk, "/clerk/agenda", {"title": "   "})
    _beside(clerk, r, "agenda-new", "Hãy nhập tên nội dung")


def test_import_sample_csv_with_bom_previews_then_saves(clerk: Any, app_links: dict[str, Any]) -> None:
    data = (SHARED / "samples" / "dai-bieu-hdnd-xa.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    before = _participants(clerk, app_links["meeting_id"])
    r = _upload(clerk, data, "dai-bieu-hdnd-xa.csv")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "30 người: 30 đại biểu, 0 khách mời" in html
    # Preview saves nothing: the demo's secretary and guests are still there.
    assert _participants(clerk, app_links["meeting_id"]) == before
    table = re.search(r'<textarea name="table" hidden>(.*?)</textarea>', html, re.S).group(1)  # type: ignore[union-attr]
    import html as h

    r = _post(clerk, "/clerk/roster/import", {"table": h.unescape(table)}, follow_redirects=True)
    assert "0 người mới, 30 giữ nguyên, 2 bị bỏ" in r.get_data(as_text=True)
    after = _participants(clerk, app_links["meeting_id"])
    assert len(after) == 30 and all(p["role"] in ("chair", "delegate") for p in after)


def test_import_xlsx(clerk: Any, app_links: dict[str, Any]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"])
    ws.append([1, "Hoàng Quốc Cường", "Chủ tịch HĐND xã", "Tổ đại biểu số 1", "Chủ tọa"])
    ws.append([2, "Nguyễn Thị Mới", "Giáo viên", "Tổ đại biểu số 2", "Thư ký"])
    buf = io.BytesIO()
    wb.save(buf)
    html = _upload(clerk, buf.getvalue(), "danh-sach.xlsx").get_data(as_text=True)
    assert "2 người: 2 đại biểu" in html and "Nguyễn Thị Mới" in html and "Thêm mới 1, giữ nguyên 1" in html


@pytest.mark.parametrize(("content", "name", "message"), [
    ("Mã số,Điện thoại\nA1,0912\n".encode(), "x.csv", "có cột «Họ và tên»"),
    ("STT,Họ và tên,Vai trò\n1,,Đại biểu\n".encode(), "x.csv", "Dòng 2: Thiếu họ và tên"),
    ("STT,Họ và tên,Vai trò\n1,Lê A,Đại biểu\n2,Lê A,Đại biểu\n".encode(), "x.csv", "Dòng 3: Trùng với dòng 2"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "danh-sach.csv", "tệp nhị phân bị đổi tên"),
    (b"PK\x03\x04garbage" + bytes(100), "danh-sach.xlsx", "Tệp Excel bị hỏng"),
    (b"\x81\x8d\x8f\x90\x9d,x\n", "x.csv", "Không nhận ra bảng mã"),
    (b"", "x.csv", "Tệp rỗng"),
], ids=["wrong-columns", "empty-name", "duplicate", "binary-renamed", "broken-xlsx", "unknown-codepage", "empty"])
def test_bad_lists_get_a_clear_message_and_change_nothing(clerk: Any, app_links: dict[str, Any], content: bytes,
                                                          name: str, message: str) -> None:
    before = _participants(clerk, app_links["meeting_id"])
    r = _upload(clerk, content, name)
    assert r.status_code in (200, 400, 413)
    assert message in r.get_data(as_text=True)
    assert "Xác nhận nhập danh sách" not in r.get_data(as_text=True)
    assert _participants(clerk, app_links["meeting_id"]) == before


def test_a_50_mb_file_is_refused_over_real_http(live_server: Any) -> None:
    srv = live_server
    clerk = srv.session_for(srv.links["clerk"])
    page = clerk.get(f"{srv.url}/clerk/", timeout=10).text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    api = f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/participants"
    before = clerk.get(api, timeout=10).json()
    r = clerk.post(f"{srv.url}/clerk/roster/preview", data={"csrf_token": csrf},
                   files={"file": ("danh-sach.csv", b"a" * (50 * 1024 * 1024), "text/csv")}, timeout=60)
    # Refused on its Content-Length, before the body is read (tests/web/test_limits.py).
    assert r.status_code == 413 and "Tệp quá lớn" in r.text and "tối đa 2 MB" in r.text
    assert clerk.get(api, timeout=10).json() == before


def test_tampered_preview_is_checked_again(clerk: Any, app_links: dict[str, Any]) -> None:
    before = _participants(clerk, app_links["meeting_id"])
    r = _post(clerk, "/clerk/roster/import", {"table": '[["Họ và tên"], [""]]'})
    _beside(clerk, r, "roster", "còn lỗi")
    r = _post(clerk, "/clerk/roster/import", {"table": "not json"})
    _beside(clerk, r, "roster", "JSON")
    assert _participants(clerk, app_links["meeting_id"]) == before


def test_cards_pdf_has_every_person_and_a_qr_each(clerk: Any, app_links: dict[str, Any], tmp_path: Path) -> None:
    r = clerk.get("/clerk/cards.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    doc = pymupdf.open(stream=r.data, filetype="pdf")
    assert doc.page_count == 4  # 30 delegates + 2 guests, eight per page
    assert all(abs(p.rect.width - 595.3) < 1 and abs(p.rect.height - 841.9) < 1 for p in doc)
    text = " ".join(" ".join(p.get_text().split()) for p in doc)
    for d in app_links["delegates"]:
        assert d["name"] in text
    assert "HỘI ĐỒNG NHÂN DÂN XÃ ĐỒNG LÊ" in text and "Chủ tọa" in text
    assert sum(len(p.get_images()) for p in doc) == 32
    # The fonts are embedded so every Vietnamese glyph prints on any printer.
    fonts = {f[3] for p in doc for f in p.get_fonts()}
    assert any("Liberation Sans" in f for f in fonts)


def test_cards_qr_decodes_to_the_join_url(clerk: Any, app_links: dict[str, Any], tmp_path: Path) -> None:
    """What a phone camera reads from a printed card is that person's join link (decoded by zbarimg).

    Each card's code is decoded on its own, as a phone sees one card: zbar scanning a whole page of eight missed
    about one code in 300 (random links, 200 dpi), while the same codes cropped one by one all decoded (1,600 of
    1,600 at 200 and 300 dpi)."""
    doc = pymupdf.open(stream=clerk.get("/clerk/cards.pdf").data, filetype="pdf")
    page = doc[0]
    decoded = []
    for k, img in enumerate(page.get_images()):
        for rect in page.get_image_rects(img[0]):
            png = tmp_path / f"card{k}.png"
            page.get_pixmap(dpi=200, clip=rect + (-20, -20, 20, 20)).save(png)  # with a white margin around
            out = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True,
                                 check=True)
            decoded += out.stdout.split()
    assert len(decoded) == 8
    tokens = {d["url"].rsplit("/j/", 1)[1] for d in app_links["delegates"]}
    assert all(u.startswith("http://localhost/j/") and u.rsplit("/j/", 1)[1] in tokens for u in decoded)


def test_people_and_items_on_the_record_cannot_be_deleted(clerk: Any, login: Any, app_links: dict[str, Any]) -> None:
    """Removing someone who was marked present, or an item with documents, would cut them out of the minutes."""
    mid = app_links["meeting_id"]
    login("delegate")  # scanning the card marks this delegate present
    data = (SHARED / "samples" / "dai-bieu-hdnd-xa.csv").read_bytes().decode("utf-8-sig").splitlines()
    present = next(d for d in app_links["delegates"] if d["role"] == "delegate")
    kept = "\n".join(line for line in data if present["name"] not in line).encode()
    before = _participants(clerk, mid)
    r = clerk.put(f"/api/v1/meetings/{mid}/participants", data=kept, headers={"X-CSRFToken": csrf_token(clerk)})
    assert r.status_code == 400 and present["name"] in r.get_json()["message"]
    assert _participants(clerk, mid) == before
    items = clerk.get(f"/api/v1/meetings/{mid}/agenda").get_json()["items"]
    third = items[2]["id"]  # the demo's documents hang here once ingested; a poll makes it part of the record too
    r = clerk.post(f"/api/v1/meetings/{mid}/polls",
                   json={"kind": "open", "title": "Thông qua", "agenda_item_id": third},
                   headers={"X-CSRFToken": csrf_token(clerk)})
    assert r.status_code == 201
    r = _post(clerk, f"/clerk/agenda/{third}", {"action": "delete"})
    _beside(clerk, r, f"item-{third}", "không thể xóa")
    assert len(clerk.get(f"/api/v1/meetings/{mid}/agenda").get_json()["items"]) == 6


def test_console_shows_the_free_space_of_the_data_disk_and_warns_when_low(clerk: Any, app: Any) -> None:
    from meeting_server import faults

    page = clerk.get("/clerk/").get_data(as_text=True)
    free = faults.free_bytes(app.config["DATA_DIR"])
    assert "Ổ đĩa dữ liệu của máy chủ còn trống" in page
    shown = re.search(r"còn trống ([\d,]+ [GM]B)\.", page).group(1)  # type: ignore[union-attr]
    number, unit = shown.split()
    assert abs(float(number.replace(",", ".")) * (1024**3 if unit == "GB" else 1024**2) - free) < 0.1 * 1024**3
    assert 'data-disk="ok"' in page and "Sắp đầy" not in page
    app.config["DISK_LOW_FREE_BYTES"] = free + 1024**4  # as if the disk were nearly full
    page = clerk.get("/clerk/").get_data(as_text=True)
    assert 'data-disk="low"' in page and "flash-warning" in page
    assert "Sắp đầy: hãy chép bản sao lưu ra ngoài" in page


def _current_title(clerk: Any) -> str:
    page = clerk.get("/clerk/").get_data(as_text=True)
    return re.search(r'<li class="current" aria-current="true">\s*<span><strong>(.*?)</strong>', page).group(1)  # type: ignore[union-attr]


def test_the_clerk_switches_between_the_councils_meetings_and_no_other(clerk: Any, app_links: dict[str, Any]) -> None:
    form = {"council_level": "xã", "locality": "Đồng Lê", "session_title": "Kỳ họp chuyên đề", "term": "khóa I",
            "place": "Hội trường", "starts_at": "2026-12-20T08:00", "seated_count": "30", "quorum_rule": "two_thirds"}
    first = app_links["meeting_id"]
    r = _post(clerk, "/clerk/meetings/new", form)
    assert r.status_code == 302 and r.headers["Location"].endswith("#meetings")
    page = clerk.get("/clerk/").get_data(as_text=True)
    assert "bạn đang ở kỳ họp này" in page and page.count("Chuyển sang kỳ họp này") == 1
    assert _current_title(clerk) == "Kỳ họp chuyên đề"
    # Back to the first meeting: the same browser, no card scanned, the token never in a URL.
    r = _post(clerk, f"/clerk/meetings/{first}/open", {})
    assert r.status_code == 302 and "/j/" not in r.headers["Location"]
    assert _current_title(clerk) != "Kỳ họp chuyên đề"
    # A meeting of another council: its creator runs it, but from there the first council's meetings are out of reach.
    _post(clerk, "/clerk/meetings/new", dict(form, locality="Tân Lập", session_title="Kỳ họp thứ Nhất"))
    assert _current_title(clerk) == "Kỳ họp thứ Nhất"
    assert "Chuyển sang kỳ họp này" not in clerk.get("/clerk/").get_data(as_text=True)
    r = _post(clerk, f"/clerk/meetings/{first}/open", {})
    _beside(clerk, r, "meetings", "Không tìm thấy kỳ họp")
    assert _current_title(clerk) == "Kỳ họp thứ Nhất"
