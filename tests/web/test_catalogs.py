"""The delegate phone's later strings (web/catalogs.py): out of its HTML, into one versioned, cached script per
language, which writes them into the page where the panels read them."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from meeting_server.web.catalogs import LATER
from meeting_server.web.statics import IMMUTABLE, REVALIDATE
from tests.test_es5 import es2015_constructs
from tests.web.test_join import csrf_token


def strings_of(script: bytes) -> dict[str, Any]:
    """The catalogs the script writes into the page (the argument of its one call)."""
    text = script.decode()
    assert text.count("})(") == 1
    return dict(json.loads(text[text.index("})(") + 3:text.rindex(");")]))


def later_url(html: str) -> str:
    found = re.search(r'data-later-strings="(/i18n/[a-z]+/later\.js\?v=[0-9a-f]{12})"', html)
    assert found, "the phone's page does not name its later strings"
    return found.group(1)


def test_the_phone_page_leaves_the_panels_strings_to_one_cached_script(login: Any) -> None:
    phone = login("delegate")
    html = phone.get("/delegate").get_data(as_text=True)
    # The first screen's own strings stay; the ballot's, speakers', documents' … are not in the page any more.
    assert 'id="i18n"' in html and 'id="initial-state"' in html
    for name in LATER:
        assert f'id="i18n-{name}"' not in html, name
    r = phone.get(later_url(html), headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    assert r.headers["Cache-Control"] == IMMUTABLE and r.headers["Content-Encoding"] == "gzip"
    strings = strings_of(gzip.decompress(r.data))
    assert sorted(strings) == sorted(LATER)
    assert es2015_constructs(gzip.decompress(r.data).decode()) == []  # the phone runs it: ES5, as static/
    assert strings["voting"]["recorded_as"] == "Đã ghi nhận: {choice}"
    assert strings["speakers"]["request"] == "Xin phát biểu"
    assert strings["documents"]["read_mode"] == "Chế độ đọc"
    assert strings["dialog"]["ok"] == "Đồng ý"
    # The same URL again: the same bytes (built once); a stale version is answered but asked again next time.
    assert phone.get(later_url(html), headers={"Accept-Encoding": "gzip"}).data == r.data
    stale = phone.get(later_url(html).split("?")[0] + "?v=000000000000")
    assert stale.headers["Cache-Control"] == REVALIDATE and strings_of(stale.data) == strings
    assert phone.get("/i18n/fr/later.js").status_code == 404


def test_the_later_strings_follow_the_language_of_the_page(login: Any) -> None:
    phone = login("delegate")
    vi = later_url(phone.get("/delegate").get_data(as_text=True))
    phone.post("/lang/en", data={"csrf_token": csrf_token(phone, "/delegate"), "next": "/delegate"})
    en = later_url(phone.get("/delegate").get_data(as_text=True))
    assert en.startswith("/i18n/en/") and vi.startswith("/i18n/vi/") and en.split("v=")[1] != vi.split("v=")[1]
    strings = strings_of(phone.get(en).data)
    assert strings["speakers"]["request"] == "Ask to speak", strings["speakers"]["request"]
    assert strings["voting"]["confirm"] == "Confirm"


def test_other_screens_still_carry_their_strings_inline(login: Any) -> None:
    html = login("chair").get("/chair").get_data(as_text=True)
    assert "data-later-strings" not in html
    inline = {}
    for name in ("dialog", "voting", "speakers", "questions", "documents"):
        block = re.search(rf'<script type="application/json" id="i18n-{name}">(.*?)</script>', html, re.S)
        assert block is not None, name
        inline[name] = json.loads(block.group(1))
    assert inline["speakers"]["give"] == "Mời phát biểu"
    assert inline["voting"]["open_poll"] == "Bắt đầu biểu quyết"
