"""Who is acting: the role and person behind a request or a Socket.IO connection."""

from __future__ import annotations

from dataclasses import dataclass

from meeting_server.domain.permissions import DELEGATE_ROLES, Permission, Role, allowed


@dataclass(frozen=True)
class Principal:
    """A resolved join card, projector or room guest, bound to one meeting."""

    role: Role
    meeting_id: int
    participant_id: int | None = None
    name: str = ""

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    @property
    def is_delegate(self) -> bool:
        return self.role in DELEGATE_ROLES

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        if self.participant_id is not None:
            return f"{self.role.value}:{self.participant_id}"
        return f"{self.role.value}:meeting-{self.meeting_id}"
