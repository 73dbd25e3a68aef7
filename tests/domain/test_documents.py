"""Who may see a confidential document, present and choose what the projector shows: one rule, every role."""

from __future__ import annotations

import pytest

from meeting_server.domain.documents import DocumentRights, document_rights, may_be_handed_presenting, rights_of
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal

C, H, S, D, G, K = Role.CLERK, Role.CHAIR, Role.SECRETARY, Role.DELEGATE, Role.GUEST, Role.KIOSK


@pytest.mark.parametrize(("role", "open_doc", "confidential", "projected"), [
    (C, True, True, True), (H, True, True, True), (S, True, True, True), (D, True, True, True),
    (G, True, False, False), (K, True, False, True),
])
def test_who_sees_what(role: Role, open_doc: bool, confidential: bool, projected: bool) -> None:
    assert document_rights(role).see is open_doc
    assert document_rights(role, confidential=True).see is confidential
    assert document_rights(role, confidential=True, on_projector=True).see is projected


@pytest.mark.parametrize(("role", "present", "handed", "project"), [
    (C, True, True, True), (H, True, True, True), (S, False, True, False), (D, False, True, False),
    (G, False, False, False), (K, False, False, False),
])
def test_who_presents_and_who_decides_the_projector(role: Role, present: bool, handed: bool, project: bool) -> None:
    assert document_rights(role).present is present
    assert document_rights(role, handed_presenting=True).present is handed  # only a member of the council
    assert document_rights(role).project is document_rights(role, handed_presenting=True).project is project


def test_presenting_is_handed_to_members_of_the_council_only() -> None:
    assert [r for r in Role if may_be_handed_presenting(r)] == [H, S, D]


def test_the_grant_names_one_card() -> None:
    me, neighbour, role_room = Principal(D, 1, 7, "A"), Principal(D, 1, 8, "B"), Principal(D, 1)
    assert rights_of(me, 7) == DocumentRights(see=True, present=True, project=False)
    assert not rights_of(neighbour, 7).present
    assert not rights_of(role_room, 7).present and not rights_of(role_room, None).present
