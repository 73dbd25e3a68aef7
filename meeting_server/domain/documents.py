"""Who may see a document, present it and choose what the projector shows: the one rule, for the server and the
screens (which show the flags it gives and never work them out again)."""

from __future__ import annotations

from dataclasses import dataclass

from meeting_server.domain.permissions import DELEGATE_ROLES, ROLE_PERMISSIONS, Permission, Role
from meeting_server.domain.principal import Principal

__all__ = ["DocumentRights", "document_rights", "handed_presenting", "may_be_handed_presenting", "rights_of"]


@dataclass(frozen=True)
class DocumentRights:
    """What one person may do with one document (or, without a document, with presenting in general)."""

    see: bool  # its pages and its place in the list
    present: bool  # put pages in front of the room (`present`)
    project: bool  # decide whether a confidential page is on the projector too (`present` with `projector`)


def document_rights(role: Role, *, handed_presenting: bool = False, confidential: bool = False,
                    on_projector: bool = False) -> DocumentRights:
    """The rights of a role on a document.

    - See: whoever reads the meeting's documents; a confidential one only with `document.can_see_confidential`
      (delegates, the chair, the clerk), or with `document.can_see_projected` (the projector) while it is the
      document presented and the chair put it on the projector (`on_projector`).
    - Present: `document.can_present` (the chair, the clerk), or a member of the council the chair handed
      presenting to (`handed_presenting`), until the chair takes it back.
    - Project: `document.can_project` (the chair, the clerk), whoever presents.
    """
    perms = ROLE_PERMISSIONS[role]
    see = Permission.DOCUMENT_READ in perms and (
        not confidential
        or Permission.DOCUMENT_READ_CONFIDENTIAL in perms
        or (on_projector and Permission.DOCUMENT_READ_PROJECTED in perms))
    present = Permission.DOCUMENT_PRESENT in perms or (handed_presenting and may_be_handed_presenting(role))
    return DocumentRights(see=see, present=present, project=Permission.DOCUMENT_PROJECT in perms)


def may_be_handed_presenting(role: Role) -> bool:
    """Whom the chair may hand presenting to: a member of the council (a delegate, the secretary, the chair)."""
    return role in DELEGATE_ROLES


def handed_presenting(who: Principal, granted_participant_id: int | None) -> bool:
    """Whether the chair's grant names this card (a role room's principal, with no participant, is never handed it)."""
    return who.participant_id is not None and who.participant_id == granted_participant_id


def rights_of(who: Principal, granted_participant_id: int | None = None, *, confidential: bool = False,
              on_projector: bool = False) -> DocumentRights:
    """`document_rights` for a principal, given whom the chair handed presenting to."""
    return document_rights(who.role, handed_presenting=handed_presenting(who, granted_participant_id),
                           confidential=confidential, on_projector=on_projector)
