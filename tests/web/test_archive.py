"""The council's archive of the term through a real server: three sessions of one term (tests/term_kit.py), the
search across them without diacritics (documents' pages included), the register of resolutions the clerk fills in
after the session, who may see and change what, and the term's public site."""

from __future__ import annotations

import io
import re
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer
from tests.term_kit import seed_term, sign_minutes


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, list[int]]]:
    from tests.conftest import start_server

    data = tmp_path_factory.mktemp("term")
    ids = seed_term(data)
    srv = start_server(data)
    try:
        deadline = time.monotonic() + 90
        while True:  # the server reads the seven documents in at start
            with sqlite3.connect(data / "meeting.db") as c:
                left = c.execute("SELECT count(*) FROM document WHERE status != 'ready'").fetchone()[0]
            if not left:
                break
            assert time.monotonic() < deadline, "documents not read in"
            time.sleep(0.3)
        sign_minutes(data, ids[0])  # the first session's minutes are signed, the special session's not yet
        yield srv, ids
    finally:
        srv.stop()


@pytest.fixture
def clerk(term: tuple[LiveServer, list[int]]) -> requests.Session:
    srv, _ids = term
    return srv.session_for(srv.links["clerk"])


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found
    return found.group(1)


def _text(html: str) -> str:
    """What a person reads: tags out, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#34;", '"').replace("&#39;", "'")


def stored(srv: LiveServer, sql: str) -> Any:
    with sqlite3.connect(srv.data_dir / "meeting.db") as c:
        return c.execute(sql).fetchall()


def test_the_term_lists_its_three_sessions_in_the_order_they_sat(term: tuple[LiveServer, list[int]],
                                                                 clerk: requests.Session) -> None:
    srv, ids = term
    r = clerk.get(srv.url + "/archive/", timeout=10)
    assert r.status_code == 200
    text = _text(r.text)
    assert "Khóa I, nhiệm kỳ 2026 - 2031" in text
    assert text.index("Kỳ họp thứ Nhất") < text.index("Kỳ họp chuyên đề") < text.index("Kỳ họp thứ Hai")
    assert "01/07/2026" in text and "15/09/2026" in text
    assert "2 nội dung, 1 tài liệu, 3 biểu quyết (2 thông qua)" in text
    assert text.count("Đã bế mạc") == 2 and "Chưa khai mạc" in text
    # The first session's minutes are signed, the others' not yet.
    assert text.count("Đã ký, phiên bản 1") == 1 and text.count("Chưa ký") == 2
    assert f'href="/archive/sessions/{ids[0]}/minutes.pdf"' in r.text
    # Each session's page: its agenda, documents, results, signed minutes and audit chain.
    html = clerk.get(f"{srv.url}/archive/sessions/{ids[0]}", timeout=10).text
    page = _text(html)
    assert "Tờ trình về dự toán ngân sách xã năm 2027" in page
    assert "Thông qua đề nghị điều chỉnh phí chợ" in page and "Không thông qua" in page
    assert "Tán thành: 24/30 đại biểu" in page
    assert re.search(r"Nhật ký kỳ họp: \d+ sự kiện", page)
    assert "Biên bản đã ký (phiên bản 1)" in page and "Biên bản chưa được ký" not in page
    assert re.search(r'/archive/sessions/\d+/documents/\d+\.pdf', html)  # its document, to open
    assert "Biên bản chưa được ký" in _text(clerk.get(f"{srv.url}/archive/sessions/{ids[1]}", timeout=10).text)
    # The signed minutes open from the archive: the PDF the secretary and the chair signed, signatures valid.
    from meeting_server.minutes.verify import verify_pdf

    pdf = clerk.get(f"{srv.url}/archive/sessions/{ids[0]}/minutes.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    report = verify_pdf(pdf.content)
    assert report.ok and len(report.signatures) == 2, [x.message for x in report.signatures]
    missing = clerk.get(f"{srv.url}/archive/sessions/{ids[1]}/minutes.pdf", timeout=10)
    assert missing.status_code == 404


def test_search_across_the_term_without_diacritics(term: tuple[LiveServer, list[int]],
                                                   clerk: requests.Session) -> None:
    srv, ids = term
    r = clerk.get(srv.url + "/archive/", params={"q": "ngan sach 2027"}, timeout=10)
    text = _text(r.text)
    assert "Thông qua Nghị quyết về dự toán ngân sách xã năm 2027" in text  # the resolution
    assert "Tờ trình về dự toán ngân sách xã năm 2027" in text  # the agenda item
    # Words only in the documents' pages, found in every session that holds such a document.
    r = clerk.get(srv.url + "/archive/", params={"q": "doi moi sang tao"}, timeout=10)
    pages = re.findall(r'/archive/sessions/(\d+)/documents/(\d+)\.pdf#page=(\d+)', r.text)
    assert "<mark>đổi mới sáng tạo</mark>" in r.text
    assert {int(m) for m, _d, _p in pages} >= {ids[0], ids[1], ids[2]}
    m, d, p = pages[0]
    pdf = clerk.get(f"{srv.url}/archive/sessions/{m}/documents/{d}.pdf", timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    r = clerk.get(srv.url + "/archive/", params={"q": "xyzzy khong co"}, timeout=10)
    assert "Không tìm thấy kết quả nào" in _text(r.text)


def test_the_register_lists_what_passed_and_the_clerk_numbers_it(term: tuple[LiveServer, list[int]],
                                                                 clerk: requests.Session) -> None:
    srv, _ids = term
    r = clerk.get(srv.url + "/archive/resolutions", timeout=10)
    text = _text(r.text)
    assert "Thông qua Nghị quyết về kế hoạch chuyển đổi số năm 2026" in text
    assert "Thông qua Nghị quyết về thực hiện Nghị quyết số 57-NQ/TW" in text
    assert "phí chợ" not in text  # failed: not a resolution
    assert "Tán thành 26/30 (86,67%); Không tán thành 2/30 (6,67%)" in text
    # Each resolution with its document and its session's minutes: signed for the first session, not the other.
    first = _text(r.text.split('id="r', 2)[1])
    assert "Kỳ họp thứ Nhất" in first and "Văn bản: " in first and "Biên bản đã ký" in first
    special = _text(r.text.split("thực hiện Nghị quyết số 57-NQ/TW", 1)[1].split("</article>", 1)[0])
    assert "Văn bản: " in special and "Biên bản chưa ký" in special
    assert r.text.count(f'href="/archive/sessions/{_ids[0]}/minutes.pdf"') == 2  # both of its resolutions
    polls = [int(x) for x in re.findall(r'id="r(\d+)"', r.text)]
    assert len(polls) == 3
    token = _csrf(r.text)
    events = stored(srv, "SELECT count(*) FROM audit_event WHERE kind = 'register.resolution'")[0][0]
    ok = clerk.post(f"{srv.url}/archive/resolutions/{polls[0]}", timeout=10, data={
        "csrf_token": token, "number": "05/NQ-HĐND", "issued_on": "15/7/2026", "title": ""})
    assert ok.status_code == 200 and "Đã lưu số và ngày ban hành." in _text(ok.text)
    assert "05/NQ-HĐND — Thông qua Nghị quyết về kế hoạch chuyển đổi số năm 2026" in _text(ok.text)
    assert stored(srv, f"SELECT number, issued_on FROM resolution WHERE poll_id = {polls[0]}") == [
        ("05/NQ-HĐND", "2026-07-15")]
    assert stored(srv, "SELECT count(*) FROM audit_event WHERE kind = 'register.resolution'")[0][0] == events + 1
    # The same number in the same year for another resolution: refused beside its row, what was typed kept.
    dup = clerk.post(f"{srv.url}/archive/resolutions/{polls[1]}", timeout=10, data={
        "csrf_token": token, "number": "05 / nq-hđnd", "issued_on": "20/07/2026", "title": "Về dự toán"})
    assert dup.status_code == 400
    assert ("Số nghị quyết «05 / nq-hđnd» đã dùng cho «Thông qua Nghị quyết về kế hoạch chuyển đổi số năm 2026»."
            in _text(dup.text))
    assert 'value="Về dự toán"' in dup.text
    bad = clerk.post(f"{srv.url}/archive/resolutions/{polls[1]}", timeout=10, data={
        "csrf_token": token, "number": "06/NQ-HĐND", "issued_on": "31/02/2026", "title": ""})
    assert bad.status_code == 400 and "Ngày ban hành không hợp lệ" in _text(bad.text)
    long = clerk.post(f"{srv.url}/archive/resolutions/{polls[1]}", timeout=10, data={
        "csrf_token": token, "number": "0" * 41, "issued_on": "", "title": ""})
    assert long.status_code == 400 and "«Số nghị quyết» dài quá 40 ký tự" in _text(long.text)
    assert stored(srv, f"SELECT count(*) FROM resolution WHERE poll_id = {polls[1]}")[0][0] == 0
    assert stored(srv, "SELECT count(*) FROM audit_event WHERE kind = 'register.resolution'")[0][0] == events + 1
    # A failed poll is not a resolution: nothing to number.
    failed = stored(srv, "SELECT id FROM poll WHERE title LIKE '%phí chợ%'")[0][0]
    nf = clerk.post(f"{srv.url}/archive/resolutions/{failed}", timeout=10, data={
        "csrf_token": token, "number": "07/NQ-HĐND", "issued_on": "", "title": ""})
    assert nf.status_code == 400 and "Không tìm thấy nghị quyết này." in _text(nf.text)


def test_who_may_see_and_change_the_archive(term: tuple[LiveServer, list[int]], clerk: requests.Session) -> None:
    srv, ids = term
    delegate = srv.session_for(srv.links["delegates"][5]["url"])
    page = delegate.get(srv.url + "/archive/resolutions", timeout=10)
    assert page.status_code == 200 and 'name="number"' not in page.text  # reads, cannot number
    poll = stored(srv, "SELECT id FROM poll WHERE state = 'closed' ORDER BY id")[0][0]
    r = delegate.post(f"{srv.url}/archive/resolutions/{poll}", timeout=10,
                      data={"csrf_token": _csrf(page.text), "number": "99/NQ-HĐND"})
    assert r.status_code == 403
    assert delegate.post(srv.url + "/archive/site.zip", data={"csrf_token": _csrf(page.text)},
                         timeout=10).status_code == 403
    # The whole session's archive (ZIP) is the clerk's: a delegate reads the pages and the signed minutes only.
    assert delegate.get(f"{srv.url}/archive/sessions/{ids[0]}/archive.zip", timeout=10).status_code == 403
    assert delegate.get(f"{srv.url}/archive/sessions/{ids[0]}/minutes.pdf", timeout=30).status_code == 200
    doc = stored(srv, f"SELECT id FROM document WHERE meeting_id = {ids[0]}")[0][0]
    for who in (srv.links["guest"], srv.links["kiosk"]):
        s = srv.session_for(who)
        for path in ("/archive/", f"/archive/sessions/{ids[0]}", f"/archive/sessions/{ids[0]}/minutes.pdf",
                     f"/archive/sessions/{ids[0]}/documents/{doc}.pdf", "/archive/resolutions",
                     f"/archive/sessions/{ids[0]}/archive.zip"):
            assert s.get(srv.url + path, timeout=10).status_code == 403, (who, path)
    assert requests.get(srv.url + "/archive/", timeout=10).status_code in (401, 403)
    assert clerk.get(f"{srv.url}/archive/sessions/999", timeout=10).status_code == 404


def test_the_public_site_of_the_term(term: tuple[LiveServer, list[int]], clerk: requests.Session,
                                     tmp_path: Path) -> None:
    srv, ids = term
    page = clerk.get(srv.url + "/archive/", timeout=10)
    r = clerk.post(srv.url + "/archive/site.zip", data={"csrf_token": _csrf(page.text)}, timeout=120)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(z.namelist())
    # The two sessions held, not the one still to sit; their documents as PDF; the search without a server.
    assert {f"cong-khai/ky-hop-{ids[0]}.html", f"cong-khai/ky-hop-{ids[1]}.html"} <= names
    assert f"cong-khai/ky-hop-{ids[2]}.html" not in names
    assert {"cong-khai/index.html", "cong-khai/nghi-quyet.html", "cong-khai/tim-kiem.html",
            "cong-khai/assets/tim-kiem.js", "cong-khai/assets/du-lieu-tim-kiem.js"} <= names
    pdfs = [n for n in names if n.startswith("cong-khai/tai-lieu/")]
    assert len(pdfs) == 2 and all(z.read(n).startswith(b"%PDF") for n in pdfs)
    # The signed minutes of the first session, as signed (the archive's own file), linked from its page.
    signed = clerk.get(f"{srv.url}/archive/sessions/{ids[0]}/minutes.pdf", timeout=30).content
    assert z.read(f"cong-khai/bien-ban/ky-hop-{ids[0]}.pdf") == signed
    assert f"cong-khai/bien-ban/ky-hop-{ids[1]}.pdf" not in names
    assert "Biên bản kỳ họp đã ký số (PDF)" in _text(z.read(f"cong-khai/ky-hop-{ids[0]}.html").decode())
    assert "Biên bản kỳ họp chưa được ký." in _text(z.read(f"cong-khai/ky-hop-{ids[1]}.html").decode())
    register = _text(z.read("cong-khai/nghi-quyet.html").decode())
    assert "Thông qua Nghị quyết về thực hiện Nghị quyết số 57-NQ/TW" in register
    assert "phí chợ" not in register
    index = z.read("cong-khai/assets/du-lieu-tim-kiem.js").decode()
    assert index.startswith("var SITE_INDEX = ") and "đổi mới sáng tạo" in index.lower()
    z.extractall(tmp_path)
    (tmp_path / "site").write_text(str(tmp_path / "cong-khai"))


def build_site(srv: LiveServer, clerk: requests.Session, into: Path) -> Path:
    """The term's public site, unpacked in `into`; its folder."""
    page = clerk.get(srv.url + "/archive/", timeout=10)
    r = clerk.post(srv.url + "/archive/site.zip", data={"csrf_token": _csrf(page.text)}, timeout=120)
    r.raise_for_status()
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(into)
    return into / "cong-khai"


SiteBuilder = Callable[[Path], Path]
