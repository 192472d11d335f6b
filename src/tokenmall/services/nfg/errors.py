"""Refusals of token moves, each with its own stable code (the sentence starts with it)."""

from __future__ import annotations

from tokenmall.services.mall.errors import Conflict, Forbidden


class TokenLocked(Conflict):
    """The token is not held (locked, listed, redeeming, redeemed or burned)."""

    code = "token_locked"


class NotOwner(Forbidden):
    """Only the token's owner may move it."""

    code = "not_owner"


class HoldPeriod(Conflict):
    """The token was acquired too recently to be given."""

    code = "hold_period"
