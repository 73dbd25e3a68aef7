"""Issue 17, "Wrong or missing records", through a real server: a poll of no agenda item, a vote recorded by the
secretary, finalizing while a poll is open, a ballot into a frozen meeting, and one source for every announced
result (the projector, the signed minutes, the archive's CSV)."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest
import requests

from meeting_server.domain.minutes import OTHER_HEADING
from tests.conftest import LiveServer, database_for, start_server
from tests.db_kit import Peek, peek
from tests.realtime.helpers import Screen
from tests.realtime.voting_kit import api, chair, clerk, close_poll, delegates, join, open_poll, screen, secretary


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data")
    yield server
    server.stop()


def _poll(srv: LiveServer, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "open")
    r = api(srv, clerk(srv), "POST", f"/meetings/{srv.links['meeting_id']}/polls", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _prepare(srv: LiveServer) -> requests.Response:
    return api(srv, clerk(srv), "POST", f"/meetings/{srv.links['meeting_id']}/minutes/prepare", {})


PIN = "147258"


def _sign(srv: LiveServer) -> str:
    """The clerk prepares, then the secretary and the chair sign from their own cards with a PIN; the signed
    PDF's URL."""
    r = _prepare(srv)
    assert r.status_code == 200, r.text
    base = f"/meetings/{srv.links['meeting_id']}/minutes"
    for role in ("secretary", "chair"):
        url = srv.links[role][0]
        st = api(srv, url, "GET", base + "/signing").json()
        if not next(x["has_pin_key"] for x in st["steps"] if x["role"] == role):
            r = api(srv, url, "POST", base + f"/signatures/{role}/key", {"pin": PIN, "pin_again": PIN})
            assert r.status_code == 201, r.text
        r = api(srv, url, "POST", base + f"/signatures/{role}",
                {"method": "pin", "pin": PIN, "pdf_sha256": st["current_sha256"]})
        assert r.status_code == 200, r.text
    return f"/api/v1/meetings/{srv.links['meeting_id']}/minutes.pdf"


def _pdf_text(srv: LiveServer, url: str) -> str:
    pdf = requests.get(srv.url + url, headers=srv.bearer(clerk(srv)), timeout=10)
    assert pdf.status_code == 200
    return " ".join(" ".join(p.get_text().split()) for p in pymupdf.open(stream=pdf.content))


def _csv_rows(srv: LiveServer) -> list[dict[str, str]]:
    r = requests.get(f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/archive.zip",
                     headers=srv.bearer(clerk(srv)), timeout=30)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        text = z.read("ket-qua-bieu-quyet.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_every_poll_is_in_the_record_from_one_source_and_finalize_waits_for_open_polls(srv: LiveServer) -> None:
    """Defects 2, 3 (finalize), 5 (the minutes' mark) and 7."""
    join(srv, chair(srv))
    join(srv, secretary(srv))
    present = delegates(srv)[:10]
    for d in present:
        join(srv, d["url"])
    phones = [screen(srv, d["url"]) for d in present[:8]]  # the last two came without a phone
    chair_screen = screen(srv, chair(srv))
    kiosk = screen(srv, srv.links["kiosk"])
    try:
        item = chair_screen.seen[-1][1]["agenda"][1]
        assert chair_screen.call("agenda.set_current", {"item_id": item["id"]})["ok"] is True

        # A poll created without saying which item: it goes under the item being discussed.
        under_item = _poll(srv, title="Thông qua Nghị quyết về dự toán ngân sách xã năm 2027")
        assert under_item["agenda_item_id"] == item["id"]
        # A poll the clerk files under no item (a procedural motion): it must not vanish from the minutes.
        loose = _poll(srv, title="Thông qua việc bổ sung nội dung vào chương trình kỳ họp", agenda_item_id=None)
        assert loose["agenda_item_id"] is None

        open_poll(srv, loose["id"])
        for phone in phones:
            assert phone.call("cast", {"poll_id": loose["id"], "choice": "for"})["ok"] is True
        # Present, marked present by their own card, no phone: the secretary records their vote, marked as such.
        r = api(srv, secretary(srv), "POST", f"/polls/{loose['id']}/proxy",
                {"participant_id": present[8]["participant_id"], "choice": "against"})
        assert r.status_code == 200, r.text
        closed = close_poll(srv, loose["id"])
        shown = kiosk.wait("poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == loose["id"])
        kiosk_lines_loose = shown["poll"]["result"]["lines"]
        assert kiosk_lines_loose == closed["result"]["lines"]

        open_poll(srv, under_item["id"])
        for phone in phones[:3]:
            assert phone.call("cast", {"poll_id": under_item["id"], "choice": "for"})["ok"] is True
        # Preparing the minutes to sign now would freeze them without this result while ballots still come in:
        # refused, with why.
        r = _prepare(srv)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "minutes.poll_unsettled"
        assert r.json()["message"] == ("Chưa thể ký biên bản: còn cuộc biểu quyết đang mở. Hãy kết thúc hoặc hủy "
                                       "biểu quyết trước.")
        # Nothing was frozen by the refusal: the poll still takes ballots and closes.
        assert phones[3].call("cast", {"poll_id": under_item["id"], "choice": "against"})["ok"] is True
        close_poll(srv, under_item["id"])
        shown = kiosk.wait("poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == under_item["id"])
        kiosk_lines_item = shown["poll"]["result"]["lines"]
    finally:
        for s in [*phones, chair_screen, kiosk]:
            s.close()

    srv.documents_ready()
    text = _pdf_text(srv, _sign(srv))
    # The poll of no item, in its own section after the agenda, with its result and the recorded-for-others mark.
    assert OTHER_HEADING in text
    tail = text[text.index(OTHER_HEADING):]
    assert "Kết quả biểu quyết công khai: Thông qua việc bổ sung nội dung vào chương trình kỳ họp." in tail
    for line in kiosk_lines_loose:
        assert line in tail
    assert f"{present[8]['name']} (thư ký ghi thay)" in tail
    # The poll of the item, under that item, with the lines the projector showed.
    body = text[:text.index(OTHER_HEADING)]
    assert "Kết quả biểu quyết công khai: Thông qua Nghị quyết về dự toán ngân sách xã năm 2027." in body
    for line in kiosk_lines_item:
        assert line in body

    rows = {row["Vấn đề biểu quyết"]: row for row in _csv_rows(srv)}
    # 8 of N = 30 for: not passed, as the projector announced ("Kết quả: Không thông qua (cần ít nhất 16/30 …").
    assert any(line.startswith("Kết quả: Không thông qua") for line in kiosk_lines_loose)
    assert rows[loose["title"]]["Kết quả"] == "Không thông qua" and rows[loose["title"]]["Thông qua"] == "Không"
    assert rows[loose["title"]]["Nội dung"] == OTHER_HEADING
    assert rows[loose["title"]]["Chi tiết"] == " | ".join(kiosk_lines_loose)
    assert rows[under_item["title"]]["Kết quả"] == "Không thông qua"
    assert rows[under_item["title"]]["Chi tiết"] == " | ".join(kiosk_lines_item)
    assert rows[under_item["title"]]["Nội dung"] == item["title"]


def test_the_ballot_writer_refuses_ballots_of_a_frozen_meeting(srv: LiveServer) -> None:
    """Defect 3: a meeting left `signing` (a finalize cut short) takes no ballot through the group commit."""
    join(srv, chair(srv))
    phone_of = delegates(srv)[0]
    join(srv, phone_of["url"])
    phone = screen(srv, phone_of["url"])
    try:
        poll = _poll(srv, title="Biểu quyết khi biên bản đang ký")
        open_poll(srv, poll["id"])
        # What a finalize cut short between freezing and storing the PDF leaves behind.
        assert api(srv, clerk(srv), "GET", f"/meetings/{srv.links['meeting_id']}/minutes").status_code == 200
        with peek(srv) as con:
            assert con.execute("UPDATE minutes_draft SET status = 'signing'").rowcount == 1
        ack = phone.call("cast", {"poll_id": poll["id"], "choice": "for"})
        assert ack["ok"] is False and ack["code"] == "meeting.frozen", ack
        with peek(srv) as con:
            assert con.execute("SELECT count(*) FROM open_ballot").fetchone()[0] == 0
            assert con.execute("SELECT count(*) FROM audit_event WHERE kind = 'vote.cast'").fetchone()[0] == 0
    finally:
        phone.close()


def test_the_secretary_records_a_vote_only_for_a_present_delegate_without_a_device(srv: LiveServer) -> None:
    """Defect 5: never over the delegate's own ballot, never for someone the secretary alone declared present."""
    join(srv, chair(srv))
    join(srv, secretary(srv))
    ds = delegates(srv)
    with_phone, voted_then_left, no_phone, absent = ds[0], ds[1], ds[2], ds[3]
    for d in (with_phone, voted_then_left, no_phone):
        join(srv, d["url"])
    phone = screen(srv, with_phone["url"])
    other = screen(srv, voted_then_left["url"])
    poll = _poll(srv, title="Thông qua kế hoạch giám sát năm 2027")
    open_poll(srv, poll["id"])

    def proxy(d: dict[str, Any], choice: str = "against") -> requests.Response:
        return api(srv, secretary(srv), "POST", f"/polls/{poll['id']}/proxy",
                   {"participant_id": d["participant_id"], "choice": choice})

    try:
        r = proxy(with_phone)
        assert r.status_code == 400 and r.json()["error"] == "vote.proxy_device_connected", r.text
        assert other.call("cast", {"poll_id": poll["id"], "choice": "for"})["ok"] is True
        other.close()
        for _ in range(50):  # the disconnect reaches the server a moment later
            if proxy(voted_then_left).json().get("error") != "vote.proxy_device_connected":
                break
            time.sleep(0.1)
        r = proxy(voted_then_left)
        assert r.status_code == 400 and r.json()["error"] == "vote.proxy_already_voted", r.text
        r = proxy(absent)
        assert r.status_code == 400 and r.json()["error"] == "vote.proxy_absent", r.text
        # The secretary alone cannot declare someone present and then vote for them…
        mid = srv.links["meeting_id"]
        r = api(srv, secretary(srv), "POST", f"/meetings/{mid}/attendance/{absent['participant_id']}",
                {"status": "present"})
        assert r.status_code == 200, r.text
        r = proxy(absent)
        assert r.status_code == 400 and r.json()["error"] == "vote.proxy_self_marked", r.text
        # …but once the clerk confirms the presence, the vote can be recorded; so can the phoneless delegate's.
        r = api(srv, clerk(srv), "POST", f"/meetings/{mid}/attendance/{absent['participant_id']}",
                {"status": "present"})
        assert r.status_code == 200, r.text
        assert proxy(absent).status_code == 200
        assert proxy(no_phone).status_code == 200
        # Recorded once: a second recording would replace it.
        r = proxy(no_phone, "for")
        assert r.status_code == 400 and r.json()["error"] == "vote.proxy_already_voted", r.text
        res = close_poll(srv, poll["id"])
    finally:
        phone.close()
    by_id = {v["participant_id"]: v for v in res["voters"]}
    assert by_id[voted_then_left["participant_id"]]["choice"] == "for"
    assert by_id[voted_then_left["participant_id"]]["proxy"] is False
    assert by_id[no_phone["participant_id"]]["choice"] == "against" and by_id[no_phone["participant_id"]]["proxy"]
    assert by_id[absent["participant_id"]]["proxy"] is True


def test_a_poll_that_could_not_be_counted_does_not_open(srv: LiveServer) -> None:
    """Defect 6: more delegates listed than N (the clerk's N is out of date) is said at opening, not at close."""
    join(srv, chair(srv))
    for d in delegates(srv)[:5]:
        join(srv, d["url"])
    mid = srv.links["meeting_id"]
    r = api(srv, clerk(srv), "PATCH", f"/meetings/{mid}", {"seated_count": 25})
    assert r.status_code == 200, r.text
    poll = _poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    r = api(srv, chair(srv), "POST", f"/polls/{poll['id']}/open", {})
    assert r.status_code == 400 and r.json()["error"] == "vote.more_listed_than_seated", r.text
    assert "danh sách có 30 đại biểu" in r.json()["message"] and "(25)" in r.json()["message"]
    assert api(srv, clerk(srv), "GET", f"/polls/{poll['id']}").json()["state"] == "draft"
    # With N corrected, the same poll opens and closes.
    assert api(srv, clerk(srv), "PATCH", f"/meetings/{mid}", {"seated_count": 30}).status_code == 200
    open_poll(srv, poll["id"])
    assert close_poll(srv, poll["id"])["state"] == "closed"


def test_a_device_that_leaves_leaves_no_session_behind(srv: LiveServer) -> None:
    """A socket that connects and leaves keeps no device row behind (the secretary could never record a vote)."""
    d = delegates(srv)[0]
    join(srv, d["url"])
    s = Screen(srv.url, srv.token(d["url"]))
    s.wait("state")
    with peek(srv) as con:
        assert con.execute("SELECT participant_id FROM device_session").fetchall() == [(d["participant_id"],)]
    s.close()
    for _ in range(50):
        with peek(srv) as con:
            if not con.execute("SELECT count(*) FROM device_session").fetchone()[0]:
                return
        time.sleep(0.1)
    raise AssertionError("the disconnect left its device row")


def _status(srv: LiveServer) -> str | None:
    with peek(srv) as con:
        row = con.execute("SELECT status FROM minutes_draft ORDER BY version DESC LIMIT 1").fetchone()
    return row[0] if row else None


def test_a_signing_cut_short_is_undone_or_completed_at_the_next_start(tmp_path: Path) -> None:
    """Defect 4 for a server-key signing (`services.minutes.finalize`, kept for the bench and the record tests; the
    HTTP one-click route is gone): the states a crash leaves are arranged, then the server starts again. A prepare
    cut short in the signers' flow is SIGKILLed for real in test_full_sitting.py."""
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        assert api(srv, clerk(srv), "GET", f"/meetings/{srv.links['meeting_id']}/minutes").status_code == 200
        srv.proc.kill()  # a power cut while the server signed: the version left `signing`, no file
        srv.proc.wait(10)
    finally:
        srv.stop()
    with Peek(data, database_for(data)) as con:
        assert con.execute("UPDATE minutes_draft SET status = 'signing'").rowcount == 1
    con.close()

    srv = start_server(data)
    try:
        assert _status(srv) == "draft"
        state = api(srv, clerk(srv), "GET", f"/meetings/{srv.links['meeting_id']}/minutes").json()
        assert state["status"] == "draft" and state["recovery"]["outcome"] == "rolled_back"
        page = srv.session_for(clerk(srv)).get(f"{srv.url}/clerk/minutes", timeout=10).text
        assert "bị gián đoạn (mất điện hoặc máy chủ dừng) và đã được hủy" in page
        # Signing again works.
        srv.documents_ready()
        url = _sign(srv)
        signed = requests.get(srv.url + url, headers=srv.bearer(clerk(srv)), timeout=10).content
        srv.proc.kill()
        srv.proc.wait(10)
    finally:
        srv.stop()
    # A crash after the server-signed file was stored, before the database said so: completed from that file.
    (data / "minutes" / "bien-ban-ky-hop-1-v1.pdf").write_bytes(signed)
    with Peek(data, database_for(data)) as con:
        con.execute("UPDATE minutes_draft SET status = 'signing', pdf_path = '', pdf_sha256 = ''")
    con.close()
    srv = start_server(data)
    try:
        state = api(srv, clerk(srv), "GET", f"/meetings/{srv.links['meeting_id']}/minutes").json()
        assert state["status"] == "final" and state["recovery"]["outcome"] == "completed", state
        r = api(srv, clerk(srv), "GET", f"/meetings/{srv.links['meeting_id']}/minutes.pdf")
        assert r.status_code == 200 and r.content == signed
    finally:
        srv.stop()
