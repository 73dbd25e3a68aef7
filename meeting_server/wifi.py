"""Which security the room's Wi-Fi hotspot is in, for the clerk console and the start-up banner.

scripts/install-minipc creates the hotspot (NetworkManager connection `meeting-hotspot`) in one of three modes and
records the choice in /etc/default/meeting-server as `MEETING_WIFI_SECURITY`. At start `serve` asks NetworkManager
(`nmcli`, read-only) what the connection says now; when it cannot (no NetworkManager, no such connection, not
allowed), the console says what was configured and that the box could not check it. docs/SECURITY.md says what
each mode protects.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

CONFIG_ENV = "MEETING_WIFI_SECURITY"
CONNECTION = "meeting-hotspot"
#: The hotspot's modes (install-minipc --wifi-security): NetworkManager's key-mgmt, PMF and proto for each.
MODES = ("wpa3", "wpa3-transition", "wpa2")


@dataclass(frozen=True)
class WifiStatus:
    """The mode (wpa3 | wpa3-transition | wpa2 | open | unknown) and where it comes from (nmcli | configured |
    none)."""

    mode: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"mode": self.mode, "source": self.source}


def mode_of(key_mgmt: str, pmf: str = "") -> str:
    """NetworkManager's `802-11-wireless-security.key-mgmt` and `.pmf` as a mode.

    install-minipc writes `sae` + PMF required (WPA3 only), `wpa-psk` + PMF optional (transition: NetworkManager
    then offers SAE beside WPA2 where the Wi-Fi card can), `wpa-psk` + PMF disabled (WPA2 only)."""
    key = key_mgmt.strip().lower()
    if key == "sae":
        return "wpa3"
    if key == "wpa-psk":
        return "wpa3-transition" if pmf.strip().lower() in ("optional", "2") else "wpa2"
    if key == "none":
        return "open"
    return "unknown"


def configured() -> str | None:
    """The mode install-minipc recorded, if any (an unknown word is ignored)."""
    value = (os.environ.get(CONFIG_ENV) or "").strip().lower()
    return value if value in MODES else None


def read_live(timeout: float = 3.0) -> str | None:
    """The hotspot connection's key management as NetworkManager has it now, or None when it cannot tell.

    Called once at start-up, before the server's loop runs (a child process that may take a moment)."""
    nmcli = shutil.which("nmcli")
    if nmcli is None:
        return None
    try:
        done = subprocess.run([nmcli, "-t", "-g", "802-11-wireless-security.key-mgmt,802-11-wireless-security.pmf",
                               "connection", "show", CONNECTION],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("nmcli: %s", exc)
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    return mode_of(lines[0], lines[1] if len(lines) > 1 else "")


def status(live: str | None = None) -> WifiStatus:
    """What the box can say: the live mode when NetworkManager told, else the configured one, else unknown."""
    if live is not None and live != "unknown":
        return WifiStatus(live, "nmcli")
    conf = configured()
    if conf is not None:
        return WifiStatus(conf, "configured")
    return WifiStatus("unknown", "none")


__all__ = ["CONFIG_ENV", "CONNECTION", "MODES", "WifiStatus", "configured", "mode_of", "read_live",
           "status"]
