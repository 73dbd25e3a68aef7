"""A whole sitting on a real server (HTTP + Socket.IO), then the signed minutes checked by pyHanko, pdfsig, their
text, page size, margins and fonts; the /verify page and `meeting-server verify` on the PDF and a one-byte-changed
copy; `meeting-server verify-log` before and after editing a row of the audit log in the SQLite file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest
import requests

from meeting_server.minutes.verify import verify_pdf
from tests.conftest import ROOT, LiveServer, _env, start_server
from tests.db_kit import peek
from tests.minutes.test_sign_verify import flip_signed_byte
from tests.realtime.helpers import Screen

MM = 72 / 25.4


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], capture_output=True, text=True, check=False,
                          cwd=ROOT, env=_env(), timeout=120)


def run_sitting(srv: LiveServer) -> dict[str, Any]:
    """Set up, joins, an absence with reason, opening, a late arrival, a departure, agenda, closing; then sign."""
    mid = srv.links["meeting_id"]
    base = f"{srv.url}/api/v1/meetings/{mid}"
    auth = {"Authorization": f"Bearer {srv.token(srv.links['clerk'])}"}
    delegates = [d for d in srv.links["delegates"] if d["role"] == "delegate"]
    r = requests.patch(base, json={"place": "Hội trường UBND xã Đồng Lê, thôn Bản Chang"}, headers=auth, timeout=10)
    assert r.status_code == 200
    r = requests.post(base + "/agenda", json={"title": "Chất vấn và trả lời chất vấn"}, headers=auth, timeout=10)
    assert r.status_code == 201
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    try:
        st = chair.wait("state")
        for d in [*srv.links["chair"], *srv.links["secretary"]]:
            requests.get(srv.local(d), timeout=10)
        for d in delegates[:20]:
            requests.get(srv.local(d["url"]), timeout=10)
        absent, late, left = delegates[20], delegates[21], delegates[5]
        r = requests.post(f"{base}/attendance/{absent['participant_id']}", headers=auth, timeout=10,
                          json={"status": "absent", "reason": "Đi công tác tại huyện"})
        assert r.status_code == 200
        assert chair.call("meeting.set_status", {"status": "in_progress"})["ok"] is True
        requests.get(srv.local(late["url"]), timeout=10)  # scans after the opening: late
        for item in st["agenda"][:3]:
            assert chair.call("agenda.set_current", {"item_id": item["id"]})["ok"] is True
        # On item 3: a delegate asks to speak and is given the floor, then 22 vote for the resolution on their
        # phones, 1 against (of N = 30: "Tán thành: 22/30 …, chiếm 73,33% …").
        speaker = Screen(srv.url, srv.token(delegates[0]["url"]))
        speaker.wait("state")
        asked = speaker.call("speak.request")
        assert asked["ok"] is True, asked
        assert chair.call("speak.give", {"request_id": asked["request_id"]})["ok"] is True
        assert chair.call("speak.end")["ok"] is True
        speaker.close()
        r = requests.post(f"{base}/polls", headers=auth, timeout=10, json={
            "kind": "open", "title": "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027",
            "agenda_item_id": st["agenda"][2]["id"]})
        assert r.status_code == 201, r.text
        poll = r.json()["id"]
        chair_auth = {"Authorization": f"Bearer {srv.token(srv.links['chair'][0])}"}
        assert requests.post(f"{srv.url}/api/v1/polls/{poll}/open", headers=chair_auth, json={},
                             timeout=10).status_code == 200
        voters = [srv.links["chair"][0], srv.links["secretary"][0], *[d["url"] for d in delegates[:20]]]
        for i, url in enumerate([*voters, late["url"]]):
            phone = Screen(srv.url, srv.token(url))
            phone.wait("state")
            ack = phone.call("cast", {"poll_id": poll, "choice": "for" if i < 22 else "against"})
            assert ack["ok"] is True, ack
            phone.close()
        assert requests.post(f"{srv.url}/api/v1/polls/{poll}/close", headers=chair_auth, json={},
                             timeout=10).status_code == 200
        r = requests.post(f"{base}/attendance/{left['participant_id']}", headers=auth, timeout=10,
                          json={"status": "left", "reason": "Việc gia đình"})
        assert r.status_code == 200
        assert chair.call("meeting.set_status", {"status": "ended"})["ok"] is True
        chair.wait("state", lambda s: s["meeting"]["status"] == "ended")
    finally:
        chair.close()
    minutes = requests.get(base + "/minutes", headers=auth, timeout=10).json()
    item = minutes["agenda"][2]["id"]
    r = requests.put(base + "/minutes/draft", headers=auth, timeout=10, json={
        "revision": minutes["revision"], "document_number": None,
        "changes": {"document_number": "07", "opening": "Đồng chí Chủ tịch HĐND xã khai mạc kỳ họp.",
                    "summaries": {str(item): "Đại biểu thống nhất cao với kế hoạch chuyển đổi số năm 2027."},
                    "conclusions": "Chủ tọa kỳ họp phát biểu bế mạc."}})
    assert r.status_code == 200, r.text
    # The clerk prepares; the secretary then the chair sign with their own cards and PINs (issue #17).
    r = requests.post(base + "/minutes/prepare", headers=auth, json={}, timeout=120)
    assert r.status_code == 200, r.text
    for role in ("secretary", "chair"):
        who = {"Authorization": f"Bearer {srv.token(srv.links[role][0])}"}
        sha = requests.get(base + "/minutes/signing", headers=who, timeout=10).json()["current_sha256"]
        r = requests.post(base + f"/minutes/signatures/{role}/key", headers=who, timeout=120,
                          json={"pin": "147258", "pin_again": "147258"})
        assert r.status_code == 201, r.text
        r = requests.post(base + f"/minutes/signatures/{role}", headers=who, timeout=120,
                          json={"method": "pin", "pin": "147258", "pdf_sha256": sha})
        assert r.status_code == 200, r.text
    pdf = requests.get(base + "/minutes.pdf?version=1", headers=auth, timeout=10)
    assert pdf.status_code == 200
    return {"pdf": pdf.content, "absent": absent, "late": late, "left": left, "speaker": delegates[0]}


@pytest.fixture(scope="module")
def sitting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One sitting shared by the tests of this module (the log-editing test runs last and stops the server)."""
    tmp = tmp_path_factory.mktemp("sitting")
    srv = start_server(tmp / "data")
    try:
        out = run_sitting(srv)
        path = tmp / "bien-ban.pdf"
        path.write_bytes(out["pdf"])
        out["path"] = path
        out["srv"] = srv
        yield out
    finally:
        srv.stop()


def test_whole_sitting_gives_signed_minutes(sitting: dict[str, Any]) -> None:
    pdf, path = sitting["pdf"], sitting["path"]
    # pyHanko: two PAdES signatures, the secretary's then the chair's, both intact and valid.
    report = verify_pdf(pdf)
    assert report.ok, [s.message for s in report.signatures]
    assert [(s.field, s.signer_name) for s in report.signatures] == [("Sig_Secretary", "Nông Thị Mai"),
                                                                      ("Sig_Chair", "Hoàng Quốc Cường")]
    assert report.signatures[0].changes_after == "signatures" and report.signatures[1].covers_whole_document
    assert report.record_json is not None and report.audit_head is not None
    # Debian's pdfsig (poppler, NSS) agrees independently.
    if shutil.which("pdfsig"):
        out = subprocess.run(["pdfsig", str(path)], check=False, capture_output=True, text=True, timeout=60).stdout
        assert out.count("Signature Validation: Signature is Valid.") == 2, out
        assert "Signature Field Name: Sig_Secretary" in out and "Signature Field Name: Sig_Chair" in out
        assert "ETSI.CAdES.detached" in out and "Total document signed" in out
    doc = pymupdf.open(stream=pdf)
    text = " ".join(" ".join(p.get_text().split()) for p in doc)
    for expected in ["HỘI ĐỒNG NHÂN DÂN", "XÃ ĐỒNG LÊ", "Số: 07/BB-HĐND", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc", "BIÊN BẢN",
                     "Kỳ họp thứ Hai, Hội đồng nhân dân xã Đồng Lê khóa I, nhiệm kỳ 2026 - 2031",
                     "Hội trường UBND xã Đồng Lê, thôn Bản Chang", "Chất vấn và trả lời chất vấn",
                     f"{sitting['absent']['name']} (có lý do: Đi công tác tại huyện)",
                     f"Đại biểu đến muộn: {sitting['late']['name']} (đến lúc",
                     f"{sitting['left']['name']} (về lúc", "lý do: Việc gia đình",
                     "Đại biểu thống nhất cao với kế hoạch chuyển đổi số năm 2027.",
                     "Chủ tọa kỳ họp: Hoàng Quốc Cường", "THƯ KÝ KỲ HỌP", "CHỦ TỌA", "Nông Thị Mai",
                     "Nơi nhận:", "Lưu: VT, Hồ sơ.", "Kỳ họp kết thúc vào",
                     sitting["speaker"]["name"],
                     "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027",
                     "Tán thành: 22/30 đại biểu, chiếm 73,33% tổng số đại biểu HĐND xã.",
                     "Không tán thành: 1/30 đại biểu, chiếm 3,33% tổng số đại biểu HĐND xã."]:
        assert expected in text, expected
    # A4, every word inside the Decree 30 margins (left 30-35 mm, right 15-20, top and bottom 20-25).
    for page in doc:
        assert (round(page.rect.width / MM), round(page.rect.height / MM)) == (210, 297)
        for x0, y0, x1, y1, word, *_ in page.get_text("words"):
            assert x0 >= 30 * MM - 1 and x1 <= page.rect.width - 15 * MM + 1
            assert y1 <= page.rect.height - 20 * MM + 1
            # Only the page number (from page 2) sits in the top margin, centred (Decree 30, Appendix I).
            if y0 < 20 * MM - 1:
                assert page.number > 0 and word == str(page.number + 1)
                assert abs((x0 + x1) / 2 - page.rect.width / 2) < 2
    # Liberation Serif embedded, as subsets.
    fonts = {f[3] for p in doc for f in p.get_fonts(full=True)}
    faces = {f.split("+", 1)[1] for f in fonts}
    assert {"Liberation Serif Regular", "Liberation Serif Bold", "Liberation Serif Bold Italic"} <= faces, fonts
    assert faces <= {"Liberation Serif Regular", "Liberation Serif Bold", "Liberation Serif Italic",
                     "Liberation Serif Bold Italic"}, fonts
    for p in doc:
        for xref, *_ in p.get_fonts(full=True):
            assert doc.extract_font(xref)[3], xref  # the font program is in the file
    if shutil.which("pdffonts"):
        rows = subprocess.run(["pdffonts", str(path)], check=False, capture_output=True, text=True, timeout=60).stdout
        lines = rows.splitlines()[2:]
        assert lines and all(" yes yes " in line for line in lines), rows  # embedded, subset


def test_verify_page_and_cli_tell_intact_from_changed(sitting: dict[str, Any], tmp_path: Path) -> None:
    srv, pdf = sitting["srv"], sitting["pdf"]
    changed = flip_signed_byte(pdf)
    assert len(changed) == len(pdf) and sum(a != b for a, b in zip(changed, pdf, strict=True)) == 1
    good = requests.post(srv.url + "/verify", files={"file": ("bien-ban.pdf", pdf, "application/pdf")}, timeout=60)
    assert good.status_code == 200
    html = good.text
    assert "Các chữ ký số còn nguyên vẹn" in html and 'data-ok="yes"' in html
    assert "Nông Thị Mai" in html and "Hoàng Quốc Cường" in html
    assert "khớp với nhật ký của máy chủ này" in html
    bad = requests.post(srv.url + "/verify", files={"file": ("sua.pdf", changed, "application/pdf")}, timeout=60)
    assert bad.status_code == 200 and 'data-ok="no"' in bad.text and "CẢNH BÁO" in bad.text
    js = requests.post(srv.url + "/verify", data=changed, headers={"Accept": "application/json"}, timeout=60).json()
    assert js["ok"] is False and js["changed_after_signing"] is True
    assert not any(sig["intact"] for sig in js["signatures"])
    empty = requests.post(srv.url + "/verify", files={"file": ("x.pdf", b"", "application/pdf")}, timeout=10)
    assert empty.status_code == 400 and "Hãy chọn một tệp PDF" in empty.text
    junk = requests.post(srv.url + "/verify", files={"file": ("x.pdf", b"%PDF-1.7 rubbish", "application/pdf")},
                         timeout=30)
    assert junk.status_code == 200 and "Không đọc được tệp PDF" in junk.text
    # The command line says the same, with exit status 0 / 1.
    on_db = ("--database-url", srv.database_url) if srv.database_url else ()
    ok = cli("verify", str(sitting["path"]), "--data-dir", str(srv.data_dir), *on_db)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "khớp với nhật ký" in ok.stdout and "biên bản toàn vẹn" in ok.stdout
    bad_path = tmp_path / "sua.pdf"
    bad_path.write_bytes(changed)
    broken = cli("verify", str(bad_path))
    assert broken.returncode == 1 and "đã bị thay đổi sau khi ký" in broken.stdout


def test_verify_log_points_at_the_edited_row(sitting: dict[str, Any]) -> None:
    """On either database: verify-log reads the rows where the server wrote them (--database-url on PostgreSQL)."""
    srv = sitting["srv"]
    on_db = ("--database-url", srv.database_url) if srv.database_url else ()

    def verify_log() -> subprocess.CompletedProcess[str]:
        return cli("verify-log", "--data-dir", str(srv.data_dir), *on_db)

    def set_reason(reason: str) -> str:
        if srv.database_url:
            return f"data = jsonb_set(data::jsonb, '{{reason}}', '\"{reason}\"')::json"
        return f"data = json_set(data, '$.reason', '{reason}')"

    ok = verify_log()
    assert ok.returncode == 0 and "Chuỗi nhật ký toàn vẹn" in ok.stdout, ok.stdout + ok.stderr
    srv.stop()
    with peek(srv) as conn:
        seq = conn.execute("SELECT seq FROM audit_event WHERE kind = 'attendance.absent'").fetchone()[0]
        # Someone rewrites the absence reason straight in the database.
        conn.execute(f"UPDATE audit_event SET {set_reason('ốm')} WHERE seq = ?", (seq,))
    out = verify_log()
    assert out.returncode == 1
    assert f"Bản ghi số {seq} đã bị sửa" in out.stdout and f"số {seq} (changed)" in out.stdout
    with peek(srv) as conn:
        conn.execute(f"UPDATE audit_event SET {set_reason('Đi công tác tại huyện')} WHERE seq = ?", (seq,))
    assert verify_log().returncode == 0
    with peek(srv) as conn:
        conn.execute("DELETE FROM audit_event WHERE seq = 3")
    out = verify_log()
    assert out.returncode == 1 and "Bản ghi số 3 đã bị xóa" in out.stdout
