"""What `serve` prints and the address it puts in QR codes."""

from __future__ import annotations

from pathlib import Path

from meeting_server.documents import qr


def choose_public_base(host: str, port: int) -> str:
    """The base URL phones should use: the bound host, else the address the network layer picks."""
    from meeting_server import netaddr

    return f"http://{netaddr.public_address(host)}:{port}"


def banner(base: str, clerk_url: str | None, data_dir: Path) -> str:
    """The short start-up banner: address, a QR for the clerk's phone, the clerk link, the data directory."""
    lines = [
        "",
        "  meeting-server — Phòng họp không giấy HĐND",
        f"  Địa chỉ cho điện thoại (address for phones): {base}",
        f"  Dữ liệu (data directory): {data_dir}",
    ]
    if clerk_url:
        lines += [f"  Trang văn phòng (clerk console): {clerk_url}",
                  "  Quét mã này bằng điện thoại của văn phòng (scan with the clerk's phone):", "",
                  qr.terminal(clerk_url), ""]
    return "\n".join(lines)
