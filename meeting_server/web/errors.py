"""Error pages and JSON errors in one place: friendly, in the person's language, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from meeting_server.domain.errors import DomainError, Forbidden, NotFound
from meeting_server.faults import DiskFault, DiskFull, disk_fault
from meeting_server.i18n import localized
from meeting_server.realtime import links

#: Seconds a client is asked to wait before trying again while the database is away (`Retry-After`): the links
#: watch probes it every second (realtime/links.py), and PostgreSQL restarted by an operator is back in a few.
RETRY_AFTER_S = 5

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return (request.path.startswith("/api/") or request.path == "/healthz" or request.is_json
            or request.accept_mimetypes.best == "application/json")


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Yêu cầu không hợp lệ"), _("Dữ liệu gửi lên không đúng. Hãy thử lại.")),
        401: (_("Cần quét thẻ"), _("Hãy quét mã QR trên thẻ đại biểu của bạn để vào trang này.")),
        403: (_("Không có quyền"), _("Vai trò của bạn không được dùng chức năng này.")),
        404: (_("Không tìm thấy"), _("Trang hoặc nội dung này không có.")),
        405: (_("Không hợp lệ"), _("Thao tác này không được hỗ trợ ở đây.")),
        413: (_("Tệp quá lớn"), _("Tệp tải lên vượt quá giới hạn cho phép.")),
        429: (_("Quá nhiều lần thử"), _("Bạn đã thử quá nhiều mã sai. Hãy đợi một phút rồi thử lại.")),
        500: (_("Có lỗi"), _("Máy chủ gặp lỗi. Hãy báo cho thư ký kỳ họp.")),
        503: (_("Máy chủ đang bận"), _("Máy chủ đang bận, hãy thử lại sau.")),
        # (the database away: `_waiting` below, the one place its exception becomes an answer)
        507: (_("Ổ đĩa đầy"), _("Ổ đĩa dữ liệu của máy chủ đã đầy.")),
    }


def render_error(status: int, message: str | None = None, code: str | None = None, title: str | None = None,
                 refresh: int | None = None) -> Any:
    """The JSON error or the error page; `refresh`: the page loads itself again after that many seconds."""
    default_title, default = _messages().get(status, (_("Có lỗi"), _("Có lỗi xảy ra.")))
    title = title or default_title
    text = message or default
    if _wants_json():
        return jsonify({"error": code or str(status), "message": text}), status
    return render_template("message.html", title=title, message=text, status=status, refresh=refresh), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        return render_error(err.code or 500, getattr(err, "description_vi", None))

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        return render_error(400, _("Trang đã cũ. Hãy tải lại trang rồi làm lại."), "csrf")

    @app.errorhandler(NotFound)
    def _nf(err: NotFound) -> Any:
        return render_error(404, localized(err), err.code)

    @app.errorhandler(Forbidden)
    def _fb(err: Forbidden) -> Any:
        return render_error(403, localized(err), err.code)

    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Any:
        status = {"conflict": 409, "payload.too_large": 413}.get(err.code, 400)
        return render_error(status, localized(err), err.code)

    @app.errorhandler(DiskFault)
    def _disk(err: DiskFault) -> Any:
        log.error("%s %s: %s (%s)", request.method, request.path, err.code, err.__cause__ or err)
        if isinstance(err, DiskFull):
            return render_error(507, localized(err), err.code)
        return render_error(503, localized(err), err.code, _("Ổ đĩa chỉ đọc"))

    @app.errorhandler(links.ServerWaiting)
    def _waiting(err: links.ServerWaiting | None = None) -> Any:
        """The database is away (PostgreSQL restarted, or out of reach): 503 with what to do and `Retry-After`,
        as JSON for the API and as the error page for pages. Nothing was stored: the request's transaction was not
        committed (a unit of work commits last; the ballot writer answers its own, realtime/voting.py). A page
        asked for with GET (a phone opening or reloading its screen) loads itself again after `Retry-After`, so it
        comes back by itself; a form's answer does not (its post is not sent twice behind the person's back)."""
        response, status = render_error(503, _("Máy chủ đang chờ cơ sở dữ liệu, hãy thử lại sau ít giây."),
                                        links.ServerWaiting.code, _("Đang chờ cơ sở dữ liệu"),
                                        refresh=RETRY_AFTER_S if request.method == "GET" else None)
        response = current_app.make_response((response, status))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        fault = disk_fault(err)
        if fault is not None:
            return _disk(fault)
        if links.noticed(current_app._get_current_object(), err) is not None:  # type: ignore[attr-defined]
            log.info("%s %s: the database is away (%s)", request.method, request.path, err)
            return _waiting()
        log.exception("unexpected error on %s %s", request.method, request.path)
        return render_error(500)
