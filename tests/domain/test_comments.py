"""The rules of comments on drafts: when a delegate may comment, the anchor, the answers, who sees what."""

from __future__ import annotations

import pytest

from meeting_server.domain import comments as rules
from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import ROLE_PERMISSIONS, SCREEN_ROLES, Permission, Role
from meeting_server.domain.principal import Principal


def test_before_the_session_any_draft_may_be_commented() -> None:
    rules.check_may_comment(meeting_status="draft", document_item_id=None, current_item_id=None)
    rules.check_may_comment(meeting_status="draft", document_item_id=3, current_item_id=None)


def test_during_the_session_only_while_its_item_is_discussed() -> None:
    rules.check_may_comment(meeting_status="in_progress", document_item_id=3, current_item_id=3)
    with pytest.raises(DomainError) as err:
        rules.check_may_comment(meeting_status="in_progress", document_item_id=3, current_item_id=2)
    assert err.value.code == "comment.not_now"
    assert "đang được thảo luận" in err.value.template
    with pytest.raises(DomainError):
        rules.check_may_comment(meeting_status="in_progress", document_item_id=None, current_item_id=2)


@pytest.mark.parametrize("status,frozen", [("ended", False), ("draft", True)])
def test_never_after_the_session(status: str, frozen: bool) -> None:
    with pytest.raises(DomainError) as err:
        rules.check_may_comment(meeting_status=status, document_item_id=3, current_item_id=3, frozen=frozen)
    assert err.value.code == "comment.closed"


def test_anchor_scopes() -> None:
    assert rules.anchor_of(None, "", [], page_count=3, page_size=None).scope == "document"
    assert rules.anchor_of(2, "", [], page_count=3, page_size=(595, 842)).scope == "page"
    a = rules.anchor_of(2, "đường giao thông", [[10, 20, 100, 32.456]], page_count=3, page_size=(595, 842))
    assert a.scope == "passage" and a.rects == ((10.0, 20.0, 100.0, 32.46),)


@pytest.mark.parametrize("page,quote,rects", [
    (4, "", []),                                   # no such page
    (0, "", []),
    (1, "x", [[0, 0, 900, 10]]),                   # outside the page
    (1, "x", [[10, 10, 5, 20]]),                   # x1 < x0
    (1, "x", [[0, 0, 1]]),                         # not four numbers
    (1, "x", [[0, 0, True, 1]]),                   # a bool is not a number
    (1, "x", [[0, 0, float("nan"), 1]]),
    (1, "x", "[[0,0,1,1]]"),                       # not a list
    (1, "x", [[0, 0, 1, 1]] * (rules.MAX_RECTS + 1)),
    (1, "", [[0, 0, 1, 1]]),                       # boxes without words
    (None, "x", []),                               # the whole document with a quote
])
def test_bad_anchors_are_refused(page: int | None, quote: str, rects: object) -> None:
    with pytest.raises(DomainError):
        rules.anchor_of(page, quote, rects, page_count=3, page_size=(595, 842))


def test_answers() -> None:
    rules.check_answer("accepted", "")
    rules.check_answer("explained", "Vì luật đã quy định")
    for outcome, text in (("explained", " "), ("not_accepted", ""), ("maybe", "x"), ("", "x")):
        with pytest.raises(DomainError):
            rules.check_answer(outcome, text)


def test_who_sees_a_comment() -> None:
    author = Principal(Role.DELEGATE, 1, 7)
    other = Principal(Role.DELEGATE, 1, 8)
    assert rules.may_see(author, 7, shared_with_delegates=False)
    assert not rules.may_see(other, 7, shared_with_delegates=False)
    assert rules.may_see(other, 7, shared_with_delegates=True)
    assert rules.may_see(Principal(Role.CLERK, 1, 1), 7, shared_with_delegates=False)
    assert rules.may_see(Principal(Role.DRAFTER, 1, 2), 7, shared_with_delegates=False)
    assert not rules.may_see(Principal(Role.GUEST, 1), 7, shared_with_delegates=True)


def test_confidential_quotes_only_to_whoever_reads_the_document() -> None:
    assert rules.sees_quote(Principal(Role.DELEGATE, 1, 7), confidential=True)
    assert rules.sees_quote(Principal(Role.CLERK, 1, 1), confidential=True)
    assert not rules.sees_quote(Principal(Role.DRAFTER, 1, 2), confidential=True)
    assert rules.sees_quote(Principal(Role.DRAFTER, 1, 2), confidential=False)


def test_the_drafting_body_holds_only_this_right() -> None:
    assert ROLE_PERMISSIONS[Role.DRAFTER] == frozenset({Permission.COMMENT_ANSWER})
    assert Role.DRAFTER not in SCREEN_ROLES
    for role in (Role.CHAIR, Role.SECRETARY, Role.DELEGATE):
        assert Permission.COMMENT_WRITE in ROLE_PERMISSIONS[role]
    assert Permission.COMMENT_ANSWER in ROLE_PERMISSIONS[Role.CLERK]
    assert Permission.COMMENT_WRITE not in ROLE_PERMISSIONS[Role.GUEST]


def test_counts_and_their_line() -> None:
    c = rules.counts(["accepted", "accepted", "explained", "not_accepted", ""])
    assert c.to_dict() == {"total": 5, "accepted": 2, "explained": 1, "not_accepted": 1, "pending": 1}
    assert rules.counts_line(c) == "5 ý kiến góp ý: tiếp thu 2, giải trình 1, không tiếp thu 1, chưa trả lời 1"
    assert rules.counts_line(rules.counts(["accepted"])) == "1 ý kiến góp ý: tiếp thu 1"


def test_the_clerks_list_names_the_drafting_body() -> None:
    from meeting_server.domain.roster import ROLE_WORDS, fold

    assert ROLE_WORDS[fold("Cơ quan soạn thảo")] == Role.DRAFTER
    assert ROLE_WORDS[fold("Đại diện cơ quan soạn thảo")] == Role.DRAFTER
