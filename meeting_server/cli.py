"""The `meeting-server` command: serve, links, migrate, seed-demo (more in later modules)."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
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

#: PostgreSQL instead of the data directory's SQLite file (docs/ARCHITECTURE.md, "Several processes"). The data
#: directory still holds the documents, the keys (the audit chain's among them) and the signing material.
DATABASE_URL_OPTION = click.option(
    "--database-url",
    default=None,
    envvar="MEETING_SERVER_DATABASE_URL",
    help="postgresql://user@host/dbname (psycopg 3; needs the `postgresql` extra) instead of the SQLite file in "
         "the data directory. Default: SQLite, or $MEETING_SERVER_DATABASE_URL.",
)


def _app(data_dir: Path | None, database_url: str | None = None, **extra: Any) -> Any:
    from meeting_server.app import create_app
    from meeting_server.config import default_data_dir

    if database_url:
        from meeting_server.store import db

        if not db.is_postgresql(database_url):
            raise click.ClickException("--database-url: chỉ hỗ trợ postgresql://… (only postgresql://… URLs).")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise click.ClickException(
                "PostgreSQL cần gói `psycopg`: pip install 'meeting-server[postgresql]' "
                "(--database-url needs the psycopg package).") from None
        extra["DATABASE_URL"] = database_url
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
@DATABASE_URL_OPTION
@click.option("--public-url", default=None, help="Base URL phones use (default: found from the network).")
@click.option("--message-queue", default=None, envvar="MEETING_MESSAGE_QUEUE",
              help="Redis URL joining several server processes on one data directory (Flask-SocketIO's message "
                   "queue; needs the `scale` extra). Default: none, one process.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, envvar="MEETING_TRUSTED_PROXY",
              help="Behind a front (HAProxy): its address, whose X-Forwarded-For gives the phone's address "
                   "(the guessing limits count per phone); repeatable. See `meeting-server front-config`.")
@click.option("--no-discovery", is_flag=True,
              help="Do not advertise on mDNS (the extra processes behind a shared address).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None, envvar="MEETING_TLS_CERT",
              help="HTTPS: the certificate file (PEM: the server's certificate, then the intermediates). "
                   "HTTPS and WSS on --port; see docs/SECURITY.md.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None, envvar="MEETING_TLS_KEY",
              help="HTTPS: the certificate's private key (PEM, no password).")
@click.option("--public-name", default=None, envvar="MEETING_PUBLIC_NAME",
              help="The name phones use, e.g. hop.xa.gov.vn (the certificate's name): the cards and the banner "
                   "carry https://<name>/...; the hotspot's DNS answers it with this box's address.")
@click.option("--redirect-port", type=int, default=None, envvar="MEETING_HTTP_REDIRECT_PORT",
              help="With HTTPS: a plain-HTTP port answering every request with a redirect to https://<name>/... "
                   "Default 80 when --port is 443, else none; 0 turns it off.")
def serve(host: str, port: int, data_dir: Path | None, no_demo: bool, database_url: str | None,
          public_url: str | None, message_queue: str | None, trusted_proxies: tuple[str, ...], no_discovery: bool,
          tls_cert: Path | None, tls_key: Path | None,
          public_name: str | None, redirect_port: int | None) -> None:
    """Run the server (eventlet), seeding the demo meeting into an empty data directory."""
    import eventlet.patcher

    from meeting_server import netaddr, tls, wifi

    if not eventlet.patcher.is_monkey_patched("socket"):
        raise click.ClickException("run through `python -m meeting_server` or the `meeting-server` script")
    ssl_args: dict[str, Any] = {}
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise click.ClickException("HTTPS cần cả --tls-cert và --tls-key (HTTPS needs both --tls-cert and "
                                       "--tls-key).")
        try:
            ssl_args = tls.load_for_serving(tls_cert, tls_key)
        except tls.TlsSetupError as err:
            raise click.ClickException(f"{err.vi}\n({err.en})") from err
    from meeting_server.web import serving

    try:
        # First: a phone trying again while the rest starts is queued by the kernel, not refused (serving.listen).
        listener = serving.listen(host, port)
    except OSError as err:
        raise click.ClickException(f"Không mở được cổng {port} trên {host}: {err} (cannot listen on {host}:{port})"
                                   ) from err
    public_name = (public_name or "").strip().rstrip(".").lower() or None
    if redirect_port is None:
        redirect_port = 80 if ssl_args and port == 443 else 0
    extra: dict[str, Any] = {
        # What the clerk console says about the room's network (docs/SECURITY.md): HTTPS or not, and the Wi-Fi.
        "ROOM_NETWORK": {"https": bool(ssl_args), "public_name": public_name,
                         "wifi": wifi.status(wifi.read_live()).as_dict()},
    }
    if message_queue:
        try:
            import redis  # noqa: F401  (Flask-SocketIO imports it only when it connects)
        except ImportError:
            raise click.ClickException(
                "Hàng đợi tin nhắn cần gói `redis`: pip install 'meeting-server[scale]' "
                "(--message-queue needs the redis package).") from None
        extra["SOCKETIO_MESSAGE_QUEUE"] = message_queue
    if no_discovery:
        extra["DISCOVERY"] = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from meeting_server.appliance import banner, choose_public_base, start_appliance, start_redirect
    from meeting_server.config import default_data_dir
    from meeting_server.domain.errors import DomainError
    from meeting_server.realtime import documents as live_documents
    from meeting_server.realtime import voting as live_voting
    from meeting_server.services import backup, demo, documents, links, meetings
    from meeting_server.store import db

    try:
        # Held (shared) for the process's lifetime: `restore` refuses while any server holds the data directory.
        server_lock = backup.hold_server_lock((data_dir or default_data_dir()).resolve())
    except DomainError as err:
        raise click.ClickException(err.message) from err
    app = _app(data_dir, database_url, **extra)
    base, why = choose_public_base(host, port, https=bool(ssl_args))
    fixed_base = False
    if public_name:
        base, why = netaddr.base_url(public_name, port, "https" if ssl_args else "http"), "--public-name"
        fixed_base = True
    if public_url:
        base, why, fixed_base = public_url.rstrip("/"), "--public-url", True
    with db.standalone_session(app) as s:
        pending_documents, seeded = demo.open_room(app, s, base, seed_demo=not no_demo)
        if seeded:
            click.echo("Đã tạo kỳ họp mẫu (demo meeting seeded).")
        from meeting_server.services import minutes as minutes_service

        for done in minutes_service.recover_interrupted(app, s):  # a signing cut short by a crash or power cut
            click.echo(f"Biên bản kỳ họp {done['meeting_id']}, phiên bản {done['version']}: "
                       + {"completed": "việc ký bị gián đoạn, đã hoàn tất từ tệp đã ký.",
                          "rolled_back": "việc ký bị gián đoạn, đã trả về bản nháp.",
                          "prepare_rolled_back": "việc chuẩn bị để ký bị gián đoạn, đã trả về bản nháp."}
                       [done["outcome"]])
        m = meetings.current(s)
        clerk_url = None
        if m is not None:
            clerk_url = links.links(m, base)["clerk"]
        room_name = f"Phòng họp {m.council_name}" if m is not None else "Phòng họp HĐND"
    if trusted_proxies:
        from meeting_server import front

        try:
            app.wsgi_app = front.trusted_forwarding(app.wsgi_app, trusted_proxies)
        except ValueError as err:
            raise click.ClickException(f"--trusted-proxy: {err}") from err
    if ssl_args:
        app.wsgi_app = tls.with_hsts(app.wsgi_app)
        if redirect_port:
            redirect_status = start_redirect(host, redirect_port, base)
        else:
            redirect_status = "không có cổng HTTP chuyển hướng (no plain-HTTP redirect)"
    click.echo(banner(base, why, clerk_url, app.config["DATA_DIR"]))
    if ssl_args:
        click.echo(f"  HTTPS: {tls_cert}; {redirect_status}")
    click.echo(f"  Wi-Fi: {app.config['ROOM_NETWORK']['wifi']['mode']} "
               f"({app.config['ROOM_NETWORK']['wifi']['source']})")
    documents.pool(app)  # start the render workers now, not on the first upload
    # Before taking up unfinished uploads: a killed server's converters die with it, but should one have been left
    # (a kernel without the box's PID namespace), it would run beside our own conversion of the same file.
    if killed := documents.reap_converters(app):
        click.echo(f"Đã dừng {killed} tiến trình LibreOffice còn sót từ lần chạy trước "
                   f"({killed} LibreOffice processes left by the previous run killed).")
    # Before serving: close the polls whose countdown ran out while the server was down, re-arm the others.
    live_voting.resume(app)
    from meeting_server.realtime import leases as heartbeat

    heartbeat.start(app)  # renews this process's leases; takes over the countdowns and uploads of a dead process
    from meeting_server.realtime import links as link_watch

    link_watch.start(app)  # watches the database and the message queue; the screens are told while either is away
    for document_id in pending_documents:
        live_documents.start_processing(app, document_id)
    # A name or URL given by hand stays in the cards when the box's address changes (the hotspot's DNS follows).
    # Behind a front (--public-url http://front:8080), the advertisement names the front's port, as the cards do.
    advertiser = start_appliance(app, host, port, room_name, follow_links=not fixed_base, https=bool(ssl_args),
                                 public_name=public_name, advertise_port=_url_port(public_url) if public_url else None)
    if os.environ.get("MEETING_GC_FREEZE", "1") != "0":
        # Start-up objects never die: keep them out of full collections, which otherwise land on the page-sync p99
        # (shared/perf-floors.md); MEETING_GC_FREEZE=0 turns it off for comparison. No full collection first: it
        # found nothing to free at start (0 objects of ~170,000) and took 0.1-0.3 s of the start.
        gc.freeze()
    # systemd stops the service with SIGTERM: leave through `finally` so the mDNS record is withdrawn and the leases
    # given back. The exit is thrown into this (the main) green thread, where `serve` waits: raised in whichever
    # green thread the signal interrupted, it could be caught there (a render worker's thread hands a job's
    # exception to the job's waiter) and the server went on until killed (tests/test_stop.py).
    from greenlet import getcurrent

    signal.signal(signal.SIGTERM, _exit_in(getcurrent()))
    signal.signal(signal.SIGINT, _exit_in(getcurrent()))  # Ctrl+C in the terminal of the README's first command
    try:
        # What Flask-SocketIO's `socketio.run` does under eventlet, on the socket bound first (serving.serve).
        serving.serve(listener, app, ssl_args)
    finally:
        if advertiser is not None:
            advertiser.stop()
        from meeting_server.realtime import leases as heartbeat

        try:
            heartbeat.stop(app)  # the other processes take this one's countdowns and uploads over at once
        except Exception:  # a stop must finish: unreleased leases run out within seconds anyway
            logging.getLogger(__name__).exception("leases not released")
        # Close the pooled database connections: SQLite then copies the write-ahead log into the database and
        # removes it, so a stopped server leaves one self-contained file (and no log of recent writes).
        app.extensions["db_engine"].dispose()
        server_lock.close()


def _exit_in(main: Any) -> Any:
    """A signal handler that ends `main` (a green thread) with SystemExit from the hub, wherever the signal lands."""
    from eventlet.hubs import get_hub

    def handler(*_: Any) -> None:
        get_hub().schedule_call_global(0, main.throw, SystemExit(0))

    return handler


def _url_port(url: str) -> int | None:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    try:
        return u.port or {"http": 80, "https": 443}.get(u.scheme)
    except ValueError:
        return None


@main.command("front-config")
@click.option("--backend", "backends", multiple=True, required=True,
              help="A server process (meeting-server serve --port P) as host:port; repeatable, one per process.")
@click.option("--port", default=8080, show_default=True, type=int, help="The port phones use (the front's).")
@click.option("--bind", default="0.0.0.0", show_default=True, help="The address the front listens on.")
@click.option("--check-interval-ms", default=1000, show_default=True, type=int,
              help="How often the front asks each process's /healthz (out after 2 failures).")
@click.option("--maxconn", default=5000, show_default=True, type=click.IntRange(1),
              help="Connections the front accepts at once (each phone holds one; 1,500 phones measured).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the configuration here (e.g. /etc/haproxy/haproxy.cfg) instead of printing it.")
def front_config(backends: tuple[str, ...], port: int, bind: str, check_interval_ms: int, maxconn: int,
                 out: Path | None) -> None:
    """Write HAProxy's configuration for a front over several server processes (balance by phone address,
    WebSockets passed through, /healthz checks): see docs/ARCHITECTURE.md, "Several processes"."""
    from meeting_server import front

    try:
        parsed = [front.Backend.parse(b) for b in backends]
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    text = front.haproxy_config(parsed, port, bind, check_interval_ms=check_interval_ms, maxconn=maxconn)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Đã ghi {out} (written). Kiểm tra (check): haproxy -c -f {out}")


@main.command("links")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts and load tests).")
@click.option("--base", default=None, help="Base URL to use instead of the one the server recorded.")
@DATABASE_URL_OPTION
def links_cmd(data_dir: Path | None, as_json: bool, base: str | None, database_url: str | None) -> None:
    """Print the current meeting's join URLs."""
    from meeting_server.services import links, meetings
    from meeting_server.store import db

    app = _app(data_dir, database_url)
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
@DATABASE_URL_OPTION
@click.option("--to", "to_url", default=None, metavar="postgresql://…",
              help="Move the data directory's SQLite database into this empty PostgreSQL database, checked (row "
                   "counts, the audit chain, the signed minutes) before it is committed; the server must be stopped. "
                   "Then serve with --database-url. See docs/OPERATIONS.md.")
def migrate(data_dir: Path | None, database_url: str | None, to_url: str | None) -> None:
    """Bring the database schema up to date (the server also does it at start), or with --to move it into
    PostgreSQL."""
    if to_url is None:
        _app(data_dir, database_url)
        click.echo("Cơ sở dữ liệu đã cập nhật (database is up to date).")
        return
    from meeting_server.config import default_data_dir
    from meeting_server.domain.errors import DomainError
    from meeting_server.services import pgmigrate

    data = (data_dir or default_data_dir()).resolve()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise click.ClickException("PostgreSQL cần gói `psycopg`: pip install 'meeting-server[postgresql]' "
                                   "(--to needs the psycopg package).") from None
    try:
        done = pgmigrate.migrate_to_postgresql(
            data, to_url, progress=lambda table, n: click.echo(f"  {table}: {n} dòng (rows)"))
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"Đã kiểm tra: số dòng của {len(done.counts)} bảng, {done.pages_indexed} trang trong chỉ mục, nhật ký "
               f"{done.audit_count} bản ghi (mã cuối {done.audit_head}), {len(done.minutes)} biên bản đã ký "
               "(checked: row counts, page index, audit chain, signed minutes).")
    click.echo(f"Đã chuyển sang PostgreSQL trong {done.seconds} s (moved to PostgreSQL). Chạy máy chủ (serve) với: "
               f"meeting-server serve --data-dir {data} --database-url <địa chỉ trên>")


@main.command("seed-demo")
@DATA_DIR_OPTION
@DATABASE_URL_OPTION
def seed_demo(data_dir: Path | None, database_url: str | None) -> None:
    """Add the demo meeting (even when other meetings exist)."""
    from meeting_server.services import demo
    from meeting_server.store import db

    app = _app(data_dir, database_url)
    with db.standalone_session(app) as s:
        m = demo.seed(s)
        click.echo(f"Kỳ họp mẫu số {m.id}.")


@main.command()
@DATA_DIR_OPTION
@click.option("--host", default="0.0.0.0", show_default=True, help="Address the server listens on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port the server listens on.")
@click.option("--mdns", is_flag=True, help="Also look for our own mDNS advertisement (up to 3 s).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTTPS certificate to check (default: $MEETING_TLS_CERT, else /etc/default/meeting-server).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Its private key (default: $MEETING_TLS_KEY, else /etc/default/meeting-server).")
@click.option("--public-name", default=None,
              help="The name phones use (default: $MEETING_PUBLIC_NAME, else /etc/default/meeting-server).")
@click.option("--tls-root", "tls_roots", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A root CA (PEM) phones trust besides the public ones this box knows; repeatable.")
@click.option("--front", "front_url", default=None, envvar="MEETING_FRONT_URL",
              help="Several processes: the front's URL (HAProxy), checked through its /healthz.")
@click.option("--backend", "backends", multiple=True,
              help="Several processes: a server process behind the front, host:port; repeatable.")
@click.option("--message-queue", default=None, envvar="MEETING_MESSAGE_QUEUE",
              help="Several processes: the Redis URL joining them, checked with PING.")
@DATABASE_URL_OPTION
def doctor(data_dir: Path | None, host: str, port: int, mdns: bool, as_json: bool, lang: str,
           tls_cert: Path | None, tls_key: Path | None, public_name: str | None, tls_roots: tuple[Path, ...],
           front_url: str | None, backends: tuple[str, ...], message_queue: str | None,
           database_url: str | None) -> None:
    """Check the mini-PC before a sitting: address, port, mDNS, data directory, disk, fonts, LibreOffice,
    signing certificate, HTTPS certificate, clock."""
    from meeting_server import doctor as doc
    from meeting_server import netaddr, tls
    from meeting_server.config import default_data_dir

    d = (data_dir or default_data_dir()).resolve()
    cert = d / "signing" / "ca-cert.pem"  # the council CA made at the first signing (services.minutes)
    # The service reads its settings from /etc/default/meeting-server; a technician's shell has not: read it too.
    saved = tls.settings_from_file()
    tls_cert = tls_cert or _path(tls.setting(tls.CERT_ENV, saved))
    tls_key = tls_key or _path(tls.setting(tls.KEY_ENV, saved))
    public_name = public_name or tls.setting(tls.NAME_ENV, saved)
    checks = doc.run_checks(doc.DoctorConfig(data_dir=d, host=host, port=port, cert_path=cert,
                                             pinned=netaddr.pinned_from_env(), check_mdns=mdns,
                                             tls_cert=tls_cert, tls_key=tls_key, public_name=public_name,
                                             tls_roots=tls_roots, front_url=front_url, backends=backends,
                                             message_queue=message_queue))
    checks += _readiness_checks(d, database_url)
    click.echo(doc.as_json(checks) if as_json else doc.format_report(checks, lang))
    sys.exit(doc.exit_code(checks))


def _readiness_checks(data_dir: Path, database_url: str | None = None) -> list[Any]:
    """The current meeting's readiness before the sitting (services/readiness.py: no chair, no secretary, absent
    signers, votes without documents, cards not printed) as doctor's warnings: the room's set-up, not the machine's
    health, so they never fail the exit code. Read only (no migration): nothing when there is no database yet or its
    schema is not this version's. The rows come from `database_url` (PostgreSQL) when given, else from the data
    directory's SQLite file."""
    if not database_url and not (data_dir / "meeting.db").is_file():
        return []
    from babel.support import Translations
    from sqlalchemy.orm import Session

    from meeting_server import doctor as doc
    from meeting_server.config import ROOT
    from meeting_server.services import meetings, readiness
    from meeting_server.store import db

    english = Translations.load(str(ROOT / "meeting_server" / "translations"), ["en"])
    engine = db.make_engine(db.normalize_url(database_url) if database_url else db.database_url(data_dir))
    try:
        with Session(engine) as s:
            m = meetings.current(s)
            lines = readiness.before_sitting(s, m) if m is not None else []
    except Exception:  # an older schema (not yet migrated by serve): the machine checks still stand
        return []
    finally:
        engine.dispose()
    params = [dict(x.params) for x in lines]
    return [doc.Check("meeting", True, x.message % p if p else x.message,
                      english.gettext(x.message) % p if p else english.gettext(x.message), "warn")
            for x, p in zip(lines, params, strict=True)]


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


# --- minutes: verify, verify-log, backup, restore ---


@main.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A trusted CA certificate (PEM); repeatable. The data directory's own CA is added when given.")
@DATA_DIR_OPTION
@DATABASE_URL_OPTION
def verify_cmd(pdf: Path, trust: tuple[Path, ...], data_dir: Path | None, database_url: str | None) -> None:
    """Check a signed minutes PDF: each signature, changes after signing, and the record against the audit log."""
    from meeting_server.domain.errors import DomainError
    from meeting_server.services import minutes as minutes_service
    from meeting_server.store import db

    app = None
    if data_dir is not None and (database_url or (data_dir / "meeting.db").is_file()):
        try:
            app = _app(data_dir, database_url)
        except DomainError as err:  # pragma: no cover
            raise click.ClickException(err.message) from err
    roots = minutes_service.trust_roots(app, [p.read_bytes() for p in trust])
    if app is None and data_dir is not None and (data_dir / "signing" / "ca-cert.pem").is_file():
        roots.append((data_dir / "signing" / "ca-cert.pem").read_bytes())  # a data directory without a database
    if app is None:
        report = minutes_service.verify(pdf.read_bytes(), roots, None)
    else:
        with db.standalone_session(app) as s:
            report = minutes_service.verify(pdf.read_bytes(), roots, s)
    if report["error"]:
        click.echo(report["error"])
        sys.exit(2)
    if not report["signatures"]:
        click.echo("Tệp không có chữ ký số nào (no signature).")
        sys.exit(1)
    for sig in report["signatures"]:
        click.echo(("OK   " if sig["ok"] else "LỖI  ") + sig["message"])
    ok = bool(report["ok"])
    if report["chain"] is not None:
        click.echo(report["chain"]["message"])
    elif report["audit_head"]:
        click.echo(f"Hồ sơ đính kèm, mã cuối nhật ký {report['audit_head']} (dùng --data-dir để đối chiếu).")
    click.echo("Kết luận: " + ("biên bản toàn vẹn." if ok else "biên bản KHÔNG toàn vẹn."))
    sys.exit(0 if ok else 1)


@main.command("verify-log")
@DATA_DIR_OPTION
@DATABASE_URL_OPTION
@click.option("--no-record", is_flag=True, help="Do not record the check in the audit log (examine a copy as is).")
def verify_log(data_dir: Path | None, database_url: str | None, no_record: bool) -> None:
    """Check the record: the keyed audit chain, its checkpoints and the heads in the signed minutes, and every poll
    result, ballot, attendance and speech against it; exit 1 naming the first bad entry or checkpoint. On
    PostgreSQL the rows are read from --database-url, the key and the anchors from the data directory."""
    import time

    from meeting_server.config import default_data_dir
    from meeting_server.domain.errors import DomainError
    from meeting_server.services import integrity as audit_service
    from meeting_server.store import audit_log

    data = (data_dir or default_data_dir()).resolve()
    if database_url and not audit_log.is_url(database_url):
        raise click.ClickException("--database-url: chỉ hỗ trợ postgresql://… (only postgresql://… URLs).")
    db_path = audit_log.source_of(data, database_url)
    started = time.perf_counter()
    try:
        check = audit_service.check_database(db_path, data)
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(2)
    for line in check.lines():
        click.echo(line)
    click.echo(f"({check.chain.count} bản ghi, {time.perf_counter() - started:.2f} s)")
    click.echo("Kết luận: " + ("hồ sơ toàn vẹn." if check.ok else "hồ sơ KHÔNG toàn vẹn."))
    if not no_record:
        brk = check.chain.first_break
        try:
            audit_log.append_raw(db_path, audit_log.load_key(data), None, "audit.verified", "cli:verify-log", {
                "ok": check.ok, "count": check.chain.count, "anchors": check.anchors,
                "first_break": None if brk is None else {"seq": brk.seq, "kind": brk.kind},
                "problems": len(check.problems)}, data_dir=data)
        except Exception as exc:  # a read-only copy: the verdict above stands
            click.echo(f"(Không ghi được kết quả kiểm tra vào nhật ký: {exc})", err=True)
    sys.exit(0 if check.ok else 1)


@main.command("backup")
@DATA_DIR_OPTION
@DATABASE_URL_OPTION
@click.option("--reason", default="manual", show_default=True, help="Word put in the backup's file name.")
def backup_cmd(data_dir: Path | None, database_url: str | None, reason: str) -> None:
    """Make an online backup of the database now (SQLite backup API; on PostgreSQL pg_dump's custom format), kept
    with the automatic ones in the data directory's backups folder."""
    from meeting_server.domain.errors import DomainError
    from meeting_server.services import backup

    try:
        path = backup.backup_now(_app(data_dir, database_url), reason)
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"Đã sao lưu: {path}")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DATA_DIR_OPTION
@DATABASE_URL_OPTION
@click.option("--allow-rollback", is_flag=True,
              help="Restore even when the backup is older than a closed poll or signed minutes of the current record.")
def restore_cmd(file: Path, data_dir: Path | None, database_url: str | None, allow_rollback: bool) -> None:
    """Replace the database with a backup (stop the server first). The backup's record is checked as verify-log
    does; a damaged or altered backup is refused, and one older than a signed act needs --allow-rollback. With
    --database-url: a pg_dump file (`backup` on PostgreSQL) into that database, which may have been dropped."""
    from meeting_server.config import default_data_dir
    from meeting_server.domain.errors import DomainError
    from meeting_server.services import backup

    target = (data_dir or default_data_dir()).resolve()
    target.mkdir(parents=True, exist_ok=True)
    try:
        if database_url:
            from meeting_server.store import db

            if not db.is_postgresql(database_url):
                raise click.ClickException("--database-url: chỉ hỗ trợ postgresql://… (only postgresql://… URLs).")
        done = backup.restore(target, file, allow_rollback=allow_rollback, database_url=database_url)
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    if done.rolled_back:
        click.echo("CẢNH BÁO: đã khôi phục về trước " + "; ".join(f"{cp.event} số {cp.seq} ({cp.source})"
                                                             for cp in done.rolled_back) + ".", err=True)
    if done.saved is not None:
        click.echo(f"Cơ sở dữ liệu cũ đã được sao lưu: {done.saved}")
    if done.saved_database is not None:
        click.echo(f"Cơ sở dữ liệu cũ được giữ lại với tên {done.saved_database} (xóa bằng dropdb khi không cần).")
    more = " --database-url …" if database_url else ""
    click.echo(f"Đã khôi phục từ {file}. Hãy chạy: meeting-server verify-log --data-dir {target}{more}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
