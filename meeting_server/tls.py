"""HTTPS for the room: the certificate the province's IT issues for a name such as hop.<xa>.gov.vn.

`serve --tls-cert/--tls-key` loads it here (`load_for_serving`); `doctor` checks it (`check`: the name, the dates,
the key, the chain); `redirect_app` is the small plain-HTTP listener that sends typed `http://` addresses to
`https://<name>/...`. docs/SECURITY.md says what HTTPS protects in the room and what it does not.
Nothing here imports Flask: doctor runs these checks even when the app cannot start.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

#: Settings read from the environment (the service's /etc/default/meeting-server sets them; the CLI options too).
CERT_ENV = "MEETING_TLS_CERT"
KEY_ENV = "MEETING_TLS_KEY"
NAME_ENV = "MEETING_PUBLIC_NAME"
REDIRECT_ENV = "MEETING_HTTP_REDIRECT_PORT"
#: Where install-minipc writes those settings; `doctor` reads it when the environment does not say.
DEFAULTS_FILE = Path("/etc/default/meeting-server")
#: Roots phones trust, as far as this box can tell: Debian's bundle of the public CAs (package ca-certificates).
SYSTEM_ROOTS = (Path("/etc/ssl/certs/ca-certificates.crt"),)
WARN_BEFORE_EXPIRY = timedelta(days=30)


class TlsSetupError(Exception):
    """The certificate or key cannot serve HTTPS; `vi` and `en` say why (serve stops with both)."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} ({en})")
        self.vi, self.en = vi, en


@dataclass(frozen=True)
class Finding:
    """One result of checking the certificate: `level` is ok, warn or fail, with a Vietnamese and English line."""

    name: str
    level: str
    vi: str
    en: str


def settings_from_file(path: Path = DEFAULTS_FILE) -> dict[str, str]:
    """KEY=VALUE lines of the service's settings file (comments and blanks skipped); {} when unreadable."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return out
    for line in text.splitlines():
        key, eq, value = line.strip().partition("=")
        if eq and key and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def setting(key: str, file_settings: dict[str, str] | None = None) -> str | None:
    """A setting from the environment, else from the service's settings file."""
    value = os.environ.get(key)
    if value:
        return value
    return (file_settings if file_settings is not None else settings_from_file()).get(key) or None


# --- reading -------------------------------------------------------------------------------------------------


def load_chain(cert_path: Path) -> list[Any]:
    """The certificates of a PEM file in order (the server's own first, then the intermediates)."""
    from cryptography import x509

    data = cert_path.read_bytes()
    if b"-----BEGIN CERTIFICATE" in data:
        return list(x509.load_pem_x509_certificates(data))
    return [x509.load_der_x509_certificate(data)]


def _load_key(key_path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    data = key_path.read_bytes()
    if b"-----BEGIN" in data:
        return serialization.load_pem_private_key(data, password=None)
    return serialization.load_der_private_key(data, password=None)


def _public_der(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(public_key.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))


def names_of(cert: Any) -> list[str]:
    """The DNS names a certificate is valid for (its subjectAltName; the CN only when it has none)."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]


def name_matches(pattern: str, name: str) -> bool:
    """RFC 6125 matching as browsers do it: exact, or one `*` standing for the whole left-most label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:] and pattern.count(".") >= 2
    return False


def _self_signed(cert: Any) -> bool:
    return bool(cert.issuer == cert.subject)


def _issued_by(cert: Any, issuer: Any) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:
        return False


def _roots(extra: Iterable[Path]) -> list[Any]:
    import warnings

    from cryptography import x509

    roots: list[Any] = []
    for path in [*SYSTEM_ROOTS, *extra]:
        try:
            with warnings.catch_warnings():  # a few old public roots have a negative serial: still roots
                warnings.simplefilter("ignore")
                roots += x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError):
            continue
    return roots


def _day(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y")


# --- serving -------------------------------------------------------------------------------------------------


def load_for_serving(cert_path: Path, key_path: Path) -> dict[str, Any]:
    """Check that the files can serve HTTPS, and return the arguments `socketio.run` passes to `eventlet.wrap_ssl`.

    Flask-SocketIO's documented way under eventlet is `socketio.run(app, certfile=..., keyfile=...)`; the context
    it builds is `ssl.SSLContext(ssl_version)`, so `PROTOCOL_TLS_SERVER` is passed to get Python's server defaults
    (TLS 1.2 at least) and not the deprecated generic protocol. The certificate file holds the whole chain (the
    server's certificate, then the intermediates): an offline phone cannot fetch a missing intermediate.
    """
    for path, vi, en in ((cert_path, "chứng thư", "certificate"), (key_path, "khóa bí mật", "private key")):
        if not path.is_file():
            raise TlsSetupError(f"Không thấy tệp {vi} HTTPS {path}.", f"HTTPS {en} file {path} not found.")
        if not os.access(path, os.R_OK):
            raise TlsSetupError(f"Không đọc được tệp {vi} HTTPS {path} (quyền truy cập).",
                                f"Cannot read the HTTPS {en} file {path} (permissions).")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise TlsSetupError(f"Khóa bí mật {key_path} không khớp với chứng thư {cert_path}.",
                                f"The private key {key_path} does not match the certificate {cert_path}.") from exc
        raise TlsSetupError(f"Không dùng được chứng thư HTTPS {cert_path} và khóa {key_path}: {exc}",
                            f"Cannot use the HTTPS certificate {cert_path} and key {key_path}: {exc}") from exc
    return {"certfile": str(cert_path), "keyfile": str(key_path), "ssl_version": ssl.PROTOCOL_TLS_SERVER}


def redirect_app(target_base: str) -> Callable[..., Any]:
    """The plain-HTTP listener's WSGI app: every request goes to the same path and query on `target_base`.

    GET and HEAD get 301 (what every phone's browser follows); other methods 308, which keeps the method and body.
    The target is the configured name, never the request's Host header: the certificate is valid for that name only,
    and a forged Host could otherwise send the phone anywhere.
    """
    from urllib.parse import quote

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = quote(environ.get("PATH_INFO", "") or "/", safe="/:@!$&'()*+,;=-._~%")
        query = environ.get("QUERY_STRING", "")
        location = target_base + path + (f"?{query}" if query else "")
        status = "301 Moved Permanently" if environ.get("REQUEST_METHOD") in ("GET", "HEAD") \
            else "308 Permanent Redirect"
        body = f"HTTPS: {location}\n".encode()
        start_response(status, [("Location", location), ("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
        return [body]

    return app


def with_hsts(wsgi_app: Any, max_age: int = 365 * 24 * 3600) -> Any:
    """Add Strict-Transport-Security to every HTTPS answer: a phone that has been here once types `hop.xa.gov.vn`
    and goes straight to HTTPS, so a laptop on the Wi-Fi cannot answer its first plain request instead. Only the
    name, not its subdomains (the province's other services are not ours to bind). Cards and the banner use https
    URLs already; this covers the typed and bookmarked ones."""
    value = f"max-age={max_age}"

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not any(k.lower() == "strict-transport-security" for k, _ in headers):
                headers = [*headers, ("Strict-Transport-Security", value)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return wsgi_app(environ, start)

    return app


# --- doctor --------------------------------------------------------------------------------------------------


def check(cert_path: Path, key_path: Path | None, public_name: str | None, now: datetime,
          extra_roots: Iterable[Path] = ()) -> list[Finding]:
    """The HTTPS certificate's checks for `doctor`: name, dates, key, chain; each with a plain Vietnamese line."""
    try:
        chain = load_chain(cert_path)
    except OSError as exc:
        return [Finding("tls", "fail", f"Không đọc được chứng thư HTTPS {cert_path}: {exc.strerror}.",
                        f"Cannot read the HTTPS certificate {cert_path}: {exc.strerror}.")]
    except ValueError:
        return [Finding("tls", "fail", f"Tệp {cert_path} không phải là chứng thư X.509 (PEM hoặc DER).",
                        f"{cert_path} is not an X.509 certificate (PEM or DER).")]
    if not chain:
        return [Finding("tls", "fail", f"Tệp {cert_path} không chứa chứng thư nào.",
                        f"{cert_path} holds no certificate.")]
    leaf = chain[0]
    return [_check_name(leaf, public_name), _check_dates(leaf, now), _check_key(leaf, key_path),
            _check_chain(chain, list(extra_roots), now)]


def _check_name(leaf: Any, public_name: str | None) -> Finding:
    names = names_of(leaf)
    shown = ", ".join(names) or "(không có)"
    if not public_name:
        return Finding("tls_name", "warn",
                       f"Chưa đặt tên máy chủ (--public-name / {NAME_ENV}); chứng thư dùng cho: {shown}. "
                       "Thẻ QR phải in đúng tên này.",
                       f"No public name set (--public-name / {NAME_ENV}); the certificate is for: {shown}. "
                       "The QR cards must carry that name.")
    if any(name_matches(n, public_name) for n in names):
        return Finding("tls_name", "ok", f"Chứng thư đúng tên {public_name}.",
                       f"The certificate matches the name {public_name}.")
    return Finding("tls_name", "fail",
                   f"Chứng thư cấp cho {shown}, không phải cho {public_name}: điện thoại sẽ báo kết nối không an "
                   "toàn. Hãy xin chứng thư đúng tên hoặc sửa tên máy chủ.",
                   f"The certificate is for {shown}, not {public_name}: phones will warn that the connection is "
                   "not secure. Get a certificate for this name or correct the name.")


def _check_dates(leaf: Any, now: datetime) -> Finding:
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now < start:
        return Finding("tls_dates", "fail",
                       f"Chứng thư HTTPS chỉ có hiệu lực từ ngày {_day(start)}: kiểm tra đồng hồ máy chủ.",
                       f"The HTTPS certificate is valid only from {start:%Y-%m-%d}: check the server's clock.")
    if now >= end:
        return Finding("tls_dates", "fail",
                       f"Chứng thư HTTPS đã hết hạn ngày {_day(end)}: điện thoại sẽ không kết nối được. "
                       "Hãy xin Sở/phòng CNTT cấp chứng thư mới.",
                       f"The HTTPS certificate expired on {end:%Y-%m-%d}: phones will not connect. "
                       "Ask the IT department for a new one.")
    if end - now < WARN_BEFORE_EXPIRY:
        days = (end - now).days
        return Finding("tls_dates", "warn",
                       f"Chứng thư HTTPS sắp hết hạn: còn {days} ngày (đến {_day(end)}). "
                       "Hãy xin cấp chứng thư mới trước ngày đó.",
                       f"The HTTPS certificate expires in {days} days ({end:%Y-%m-%d}). Renew it before then.")
    return Finding("tls_dates", "ok", f"Chứng thư HTTPS còn hạn đến {_day(end)}.",
                   f"The HTTPS certificate is valid until {end:%Y-%m-%d}.")


def _check_key(leaf: Any, key_path: Path | None) -> Finding:
    if key_path is None:
        return Finding("tls_key", "fail", f"Chưa có tệp khóa bí mật HTTPS (--tls-key / {KEY_ENV}).",
                       f"No HTTPS private key file (--tls-key / {KEY_ENV}).")
    try:
        key = _load_key(key_path)
    except OSError as exc:
        return Finding("tls_key", "fail", f"Không đọc được khóa bí mật {key_path}: {exc.strerror}.",
                       f"Cannot read the private key {key_path}: {exc.strerror}.")
    except (ValueError, TypeError):
        return Finding("tls_key", "fail",
                       f"Tệp {key_path} không phải khóa bí mật dùng được (hỏng, hoặc có mật khẩu).",
                       f"{key_path} is not a usable private key (damaged, or protected by a password).")
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        return Finding("tls_key", "fail",
                       f"Khóa bí mật {key_path} không khớp với chứng thư: máy chủ sẽ không chạy HTTPS được. "
                       "Hãy dùng đúng tệp khóa đã tạo khi xin chứng thư.",
                       f"The private key {key_path} does not match the certificate: HTTPS cannot start. "
                       "Use the key file made when the certificate was requested.")
    return Finding("tls_key", "ok", "Khóa bí mật khớp với chứng thư HTTPS.",
                   "The private key matches the HTTPS certificate.")


def _check_chain(chain: list[Any], extra_roots: list[Path], now: datetime) -> Finding:
    for cert, issuer in zip(chain, chain[1:], strict=False):
        if not _issued_by(cert, issuer):
            return Finding("tls_chain", "fail",
                           f"Chuỗi chứng thư sai thứ tự hoặc lẫn chứng thư khác: {issuer.subject.rfc4514_string()} "
                           f"không phải nơi cấp {cert.subject.rfc4514_string()}. Thứ tự đúng: chứng thư máy chủ, "
                           "rồi các chứng thư trung gian.",
                           f"The chain is out of order or mixed: {issuer.subject.rfc4514_string()} did not issue "
                           f"{cert.subject.rfc4514_string()}. Order: the server's certificate, then the "
                           "intermediates.")
    for cert in chain[1:]:
        if now >= cert.not_valid_after_utc:
            return Finding("tls_chain", "fail",
                           f"Chứng thư trung gian {cert.subject.rfc4514_string()} đã hết hạn ngày "
                           f"{_day(cert.not_valid_after_utc)}.",
                           f"The intermediate {cert.subject.rfc4514_string()} expired on "
                           f"{cert.not_valid_after_utc:%Y-%m-%d}.")
    top = chain[-1]
    if _self_signed(top):
        if len(chain) == 1:
            return Finding("tls_chain", "warn",
                           "Chứng thư HTTPS tự ký: điện thoại chỉ tin nếu đã cài nó. Nên dùng chứng thư do CA công "
                           "cộng cấp.",
                           "A self-signed HTTPS certificate: phones trust it only once installed on them. Use one "
                           "issued by a public CA.")
        return Finding("tls_chain", "ok", "Chuỗi chứng thư HTTPS đầy đủ (đến chứng thư gốc).",
                       "The HTTPS chain is complete (up to its root).")
    roots = _roots(extra_roots)
    anchor = next((r for r in roots if r.subject == top.issuer and _issued_by(top, r)), None)
    if anchor is not None:
        return Finding("tls_chain", "ok",
                       f"Chuỗi chứng thư HTTPS đầy đủ, đến gốc {anchor.subject.rfc4514_string()}.",
                       f"The HTTPS chain is complete, up to the root {anchor.subject.rfc4514_string()}.")
    issuer = top.issuer.rfc4514_string()
    if len(chain) == 1:
        return Finding("tls_chain", "fail",
                       f"Thiếu chứng thư trung gian: tệp chỉ có chứng thư máy chủ, do {issuer} cấp. Phòng họp không "
                       "có Internet nên điện thoại không tự tải được: hãy nối chứng thư trung gian vào sau chứng thư "
                       "máy chủ trong cùng tệp (fullchain).",
                       f"The intermediate certificate is missing: the file has only the server's certificate, issued "
                       f"by {issuer}. The room has no Internet, so phones cannot fetch it: append the intermediates "
                       "after the server's certificate in the same file (fullchain).")
    return Finding("tls_chain", "warn",
                   f"Chuỗi chứng thư dừng ở {issuer}, một gốc máy này không biết: điện thoại chỉ tin nếu gốc này có "
                   "sẵn trong máy (CA công cộng).",
                   f"The chain ends at {issuer}, a root this box does not know: phones trust it only if it ships "
                   "with them (a public CA).")


__all__ = ["CERT_ENV", "DEFAULTS_FILE", "Finding", "KEY_ENV", "NAME_ENV", "REDIRECT_ENV", "TlsSetupError",
           "check", "load_chain", "load_for_serving", "name_matches", "names_of", "redirect_app",
           "setting", "settings_from_file", "with_hsts"]
