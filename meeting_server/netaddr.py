"""Which address phones should use (placeholder until the appliance branch lands)."""

from __future__ import annotations

import socket


def public_address(bind_host: str) -> str:
    """The bound host when specific; else the source address of the default route; else loopback."""
    if bind_host not in ("0.0.0.0", "::", ""):
        return bind_host
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            # connect() on UDP sends nothing; it only asks the kernel which source address it would use.
            s.connect(("10.255.255.255", 9))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
