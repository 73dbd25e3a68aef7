"""A test certificate authority made in the test: a root, an intermediate and a server certificate for a name, as
the province's IT would issue for hop.<xa>.gov.vn; plus the name-to-loopback mapping a test client needs (the
hotspot's DNS does it in the room)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAME = "hop.xa-thu.gov.test"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, names: tuple[str, ...] = (),
          not_before: datetime | None = None, not_after: datetime | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now - timedelta(days=1))
               .not_valid_after(not_after or now + timedelta(days=200))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = (builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                         critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.KeyUsage(
                       digital_signature=True, content_commitment=False, key_encipherment=False,
                       data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                       encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


@dataclass
class TestCA:
    """Files in `where`: root.pem (what phones trust), fullchain.pem (server + intermediate), server.key."""

    where: Path
    root: Path
    fullchain: Path
    leaf_only: Path
    key: Path
    spki_hash: str  # base64 SHA-256 of the server key's SubjectPublicKeyInfo, for Chromium's SPKI list
    root_key: Any
    inter_key: Any
    inter_cert: x509.Certificate
    server_key: Any

    __test__ = False  # not a pytest class

    def issue(self, filename: str, names: tuple[str, ...] = (NAME,), *, not_before: datetime | None = None,
              not_after: datetime | None = None, with_intermediate: bool = True) -> Path:
        """Another server certificate for the same key (other names or dates), as a PEM chain file."""
        cert = _cert(names[0], self.server_key, "Test Intermediate CA", self.inter_key, ca=False, names=names,
                     not_before=not_before, not_after=not_after)
        path = self.where / filename
        path.write_bytes(_pem(cert, self.inter_cert) if with_intermediate else _pem(cert))
        return path

    def other_key(self, filename: str) -> Path:
        path = self.where / filename
        path.write_bytes(_key_pem(ec.generate_private_key(ec.SECP256R1())))
        return path


def make_ca(where: Path, name: str = NAME) -> TestCA:
    """A root, an intermediate and a server certificate for `name` (P-256 keys: quick to make)."""
    where.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Test Root CA", root_key, "Test Root CA", root_key, ca=True,
                 not_after=datetime.now(UTC) + timedelta(days=3650))
    inter = _cert("Test Intermediate CA", inter_key, "Test Root CA", root_key, ca=True,
                  not_after=datetime.now(UTC) + timedelta(days=1825))
    leaf = _cert(name, server_key, "Test Intermediate CA", inter_key, ca=False, names=(name,))
    (where / "root.pem").write_bytes(_pem(root))
    (where / "fullchain.pem").write_bytes(_pem(leaf, inter))
    (where / "leaf.pem").write_bytes(_pem(leaf))
    (where / "server.key").write_bytes(_key_pem(server_key))
    spki = server_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return TestCA(where, where / "root.pem", where / "fullchain.pem", where / "leaf.pem", where / "server.key",
                  base64.b64encode(hashlib.sha256(spki).digest()).decode(), root_key, inter_key, inter, server_key)


@contextlib.contextmanager
def resolving(name: str, address: str = "127.0.0.1") -> Iterator[None]:
    """This test process's clients resolve `name` to `address`, as the hotspot's dnsmasq answers phones
    (`address=/name/ip`); every other name resolves as before. Chromium gets the same with --host-resolver-rules."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str | bytes) and (host.decode() if isinstance(host, bytes) else host).lower() == name:
            host = address
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]


def start_https_server(data_dir: Path, ca: TestCA, *extra: str, name: str = NAME,
                       redirect_port: int | None = None, env: dict[str, str] | None = None) -> Any:
    """`serve --tls-cert --tls-key --public-name` on loopback, waited for over HTTPS (the name, the test CA)."""
    import subprocess
    import sys
    import time

    import requests

    from tests.conftest import ROOT, LiveServer, _env, free_port

    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    args = [sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir), "--tls-cert", str(ca.fullchain), "--tls-key", str(ca.key),
            "--public-name", name, *(["--redirect-port", str(redirect_port)] if redirect_port else []), *extra]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env={**_env(), **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://{name}:{port}"
    deadline = time.monotonic() + 30
    with resolving(name):
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(url + "/healthz", timeout=1, verify=str(ca.root)).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"server did not answer /healthz:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
    server = LiveServer(url=url, data_dir=data_dir, proc=proc, port=port, log_path=log_path)
    server.refresh_links()
    return server
