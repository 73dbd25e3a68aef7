"""The readiness rules, pure: which lines, in which order, which refuse the step."""

from __future__ import annotations

from meeting_server.domain import readiness as r

READY = r.Facts(chairs=("Hoàng Quốc Cường",), secretaries=("Nông Thị Mai",), delegates=30, seated=30)


def _codes(lines: list[r.Line]) -> list[str]:
    return [x.code for x in lines]


def test_a_ready_meeting_has_nothing_to_say() -> None:
    assert r.before_sitting(READY) == [] and r.before_signing(READY) == []


def test_the_sample_list_without_a_secretary() -> None:
    f = r.Facts(chairs=("Hoàng Quốc Cường", "Vi Văn Sơn"), delegates=30, seated=30)
    (line,) = r.before_sitting(f)
    assert line.code == "readiness.no_secretary" and line.blocking
    assert r.blocking(r.before_signing(f)) == [line]
    assert line.error().code == "readiness.no_secretary"


def test_absent_signers_warn_and_an_open_poll_comes_first() -> None:
    f = r.Facts(chairs=("A",), secretaries=("B",), absent=frozenset({"A", "B"}), delegates=30, seated=30,
                open_polls=("Biểu quyết 1",), chair_not_voted=("Biểu quyết 0",))
    assert _codes(r.before_signing(f)) == ["readiness.poll_open", "readiness.chair_absent",
                                           "readiness.secretary_absent", "readiness.chair_not_voted"]
    assert _codes(r.blocking(r.before_signing(f))) == ["readiness.poll_open"]


def test_before_the_sitting_the_list_documents_and_cards() -> None:
    f = r.Facts(chairs=("A",), secretaries=("B",), delegates=29, seated=30,
                items_voted_without_documents=("Tờ trình",), cards_unprinted=2)
    lines = r.before_sitting(f)
    assert _codes(lines) == ["readiness.seated_mismatch", "readiness.no_documents", "readiness.cards_unprinted"]
    assert [x.message % dict(x.params) for x in lines][1] == ("Nội dung «Tờ trình» có biểu quyết nhưng chưa có "
                                                             "tài liệu: hãy tải tài liệu lên.")
    assert not any(x.blocking for x in lines)
