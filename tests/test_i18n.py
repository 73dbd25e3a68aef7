"""Every visible string is translatable and has its English translation; the compiled catalog is current; a person
who chose English is refused in English, on HTTP and on Socket.IO."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import Any

import requests
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from meeting_server.i18n import ERROR_KEYWORDS, EXTRACT_KEYWORDS
from tests.conftest import LiveServer
from tests.realtime.helpers import Screen

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "meeting_server" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def _source_msgids(root: Path = ROOT) -> set[str]:
    """The msgids scripts/i18n extracts: gettext calls, N_() marks and the message of every DomainError."""
    method_map = [("meeting_server/**.py", "python"), ("templates/**.html", "jinja2")]
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(root), method_map, keywords=EXTRACT_KEYWORDS):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def _translated() -> set[str]:
    with PO.open("rb") as f:
        catalog = read_po(f)
    return {m.id for m in catalog if m.id and m.string and "fuzzy" not in m.flags}


def _untranslated(root: Path = ROOT) -> list[str]:
    return sorted(_source_msgids(root) - _translated())


def test_every_string_has_an_english_translation() -> None:
    missing = _untranslated()
    assert missing == [], f"run scripts/i18n and translate: {missing[:20]}"


def test_an_untranslated_refusal_raised_in_code_is_reported(tmp_path: Path) -> None:
    """The check above can fail: a new DomainError (or subclass, or N_ mark) without an English translation."""
    pkg = tmp_path / "meeting_server"
    pkg.mkdir()
    (pkg / "rule.py").write_text(
        "from meeting_server.domain.errors import N_, DomainError, NotFound\n"
        "def check(x):\n"
        "    if x:\n"
        '        raise DomainError("Một quy tắc mới chưa được dịch.", "new.rule")\n'
        '    raise NotFound("Không tìm thấy %(what)s mới.", params={"what": x})\n'
        'ACK = {"ok": False, "error": N_("Một lời từ chối mới.")}\n'
        'OLD = DomainError("Thẻ không còn hiệu lực.")\n',
        encoding="utf-8",
    )
    assert _untranslated(tmp_path) == ["Không tìm thấy %(what)s mới.", "Một lời từ chối mới.",
                                       "Một quy tắc mới chưa được dịch."]


def test_every_domain_error_subclass_is_extracted() -> None:
    """A new subclass of DomainError must be in meeting_server.i18n.ERROR_KEYWORDS, or its messages go unseen."""
    bases: dict[str, set[str]] = {}
    for path in (ROOT / "meeting_server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
    errors = {"DomainError"}
    while True:
        more = {name for name, parents in bases.items() if parents & errors} - errors
        if not more:
            break
        errors |= more
    assert sorted(errors - set(ERROR_KEYWORDS)) == []


def test_compiled_catalog_matches_the_po_file() -> None:
    with PO.open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id and m.string}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert po == mo, "run scripts/i18n to recompile the catalog"


def _in_english(srv: LiveServer, join_url: str, page: str) -> requests.Session:
    """A browser bound to a card that chose English (the language switch of every page)."""
    browser = srv.session_for(join_url)
    html = browser.get(srv.url + page, timeout=10).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert token
    browser.post(srv.url + "/lang/en", data={"csrf_token": token.group(1), "next": page}, timeout=10)
    assert 'lang="en"' in browser.get(srv.url + page, timeout=10).text
    return browser


def _cookie_header(browser: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def test_an_english_clerk_is_refused_in_english_over_http(live_server: LiveServer) -> None:
    srv = live_server
    clerk = _in_english(srv, srv.links["clerk"], "/clerk/")
    html = clerk.get(srv.url + "/clerk/", timeout=10).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert token
    r = clerk.post(srv.url + "/clerk/meeting", data={"csrf_token": token.group(1), "starts_at": "không phải giờ"},
                   timeout=10)
    # Refused beside the meeting form of the console (web/clerk.step_action), not on an error page.
    assert r.history and r.history[0].status_code == 302 and r.status_code == 200
    assert "The time is not valid." in r.text and "Thời gian không hợp lệ" not in r.text
    # A problem on one line of an imported delegate list (domain.roster.RowProblem), shown before anything is saved.
    r = clerk.post(srv.url + "/clerk/roster/preview", data={"csrf_token": token.group(1)},
                   files={"file": ("danh-sach.csv", "STT,Họ và tên,Vai trò\n1,,Đại biểu\n".encode(), "text/csv")},
                   timeout=10)
    assert "Line 2:" in r.text and "The full name is missing." in r.text and "Thiếu họ và tên" not in r.text
    # The same refusal to a clerk who kept Vietnamese.
    vi = srv.session_for(srv.links["clerk"])
    token = re.search(r'name="csrf-token" content="([^"]+)"', vi.get(srv.url + "/clerk/", timeout=10).text)
    assert token
    r = vi.post(srv.url + "/clerk/meeting", data={"csrf_token": token.group(1), "starts_at": "x"}, timeout=10)
    assert r.history[0].status_code == 302 and "Thời gian không hợp lệ." in r.text


def test_an_english_delegate_is_refused_in_english_over_socketio(live_server: LiveServer) -> None:
    srv = live_server
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    browser = _in_english(srv, delegate["url"], "/delegate")
    phone = Screen(srv.url, cookies=_cookie_header(browser))
    try:
        phone.wait("state")
        # A rule of a use case (DomainError), through an ordinary event.
        res: dict[str, Any] = phone.call("speak.request")
        assert res == {"ok": False, "code": "speak.no_item",
                       "error": "The chair has not started an agenda item to ask to speak on."}
        # A permission the role lacks.
        res = phone.call("agenda.set_current", {"item_id": None})
        assert res == {"ok": False, "code": "forbidden", "error": "You are not allowed to do this."}
        # The lean ballot path, which runs without Flask's request context.
        res = phone.call("cast", "không phải một đối tượng")
        assert res == {"ok": False, "code": "payload.invalid", "error": "The data sent is not valid."}
    finally:
        phone.close()
    vi = Screen(srv.url, srv.token(delegate["url"]))
    try:
        vi.wait("state")
        assert vi.call("speak.request")["error"] == "Chủ tọa chưa bắt đầu nội dung nào để đăng ký phát biểu."
    finally:
        vi.close()
