"""Quorum of a sitting: two-thirds of the total delegates by default, a setting otherwise."""

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.domain.quorum import DEFAULT_QUORUM, is_quorate, quorum_required
from meeting_server.domain.voting import Threshold


@pytest.mark.parametrize(("seated", "needed"), [(15, 10), (16, 11), (17, 12), (18, 12), (29, 20), (30, 20)])
def test_default_quorum_is_two_thirds_rounded_up(seated: int, needed: int) -> None:
    assert DEFAULT_QUORUM == Threshold.TWO_THIRDS
    assert quorum_required(seated) == needed
    assert is_quorate(needed, seated) and not is_quorate(needed - 1, seated)


@pytest.mark.parametrize("seated", range(1, 101))
def test_quorum_for_every_council_size(seated: int) -> None:
    for present in range(seated + 1):
        assert is_quorate(present, seated) == (3 * present >= 2 * seated)
        assert is_quorate(present, seated, Threshold.MORE_THAN_HALF) == (2 * present > seated)


@pytest.mark.parametrize(("present", "seated"), [(-1, 30), (31, 30)])
def test_present_must_be_a_possible_number(present: int, seated: int) -> None:
    with pytest.raises(DomainError) as caught:
        is_quorate(present, seated)
    assert caught.value.code == "quorum.invalid_present"
