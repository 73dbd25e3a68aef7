"""The `meeting-server` command: serve, links, migrate, seed-demo (more in later modules)."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from meeting_server import __version__

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="MEETING_SERVER_DATA",
    help="Data directory (database, documents, keys). Default: ./instance, or $MEETING_SERVER_DATA.",
)


def _app(data_dir: Path | None, **extra: Any) -> Any:
    from meeting_server.app import create_app
    from meeting_server.config import default_data_dir

    return create_app({"DATA_DIR": data_dir or default_data_dir(), **extra})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meeting-server")
def main() -> None:
    """Paperless meeting room for a commune People's Council (HĐND), on one mini-PC, no Internet needed."""


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@DATA_DIR_OPTION
@click.option("--no-demo", is_flag=True, help="Do not seed the demo meeting into an empty data directory.")
@click.option("--public-url", default=None, help="Base URL phones use (default: found from the network).")
def serve(host: str, port: int, data_dir: Path | None, no_demo: bool, public_url: str | None) -> None:
    """Run the server (eventlet), seeding the demo meeting into an empty data directory."""
    import eventlet.patcher

    if not eventlet.patcher.is_monkey_patched("socket"):
        raise click.ClickException("run through `python -m meeting_server` or the `meeting-server` script")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from meeting_server.app import socketio
    from meeting_server.realtime import documents as live_documents
    from meeting_server.services import demo, documents, links, meetings
    from meeting_server.store import db
    from meeting_server.web.serving import banner, choose_public_base

    app = _app(data_dir, HOST=host, PORT=port)
    base = public_url or choose_public_base(host, port)
    pending_documents: list[int] = []
    with db.standalone_session(app) as s:
        if not no_demo and demo.is_empty(s):
            demo_meeting = demo.seed(s)
            s.flush()
            pending_documents = documents.attach_files(app, s, demo_meeting, demo.demo_documents(), 3, "system:demo")
            click.echo("Đã tạo kỳ họp mẫu (demo meeting seeded).")
        else:
            pending_documents = documents.unfinished(s)  # uploads cut short by a stop: process them again
        links.set_public_base(s, base)
        s.commit()
        m = meetings.current(s)
        clerk_url = None
        if m is not None:
            clerk_url = links.links(m, base)["clerk"]
    click.echo(banner(base, clerk_url, app.config["DATA_DIR"]))
    documents.pool(app)  # start the render workers now, not on the first upload
    for document_id in pending_documents:
        live_documents.start_processing(app, document_id)
    if os.environ.get("MEETING_GC_FREEZE", "1") != "0":
        # Start-up objects never die: keep them out of full collections, which otherwise land on the page-sync p99
        # (shared/perf-floors.md); MEETING_GC_FREEZE=0 turns it off for comparison.
        gc.collect()
        gc.freeze()
    socketio.run(app, host=host, port=port, log_output=False, use_reloader=False)


@main.command("links")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts and load tests).")
@click.option("--base", default=None, help="Base URL to use instead of the one the server recorded.")
def links_cmd(data_dir: Path | None, as_json: bool, base: str | None) -> None:
    """Print the current meeting's join URLs."""
    from meeting_server.services import links, meetings
    from meeting_server.store import db

    app = _app(data_dir)
    with db.standalone_session(app) as s:
        m = meetings.current(s)
        if m is None:
            raise click.ClickException("Chưa có kỳ họp nào (no meeting yet).")
        out = links.links(m, base or links.public_base(s, "http://127.0.0.1:8080"))
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"Văn phòng (clerk):   {out['clerk']}")
    for u in out["chair"]:
        click.echo(f"Chủ tọa (chair):     {u}")
    for u in out["secretary"]:
        click.echo(f"Thư ký (secretary):  {u}")
    click.echo(f"Màn hình chiếu:      {out['kiosk']}")
    click.echo(f"Khách (room QR):     {out['guest']}")
    for d in out["delegates"]:
        click.echo(f"  {d['name']}: {d['url']}")


@main.command()
@DATA_DIR_OPTION
def migrate(data_dir: Path | None) -> None:
    """Bring the database schema up to date (the server also does it at start)."""
    _app(data_dir)
    click.echo("Cơ sở dữ liệu đã cập nhật (database is up to date).")


@main.command("seed-demo")
@DATA_DIR_OPTION
def seed_demo(data_dir: Path | None) -> None:
    """Add the demo meeting (even when other meetings exist)."""
    from meeting_server.services import demo
    from meeting_server.store import db

    app = _app(data_dir)
    with db.standalone_session(app) as s:
        m = demo.seed(s)
        s.commit()
        click.echo(f"Kỳ họp mẫu số {m.id}.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
