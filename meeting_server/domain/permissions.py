"""Roles and what each may do: the one table every route and Socket.IO event is checked against."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who is on the other end of a request."""

    CLERK = "clerk"  # thư ký / văn phòng: sets the meeting up, keeps attendance, writes the minutes
    CHAIR = "chair"  # chủ tọa: runs the sitting; a delegate
    SECRETARY = "secretary"  # thư ký kỳ họp: keeps attendance and minutes; a delegate
    DELEGATE = "delegate"  # đại biểu
    GUEST = "guest"  # khách mời (personal card) or a room guest (room QR): read-only
    KIOSK = "kiosk"  # the projector
    DRAFTER = "drafter"  # cơ quan soạn thảo: the drafting body's representative; sees and answers comments only


#: Roles that are members of the council: they count for quorum and thresholds and they vote.
DELEGATE_ROLES = frozenset({Role.CHAIR, Role.SECRETARY, Role.DELEGATE})


class Permission(StrEnum):
    """One capability; routes and events declare the one they need."""

    MEETING_READ = "meeting.can_see"
    MEETING_MANAGE = "meeting.can_manage"
    PARTICIPANTS_SEE = "participants.can_see"
    ATTENDANCE_SEE_NAMES = "attendance.can_see_names"
    ATTENDANCE_MANAGE = "attendance.can_manage"
    AGENDA_CONTROL = "agenda.can_control"
    DOCUMENT_READ = "document.can_see"
    DOCUMENT_READ_CONFIDENTIAL = "document.can_see_confidential"
    DOCUMENT_MANAGE = "document.can_manage"
    DOCUMENT_PRESENT = "document.can_present"
    DOCUMENT_PROJECT = "document.can_project"  # put a confidential page on the projector too (or take it off)
    DOCUMENT_READ_PROJECTED = "document.can_see_projected"  # a confidential page while it is on the projector
    NOTES_WRITE = "notes.can_write"
    VOTE_CAST = "vote.can_cast"
    VOTE_MANAGE = "vote.can_manage"
    VOTE_CONDUCT = "vote.can_conduct"  # open, close, cancel a poll: the chair of the sitting only
    VOTE_SEE_NAMES = "vote.can_see_names"
    VOTE_PROXY = "vote.can_record_for_others"
    VOTE_PAPER = "vote.can_record_paper"  # the counting committee's paper totals of a secret poll
    SPEAK_REQUEST = "speak.can_request"
    SPEAK_MANAGE = "speak.can_manage"
    QUESTION_FILE = "question.can_file"  # file a question of one's own (chất vấn)
    QUESTION_MANAGE = "question.can_manage"  # order, call and end questions: the chair of the sitting
    QUESTION_RECORD = "question.can_record"  # file from a paper form for a delegate; the written answers owed
    MINUTES_MANAGE = "minutes.can_manage"
    MINUTES_SIGN = "minutes.can_sign"
    AUDIT_VERIFY = "audit.can_verify"
    COMMENT_WRITE = "comment.can_write"  # góp ý dự thảo: a member of the council comments on a draft
    COMMENT_ANSWER = "comment.can_answer"  # see every comment, answer it (tiếp thu, giải trình), export the summary
    ARCHIVE_READ = "archive.can_see"  # the council's archive of the term: every session, the register, the search
    ARCHIVE_MANAGE = "archive.can_manage"  # the register's numbers and dates; the term's public site


P = Permission
_READ = {P.MEETING_READ, P.DOCUMENT_READ}
_DELEGATE = _READ | {P.DOCUMENT_READ_CONFIDENTIAL, P.NOTES_WRITE, P.VOTE_CAST, P.SPEAK_REQUEST, P.PARTICIPANTS_SEE,
                         P.QUESTION_FILE, P.COMMENT_WRITE, P.ARCHIVE_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: frozenset(
        _READ
        | {
            P.MEETING_MANAGE,
            P.PARTICIPANTS_SEE,
            P.ATTENDANCE_SEE_NAMES,
            P.ATTENDANCE_MANAGE,
            P.AGENDA_CONTROL,
            P.DOCUMENT_READ_CONFIDENTIAL,
            P.DOCUMENT_MANAGE,
            P.DOCUMENT_PRESENT,
            P.DOCUMENT_PROJECT,
            P.NOTES_WRITE,
            P.VOTE_MANAGE,
            P.VOTE_PAPER,
            P.VOTE_SEE_NAMES,
            P.MINUTES_MANAGE,
            P.AUDIT_VERIFY,
            P.QUESTION_RECORD,
            P.COMMENT_ANSWER,
            P.ARCHIVE_READ,
            P.ARCHIVE_MANAGE,
        }
    ),
    Role.CHAIR: frozenset(
        _DELEGATE
        | {
            P.ATTENDANCE_SEE_NAMES,
            P.AGENDA_CONTROL,
            P.DOCUMENT_PRESENT,
            P.DOCUMENT_PROJECT,
            P.VOTE_MANAGE,
            P.VOTE_PAPER,
            P.VOTE_CONDUCT,
            P.VOTE_SEE_NAMES,
            P.SPEAK_MANAGE,
            P.QUESTION_MANAGE,
            P.MINUTES_SIGN,
        }
    ),
    Role.SECRETARY: frozenset(
        _DELEGATE
        | {
            P.ATTENDANCE_SEE_NAMES,
            P.ATTENDANCE_MANAGE,
            P.VOTE_SEE_NAMES,
            P.VOTE_PROXY,
            P.VOTE_PAPER,
            P.MINUTES_MANAGE,
            P.MINUTES_SIGN,
            P.AUDIT_VERIFY,
        }
    ),
    Role.DELEGATE: frozenset(_DELEGATE),
    Role.GUEST: frozenset(_READ),
    Role.KIOSK: frozenset(_READ | {P.DOCUMENT_READ_PROJECTED}),
    # The drafting body's representative holds this one right and nothing else: no agenda, no documents, no room.
    Role.DRAFTER: frozenset({P.COMMENT_ANSWER}),
}

#: Roles with a live screen of the meeting (they read it): the ones `state` and the other broadcasts are built for.
SCREEN_ROLES = tuple(r for r in Role if Permission.MEETING_READ in ROLE_PERMISSIONS[r])


def allowed(role: Role, permission: Permission) -> bool:
    """Whether a role holds a permission."""
    return permission in ROLE_PERMISSIONS[role]
