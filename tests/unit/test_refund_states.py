"""A refund's states at the channel: processing, then succeeded or failed; retried or abandoned."""

from __future__ import annotations

import pytest

from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.refunds import RefundStatus, channel_refund_no, refund_of_channel_no
from tokenmall.domain.mall.transitions import REFUND, Actor

R = RefundStatus


def test_a_refund_the_channel_processes_is_finished_by_the_channel_only() -> None:
    assert REFUND.check(R.REQUESTED, "submit", Actor.MERCHANT) == R.PROCESSING
    assert REFUND.check(R.PROCESSING, "channel_succeeded", Actor.SYSTEM) == R.SUCCEEDED
    assert REFUND.check(R.PROCESSING, "channel_failed", Actor.SYSTEM) == R.FAILED
    with pytest.raises(TransitionRefused):
        REFUND.check(R.PROCESSING, "channel_succeeded", Actor.ADMIN)
    with pytest.raises(TransitionRefused):
        REFUND.check(R.SUCCEEDED, "channel_succeeded", Actor.SYSTEM)


def test_a_failed_refund_is_retried_or_abandoned_by_an_admin() -> None:
    assert REFUND.check(R.FAILED, "retry", Actor.MERCHANT) == R.PROCESSING
    assert REFUND.check(R.FAILED, "abandon", Actor.ADMIN) == R.ABANDONED
    with pytest.raises(TransitionRefused):
        REFUND.check(R.FAILED, "abandon", Actor.MERCHANT)
    with pytest.raises(TransitionRefused):
        REFUND.check(R.ABANDONED, "retry", Actor.ADMIN)


def test_each_attempt_has_its_own_number_at_the_channel() -> None:
    assert channel_refund_no("rfd_abc", 1) == "rfd_abc"
    assert channel_refund_no("rfd_abc", 3) == "rfd_abc-3"
    assert refund_of_channel_no("rfd_abc") == ("rfd_abc", 1)
    assert refund_of_channel_no("rfd_abc-3") == ("rfd_abc", 3)
    with pytest.raises(ValueError, match="attempt"):
        channel_refund_no("rfd_abc", 0)


def test_a_refund_the_channel_refuses_at_once_is_failed_by_whoever_approved_it() -> None:
    assert REFUND.check(R.REQUESTED, "refused", Actor.MERCHANT) == R.FAILED
    assert REFUND.check(R.REQUESTED, "refused", Actor.ADMIN) == R.FAILED
    for nobody in (Actor.CONSUMER, Actor.SYSTEM):
        with pytest.raises(TransitionRefused):
            REFUND.check(R.REQUESTED, "refused", nobody)
    with pytest.raises(TransitionRefused):
        REFUND.check(R.PROCESSING, "refused", Actor.ADMIN)  # the channel's news decides those
