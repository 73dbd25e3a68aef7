"""The join URLs of a meeting, built on the address phones should use (never `localhost`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meeting_server.services.unit import Change
from meeting_server.store.tables import Meeting, Setting

PUBLIC_BASE_KEY = "public_base_url"


def public_base(s: Session, fallback: str) -> str:
    """The base URL phones reach the server at, as chosen by the server at start-up (or the request's own)."""
    row = s.get(Setting, PUBLIC_BASE_KEY)
    base = row.value if row is not None and row.value else fallback
    return str(base).rstrip("/")


def set_public_base(s: Session, base: str) -> None:
    """Record the address the server found for itself (it follows DHCP changes)."""
    row = s.get(Setting, PUBLIC_BASE_KEY)
    if row is None:
        s.add(Setting(key=PUBLIC_BASE_KEY, value=base))
    else:
        row.value = base


def follow_address(s: Session, base: str) -> Change | None:
    """The server's address changed (DHCP): record it; the current meeting's screens get a new `state` (with the
    same seq: the projector's room QR shows the new address). None when there is no meeting yet."""
    from meeting_server.services import meetings, unit

    with unit.of_work(s):
        set_public_base(s, base)
    m = meetings.current(s)
    return unit.change(m, state=True) if m is not None else None


def join_url(base: str, token: str) -> str:
    """The URL a QR code encodes: http://<server-ip>:<port>/j/<token>."""
    return f"{base}/j/{token}"


def links(m: Meeting, base: str) -> dict[str, Any]:
    """Every join URL of a meeting, the shape `meeting-server links --json` prints."""
    out: dict[str, Any] = {"meeting_id": m.id, "clerk": None, "chair": [], "secretary": [], "delegates": [],
                           "guests": [], "drafters": [], "kiosk": join_url(base, m.kiosk_token),
                           "guest": join_url(base, m.guest_token)}
    for p in m.participants:
        url = join_url(base, p.token)
        if p.role == "clerk":
            out["clerk"] = out["clerk"] or url
        elif p.role == "chair":
            out["chair"].append(url)
        elif p.role == "secretary":
            out["secretary"].append(url)
        elif p.role == "guest":
            out["guests"].append({"name": p.full_name, "url": url})
        elif p.role == "drafter":  # the drafting body's representative: comments on drafts only
            out["drafters"].append({"name": p.full_name, "url": url})
        if p.role in ("chair", "secretary", "delegate"):
            out["delegates"].append({"name": p.full_name, "role": p.role, "participant_id": p.id, "url": url})
    return out
