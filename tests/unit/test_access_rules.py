"""The domain's access rules: who may approve a withdrawal, which threshold applies, scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenmall.domain.mall.people import Scope, format_scopes, key_allows, parse_scopes
from tokenmall.domain.mall.withdrawals import (
    AdminHistory,
    approvals_needed,
    approver_refusal,
    effective_threshold,
)

ASKED = datetime(2026, 1, 1, tzinfo=UTC)


def _refusal(approver: AdminHistory) -> str | None:
    return approver_refusal(requester="usr_a", requested_at=ASKED, approver=approver)


def test_an_approver_is_another_person() -> None:
    assert _refusal(AdminHistory("usr_a", frozenset(), None)) is not None
    assert _refusal(AdminHistory("usr_b", frozenset({"usr_a"}), None)) is not None
    late = AdminHistory("usr_c", frozenset({"usr_x"}), ASKED + timedelta(seconds=1))
    assert _refusal(late) is not None
    before = AdminHistory("usr_c", frozenset({"usr_x"}), ASKED - timedelta(days=1))
    assert _refusal(before) is None
    assert _refusal(AdminHistory("usr_d", frozenset(), None)) is None


def test_the_strictest_threshold_applies() -> None:
    assert effective_threshold(100_000, []) == 100_000
    assert effective_threshold(100_000, [2_000, 500_000]) == 2_000
    assert approvals_needed(3_000, 2_000) == 2
    assert approvals_needed(2_000, 2_000) == 1


def test_scopes_deny_by_default() -> None:
    assert not key_allows(frozenset(), Scope.READ)
    assert key_allows(frozenset({Scope.ADMIN}), Scope.INTEGRATION)
    assert not key_allows(frozenset({Scope.INTEGRATION}), Scope.ADMIN)
    assert not key_allows(frozenset({Scope.READ}), Scope.INTEGRATION)
    assert parse_scopes("integration,root,read") == {Scope.INTEGRATION, Scope.READ}
    assert format_scopes(frozenset({Scope.READ, Scope.ADMIN})) == "admin,read"
