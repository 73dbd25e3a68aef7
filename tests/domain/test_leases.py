"""Lease rules: who may take a lease, when it runs out, what counts as a take-over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meeting_server.domain import leases

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def test_a_lease_runs_out_ttl_after_it_was_taken_or_renewed() -> None:
    assert leases.expiry(NOW) == NOW + leases.TTL
    assert leases.expiry(NOW, timedelta(seconds=1)) == NOW + timedelta(seconds=1)
    with pytest.raises(ValueError):
        leases.expiry(NOW, timedelta(0))
    # A few renewals fit in its life: a loop held for a second or two does not lose it.
    assert leases.TTL.total_seconds() >= 2.5 * leases.RENEW_EVERY


def test_who_may_take_a_lease() -> None:
    live = leases.Holder("box:1:aa", NOW + timedelta(seconds=3))
    gone = leases.Holder("box:1:aa", NOW - timedelta(microseconds=1))
    assert leases.may_take(None, "box:2:bb", NOW)  # nobody holds it
    assert not leases.may_take(live, "box:2:bb", NOW)  # another live owner
    assert leases.may_take(live, "box:1:aa", NOW)  # its owner keeps it
    assert leases.may_take(gone, "box:2:bb", NOW)  # ran out: the owner stopped renewing
    assert leases.may_take(leases.Holder("box:1:aa", NOW), "box:2:bb", NOW)  # runs out at expires_at itself
    assert leases.is_take_over(gone, "box:2:bb") and not leases.is_take_over(gone, "box:1:aa")
    assert not leases.is_take_over(None, "box:2:bb")


def test_owner_ids_differ_between_processes_and_restarts() -> None:
    a, b = leases.owner_id(4242), leases.owner_id(4242)
    assert a != b and ":4242:" in a and len(a) <= 80
    assert leases.countdown(7) == "poll:7:countdown" and leases.document(3) == "document:3"
