"""Issue 17, "Done when": one whole sitting through a real server, every role from its own card, then the signed
minutes' text, the archive's CSV and `verify-log` compared with what was done (counts computed here, from the
test's own acts, never read back from the server).

The sitting: the chair, the secretary and 20 delegates come with their phones (their cards' QR links); one delegate
without a phone is marked present by the clerk; the rest are absent. On an agenda item a delegate speaks; an open
vote (the chair and the secretary vote from their own cards, the secretary records the phoneless delegate's vote),
a secret ballot, and a poll cancelled with its reason. A motion filed under no item is voted too. Then the clerk
prepares the minutes and the server is SIGKILLed while the worker renders them (part 1 of the issue's defect 4 in
the new flow); at the next start the version is back to the draft and the clerk's editor says so. The clerk
prepares again; the server is killed once more, as if while the secretary signed (her signed file written, the
database not yet told), and the intact prepared version is kept; the secretary signs again, then the chair.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pymupdf
import requests

from meeting_server.domain.minutes import OTHER_HEADING
from tests.conftest import ROOT, LiveServer, _env, database_for, start_server
from tests.db_kit import Peek
from tests.realtime.helpers import Screen
from tests.realtime.voting_kit import api, chair, clerk, delegates, join, screen, secretary
from tests.test_i18n import _in_english

N = 30  # delegates of the demo council (HĐND xã): the denominator of every open vote's line
NEEDED = N // 2 + 1  # more than half of all delegates (hdnd-rules.md): 16 of 30

def verdict(votes_for: int) -> str:
    return "Thông qua" if votes_for >= NEEDED else "Không thông qua"
PIN = {"secretary": "246810", "chair": "135791"}
ITEM_POLL = "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027"
SECRET_POLL = "Bỏ phiếu kín về việc thành lập Tổ công tác chuyển đổi số"
CANCELLED_POLL = "Thông qua Nghị quyết về điều chỉnh dự toán ngân sách xã năm 2026"
CANCEL_REASON = "Tờ trình chưa đủ hồ sơ thẩm tra"
LOOSE_POLL = "Thông qua việc bổ sung nội dung vào chương trình kỳ họp"


def _draft_row(data: Path) -> tuple[str, str, str]:
    with Peek(data, database_for(data)) as con:
        row = con.execute("SELECT status, prepared_path, prepared_sha256 FROM minutes_draft "
                          "ORDER BY version DESC LIMIT 1").fetchone()
    con.close()
    return (row[0], row[1] or "", row[2] or "") if row else ("", "", "")


def _kill(srv: LiveServer) -> None:
    """A power cut: SIGKILL, nothing of the server's own shutdown runs."""
    srv.proc.kill()
    srv.proc.wait(10)


def _poll(srv: LiveServer, title: str, **body: Any) -> int:
    body.setdefault("kind", "open")
    r = api(srv, clerk(srv), "POST", f"/meetings/{srv.links['meeting_id']}/polls", dict(body, title=title))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _as(srv: LiveServer, url: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    r = api(srv, url, method, path, body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _cast(who: Screen, poll_id: int, choice: str) -> None:
    ack = who.call("cast", {"poll_id": poll_id, "choice": choice})
    assert ack["ok"] is True, ack


def _run_sitting(srv: LiveServer) -> dict[str, Any]:
    """Everything that happens in the hall; returns what the test did, counted here."""
    mid = srv.links["meeting_id"]
    assert len(srv.links["delegates"]) == N
    plain = delegates(srv)
    with_phone, no_phone = plain[:20], plain[20]
    chair_name = next(d["name"] for d in srv.links["delegates"] if d["url"] == chair(srv))
    secretary_name = next(d["name"] for d in srv.links["delegates"] if d["url"] == secretary(srv))
    present = 2 + len(with_phone) + 1  # the chair, the secretary (both delegates), the phones, the phoneless one
    did: dict[str, Any] = {"present": present, "absent": N - present,  # the vice-chair and 6 delegates stay away
                           "no_phone": no_phone["name"], "chair": chair_name, "secretary": secretary_name}

    join(srv, chair(srv))
    join(srv, secretary(srv))
    for d in with_phone:
        join(srv, d["url"])
    # Came without a phone: the clerk (not the secretary) marks the presence at the desk.
    _as(srv, clerk(srv), "POST", f"/meetings/{mid}/attendance/{no_phone['participant_id']}", {"status": "present"})
    phones = [screen(srv, d["url"]) for d in with_phone]
    chair_card = screen(srv, chair(srv))
    secretary_card = screen(srv, secretary(srv))
    try:
        assert chair_card.call("meeting.set_status", {"status": "in_progress"})["ok"] is True
        agenda = next(data for name, data in chair_card.seen if name == "state")["agenda"]
        item = agenda[2]
        did["item"] = item["title"]
        assert chair_card.call("agenda.set_current", {"item_id": item["id"]})["ok"] is True

        # A speech on the item.
        asked = phones[0].call("speak.request")
        assert asked["ok"] is True, asked
        assert chair_card.call("speak.give", {"request_id": asked["request_id"]})["ok"] is True
        assert chair_card.call("speak.end")["ok"] is True
        did["speaker"] = with_phone[0]["name"]

        # An open vote under the item (created without naming it: it goes under the current item).
        p = _poll(srv, ITEM_POLL)
        assert _as(srv, clerk(srv), "GET", f"/polls/{p}")["agenda_item_id"] == item["id"]
        _as(srv, chair(srv), "POST", f"/polls/{p}/open", {})
        choices = ["for"] * 16 + ["against"] * 3 + ["abstain"]
        for phone, choice in zip(phones, choices, strict=True):
            _cast(phone, p, choice)
        _cast(chair_card, p, "for")  # the chair votes from the chair's own card
        _cast(secretary_card, p, "against")  # so does the secretary, a delegate too
        _as(srv, secretary(srv), "POST", f"/polls/{p}/proxy",
            {"participant_id": no_phone["participant_id"], "choice": "abstain"})
        _as(srv, chair(srv), "POST", f"/polls/{p}/close")
        did["item_poll"] = {"for": 16 + 1, "against": 3 + 1, "abstain": 1 + 1,
                            "for_names": [d["name"] for d in with_phone[:16]] + [chair_name]}

        # A secret ballot under the same item: totals only, nobody named.
        p = _poll(srv, SECRET_POLL, kind="secret")
        _as(srv, chair(srv), "POST", f"/polls/{p}/open", {})
        for i, phone in enumerate(phones[:18]):
            _cast(phone, p, "yes" if i < 14 else "no")
        _cast(chair_card, p, "yes")
        _as(srv, chair(srv), "POST", f"/polls/{p}/close")
        did["secret_poll"] = {"yes": 14 + 1, "no": 4, "returned": 19, "issued": did["present"]}

        # A poll cancelled with its reason, after two ballots.
        p = _poll(srv, CANCELLED_POLL)
        _as(srv, chair(srv), "POST", f"/polls/{p}/open", {})
        _cast(phones[0], p, "for")
        _cast(phones[1], p, "against")
        _as(srv, chair(srv), "POST", f"/polls/{p}/cancel", {"reason": CANCEL_REASON})

        # A motion the clerk files under no item.
        p = _poll(srv, LOOSE_POLL, agenda_item_id=None)
        assert _as(srv, clerk(srv), "GET", f"/polls/{p}")["agenda_item_id"] is None
        _as(srv, chair(srv), "POST", f"/polls/{p}/open", {})
        for phone in phones[:10]:
            _cast(phone, p, "for")
        _cast(chair_card, p, "for")
        _as(srv, secretary(srv), "POST", f"/polls/{p}/proxy",
            {"participant_id": no_phone["participant_id"], "choice": "for"})
        _as(srv, chair(srv), "POST", f"/polls/{p}/close")
        did["loose_poll"] = {"for": 10 + 1 + 1, "against": 0, "abstain": 0}
        did["closed_polls"] = 3

        assert chair_card.call("meeting.set_status", {"status": "ended"})["ok"] is True
        chair_card.wait("state", lambda s: s["meeting"]["status"] == "ended")
    finally:
        for s in [*phones, chair_card, secretary_card]:
            s.close()
    return did


def _prepare_killed(srv: LiveServer) -> None:
    """The clerk prepares; the server is SIGKILLed while the worker renders (status `prepared`, no file yet)."""
    answers: list[Any] = []

    def prepare() -> None:
        try:
            answers.append(api(srv, clerk(srv), "POST", f"/meetings/{srv.links['meeting_id']}/minutes/prepare", {}))
        except requests.RequestException as exc:
            answers.append(exc)

    worker = threading.Thread(target=prepare, daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while _draft_row(srv.data_dir)[0] != "prepared":
        assert time.monotonic() < deadline and not answers, f"the prepare never started: {answers}"
        time.sleep(0.005)
    _kill(srv)
    worker.join(30)
    assert isinstance(answers[0], requests.RequestException), answers  # the clerk's request never got its answer
    status, path, _sha = _draft_row(srv.data_dir)
    assert (status, path) == ("prepared", "")  # what the power cut leaves: frozen, no prepared file


def _sign(srv: LiveServer, role: str) -> requests.Response:
    """What the signer's screen does: read what they sign, set the PIN on first use, sign with it."""
    url = srv.links[role][0]
    base = f"/meetings/{srv.links['meeting_id']}/minutes"
    st = _as(srv, url, "GET", base + "/signing")
    if not next(x["has_pin_key"] for x in st["steps"] if x["role"] == role):
        r = api(srv, url, "POST", base + f"/signatures/{role}/key", {"pin": PIN[role], "pin_again": PIN[role]})
        assert r.status_code == 201, r.text
    return api(srv, url, "POST", base + f"/signatures/{role}",
               {"method": "pin", "pin": PIN[role], "pdf_sha256": st["current_sha256"]})


def _section(text: str, start: str) -> str:
    """From `start` to the next poll's heading (or the no-item heading, or the end)."""
    i = text.index(start)
    rest = text[i + len(start):]
    ends = [rest.find(m) for m in ("Kết quả biểu quyết công khai:", "Kết quả bỏ phiếu kín:", OTHER_HEADING)]
    ends = [e for e in ends if e >= 0]
    return start + rest[:min(ends)] if ends else start + rest


def _named(section: str, label: str) -> list[str]:
    m = re.search(rf"Đại biểu {label}: ([^.]*)\.", section)
    assert m, (label, section)
    return m.group(1).split(", ")


def test_a_full_sitting_signed_after_a_power_cut_matches_what_was_done(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        did = _run_sitting(srv)
        srv.documents_ready()  # prepare waits for the documents being read in
        _prepare_killed(srv)
    finally:
        srv.stop()

    # Start again: the prepare cut short is rolled back, and the clerk is told, in Vietnamese and in English.
    srv = start_server(data)
    try:
        assert "việc chuẩn bị để ký bị gián đoạn, đã trả về bản nháp" in srv.log_path.read_text()
        mid = srv.links["meeting_id"]
        st = _as(srv, clerk(srv), "GET", f"/meetings/{mid}/minutes")
        assert st["status"] == "draft" and st["recovery"]["outcome"] == "prepare_rolled_back", st
        assert st["recovery"]["version"] == 1
        assert _as(srv, clerk(srv), "GET", f"/meetings/{mid}/minutes/signing")["stage"] == "draft"
        page = srv.session_for(clerk(srv)).get(f"{srv.url}/clerk/minutes", timeout=10).text
        assert ("Việc chuẩn bị biên bản phiên bản 1 để ký bị gián đoạn (mất điện hoặc máy chủ dừng) và đã được hủy: "
                "biên bản trở về bản nháp.") in page
        page = _in_english(srv, clerk(srv), "/clerk/minutes").get(f"{srv.url}/clerk/minutes", timeout=10).text
        assert "Preparing version 1 of the minutes for signing was interrupted (power cut or server stopped)" in page
        with Peek(data, database_for(data)) as con:
            logged = con.execute("SELECT actor, CAST(data AS TEXT) FROM audit_event "
                                 "WHERE kind = 'minutes.prepare_cancelled'").fetchall()
            assert [(actor, json.loads(d)) for actor, d in logged] == [
                ("system:recovery", {"version": 1, "dropped": [], "reason": "interrupted"})]
        con.close()
        # The clerk prepares again; this time it completes.
        r = api(srv, clerk(srv), "POST", f"/meetings/{mid}/minutes/prepare", {})
        assert r.status_code == 200, r.text
        assert r.json()["stage"] == "secretary"
        prepared = _draft_row(data)
        _kill(srv)  # as if while the secretary's step ran: her signed file written, the database not yet told
    finally:
        srv.stop()
    stray = data / "minutes" / f"bien-ban-ky-hop-{mid}-v1-secretary.pdf"
    stray.write_bytes((data / prepared[1]).read_bytes() + b"\n% an incremental update cut short\n")

    srv = start_server(data)
    try:
        # The prepared file is intact: kept, the signers continue where they were.
        assert _draft_row(data) == prepared
        signing = _as(srv, clerk(srv), "GET", f"/meetings/{mid}/minutes/signing")
        assert signing["stage"] == "secretary" and signing["current_sha256"] == prepared[2]
        # The clerk cannot sign for anyone.
        r = api(srv, clerk(srv), "POST", f"/meetings/{mid}/minutes/signatures/secretary",
                {"method": "pin", "pin": PIN["secretary"], "pdf_sha256": prepared[2]})
        assert r.status_code == 403, r.text
        for role in ("secretary", "chair"):
            r = _sign(srv, role)
            assert r.status_code == 200, r.text
        assert r.json()["stage"] == "final"
        pdf = requests.get(f"{srv.url}/api/v1/meetings/{mid}/minutes.pdf", headers=srv.bearer(clerk(srv)),
                           timeout=10)
        assert pdf.status_code == 200
        z = requests.get(f"{srv.url}/api/v1/meetings/{mid}/archive.zip", headers=srv.bearer(clerk(srv)), timeout=60)
        assert z.status_code == 200
    finally:
        srv.stop()

    # The signed minutes say what was done.
    with pymupdf.open(stream=pdf.content) as doc:
        text = " ".join(" ".join(p.get_text().split()) for p in doc)
    assert (f"Tổng số đại biểu Hội đồng nhân dân xã: {N} đại biểu; có mặt: {did['present']} đại biểu; "
            f"vắng mặt: {did['absent']} đại biểu") in text
    assert OTHER_HEADING in text
    body, other = text[:text.index(OTHER_HEADING)], text[text.index(OTHER_HEADING):]
    assert re.search(rf"Ý kiến phát biểu: - {re.escape(did['speaker'])}, [^;]* \(từ \d\d giờ \d\d đến \d\d giờ \d\d\);",
                     body)

    ip = did["item_poll"]
    sec = _section(body, f"Kết quả biểu quyết công khai: {ITEM_POLL}.")
    assert f"Tán thành: {ip['for']}/{N} đại biểu," in sec
    assert f"Không tán thành: {ip['against']}/{N} đại biểu," in sec
    assert f"Không biểu quyết: {ip['abstain']}/{N} đại biểu," in sec
    assert f"Số đại biểu tham gia biểu quyết: {ip['for'] + ip['against'] + ip['abstain']}/{N} đại biểu" in sec
    assert f"Kết quả: {verdict(ip['for'])} (cần ít nhất {NEEDED}/{N}" in sec  # 17 of 30: the chair's vote counts
    assert sorted(_named(sec, "tán thành")) == sorted(ip["for_names"])
    assert did["chair"] in _named(sec, "tán thành") and did["secretary"] in _named(sec, "không tán thành")
    assert f"{did['no_phone']} (thư ký ghi thay)" in _named(sec, "không biểu quyết")
    assert "không tham gia biểu quyết" not in sec  # every one present voted: the chair is not listed as not voting

    sp = did["secret_poll"]
    sec = _section(body, f"Kết quả bỏ phiếu kín: {SECRET_POLL}.")
    assert f"Số phiếu phát ra: {sp['issued']} phiếu." in sec
    assert f"Số phiếu thu vào: {sp['returned']} phiếu." in sec
    assert f"Đồng ý: {sp['yes']} phiếu," in sec and f"Không đồng ý: {sp['no']} phiếu," in sec
    assert f"Kết quả: {verdict(sp['yes'])} (cần ít nhất {NEEDED}/{N} phiếu đồng ý" in sec  # 15: one short
    assert "Đại biểu " not in sec  # nobody named on a secret ballot

    sec = _section(body, f"Kết quả biểu quyết công khai: {CANCELLED_POLL}.")
    assert f"Cuộc biểu quyết đã bị hủy. Lý do: {CANCEL_REASON}" in sec

    lp = did["loose_poll"]
    assert LOOSE_POLL not in body
    sec = _section(other, f"Kết quả biểu quyết công khai: {LOOSE_POLL}.")
    assert f"Tán thành: {lp['for']}/{N} đại biểu," in sec and f"Không tán thành: 0/{N} đại biểu," in sec
    assert f"Kết quả: {verdict(lp['for'])} (cần ít nhất {NEEDED}/{N}" in sec
    assert len(_named(sec, "tán thành")) == lp["for"]
    assert f"{did['no_phone']} (thư ký ghi thay)" in _named(sec, "tán thành")
    assert len(_named(sec, "không tham gia biểu quyết")) == did["present"] - lp["for"]

    # The archive's CSV: one row per poll, the "Kết quả" column filled, the same counts.
    with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
        rows = {r["Vấn đề biểu quyết"]: r for r in csv.DictReader(io.StringIO(
            archive.read("ket-qua-bieu-quyet.csv").decode("utf-8-sig")))}
    assert set(rows) == {ITEM_POLL, SECRET_POLL, CANCELLED_POLL, LOOSE_POLL}
    assert rows[ITEM_POLL]["Kết quả"] == verdict(ip["for"]) and rows[ITEM_POLL]["Thông qua"] == "Có"
    assert f"Tán thành: {ip['for']}/{N} đại biểu," in rows[ITEM_POLL]["Chi tiết"]
    assert f"Không tán thành: {ip['against']}/{N} đại biểu," in rows[ITEM_POLL]["Chi tiết"]
    assert rows[ITEM_POLL]["Nội dung"] == did["item"] and rows[ITEM_POLL]["Hình thức"] == "Công khai"
    assert rows[SECRET_POLL]["Kết quả"] == verdict(sp["yes"]) and rows[SECRET_POLL]["Hình thức"] == "Bỏ phiếu kín"
    assert f"Đồng ý: {sp['yes']} phiếu," in rows[SECRET_POLL]["Chi tiết"]
    assert f"Số phiếu thu vào: {sp['returned']} phiếu." in rows[SECRET_POLL]["Chi tiết"]
    assert rows[CANCELLED_POLL]["Kết quả"] == "Đã hủy" and CANCEL_REASON in rows[CANCELLED_POLL]["Chi tiết"]
    assert rows[LOOSE_POLL]["Kết quả"] == verdict(lp["for"]) and rows[LOOSE_POLL]["Nội dung"] == OTHER_HEADING
    assert f"Tán thành: {lp['for']}/{N} đại biểu," in rows[LOOSE_POLL]["Chi tiết"]

    # verify-log: the whole record checks out, anchored by every checkpoint the sitting made: each closed poll,
    # the end of the sitting, the signed minutes, and the heads embedded in the three stored PDFs (prepared,
    # secretary's, chair's).
    on_db = ("--database-url", url) if (url := database_for(data)) else ()
    out = subprocess.run([sys.executable, "-m", "meeting_server", "verify-log", "--data-dir", str(data), *on_db],
                         capture_output=True, text=True, check=False, cwd=ROOT, env=_env(), timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Chuỗi nhật ký toàn vẹn" in out.stdout and "Sai lệch" not in out.stdout
    assert f"Điểm neo ngoài cơ sở dữ liệu đã đối chiếu: {did['closed_polls'] + 1 + 1 + 3}." in out.stdout
    assert out.stdout.rstrip().endswith("Kết luận: hồ sơ toàn vẹn."), out.stdout


def test_start_up_keeps_an_intact_prepared_version_and_rolls_back_a_bent_one(app: Any, app_links: dict[str, Any]
                                                                           ) -> None:
    """The other files a crash can leave: a prepared file whose SHA-256 is not the one prepared, and a secretary's
    signed file that is not the one the database names (the chair could not sign it). Each is rolled back to the
    draft at start, the bad file kept aside as `.interrupted`; an intact prepared version is left alone."""
    from meeting_server.services import minutes
    from meeting_server.store import db
    from tests.minutes.signing_kit import client_for, prepare, sign_with_pin

    def recover() -> list[dict[str, Any]]:
        with db.standalone_session(app) as s:
            return minutes.recover_interrupted(app, s)

    def state() -> dict[str, Any]:
        return dict(client_for(app, app_links, "clerk").get(clerk_base + "/minutes").get_json())

    clerk_base = f"/api/v1/meetings/{app_links['meeting_id']}"
    data = Path(app.config["DATA_DIR"])
    prepare(client_for(app, app_links, "clerk"))
    assert recover() == []  # intact: the signers continue
    assert state()["status"] == "prepared" and state()["recovery"] is None
    r = sign_with_pin(client_for(app, app_links, "secretary"), "secretary")
    assert r.status_code == 200, r.get_json()
    assert recover() == []
    signed = next((data / "minutes").glob("*-secretary.pdf"))
    signed.write_bytes(signed.read_bytes()[:-100])  # the secretary's file cut short
    assert recover() == [{"meeting_id": app_links["meeting_id"], "version": 1, "outcome": "prepare_rolled_back"}]
    assert not signed.exists() and signed.with_suffix(".interrupted").is_file()
    st = state()
    assert st["status"] == "draft" and st["recovery"]["outcome"] == "prepare_rolled_back", st

    assert prepare(client_for(app, app_links, "clerk"))["stage"] == "secretary"
    path = next((data / "minutes").glob("*-chuan-bi.pdf"))
    path.write_bytes(path.read_bytes() + b"%")  # not the file that was hashed and shown to the signers
    assert recover()[0]["outcome"] == "prepare_rolled_back"
    assert state()["status"] == "draft" and path.with_suffix(".interrupted").is_file()
    # Prepared a third time, the signers sign through to the end.
    prepare(client_for(app, app_links, "clerk"))
    for role in ("secretary", "chair"):
        r = sign_with_pin(client_for(app, app_links, role), role)
        assert r.status_code == 200, r.get_json()
    assert r.get_json()["stage"] == "final"
