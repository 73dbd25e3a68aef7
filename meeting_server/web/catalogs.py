"""The delegate phone's later strings: the catalogs of its ballot, speakers, questions, comments, documents and
dialog panels (templates/partials/i18n.html), as one small script per language, versioned and cached for a year.

The phone's page used to write every panel's strings into its HTML (14 kB; the page 8.5 kB gzipped instead of
5.6 kB, and 276 translations looked up per page view instead of 96: 59 ms of server time instead of 44 ms), on every
visit and every reload, although its first screen shows none of them. They now come beside the later bundle
(web/statics.py BUNDLES): live.js asks for this script, then runs the bundle, and the script writes each catalog into
the page as the `i18n-<name>` element the panels read, as on the pages that still carry them inline (chair,
projector, clerk). A catalog is built once per language and process (the translations are read at start and never
change while serving); its URL carries its content hash, so a warm reload asks for nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any, NamedTuple

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import force_locale

from meeting_server.i18n import LANGUAGES
from meeting_server.web.guards import public
from meeting_server.web.statics import IMMUTABLE, REVALIDATE

bp = Blueprint("catalogs", __name__)

#: The macros of templates/partials/i18n.html that the later bundle's panels read.
LATER = ("dialog", "voting", "speakers", "questions", "comments", "documents")
#: Writes each catalog into the page as <script type="application/json" id="i18n-NAME">, where the panels look.
#: ES5, like everything the phone runs.
WRITER = """(function (c) {
  var k, s;
  for (k in c) {
    if (!c.hasOwnProperty(k) || document.getElementById("i18n-" + k)) continue;
    s = document.createElement("script");
    s.type = "application/json";
    s.id = "i18n-" + k;
    s.textContent = JSON.stringify(c[k]);
    document.head.appendChild(s);
  }
})(%s);
"""


class Catalog(NamedTuple):
    body: bytes
    gzipped: bytes
    version: str


def later(lang: str) -> Catalog:
    """The later strings in `lang` (built on first use, then kept for the process: they are constants)."""
    built: dict[str, Catalog] = current_app.extensions.setdefault("later_catalogs", {})
    if lang not in built:
        with force_locale(lang):
            module: Any = current_app.jinja_env.get_template("partials/i18n.html").module
            strings = {name: json.loads(str(getattr(module, name)())) for name in LATER}
        body = (WRITER % json.dumps(strings, ensure_ascii=False, sort_keys=True)).encode()
        built[lang] = Catalog(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:12])
    return built[lang]


def later_url(lang: str) -> str:
    """The versioned URL of the later strings in `lang` (templates/base.html puts it on the phone's page)."""
    return url_for("catalogs.later_strings", lang=lang, v=later(lang).version)


@bp.route("/i18n/<lang>/later.js")
@public  # the interface's own wording: nothing of any meeting
def later_strings(lang: str) -> Any:
    if lang not in LANGUAGES:
        return Response("", status=404)
    catalog = later(lang)
    current = request.args.get("v") == catalog.version
    gz = "gzip" in request.headers.get("Accept-Encoding", "")
    resp = Response(catalog.gzipped if gz else catalog.body, mimetype="text/javascript")
    if gz:
        resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    resp.headers["Cache-Control"] = IMMUTABLE if current else REVALIDATE
    resp.set_etag(catalog.version)
    return resp.make_conditional(request)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"later_strings_url": later_url}
