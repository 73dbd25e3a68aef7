"""`meeting-server doctor`: check the mini-PC before a sitting, in Vietnamese and English.

Each check returns a `Check`; `level` is "ok", "warn" (works, but look at it) or "fail" (something a
sitting needs is broken). Nothing here imports Flask, so the checks run even when the app cannot start.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from meeting_server import netaddr, office, tls
from meeting_server.faults import LOW_FREE_BYTES

GB = 1024**3
WARN_FREE_BYTES = LOW_FREE_BYTES  # the clerk console warns under the same (meeting_server/faults.py)
FAIL_FREE_BYTES = 100 * 1024**2
# The software did not exist before 2025, so an earlier date means the clock was never set
# (a mini-PC without a working RTC battery boots at its firmware's epoch). Beyond 2045 is a typo.
MIN_YEAR = 2025
MAX_YEAR = 2045
FONT_STYLES = ("Regular", "Bold", "Italic", "BoldItalic")
# static/ sits beside the package: the server runs from its checkout (scripts/serve, scripts/install-minipc).
PACKAGE_STATIC = Path(__file__).resolve().parent.parent / "static"


@dataclass(frozen=True)
class DoctorConfig:
    """What doctor needs to know; the CLI fills it from its options."""

    data_dir: Path
    host: str = "0.0.0.0"
    port: int = 8080
    static_dir: Path = PACKAGE_STATIC
    cert_path: Path | None = None
    pinned: str | None = None  # interface name or IPv4 address, as in netaddr.PIN_ENV
    check_mdns: bool = False  # browse for our own advertisement (takes up to 3 s)
    tls_cert: Path | None = None  # HTTPS (serve --tls-cert): checked for its name, dates, key and chain
    tls_key: Path | None = None
    public_name: str | None = None
    tls_roots: tuple[Path, ...] = ()  # roots trusted besides the system's (a test CA, a provincial root)
    # Several processes behind a front (docs/ARCHITECTURE.md, "Several processes"): checked when given.
    front_url: str | None = None  # the front phones use, e.g. http://10.0.0.2:8080
    backends: tuple[str, ...] = ()  # each server process behind it, host:port
    message_queue: str | None = None  # the Redis joining them (serve --message-queue)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail_vi: str
    detail_en: str
    level: str = "ok"  # ok | warn | fail


def _ok(name: str, vi: str, en: str) -> Check:
    return Check(name, True, vi, en, "ok")


def _warn(name: str, vi: str, en: str) -> Check:
    return Check(name, True, vi, en, "warn")


def _fail(name: str, vi: str, en: str) -> Check:
    return Check(name, False, vi, en, "fail")


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_address(config: DoctorConfig) -> tuple[Check, netaddr.AddressChoice]:
    """Which address phones will be given, and why."""
    choice = netaddr.current_choice(config.host, config.pinned or netaddr.pinned_from_env())
    vi, en = netaddr.describe(choice)
    url = netaddr.base_url(choice.address, config.port)
    if choice.no_network:
        return _warn(
            "address",
            f"{vi}. Hãy cắm mạng hoặc bật điểm phát Wi-Fi.",
            f"{en}. Plug in a network cable or start the Wi-Fi hotspot.",
        ), choice
    if choice.reason == "bound" and netaddr.is_loopback(choice.address):
        return _warn(
            "address", f"{vi}: chỉ máy này truy cập được {url}", f"{en}: only this machine can open {url}"
        ), choice
    return _ok("address", f"{vi} → {url}", f"{en} → {url}"), choice


def _healthz(host: str, port: int, https: bool = False) -> dict | None:
    import ssl

    # Only "is it our server?": the certificate itself is checked by check_tls, by name, not by this address.
    context = ssl._create_unverified_context() if https else None
    try:
        with urllib.request.urlopen(f"{'https' if https else 'http'}://{host}:{port}/healthz", timeout=2,
                                    context=context) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:  # 503: our server, alive, waiting for its database (web/join.py)
        try:
            body = json.loads(exc.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        return body if isinstance(body, dict) and exc.code == 503 and body.get("status") == "waiting" else None
    except (OSError, ValueError, urllib.error.URLError):
        return None


def check_port(config: DoctorConfig) -> Check:
    """The port is either answered by our server (/healthz) or free for it to take."""
    host = (
        "127.0.0.1" if netaddr.is_wildcard(config.host) or netaddr.is_loopback(config.host) else config.host
    )
    try:
        with socket.create_connection((host, config.port), timeout=1):
            listening = True
    except OSError:
        listening = False
    if listening:
        health = _healthz(host, config.port, https=config.tls_cert is not None)
        if health and health.get("status") == "waiting":
            return _warn(
                "port",
                f"Máy chủ đang chạy ở cổng {config.port} nhưng đang chờ cơ sở dữ liệu (/healthz: 503).",
                f"The server is running on port {config.port} but waits for its database (/healthz: 503).",
            )
        if health and health.get("status") == "ok":
            return _ok(
                "port",
                f"Máy chủ đang chạy và trả lời ở cổng {config.port} (/healthz: ok).",
                f"The server is running and answers on port {config.port} (/healthz: ok).",
            )
        return _fail(
            "port",
            f"Cổng {config.port} đang bị một chương trình khác chiếm.",
            f"Port {config.port} is taken by another program.",
        )
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("" if netaddr.is_wildcard(config.host) else config.host, config.port))
    except OSError as exc:
        if exc.errno == errno.EACCES:
            return _fail(
                "port",
                f"Không có quyền dùng cổng {config.port} (cổng dưới 1024 cần quyền root).",
                f"No permission for port {config.port} (ports below 1024 need root).",
            )
        return _fail(
            "port", f"Không dùng được cổng {config.port}: {exc}", f"Port {config.port} cannot be used: {exc}"
        )
    finally:
        probe.close()
    return _ok(
        "port",
        f"Cổng {config.port} còn trống (máy chủ chưa chạy).",
        f"Port {config.port} is free (the server is not running).",
    )


def check_mdns(config: DoctorConfig, choice: netaddr.AddressChoice) -> Check:
    """Browse for our own advertisement on the chosen interface: `_https._tcp` when HTTPS is configured (the
    certificate given or in the service's settings), else `_http._tcp`."""
    from meeting_server import discovery

    interface = "127.0.0.1" if choice.no_network or netaddr.is_loopback(choice.address) else choice.address
    kind = discovery.service_type(config.tls_cert is not None)
    try:
        found = discovery.browse([interface], timeout=3.0, service_type=kind)
    except Exception as exc:
        return _warn(
            "mdns",
            f"Không dò được mDNS trên {interface}: {exc}",
            f"Could not browse mDNS on {interface}: {exc}",
        )
    ours = [name for name, info in found.items() if info["port"] == config.port]
    if ours:
        names = ", ".join(n.removesuffix("." + kind) for n in ours)
        shown = kind.removesuffix(".local.")
        return _ok("mdns", f"Đang quảng bá trên mạng ({shown}): {names}",
                   f"Advertised on the network ({shown}): {names}")
    return _warn(
        "mdns",
        f"Không thấy quảng bá mDNS {kind.removesuffix('.local.')} cho cổng {config.port} trên {interface}.",
        f"No mDNS {kind.removesuffix('.local.')} advertisement for port {config.port} seen on {interface}.",
    )


def check_data_dir(data_dir: Path) -> Check:
    """The data directory exists (or can be created) and accepts a file."""
    if not data_dir.exists():
        parent = _existing_ancestor(data_dir)
        if os.access(parent, os.W_OK):
            return _warn(
                "data_dir",
                f"Thư mục dữ liệu {data_dir} chưa có; sẽ được tạo khi chạy.",
                f"Data directory {data_dir} does not exist yet; it will be created.",
            )
        return _fail(
            "data_dir",
            f"Thư mục dữ liệu {data_dir} chưa có và không tạo được.",
            f"Data directory {data_dir} is missing and cannot be created.",
        )
    if not data_dir.is_dir():
        return _fail("data_dir", f"{data_dir} không phải là thư mục.", f"{data_dir} is not a directory.")
    probe = data_dir / f".doctor-{os.getpid()}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"ok")
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
    except OSError as exc:
        return _fail(
            "data_dir",
            f"Không ghi được vào {data_dir}: {exc.strerror}",
            f"Cannot write to {data_dir}: {exc.strerror}",
        )
    return _ok(
        "data_dir", f"Ghi được vào thư mục dữ liệu {data_dir}.", f"Data directory {data_dir} is writable."
    )


def check_disk(data_dir: Path) -> Check:
    """Free space where documents and backups go: warn under 1 GB."""
    usage = shutil.disk_usage(_existing_ancestor(data_dir))
    size = f"{usage.free / GB:.1f} GB" if usage.free >= GB else f"{usage.free // 1024**2} MB"
    vi, en = f"Ổ đĩa dữ liệu ({data_dir}) còn trống {size}", f"Data disk ({data_dir}): {size} free"
    if usage.free < FAIL_FREE_BYTES:
        return _fail(
            "disk",
            f"{vi}: không đủ để lưu tài liệu và bản sao lưu.",
            f"{en}: not enough for documents and backups.",
        )
    if usage.free < WARN_FREE_BYTES:
        return _warn(
            "disk",
            f"{vi} (dưới 1 GB): nên dọn bớt hoặc chép bản sao lưu ra ngoài.",
            f"{en} (under 1 GB): clean up or move backups elsewhere.",
        )
    return _ok("disk", f"{vi}.", f"{en}.")


def check_fonts(static_dir: Path) -> Check:
    """Liberation Serif (with Vietnamese glyphs) for the minutes and stamped pages."""
    fonts = static_dir / "fonts"
    missing = [s for s in FONT_STYLES if not (fonts / f"LiberationSerif-{s}.ttf").is_file()]
    if not missing:
        return _ok(
            "fonts",
            f"Đủ phông chữ Liberation Serif trong {fonts}.",
            f"Liberation Serif fonts present in {fonts}.",
        )
    names = ", ".join(f"LiberationSerif-{s}.ttf" for s in missing)
    hint_vi = hint_en = ""
    if Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf").is_file():
        hint_vi = " (có sẵn trong /usr/share/fonts/truetype/liberation2, chép sang được)"
        hint_en = " (available in /usr/share/fonts/truetype/liberation2 to copy)"
    if "Regular" in missing:
        return _fail(
            "fonts",
            f"Thiếu phông chữ cho biên bản: {names} trong {fonts}{hint_vi}.",
            f"Fonts for the minutes are missing: {names} in {fonts}{hint_en}.",
        )
    return _warn(
        "fonts",
        f"Thiếu kiểu chữ: {names} trong {fonts}{hint_vi}.",
        f"Font styles missing: {names} in {fonts}{hint_en}.",
    )


def check_libreoffice() -> Check:
    """LibreOffice converts Word, Excel and PowerPoint uploads to PDF, in its box (meeting_server/office.py): every
    part the formats need, and namespaces for the box (or the administrator's explicit choice to go without)."""
    path = office.soffice_path()
    if path is None:
        return _fail(
            "libreoffice",
            "Chưa cài LibreOffice: tệp Word/Excel/PowerPoint tải lên sẽ bị từ chối, chỉ nhận PDF và ảnh "
            "(chạy lại scripts/serve, hoặc apt install libreoffice-writer-nogui libreoffice-calc-nogui).",
            "LibreOffice not installed: Word/Excel/PowerPoint uploads will be refused, only PDF and images work "
            "(run scripts/serve again, or apt install libreoffice-writer-nogui libreoffice-calc-nogui).",
        )
    missing = sorted({c for f in office.COMPONENT_OF_FORMAT if (c := office.missing_component(path, f))})
    if missing:
        packages = " ".join(office.PACKAGE_OF_COMPONENT[c] for c in missing)
        return _fail(
            "libreoffice",
            f"LibreOffice ({path}) thiếu phần {', '.join(missing)}: tệp loại đó sẽ bị từ chối "
            f"(apt install {packages}).",
            f"LibreOffice ({path}) lacks {', '.join(missing)}: such files will be refused (apt install {packages}).",
        )
    if not office.box_required():
        return _warn(
            "libreoffice",
            f"Có LibreOffice ({path}), nhưng chạy KHÔNG cách ly mạng vì đã đặt {office.BOX_SETTING}=off: "
            "tệp tải lên có thể khiến máy chủ truy cập mạng.",
            f"LibreOffice found ({path}), but it runs WITHOUT the network box because {office.BOX_SETTING}=off: "
            "an upload may make the server reach the network.",
        )
    available, why = office.box_available()
    if not available:
        return _fail(
            "libreoffice",
            f"Có LibreOffice ({path}) nhưng máy không tạo được vùng cách ly mạng (namespace: {why}), nên tệp "
            f"Word/Excel bị từ chối. Hãy bật user namespace (sysctl kernel.unprivileged_userns_clone=1), "
            f"hoặc chấp nhận rủi ro bằng {office.BOX_SETTING}=off.",
            f"LibreOffice found ({path}) but this machine cannot make its network box (namespaces: {why}), so "
            f"Word/Excel uploads are refused. Enable user namespaces (sysctl kernel.unprivileged_userns_clone=1), "
            f"or accept the risk with {office.BOX_SETTING}=off.",
        )
    return _ok(
        "libreoffice",
        f"Có LibreOffice ({path}) để chuyển Word/Excel/PowerPoint sang PDF, chạy trong vùng cách ly không có mạng.",
        f"LibreOffice found ({path}) to convert Word/Excel/PowerPoint to PDF, run in a box without network.",
    )


def check_certificate(cert_path: Path | None, now: datetime) -> Check:
    """The certificate that signs the minutes; absent means minutes are produced unsigned."""
    if cert_path is None:
        return _warn(
            "certificate",
            "Chưa cấu hình chứng thư ký số: biên bản sẽ không được ký.",
            "No signing certificate configured: minutes will not be signed.",
        )
    if not cert_path.is_file():
        return _warn(
            "certificate",
            f"Không thấy chứng thư ký số {cert_path}: biên bản sẽ không được ký.",
            f"Signing certificate {cert_path} not found: minutes will not be signed.",
        )
    expires = _certificate_expiry(cert_path)
    if expires is None:
        return _ok(
            "certificate", f"Có chứng thư ký số {cert_path}.", f"Signing certificate {cert_path} present."
        )
    day = expires.strftime("%d/%m/%Y")
    if expires <= now:
        return _fail(
            "certificate",
            f"Chứng thư ký số {cert_path} đã hết hạn ngày {day}.",
            f"Signing certificate {cert_path} expired on {expires:%Y-%m-%d}.",
        )
    if expires - now < timedelta(days=30):
        return _warn(
            "certificate",
            f"Chứng thư ký số sắp hết hạn (ngày {day}).",
            f"Signing certificate expires soon ({expires:%Y-%m-%d}).",
        )
    return _ok(
        "certificate",
        f"Có chứng thư ký số {cert_path}, hạn đến {day}.",
        f"Signing certificate {cert_path} valid until {expires:%Y-%m-%d}.",
    )


def check_tls(config: DoctorConfig, now: datetime) -> list[Check]:
    """The HTTPS certificate (serve --tls-cert): its name, its dates (warn 30 days ahead), its key, its chain."""
    if config.tls_cert is None:
        return [_warn("tls", "Chưa bật HTTPS: điện thoại nói chuyện với máy chủ không mã hóa; ai có mật khẩu Wi-Fi "
                             "cũng đọc được mã thẻ (xem docs/SECURITY.md).",
                      "HTTPS is off: phones talk to the server in clear text; anyone with the Wi-Fi password can "
                      "read card tokens (see docs/SECURITY.md).")]
    findings = tls.check(config.tls_cert, config.tls_key, config.public_name, now, config.tls_roots)
    return [Check(f.name, f.level != "fail", f.vi, f.en, f.level) for f in findings]


def _certificate_expiry(cert_path: Path) -> datetime | None:
    """Expiry of a PEM or DER X.509 file; None for PKCS#12 (needs its password) or unreadable."""
    try:
        from cryptography import x509

        data = cert_path.read_bytes()
        cert = (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN CERTIFICATE" in data
            else x509.load_der_x509_certificate(data)
        )
        return cert.not_valid_after_utc
    except Exception:
        return None


def check_clock(now: datetime, data_dir: Path | None = None) -> Check:
    """The clock is plausible: meeting times, audit entries and signatures depend on it."""
    shown = now.strftime("%d/%m/%Y %H:%M UTC")
    rtc_vi = " Máy không có pin đồng hồ (RTC) có thể khởi động với ngày sai: hãy chỉnh lại giờ."
    rtc_en = " A mini-PC without an RTC battery may boot with a wrong date: set the clock."
    if now.year < MIN_YEAR or now.year > MAX_YEAR:
        return _fail(
            "clock",
            f"Đồng hồ máy đang là {shown}, không hợp lý.{rtc_vi}",
            f"The clock says {now:%Y-%m-%d %H:%M} UTC, which is not plausible.{rtc_en}",
        )
    newest = _newest_mtime(data_dir) if data_dir else None
    if newest is not None and newest > now + timedelta(hours=1):
        return _fail(
            "clock",
            f"Đồng hồ ({shown}) chậm hơn thời điểm dữ liệu được ghi lần cuối "
            f"({newest:%d/%m/%Y %H:%M}).{rtc_vi}",
            f"The clock ({now:%Y-%m-%d %H:%M}) is behind the last data write "
            f"({newest:%Y-%m-%d %H:%M}).{rtc_en}",
        )
    return _ok("clock", f"Đồng hồ máy: {shown}.", f"Clock: {now:%Y-%m-%d %H:%M} UTC.")


def _newest_mtime(data_dir: Path) -> datetime | None:
    try:
        stamps = [entry.stat().st_mtime for entry in data_dir.iterdir()]
    except OSError:
        return None
    return datetime.fromtimestamp(max(stamps), UTC) if stamps else None


def _url_healthz(url: str) -> dict | None:
    u = urlsplit(url if "//" in url else f"http://{url}")
    if not u.hostname:
        return None
    https = u.scheme == "https"
    return _healthz(u.hostname, u.port or (443 if https else 80), https=https)


def _healthy(url: str) -> bool:
    """Whether `url` answers /healthz with status ok (the front, or one backend)."""
    h = _url_healthz(url)
    return bool(h and h.get("status") == "ok")


def check_chain(config: DoctorConfig) -> list[Check]:
    """Several processes: the front answers /healthz (through it, some live backend), each backend answers its own,
    and Redis answers PING. A dead backend is a warning while others serve (the front takes it out); none alive, no
    front or no Redis is a failure: phones on one process would not hear the others."""
    from meeting_server import front

    checks: list[Check] = []
    if config.front_url:
        through = _url_healthz(config.front_url)
        if through and through.get("status") == "waiting":
            checks.append(_warn("front", f"Cổng vào {config.front_url} trả lời, nhưng máy chủ đang chờ cơ sở dữ liệu "
                                         "(/healthz: 503).",
                                f"The front {config.front_url} answers, but the server waits for its database "
                                "(/healthz: 503)."))
        elif _healthy(config.front_url):
            checks.append(_ok("front", f"Cổng vào {config.front_url} trả lời (/healthz: ok).",
                              f"The front {config.front_url} answers (/healthz: ok)."))
        else:
            checks.append(_fail("front", f"Cổng vào {config.front_url} không trả lời /healthz: điện thoại không vào "
                                         "được. Hãy kiểm tra HAProxy (systemctl status haproxy).",
                                f"The front {config.front_url} does not answer /healthz: phones cannot get in. "
                                "Check HAProxy (systemctl status haproxy)."))
    alive = 0
    for b in config.backends:
        h = _url_healthz(b)
        if h and h.get("status") == "waiting":
            alive += 1
            checks.append(_warn("backend", f"Tiến trình máy chủ {b} đang chờ cơ sở dữ liệu (/healthz: 503).",
                                f"Server process {b} waits for its database (/healthz: 503)."))
        elif h and h.get("status") == "ok":
            alive += 1
            checks.append(_ok("backend", f"Tiến trình máy chủ {b} trả lời (/healthz: ok).",
                              f"Server process {b} answers (/healthz: ok)."))
        else:
            checks.append(_warn("backend", f"Tiến trình máy chủ {b} không trả lời; cổng vào chuyển điện thoại sang "
                                           "các tiến trình khác.",
                                f"Server process {b} does not answer; the front sends phones to the others."))
    if config.backends and not alive:
        checks.append(_fail("backend", "Không tiến trình máy chủ nào trả lời.", "No server process answers."))
    if config.message_queue:
        why = front.redis_ping(config.message_queue)
        if why is None:
            checks.append(_ok("redis", f"Redis {config.message_queue} trả lời.",
                              f"Redis {config.message_queue} answers."))
        else:
            checks.append(_fail("redis", f"Redis {config.message_queue} không trả lời ({why}): các tiến trình không "
                                         "nghe được nhau.",
                                f"Redis {config.message_queue} does not answer ({why}): the processes cannot hear "
                                "each other."))
    return checks


def run_checks(config: DoctorConfig, now: datetime | None = None) -> list[Check]:
    """All checks in the order a technician would fix them."""
    now = now or datetime.now(UTC)
    address, choice = check_address(config)
    checks = [address, check_port(config)]
    if config.check_mdns:
        checks.append(check_mdns(config, choice))
    checks += [
        check_data_dir(config.data_dir),
        check_disk(config.data_dir),
        check_fonts(config.static_dir),
        check_libreoffice(),
        check_certificate(config.cert_path, now),
        *check_tls(config, now),
        check_clock(now, config.data_dir),
        *check_chain(config),
    ]
    return checks


def format_report(checks: Sequence[Check], lang: str = "vi") -> str:
    """Plain-text report, one line per check, e.g. `[OK]   port: ...`."""
    tags = {"ok": "[OK]  ", "warn": "[WARN]", "fail": "[FAIL]"}
    lines = [f"{tags[c.level]} {c.name}: {c.detail_vi if lang == 'vi' else c.detail_en}" for c in checks]
    return "\n".join(lines)


def as_json(checks: Sequence[Check]) -> str:
    """The checks as a JSON list of objects, for `doctor --json`."""
    return json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=2)


def exit_code(checks: Sequence[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 0 if all(c.ok for c in checks) else 1


__all__ = ["Check", "DoctorConfig", "as_json", "exit_code", "format_report", "run_checks"]
