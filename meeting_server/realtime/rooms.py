"""Room names: the only place they are spelled. Every client of a meeting is in the meeting room and in exactly
one role room, so a change can send each role what it may see, and every client still sees every seq."""

from __future__ import annotations

from meeting_server.domain.permissions import Role


def meeting(meeting_id: int) -> str:
    return f"m{meeting_id}"


def is_meeting(name: str) -> bool:
    """Whether a room's name is a meeting room's (`meeting`)."""
    return name[:1] == "m" and name[1:].isdigit()


def role(meeting_id: int, r: Role) -> str:
    return f"m{meeting_id}:{r.value}"


def comments(meeting_id: int) -> str:
    """The connections of those who see every comment on the meeting's drafts (COMMENT_ANSWER: the clerk's console,
    the drafting body's comments page): they hear `comments` when one is posted or answered."""
    return f"m{meeting_id}:comments"


def participant(participant_id: int) -> str:
    return f"p{participant_id}"


def login(session: str) -> str:
    """The connections opened with one browser session (its hash): logout hangs them up."""
    return f"s{session[:32]}"
