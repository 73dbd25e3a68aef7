"""HTTP layer: one blueprint per area, each route declaring who may call it (see guards)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the server's start binds its socket (web/serving.py) before Flask is imported
    from flask import Flask

__all__ = ["register_blueprints"]


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the error pages."""
    from meeting_server.web import api, catalogs, clerk, comments, documents, errors, join, limits, screens
    from meeting_server.web import archive as archive_web
    from meeting_server.web import minutes as minutes_web
    from meeting_server.web import questions as questions_web
    from meeting_server.web import signing as signing_web
    from meeting_server.web import voting as voting_web

    app.register_blueprint(join.bp)
    app.register_blueprint(screens.bp)
    app.register_blueprint(catalogs.bp)
    app.register_blueprint(clerk.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(minutes_web.bp)
    app.register_blueprint(signing_web.bp)
    app.register_blueprint(voting_web.bp)
    app.register_blueprint(questions_web.bp)
    app.register_blueprint(comments.bp)
    app.register_blueprint(archive_web.bp)
    errors.init_app(app)
    limits.init_app(app)
