"""The minutes of a sitting (biên bản kỳ họp) built as data, following Decree 30/2020/NĐ-CP, Appendix III, form 1.9.

`build_minutes(record)` turns a meeting record, a plain JSON-native dict, into a frozen `MinutesDoc` of blocks
that `meeting_server.minutes.render` lays out. Nothing is computed here that the server already computed:
poll results arrive formatted, and this module only places them in the order of form 1.9 (header; title and
session name; time and place; attendance, chair, secretary, guests; proceedings in agenda order; closing line;
signatures; "Nơi nhận").

Record schema (keys marked ? are optional)::

    {
      "meeting_id": 42,                              # ? carried into MinutesDoc.meeting_id
      "council": {"name": "An Bình",                 # the commune or ward name, as written
                  "level": "xã"},                     # "xã" | "phường" | "đặc khu"
      "document_number": "12",                       # ? → "Số: 12/BB-HĐND"; missing → "Số:     /BB-HĐND"
      "session": {"title": "Kỳ họp thứ Hai",         # ? "kind": "chuyên đề" → "Kỳ họp thứ Hai (chuyên đề)"
                  "term": "I",                        # khóa (roman numeral as written)
                  "term_years": "2026 - 2031"},       # nhiệm kỳ
      "place": "Hội trường Ủy ban nhân dân xã An Bình",
      "started_at": "2026-07-15T07:30:00+07:00",     # ISO 8601; shown in its own offset (Vietnam, UTC+7)
      "ended_at": "2026-07-15T11:30:00+07:00",
      "delegate_count": 30,                          # N, delegates currently serving (confirmed by the clerk)
      "participants": [                              # the council's delegates, in the order to print
        {"name": "Nguyễn Văn An", "title": "Chủ tịch HĐND xã",            # title ?
         "attendance": "present"},                   # "present" | "absent" | "late" | "left_early"
        {"name": "…", "attendance": "absent", "reason": "ốm"},             # reason ? (missing → không có lý do)
        {"name": "…", "attendance": "late", "at": "08:15"},                # at: "HH:MM" or ISO datetime
        {"name": "…", "attendance": "left_early", "at": "10:40", "reason": "việc gia đình"},
      ],
      "chairs": [{"name": "…", "title": "…"}],       # chủ tọa (one or more); the first signs
      "secretaries": [{"name": "…", "title": "…"}],  # thư ký kỳ họp (one or two); the first signs
      "guests": [{"name": "…", "title": "…"}],       # ? khách mời; title alone is fine for a group
      "opening": "text",                             # ? clerk's text; blank lines separate paragraphs
      "agenda": [                                    # in the order taken up
        {"title": "Tờ trình về …",
         "documents": [{"title": "Tờ trình số 15/TTr-UBND …", "presenter": "…",     # presenter ?
                        "comments": {"total": 5, "accepted": 2, "explained": 1,   # ? góp ý dự thảo
                                     "not_accepted": 1, "pending": 1}}],
         "speeches": [{"speaker": "…", "title": "…", "from": "08:05", "to": "08:12"}],  # title ?
         "questions": [                              # ? question time: the questions called under this item
           {"asker": "…", "asker_title": "…",        # asker_title ?
            "addressee_name": "…", "addressee_title": "Chủ tịch UBND xã",  # one of the two at least
            "topic": "…",
            "status": "answered",                    # answered | written | written_done | withdrawn | filed | called
            "due_date": "2026-12-19"}],              # ? ISO date, for "written"
         "summary": "text",                          # ? clerk's summary of the opinions
         "polls": [
           {"subject": "Thông qua Nghị quyết …",
            "mode": "open",                          # "open" | "secret"
            "lines": ["Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã.", "…"],
            "named": {"Tán thành": ["…"], "Không tán thành": [], "Không biểu quyết": []},  # open only, ?
            "passed": true,                          # ? as computed by the server
            "outcome": "Nghị quyết được thông qua."  # ? sentence that replaces the default one
           }]}],
      "other": {"documents": […], "speeches": […],   # ? what belonged to no agenda item (same shapes as an
                "polls": […]},                      #   item's): its own section after the agenda
      "questions": […],                              # ? questions never called in the hall (answered in writing,
                                                     #   withdrawn, not reached): after the agenda
      "conclusions": "text",                         # ? clerk's text (kết luận, bế mạc)
      "recipients": ["Thường trực HĐND xã", "…"],   # "Nơi nhận"; "Lưu: VT, Hồ sơ." is added last
    }

A poll's "named" lists may mark a name recorded by the secretary for a delegate without a device with
" (thư ký ghi thay)"; the record says so, the minutes print it as given.

A secret ballot's record must carry totals only: a poll with mode "secret" and a "named" list is refused,
since the stored record must never reveal who chose what (Law 77/2015/QH13, Art. 91; Law 72/2025/QH15, Art. 35).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from meeting_server.domain.comments import counts_line
from meeting_server.domain.errors import DomainError

LEVELS = ("xã", "phường", "đặc khu")
SIGNATURE_FIELD_SECRETARY = "Sig_Secretary"
SIGNATURE_FIELD_CHAIR = "Sig_Chair"
FILING_LINE = "Lưu: VT, Hồ sơ."
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
#: The heading of what happened in the sitting outside any agenda item.
OTHER_HEADING = "Các nội dung khác ngoài chương trình kỳ họp"
#: The heading of the questions filed but never called in the hall.
QUESTIONS_NOT_HEARD = "Các câu hỏi chất vấn không trả lời tại hội trường"


def _(message: str) -> str:
    """Mark a fixed message for the translation catalog (web/errors.py translates it when it is shown)."""
    return message


#: Why the minutes cannot be signed yet: something of the sitting is still under way and would be missing from
#: (or change after) the signed record.
NOT_SETTLED = {
    "poll": _("Chưa thể ký biên bản: còn cuộc biểu quyết đang mở. Hãy kết thúc hoặc hủy biểu quyết trước."),
    "speech": _("Chưa thể ký biên bản: đang có đại biểu phát biểu. Hãy kết thúc lượt phát biểu trước."),
    "document": _("Chưa thể ký biên bản: còn tài liệu đang được xử lý. Hãy đợi xử lý xong."),
}


class MinutesError(DomainError):
    """The meeting record cannot be turned into minutes."""

    code = "minutes.invalid_record"


@dataclass(frozen=True)
class Run:
    """A piece of text in one style inside a paragraph."""

    text: str
    bold: bool = False
    italic: bool = False


@dataclass(frozen=True)
class Paragraph:
    """A body paragraph: justified with a first-line indent unless said otherwise."""

    runs: tuple[Run, ...]
    align: Literal["justify", "center", "left"] = "justify"
    indent: bool = True

    @property
    def text(self) -> str:
        """The paragraph as plain text."""
        return "".join(r.text for r in self.runs)


@dataclass(frozen=True)
class Heading:
    """A section heading of the body, bold, e.g. "I. THỜI GIAN, ĐỊA ĐIỂM"."""

    text: str
    level: int = 1


Block = Paragraph | Heading


@dataclass(frozen=True)
class DocHeader:
    """The two header columns of Decree 30: issuing body left, national title and motto right."""

    body_lines: tuple[str, ...]
    number: str
    nation: str = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    motto: str = "Độc lập - Tự do - Hạnh phúc"


@dataclass(frozen=True)
class SignatureSlot:
    """A signature place: capitals role title, room for the signature (the PDF field), the name under it."""

    role_title: str
    name: str
    field_name: str


@dataclass(frozen=True)
class Recipients:
    """The "Nơi nhận" list at the foot of the minutes."""

    label: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class MinutesDoc:
    """The minutes as data, in the order of form 1.9."""

    meeting_id: int | str | None
    header: DocHeader
    title: str
    session_name: str
    body: tuple[Block, ...]
    signatures: tuple[SignatureSlot, SignatureSlot]
    recipients: Recipients

    def plain_text(self) -> str:
        """Every word of the minutes, one block a line, for search and tests."""
        lines = [*self.header.body_lines, self.header.number, self.header.nation, self.header.motto]
        lines += [self.title, self.session_name]
        lines += [b.text for b in self.body]
        for s in self.signatures:
            lines += [s.role_title, s.name]
        lines += [self.recipients.label, *self.recipients.items]
        return "\n".join(lines)


def build_minutes(record: Mapping[str, Any]) -> MinutesDoc:
    """Build the minutes of a sitting from its record (schema in the module docstring)."""
    council = _require(record, "council")
    name = _text(council, "name")
    level = _text(council, "level").lower()
    if level not in LEVELS:
        raise MinutesError("Cấp hành chính không hợp lệ: %(level)r (chỉ nhận xã, phường, đặc khu).",
                           params={"level": level})
    n = record.get("delegate_count")
    if not isinstance(n, int) or n <= 0:
        raise MinutesError("Tổng số đại biểu phải là số nguyên dương.", "minutes.delegate_count")
    started = _datetime(record, "started_at")
    ended = _datetime(record, "ended_at")
    if ended < started:
        raise MinutesError("Giờ kết thúc kỳ họp đứng trước giờ bắt đầu.", "minutes.times")
    chairs = _people(record, "chairs")
    secretaries = _people(record, "secretaries")
    if not chairs or not secretaries:
        raise MinutesError("Biên bản cần ít nhất một chủ tọa và một thư ký kỳ họp.", "minutes.signers")

    council_full = f"Hội đồng nhân dân {level} {name}"
    session_name = _session_name(record, council_full)
    number = str(record.get("document_number") or "").strip()
    header = DocHeader(
        body_lines=("HỘI ĐỒNG NHÂN DÂN", f"{level} {name}".upper()),
        number=f"Số: {number}/BB-HĐND" if number else "Số:      /BB-HĐND",
    )

    body: list[Block] = []
    section = iter(_ROMAN)
    body.append(Heading(f"{next(section)}. THỜI GIAN, ĐỊA ĐIỂM"))
    body.append(_labelled("Thời gian: ", f"bắt đầu vào lúc {_clock(started)}, {_date(started)}."))
    body.append(_labelled("Địa điểm: ", f"{_text(record, 'place')}."))

    body.append(Heading(f"{next(section)}. THÀNH PHẦN THAM DỰ"))
    body += _attendance(record, n, level)
    body.append(_labelled("Chủ tọa kỳ họp: ", _join_people(chairs) + "."))
    body.append(_labelled("Thư ký kỳ họp: ", _join_people(secretaries) + "."))
    guests = _people(record, "guests", required=False)
    if guests:
        body.append(_labelled("Khách mời: ", f"{len(guests)} đại biểu khách mời."))
        body += [_item(_person(g) + ";") for g in guests[:-1]]
        body.append(_item(_person(guests[-1]) + "."))

    body.append(Heading(f"{next(section)}. NỘI DUNG KỲ HỌP"))
    body += _free_text(record.get("opening"))
    agenda = record.get("agenda") or []
    if not isinstance(agenda, Sequence) or isinstance(agenda, str):
        raise MinutesError("Chương trình kỳ họp phải là một danh sách.")
    for i, item in enumerate(agenda, start=1):
        body += _agenda_item(i, item, level)
    other = record.get("other") or {}
    if any(other.get(k) for k in ("documents", "speeches", "polls")):
        body += _agenda_item(len(agenda) + 1, {**other, "title": OTHER_HEADING}, level)
    unheard = record.get("questions") or []
    if unheard:
        body.append(Heading(QUESTIONS_NOT_HEARD, level=2))
        body += [_item(_question(q)) for q in unheard]

    conclusions = _free_text(record.get("conclusions"))
    if conclusions:
        body.append(Heading(f"{next(section)}. KẾT LUẬN VÀ BẾ MẠC"))
        body += conclusions
    # Form 1.9 closes with the end time; "./." marks the end of the body text (Decree 30, Appendix III).
    body.append(Paragraph((Run(f"Kỳ họp kết thúc vào {_clock(ended)}, {_date(ended)}./."),)))

    signatures = (
        SignatureSlot("THƯ KÝ KỲ HỌP", _name(secretaries[0]), SIGNATURE_FIELD_SECRETARY),
        SignatureSlot("CHỦ TỌA", _name(chairs[0]), SIGNATURE_FIELD_CHAIR),
    )
    items = [str(x).strip().rstrip(";.") for x in record.get("recipients") or [] if str(x).strip()]
    recipients = Recipients("Nơi nhận:", tuple(f"- {x};" for x in items) + (f"- {FILING_LINE}",))
    return MinutesDoc(
        meeting_id=record.get("meeting_id"),
        header=header,
        title="BIÊN BẢN",
        session_name=session_name,
        body=tuple(body),
        signatures=signatures,
        recipients=recipients,
    )


def check_settled(*, open_polls: int, speeches_under_way: int, documents_processing: int) -> None:
    """Raise, with the reason, unless everything of the sitting is settled and the minutes may be signed: an open
    poll would miss its result and keep taking ballots after signing, a speech under way would have no end time,
    a document still processing would be missing."""
    for count, key in ((open_polls, "poll"), (speeches_under_way, "speech"), (documents_processing, "document")):
        if count:
            raise MinutesError(NOT_SETTLED[key], f"minutes.{key}_unsettled")


def format_clock(moment: datetime) -> str:
    """ "07 giờ 30 phút", the way Vietnamese administrative texts write a time of day."""
    return _clock(moment)


def format_date(moment: datetime) -> str:
    """ "ngày 05 tháng 02 năm 2026": day below 10 and months 1 and 2 take a leading zero (Decree 30, Appendix I)."""
    return _date(moment)


def _session_name(record: Mapping[str, Any], council_full: str) -> str:
    session = _require(record, "session")
    title = _text(session, "title")
    kind = str(session.get("kind") or "").strip()
    if kind:
        title = f"{title} ({kind})"
    name = f"{title}, {council_full} khóa {_text(session, 'term')}"
    years = str(session.get("term_years") or "").strip()
    return f"{name}, nhiệm kỳ {years}" if years else name


def _attendance(record: Mapping[str, Any], n: int, level: str) -> list[Block]:
    participants = record.get("participants") or []
    by_status: dict[str, list[Mapping[str, Any]]] = {"present": [], "absent": [], "late": [], "left_early": []}
    for p in participants:
        status = p.get("attendance", "present")
        if status not in by_status:
            raise MinutesError("Tình trạng tham dự không hợp lệ của %(name)r: %(status)r.",
                               params={"name": p.get("name"), "status": status})
        by_status[status].append(p)
    absent = by_status["absent"]
    # Late arrivals and early leavers were in the room for part of the sitting: they count as attending.
    attending = len(by_status["present"]) + len(by_status["late"]) + len(by_status["left_early"])
    with_reason = sum(1 for p in absent if str(p.get("reason") or "").strip())
    out: list[Block] = [
        Paragraph(
            (
                Run(f"Tổng số đại biểu Hội đồng nhân dân {level}: {n} đại biểu; có mặt: {attending} đại biểu; "),
                Run(f"vắng mặt: {len(absent)} đại biểu (có lý do: {with_reason}; không có lý do: "),
                Run(f"{len(absent) - with_reason})."),
            )
        )
    ]
    present_names = [_name(p) for p in participants if p.get("attendance", "present") != "absent"]
    if present_names:
        out.append(_labelled("Đại biểu có mặt: ", ", ".join(present_names) + "."))
    if absent:
        parts = [f"{_name(p)} ({_reason(p)})" for p in absent]
        out.append(_labelled("Đại biểu vắng mặt: ", "; ".join(parts) + "."))
    if by_status["late"]:
        parts = [f"{_name(p)} (đến lúc {_clock(_time_of(p, record))})" for p in by_status["late"]]
        out.append(_labelled("Đại biểu đến muộn: ", "; ".join(parts) + "."))
    if by_status["left_early"]:
        parts = []
        for p in by_status["left_early"]:
            why = str(p.get("reason") or "").strip()
            parts.append(f"{_name(p)} (về lúc {_clock(_time_of(p, record))}" + (f", lý do: {why})" if why else ")"))
        out.append(_labelled("Đại biểu về sớm: ", "; ".join(parts) + "."))
    return out


def _agenda_item(i: int, item: Mapping[str, Any], level: str) -> list[Block]:
    out: list[Block] = [Heading(f"{i}. {_text(item, 'title')}", level=2)]
    documents = item.get("documents") or []
    if documents:
        out.append(Paragraph((Run("Tài liệu trình kỳ họp:", italic=True),)))
        for d in documents:
            presenter = str(d.get("presenter") or "").strip()
            tail = f" (trình bày: {presenter})" if presenter else ""
            out.append(_item(f"{_text(d, 'title')}{tail};"))
            if d.get("comments"):
                out.append(_item(f"Góp ý dự thảo: {counts_line(d['comments'])}."))
    speeches = item.get("speeches") or []
    if speeches:
        out.append(Paragraph((Run("Ý kiến phát biểu:", italic=True),)))
        for s in speeches:
            who = _person({"name": s.get("speaker"), "title": s.get("title")})
            span = ""
            if s.get("from") and s.get("to"):
                span = f" (từ {_short_clock(s['from'])} đến {_short_clock(s['to'])})"
            out.append(_item(f"{who}{span};"))
    questions = item.get("questions") or []
    if questions:
        out.append(Paragraph((Run("Chất vấn và trả lời chất vấn:", italic=True),)))
        out += [_item(_question(q)) for q in questions]
    out += _free_text(item.get("summary"))
    for poll in item.get("polls") or []:
        out += _poll(poll, level)
    return out


def _question(q: Mapping[str, Any]) -> str:
    """One question's line: who asked whom about what, and how it ended (who answered, in the hall or in writing
    by a date, or withdrawn). Law 77/2015 Art. 96.1; Law on Supervisory Activities 2015 Art. 84."""
    asker = _person({"name": q.get("asker"), "title": q.get("asker_title")})
    name = str(q.get("addressee_name") or "").strip()
    title = str(q.get("addressee_title") or "").strip()
    whom = ", ".join(x for x in (name, title) if x)
    if not whom:
        raise MinutesError("Câu hỏi chất vấn thiếu người được chất vấn.", "minutes.question")
    topic = _text(q, "topic")
    status = q.get("status")
    due = str(q.get("due_date") or "")
    if status == "answered":
        outcome = f"{whom} đã trả lời tại kỳ họp"
    elif status == "written":
        outcome = f"{whom} trả lời bằng văn bản" + (f", hạn {_iso_date(due)}" if due else "")
    elif status == "written_done":
        outcome = f"{whom} đã trả lời bằng văn bản"
    elif status == "withdrawn":
        outcome = "câu hỏi đã được rút"
    elif status in ("filed", "called"):
        outcome = "chưa được trả lời tại kỳ họp"
    else:
        raise MinutesError("Kết quả chất vấn không hợp lệ: %(status)r.", "minutes.question",
                           params={"status": status})
    return f"Đại biểu {asker} chất vấn {whom} về {topic}; kết quả: {outcome}."


def _iso_date(value: str) -> str:
    try:
        d = datetime.strptime(value[:10], "%Y-%m-%d")
    except ValueError:
        raise MinutesError("Hạn trả lời không hợp lệ: %(value)r.", "minutes.question",
                           params={"value": value}) from None
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _poll(poll: Mapping[str, Any], level: str) -> list[Block]:
    mode = poll.get("mode", "open")
    if mode not in ("open", "secret"):
        raise MinutesError("Hình thức biểu quyết không hợp lệ: %(mode)r.", params={"mode": mode})
    named = poll.get("named") or {}
    if mode == "secret" and any(named.values()):
        raise MinutesError(
            "Biểu quyết bằng phiếu kín không được ghi tên người chọn (Luật 72/2025/QH15, Điều 35).",
            "minutes.secret_named",
        )
    how = "biểu quyết công khai" if mode == "open" else "bỏ phiếu kín"
    out: list[Block] = [
        Paragraph((Run("Kết quả " + how + ": ", bold=True), Run(_text(poll, "subject") + ".", italic=True)))
    ]
    out += [_item(str(line)) for line in poll.get("lines") or []]
    for label, names in named.items():
        if names:
            out.append(_item(f"Đại biểu {label.lower()}: {', '.join(str(x) for x in names)}."))
    outcome = str(poll.get("outcome") or "").strip()
    if not outcome and "passed" in poll:
        outcome = (
            f"Hội đồng nhân dân {level} đã thông qua nội dung trên."
            if poll["passed"]
            else "Nội dung trên không được thông qua."
        )
    if outcome:
        out.append(Paragraph((Run(outcome, bold=True),)))
    return out


def _free_text(value: Any) -> list[Block]:
    if not value:
        return []
    text = str(value).replace("\r\n", "\n")
    return [
        Paragraph(
            (
                Run(
                    " ".join(p.split()),
                ),
            )
        )
        for p in text.split("\n\n")
        if p.strip()
    ]


def _labelled(label: str, text: str) -> Paragraph:
    return Paragraph((Run(label, bold=True), Run(text)))


def _item(text: str) -> Paragraph:
    return Paragraph((Run("- " + text),))


def _people(record: Mapping[str, Any], key: str, *, required: bool = True) -> list[Mapping[str, Any]]:
    value = record.get(key) or []
    if isinstance(value, Mapping) or isinstance(value, str):
        value = [value]
    people = [p if isinstance(p, Mapping) else {"name": str(p)} for p in value]
    if required:
        for p in people:
            _name(p)
    return people


def _person(p: Mapping[str, Any]) -> str:
    name = str(p.get("name") or "").strip()
    title = str(p.get("title") or "").strip()
    if name and title:
        return f"{name}, {title}"
    if not (name or title):
        raise MinutesError("Thiếu tên người tham dự.", "minutes.missing_name")
    return name or title


def _join_people(people: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(_person(p) for p in people)


def _name(p: Mapping[str, Any]) -> str:
    name = str(p.get("name") or "").strip()
    if not name:
        raise MinutesError("Thiếu tên người tham dự.", "minutes.missing_name")
    return name


def _reason(p: Mapping[str, Any]) -> str:
    reason = str(p.get("reason") or "").strip()
    return f"có lý do: {reason}" if reason else "không có lý do"


def _require(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    if not isinstance(value, Mapping):
        raise MinutesError("Hồ sơ kỳ họp thiếu mục %(key)r.", "minutes.missing_field", params={"key": key})
    return value


def _text(record: Mapping[str, Any], key: str) -> str:
    value = str(record.get(key) or "").strip()
    if not value:
        raise MinutesError("Hồ sơ kỳ họp thiếu mục %(key)r.", "minutes.missing_field", params={"key": key})
    return value


def _datetime(record: Mapping[str, Any], key: str) -> datetime:
    return _iso(_text(record, key))


def _time_of(p: Mapping[str, Any], record: Mapping[str, Any]) -> datetime:
    """A participant's "at", as "HH:MM" on the day the sitting started or as a full ISO datetime."""
    at = str(p.get("at") or "").strip()
    if not at:
        raise MinutesError("Thiếu giờ đến/về của đại biểu %(name)s.", "minutes.missing_time", params={"name": _name(p)})
    if "T" in at:
        return _iso(at)
    hh, mm = _hhmm(at)
    return _datetime(record, "started_at").replace(hour=hh, minute=mm)


def _clock(moment: datetime) -> str:
    return f"{moment.hour:02d} giờ {moment.minute:02d} phút"


def _short_clock(value: str) -> str:
    value = str(value)
    if "T" in value:
        moment = _iso(value)
        return f"{moment.hour:02d} giờ {moment.minute:02d}"
    hh, mm = _hhmm(value)
    return f"{hh:02d} giờ {mm:02d}"


def _hhmm(value: str) -> tuple[int, int]:
    """Parse "08:15" into (8, 15), refusing anything that is not a time of day."""
    try:
        hh, mm = (int(x) for x in value.strip().split(":")[:2])
    except ValueError as exc:
        raise MinutesError("Giờ không đúng dạng HH:MM: %(value)r.", "minutes.bad_datetime",
                           params={"value": value}) from exc
    if not (0 <= hh < 24 and 0 <= mm < 60):
        raise MinutesError("Giờ không hợp lệ: %(value)r.", "minutes.bad_datetime", params={"value": value})
    return hh, mm


def _iso(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise MinutesError("Thời điểm không đúng dạng ISO 8601: %(value)r.", "minutes.bad_datetime",
                           params={"value": value}) from exc


def _date(moment: datetime) -> str:
    month = f"{moment.month:02d}" if moment.month < 3 else str(moment.month)
    return f"ngày {moment.day:02d} tháng {month} năm {moment.year}"
