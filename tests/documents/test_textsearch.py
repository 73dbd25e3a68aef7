"""Folding Vietnamese for search, FTS5 over a real sample's text, and snippets of the original."""

from __future__ import annotations

import sqlite3

import pytest

from meeting_server.documents.ingest import inspect_file
from meeting_server.documents.textsearch import fold_vietnamese, snippet, to_fts5_query, to_tsquery
from tests.documents.conftest import VI_SAMPLES


@pytest.mark.parametrize(
    "text, folded",
    [
        ("Biên bản", "bien ban"),
        ("ĐẠI BIỂU", "dai bieu"),
        ("Hội đồng nhân dân xã Đồng Lê", "hoi dong nhan dan xa dong le"),
        ("Ưu tiên, ơn, Ăn, ấm", "uu tien, on, an, am"),
        ("Tờ trình số 12/TTr-UBND", "to trinh so 12/ttr-ubnd"),
        ("Bie\u0302\u0301n", "bien"),  # decomposed input folds the same
        ("ÐẠI", "dai"),  # U+00D0 standing in for Đ in text from old VNI/TCVN3 fonts
        ("ﬁle", "file"),  # a ligature copied out of a PDF
    ],
)
def test_fold_vietnamese(text: str, folded: str) -> None:
    assert fold_vietnamese(text) == folded


def test_fts5_query_is_safe_for_anything_typed() -> None:
    assert to_fts5_query("Biên bản") == '"bien"* "ban"*'
    assert to_fts5_query('ĐẠI "BIỂU" NEAR( *') == '"dai"* "bieu"* "near"*'
    assert to_fts5_query("  ,;  ") == ""
    assert to_fts5_query("kỳ họp", prefix=False) == '"ky" "hop"'


def test_tsquery_is_safe_for_anything_typed() -> None:
    """PostgreSQL's counterpart: quoted lexemes, so nothing typed becomes a tsquery operator."""
    assert to_tsquery("Biên bản") == "'bien':* & 'ban':*"
    assert to_tsquery("Biên bản", phrase=True) == "'bien' <-> 'ban':*"
    assert to_tsquery("ĐẠI") == "'dai':*"
    assert to_tsquery("\"*) | !( & ' :") == ""
    assert to_tsquery("kỳ", phrase=True) == ""


def test_tsquery_finds_vietnamese_text_without_diacritics_on_postgresql(pg_url: str) -> None:
    import psycopg

    from meeting_server.store import db

    url = db.normalize_url(pg_url).replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as c:
        c.execute("INSERT INTO document_page_fts (folded, document_id, page_no) VALUES (%s, 1, 1), (%s, 1, 2)",
                  (fold_vietnamese("Ủy ban nhân dân xã biến đổi"), fold_vietnamese("BIÊN BẢN kỳ họp thứ Hai")))
        found = [r[0] for r in c.execute(
            "SELECT page_no FROM document_page_fts WHERE tsv @@ to_tsquery('simple', %s) ORDER BY page_no",
            (to_tsquery("bien ban", phrase=True),))]
        assert found == [2]
        found = [r[0] for r in c.execute(
            "SELECT page_no FROM document_page_fts WHERE tsv @@ to_tsquery('simple', %s) ORDER BY page_no",
            (to_tsquery("bien ban"),))]
        assert found == [1, 2]


def test_snippet_marks_the_hit_in_the_original_text_and_escapes_the_rest() -> None:
    text = "Căn cứ <Luật> Tổ chức chính quyền địa phương;\nBIÊN\nBẢN kỳ họp thứ hai của Hội đồng nhân dân xã."
    expected = "…chính quyền địa phương; <mark>BIÊN BẢN</mark> kỳ họp thứ hai của Hội…"
    assert snippet(text, "bien ban", context=20) == expected
    assert snippet(text, "luat", context=10) == "Căn cứ &lt;<mark>Luật</mark>&gt; Tổ chức chính…"
    # Prefix at a word start, as FTS5 matched it: "hop" finds "họp", not the middle of a word.
    assert "<mark>họp</mark>" in snippet(text, "hop", context=10)
    assert snippet(text, "khong co", context=10) == "Căn cứ &lt;Luật&gt; Tổ chức…"


def test_fts5_finds_vietnamese_text_without_diacritics() -> None:
    """The index the lead builds: folded text in FTS5, original text beside it for snippets."""
    sample = next(p for p in VI_SAMPLES if p.name == "ke-hoach-cds-phuc-loi.pdf")
    info = inspect_file(sample)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE page (id INTEGER PRIMARY KEY, page_no INTEGER, text TEXT)")
    db.execute("CREATE VIRTUAL TABLE page_fts USING fts5(folded, content='', tokenize='unicode61')")
    for number, text in enumerate(info.page_texts, start=1):
        row = db.execute("INSERT INTO page (page_no, text) VALUES (?, ?)", (number, text)).lastrowid
        db.execute("INSERT INTO page_fts (rowid, folded) VALUES (?, ?)", (row, fold_vietnamese(text)))

    def search(typed: str) -> list[tuple[int, str]]:
        rows = db.execute(
            "SELECT page.page_no, page.text FROM page_fts JOIN page ON page.id = page_fts.rowid "
            "WHERE page_fts MATCH ? ORDER BY rank",
            (to_fts5_query(typed),),
        ).fetchall()
        return [(page_no, snippet(text, typed)) for page_no, text in rows]

    hits = search("hoi dong nhan dan")
    assert hits and hits[0][0] == 1
    assert "<mark>HỘI ĐỒNG NHÂN DÂN</mark>" in hits[0][1]
    assert search("chuyen doi so")  # "chuyển đổi số" is the subject of the plan
    dai_bieu = search("dai bieu")
    assert dai_bieu and all("<mark>" in s for _, s in dai_bieu)
    assert any("<mark>đại biểu</mark>" in s.lower() for _, s in dai_bieu)
    assert search("ĐẠI BIỂU") == dai_bieu  # typed with diacritics, the same pages
    assert search("xyzzy") == []
