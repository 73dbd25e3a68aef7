"""The clerk's console: the meeting, its agenda, the delegate list, join cards and attendance."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from meeting_server import faults, offload
from meeting_server.config import ROOT
from meeting_server.domain import payload, timefmt
from meeting_server.domain.errors import N_, DomainError, NotFound
from meeting_server.domain.permissions import DELEGATE_ROLES, Permission
from meeting_server.domain.roster import parse_rows
from meeting_server.i18n import localized, translate
from meeting_server.realtime.announce import announce
from meeting_server.services import attendance, clock, links, meetings, readiness, roster, snapshot, tokens
from meeting_server.store import db
from meeting_server.store.tables import Meeting, Participant
from meeting_server.web.guards import principal, requires, source
from meeting_server.web.payload import json_body

bp = Blueprint("clerk", __name__, url_prefix="/clerk")

ROLE_LABELS = {"chair": "Chủ tọa", "secretary": "Thư ký kỳ họp", "delegate": "Đại biểu", "guest": "Khách mời",
               "clerk": "Văn phòng", "drafter": "Cơ quan soạn thảo"}


#: The console's steps, in the order a clerk prepares and runs a sitting: (anchor, label msgid).
STEPS = (
    ("meeting", N_("Kỳ họp")),
    ("agenda", N_("Chương trình")),
    ("delegates", N_("Đại biểu và vai trò")),
    ("documents", N_("Tài liệu")),
    ("cards", N_("Thẻ và màn hình")),
    ("sitting", N_("Trong phiên họp")),
    ("minutes", N_("Biên bản")),
)


def _meeting() -> Meeting:
    return meetings.get(db.session(), principal().meeting_id)


def said(message: str, where: str, kind: str = "ok") -> None:
    """A message for the clerk, shown beside the form `where` (its anchor) rather than atop the page: the flash
    category is "kind:where"; base.html leaves such messages to the console (templates/clerk/console.html)."""
    flash(message, f"{kind}:{where}")


def back_to(where: str, **args: Any) -> Any:
    """Back to the console at the form `where`: the page opens on that form's step, the message beside it."""
    return redirect(url_for(".console", **args) + "#" + where)


def step_action(where: str | Callable[..., str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A console form's route: a refusal (DomainError) comes back beside the form (`where`, or a function of the
    route's arguments giving it), not as an error page. JSON callers still get the JSON error."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except DomainError as err:
                if request.accept_mimetypes.best == "application/json":
                    raise
                db.session().rollback()
                anchor = where(*args, **kwargs) if callable(where) else where
                said(localized(err), anchor, "error")
                return back_to(anchor)
        return run
    return wrap


def _int_field(name: str) -> int:
    try:
        return int(request.form.get(name, ""))
    except ValueError as exc:
        raise DomainError("Trường «%(name)s» phải là số.", "form.invalid", params={"name": name}) from exc


def _fields() -> meetings.MeetingFields:
    try:
        starts = timefmt.parse_local_input(request.form.get("starts_at", ""))
    except ValueError as exc:
        raise DomainError("Thời gian không hợp lệ.", "form.invalid") from exc
    return meetings.MeetingFields(
        council_level=request.form.get("council_level", "xã"),
        locality=request.form.get("locality", ""),
        session_title=request.form.get("session_title", ""),
        term=request.form.get("term", ""),
        place=request.form.get("place", ""),
        starts_at=starts,
        seated_count=_int_field("seated_count"),
        quorum_rule=request.form.get("quorum_rule", "two_thirds"),
    )


@bp.route("/")
@requires(Permission.MEETING_MANAGE)
def console() -> Any:
    """Everything the clerk sets up and runs, in steps (STEPS): one section each, one shown at a time."""
    s = db.session()
    m = _meeting()
    base = links.public_base(s, request.host_url)
    return render_template(
        "clerk/console.html", page="clerk", meeting=m, state=snapshot.build(m, principal()),
        links=links.links(m, base), starts_at_input=timefmt.local_input(m.starts_at), role_labels=ROLE_LABELS,
        room_url=links.join_url(base, m.guest_token), levels=meetings.LEVELS,
        server_now_ms=int(clock.corrected(s).timestamp() * 1000), network=_room_network(), disk=_disk(),
        readiness=_readiness(s, m), editable_roles=roster.EDITABLE_ROLES,
        steps=STEPS, council_meetings=meetings.of_council(s, m),
    )


@bp.route("/readiness")
@requires(Permission.MEETING_MANAGE)
def readiness_now() -> Any:
    """The readiness check as it stands, the console's card and its one-line summary (HTML), which the console
    fetches again when the room changes (static/js/readiness.js, on `state`, `attendance`, `poll`, `documents`)."""
    s = db.session()
    m = meetings.get(s, principal().meeting_id)
    return render_template("partials/readiness_fragment.html", readiness=_readiness(s, m)), 200, {
        "Cache-Control": "no-store"}


def _readiness(s: Any, m: Meeting) -> dict[str, list[dict[str, Any]]]:
    """The readiness check's lines, in the clerk's language: before the sitting, before signing the minutes."""
    def shown(lines: list[Any]) -> list[dict[str, Any]]:
        return [{"code": x.code, "text": translate(x.message, x.params), "blocking": x.blocking} for x in lines]

    return {"sitting": shown(readiness.before_sitting(s, m)), "signing": shown(readiness.before_signing(s, m))}


def _room_network() -> dict[str, Any]:
    """What the console says about the room's network (docs/SECURITY.md): whether this very page came over HTTPS,
    the name, and the Wi-Fi's mode as `serve` found it at start (NetworkManager, else the configured mode)."""
    from flask import current_app

    found = current_app.config.get("ROOM_NETWORK") or {}
    return {"https": request.scheme == "https", "public_name": found.get("public_name"),
            "wifi": found.get("wifi") or {"mode": "unknown", "source": "none"}}



def _disk() -> dict[str, Any]:
    """Free space of the data disk, for the console's line: "12,3 GB" (or MB under 1 GB), and whether it is low."""
    free = faults.free_bytes(current_app.config["DATA_DIR"])
    low = free < int(current_app.config.get("DISK_LOW_FREE_BYTES", faults.LOW_FREE_BYTES))
    size = f"{free / 1024**3:.1f} GB" if free >= 1024**3 else f"{free // 1024**2} MB"
    return {"free": size.replace(".", ","), "low": low}


@bp.route("/meeting", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action("meeting-form")
def update_meeting() -> Any:
    """Save the meeting's details."""
    announce(meetings.update(db.session(), _meeting(), _fields(), principal().actor))
    said(_("Đã lưu thông tin kỳ họp."), "meeting-form")
    return back_to("meeting-form")


@bp.route("/meetings/new", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action("meeting-form")
def new_meeting() -> Any:
    """Create the next meeting; the clerk's browser moves to the new meeting's clerk card."""
    s = db.session()
    m = meetings.create(s, _fields(), principal().actor)
    _switch_to(next(p for p in m.participants if p.role == "clerk").token)  # its creator runs it, whatever council
    said(_("Đã tạo kỳ họp mới «%(title)s»; bạn đang ở kỳ họp này.", title=m.session_title), "meetings")
    return back_to("meetings")


@bp.route("/meetings/<int:meeting_id>/open", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action("meetings")
def open_meeting(meeting_id: int) -> Any:
    """Switch this browser to another meeting of the same council: the server opens a session on that meeting's
    clerk card (services/meetings.clerk_token_of refuses another council's meeting), and ends this one."""
    s = db.session()
    m = _meeting()
    if meeting_id != m.id:
        target = meetings.get(s, meeting_id)
        _switch_to(meetings.clerk_token_of(s, m, meeting_id, principal().actor))
        said(_("Bạn đang làm việc với kỳ họp «%(title)s».", title=target.session_title), "meetings")
    return back_to("meetings")


def _switch_to(token: str) -> None:
    """Bind this browser to another clerk card, as opening its QR would (web/join.py), without the token in a URL."""
    from meeting_server.realtime.registry import disconnect_session

    s = db.session()
    old = session.get("sid")
    new = tokens.open_session(s, token, source())
    if isinstance(old, str):
        disconnect_session(tokens.end_session(s, old))
    session["sid"] = new
    session.permanent = True


@bp.route("/agenda", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action("agenda-new")
def add_item() -> Any:
    """Append an agenda item."""
    done = meetings.add_item(db.session(), _meeting(), request.form.get("title", ""),
                             request.form.get("description", ""), principal().actor)
    announce(done.change)
    said(_("Đã thêm nội dung «%(title)s».", title=done.value.title), "agenda-new")
    return back_to("agenda-new")


@bp.route("/agenda/<int:item_id>", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action(lambda item_id: f"item-{item_id}")
def change_item(item_id: int) -> Any:
    """Edit, move or delete an agenda item (the button pressed says which)."""
    s = db.session()
    m = _meeting()
    action = request.form.get("action", "edit")
    actor = principal().actor
    if action == "up":
        change = meetings.move_item(s, m, item_id, -1, actor)
    elif action == "down":
        change = meetings.move_item(s, m, item_id, 1, actor)
    elif action == "delete":
        change = meetings.delete_item(s, m, item_id, actor)
    else:
        change = meetings.edit_item(s, m, item_id, request.form.get("title", ""), request.form.get("description", ""),
                                    actor)
    announce(change)
    if action == "delete":
        said(_("Đã xóa nội dung."), "agenda-new")
        return back_to("agenda-new")
    said(_("Đã lưu.") if action == "edit" else _("Đã chuyển chỗ."), f"item-{item_id}")
    return back_to(f"item-{item_id}")


@bp.route("/roster/preview", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
def roster_preview() -> Any:
    """Read an uploaded list and show it with every problem; nothing is saved here."""
    m = _meeting()
    upload = request.files.get("file")
    filename = upload.filename if upload is not None and upload.filename else ""
    try:
        if upload is None or not filename:
            raise DomainError("Hãy chọn tệp danh sách đại biểu (.csv hoặc .xlsx).", "roster.no_file")
        max_bytes = current_app.config["IMPORT_MAX_BYTES"]
        try:
            data = upload.stream.read(max_bytes + 1)
        finally:
            upload.close()
        table = roster.read_table(data, filename, max_bytes)
    except DomainError as err:
        # The reason on the preview page, with the form to choose another file: not a dead-end error page.
        # (Status 400 for scripts; a browser shows the page all the same.)
        return render_template("clerk/roster_preview.html", page="clerk", meeting=m, preview=None,
                               refused=localized(err), filename=filename, role_labels=ROLE_LABELS), 400
    preview = parse_rows(table)
    problems = [(p.line, translate(p.template, p.params)) for p in preview.problems]
    return render_template("clerk/roster_preview.html", page="clerk", meeting=m, preview=preview, problems=problems,
                           plan=roster.plan(m, preview), table_json=json.dumps(table, ensure_ascii=False),
                           role_labels=ROLE_LABELS, filename=filename, refused=None)


@bp.route("/roster/import", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action("roster")
def roster_import() -> Any:
    """Save a previewed list; it is checked again, and saved only when it has no problem."""
    s = db.session()
    m = _meeting()
    table = roster.table_of(payload.parse_json(request.form.get("table", "").encode()),
                            N_("Dữ liệu xem trước không hợp lệ; hãy tải tệp lên lại."))
    preview = parse_rows(table)
    done = roster.apply(s, m, preview, principal().actor)
    announce(done.change)
    result = done.value
    said(_("Đã nhập danh sách: %(added)d người mới, %(kept)d giữ nguyên, %(removed)d bị bỏ.",
           added=result.added, kept=result.kept, removed=result.removed), "roster")
    delegates = preview.count(*DELEGATE_ROLES)
    if delegates != m.seated_count:
        said(_("Lưu ý: danh sách có %(n)d đại biểu, còn tổng số đại biểu dùng để tính tỷ lệ là %(seated)d. "
               "Hãy kiểm tra lại ô «Tổng số đại biểu».", n=delegates, seated=m.seated_count), "roster", "warning")
    return back_to("roster")


def _card(m: Meeting, p: Participant, base: str) -> dict[str, str]:
    return {"council_name": m.council_name, "session_title": m.full_title, "name": p.full_name, "title": p.title,
            "role_label": ROLE_LABELS.get(p.role, p.role), "url": links.join_url(base, p.token),
            "number": f"{m.id}-{p.position:02d}"}


def _cards_pdf(cards: list[dict[str, str]]) -> bytes:
    """Build the cards in a child process: PyMuPDF is CPU-bound and stays out of the web process."""
    return offload.call("meeting_server.documents.cards:build_from_payload",
                        {"cards": cards, "font_dir": str(ROOT / "static" / "fonts")})


@bp.route("/cards.pdf")
@requires(Permission.MEETING_MANAGE)
def cards_pdf() -> Any:
    """All join cards, eight per A4 page, to print and cut."""
    s = db.session()
    m = _meeting()
    base = links.public_base(s, request.host_url)
    people = [p for p in m.participants if p.role != "clerk"]
    pdf = _cards_pdf([_card(m, p, base) for p in people])
    readiness.cards_printed(s, m, [p.id for p in people], principal().actor)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="the-tham-gia-ky-hop-{m.id}.pdf"',
                             "Cache-Control": "no-store"})


@bp.route("/participants/<int:pid>/card.pdf")
@requires(Permission.MEETING_MANAGE)
def card_pdf(pid: int) -> Any:
    """One person's card, for reprinting after a reissue."""
    s = db.session()
    m = _meeting()
    p = _participant(m, pid)
    pdf = _cards_pdf([_card(m, p, links.public_base(s, request.host_url))])
    readiness.cards_printed(s, m, [p.id], principal().actor)
    return Response(pdf, mimetype="application/pdf", headers={"Cache-Control": "no-store"})


@bp.route("/participants/<int:pid>/reissue", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action(lambda pid: f"card-{pid}")
def reissue(pid: int) -> Any:
    """A card was lost: the old QR stops working now and a new card is ready to print."""
    s = db.session()
    m = _meeting()
    p = _participant(m, pid)
    announce(tokens.revoke_and_reissue(s, p, principal().actor))  # hangs up the old card's connections
    said(_("Đã thu hồi thẻ cũ của %(name)s. Thẻ cũ không còn dùng được; hãy in thẻ mới.", name=p.full_name),
         f"card-{p.id}")
    return back_to(f"card-{p.id}", reissued=p.id)


@bp.route("/participants/<int:pid>/role", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
@step_action("roles")
def change_role(pid: int) -> Any:
    """Give someone on the list another role (chair, secretary, delegate, guest); audited and announced. The answer
    is shown beside the roles table."""
    from meeting_server.realtime.session import role_changed

    s = db.session()
    m = _meeting()
    p = _participant(m, pid)
    done = roster.set_role(s, m, pid, request.form.get("role", ""), principal().actor)
    old, new = done.value
    if old != new:
        role_changed(m.id, pid, old, new)
        announce(done.change)
        said(_("Đã đổi vai trò của %(name)s: %(old)s → %(new)s.", name=p.full_name, old=_(ROLE_LABELS[old]),
               new=_(ROLE_LABELS[new])), "roles")
    return back_to("roles")


@bp.route("/attendance/<int:pid>", methods=["POST"])
@requires(Permission.ATTENDANCE_MANAGE)
def mark_attendance(pid: int) -> Any:
    """Mark someone present, absent with a reason, or gone early (for those without a device)."""
    s = db.session()
    m = _meeting()
    late_field = request.form.get("late")
    late = None if late_field is None else late_field == "1"
    done = attendance.mark(s, m, pid, request.form.get("status", ""), request.form.get("reason", ""), late,
                           principal().actor)
    announce(done.change)
    if request.accept_mimetypes.best == "application/json":
        return {"ok": True, "attendance": attendance.summary(m).to_dict()}
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = url_for(".console") + "#attendance"
    return redirect(target)


@bp.route("/clock", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
def correct_clock() -> Any:
    """Set the server's time from the clerk's phone (`{"device_ms": Date.now()}`), before the sitting starts."""
    s = db.session()
    body = json_body(allow_empty=True)
    new = clock.set_from_device(s, body.get("device_ms"), principal().actor, principal().meeting_id)
    return {"ok": True, "offset_ms": new, "server_now": clock.corrected(s).isoformat()}


def _participant(m: Meeting, pid: int) -> Participant:
    p = next((x for x in m.participants if x.id == pid and x.role != "clerk"), None)
    if p is None:
        raise NotFound("Không tìm thấy đại biểu.")
    return p
