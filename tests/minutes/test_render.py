"""The rendered minutes, read back with PyMuPDF: page size, margins, fonts, texts, page numbers, fields."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pymupdf
import pytest

from meeting_server.domain.minutes import MinutesDoc
from meeting_server.minutes.render import DEFAULT_FONT_DIR, LAYOUT, MM, render_minutes_pdf

A4 = (595.28, 841.89)


@pytest.fixture(scope="module")
def pdf(minutes_pdf: bytes) -> pymupdf.Document:
    return pymupdf.open(stream=minutes_pdf, filetype="pdf")


def spans(page: pymupdf.Page) -> list[dict]:
    out = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            out += [s for s in line["spans"] if s["text"].strip()]
    return out


def test_every_page_is_a4(pdf: pymupdf.Document) -> None:
    assert pdf.page_count >= 2
    for page in pdf:
        assert page.rect.width == pytest.approx(A4[0], abs=0.5)
        assert page.rect.height == pytest.approx(A4[1], abs=0.5)


def test_margins_are_inside_decree_30_ranges(pdf: pymupdf.Document) -> None:
    assert 20 * MM <= LAYOUT.top <= 25 * MM and 20 * MM <= LAYOUT.bottom <= 25 * MM
    assert 30 * MM <= LAYOUT.left <= 35 * MM and 15 * MM <= LAYOUT.right <= 20 * MM
    box = pymupdf.Rect(LAYOUT.left, LAYOUT.top, A4[0] - LAYOUT.right, A4[1] - LAYOUT.bottom)
    for page in pdf:
        for s in spans(page):
            bbox = pymupdf.Rect(s["bbox"])
            if page.number > 0 and bbox.y1 <= LAYOUT.top:
                continue  # the page number, which belongs in the top margin
            # Glyph boxes include the font's ascender/descender: allow a hair of slack.
            assert box.x0 - 0.5 <= bbox.x0 and bbox.x1 <= box.x1 + 0.5, (page.number, s["text"])
            assert box.y0 - 1 <= bbox.y0 and bbox.y1 <= box.y1 + 1, (page.number, s["text"])


def test_liberation_serif_is_embedded_as_subsets(pdf: pymupdf.Document) -> None:
    fonts = {f[3] for page in pdf for f in page.get_fonts(full=True)}
    assert fonts, "no fonts"
    for name in fonts:
        prefix, _, family = name.partition("+")
        assert len(prefix) == 6 and prefix.isupper(), name
        assert family.startswith("Liberation Serif") or family.startswith("LiberationSerif"), name
    for page in pdf:
        for xref, ext, *_ in page.get_fonts(full=True):
            assert ext == "ttf" and pdf.extract_font(xref)[3], "font program not embedded"
    families = {n.partition("+")[2] for n in fonts}
    assert {"Liberation Serif Regular", "Liberation Serif Bold", "Liberation Serif Bold Italic"} <= families


def test_first_page_has_header_motto_title_and_session(pdf: pymupdf.Document) -> None:
    text = pdf[0].get_text()
    for expected in (
        "HỘI ĐỒNG NHÂN DÂN",
        "XÃ TÂN LẬP",
        "Số: 12/BB-HĐND",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BIÊN BẢN",
        "Kỳ họp thứ Hai, Hội đồng nhân dân xã Tân Lập khóa I, nhiệm kỳ 2026 - 2031",
        "Hoàng Quốc Cường",
    ):
        assert expected in text, expected


def test_header_styles_and_rules(pdf: pymupdf.Document) -> None:
    page = pdf[0]
    by_text = {s["text"].strip(): s for s in spans(page)}
    for key in (
        "HỘI ĐỒNG NHÂN DÂN",
        "XÃ TÂN LẬP",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BIÊN BẢN",
    ):
        s = by_text[key]
        assert "Bold" in s["font"], key
        assert 12 <= s["size"] <= 14, key
    assert "Bold" not in by_text["Số: 12/BB-HĐND"]["font"]
    # "BIÊN BẢN" is centred on the text block.
    title = pymupdf.Rect(by_text["BIÊN BẢN"]["bbox"])
    centre = (LAYOUT.left + A4[0] - LAYOUT.right) / 2
    assert (title.x0 + title.x1) / 2 == pytest.approx(centre, abs=1)
    # Rules: a short one under the council name and one as long as the motto under it.
    rules = [d["rect"] for d in page.get_drawings() if d["rect"].height < 2]
    motto = pymupdf.Rect(by_text["Độc lập - Tự do - Hạnh phúc"]["bbox"])
    council = pymupdf.Rect(by_text["XÃ TÂN LẬP"]["bbox"])
    assert any(abs(r.width - motto.width) < 2 and 0 <= r.y0 - motto.y1 < 6 for r in rules)
    assert any(r.width < council.width and 0 <= r.y0 - council.y1 < 6 for r in rules)


def test_body_is_justified_indented_14pt(pdf: pymupdf.Document) -> None:
    right = A4[0] - LAYOUT.right
    page = pdf[1]
    lines = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            lines.append(pymupdf.Rect(line["bbox"]))
    body_sizes = {round(s["size"]) for s in spans(page) if s["bbox"][1] > LAYOUT.top}
    assert body_sizes == {14}
    # Justified lines end at the right margin; many lines of a page do.
    flush = [r for r in lines if abs(r.x1 - right) < 1.0]
    assert len(flush) >= 10
    # First lines of paragraphs start 1.27 cm in.
    starts = {round(r.x0 - LAYOUT.left, 1) for r in lines}
    assert round(1.27 / 2.54 * 72, 1) in starts and 0.0 in starts


def test_page_number_only_from_page_two(pdf: pymupdf.Document) -> None:
    first_top = [s for s in spans(pdf[0]) if s["bbox"][3] <= LAYOUT.top]
    assert first_top == []
    for page in list(pdf)[1:]:
        top = [s for s in spans(page) if s["bbox"][3] <= LAYOUT.top]
        assert [s["text"].strip() for s in top] == [str(page.number + 1)]
        x_mid = (top[0]["bbox"][0] + top[0]["bbox"][2]) / 2
        assert x_mid == pytest.approx(A4[0] / 2, abs=1)
        assert 13 <= top[0]["size"] <= 14


def test_signature_fields_sit_between_role_and_name(pdf: pymupdf.Document, minutes_doc: MinutesDoc) -> None:
    last = pdf[-1]
    widgets = {w.field_name: w for w in last.widgets()}
    assert set(widgets) == {"Sig_Secretary", "Sig_Chair"}
    assert all(w.field_type_string == "Signature" for w in widgets.values())
    by_text = {s["text"].strip(): pymupdf.Rect(s["bbox"]) for s in spans(last)}
    for slot in minutes_doc.signatures:
        role, name, field = by_text[slot.role_title], by_text[slot.name], widgets[slot.field_name].rect
        assert role.y1 <= field.y0 + 1 and field.y1 <= name.y0 + 1
        assert field.height >= 70
        assert abs((field.x0 + field.x1) / 2 - (name.x0 + name.x1) / 2) < 1
    assert by_text["THƯ KÝ KỲ HỌP"].x1 < by_text["CHỦ TỌA"].x0
    name_span = next(s for s in spans(last) if s["text"].strip() == "Hoàng Quốc Cường")
    assert "Bold" in name_span["font"]


def test_recipients_label_and_list_sizes(pdf: pymupdf.Document) -> None:
    last = spans(pdf[-1])
    label = next(s for s in last if s["text"].strip() == "Nơi nhận:")
    assert label["size"] == pytest.approx(12)
    assert label["flags"] & pymupdf.TEXT_FONT_BOLD and label["flags"] & pymupdf.TEXT_FONT_ITALIC
    filing = next(s for s in last if s["text"].strip() == "- Lưu: VT, Hồ sơ.")
    assert filing["size"] == pytest.approx(11)


def test_closing_line_present(pdf: pymupdf.Document) -> None:
    text = "".join(p.get_text() for p in pdf)
    assert "Kỳ họp kết thúc vào 11 giờ 30 phút, ngày 15 tháng 7 năm 2026./." in text.replace("\n", " ")


def test_render_runs_in_a_worker_process(minutes_doc: MinutesDoc, minutes_pdf: bytes) -> None:
    """CPU work goes to a worker: the same inputs give the same pages there."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = pool.submit(render_minutes_pdf, minutes_doc, DEFAULT_FONT_DIR).result(timeout=60)
    a, b = pymupdf.open(stream=remote), pymupdf.open(stream=minutes_pdf)
    assert a.page_count == b.page_count
    assert [p.get_text() for p in a] == [p.get_text() for p in b]


def test_missing_font_dir_is_reported(minutes_doc: MinutesDoc, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="LiberationSerif"):
        render_minutes_pdf(minutes_doc, tmp_path)


def test_direction_controls_never_reach_the_page(record: dict) -> None:
    """A name stored before domain/limits.py refused them still prints in its order: the renderer drops them."""
    import copy

    from meeting_server.domain.limits import BIDI_CONTROLS
    from meeting_server.domain.minutes import build_minutes

    tainted = copy.deepcopy(record)
    name = tainted["chairs"][0]["name"]
    tainted["chairs"][0]["name"] = "\u202e" + name + "\u2069"
    doc = pymupdf.open(stream=render_minutes_pdf(build_minutes(tainted)), filetype="pdf")
    text = "".join(page.get_text() for page in doc)
    assert name in text
    assert not set(text) & BIDI_CONTROLS
