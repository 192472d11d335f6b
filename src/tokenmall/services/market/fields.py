"""A market refusal names the API's field, not the domain's.

The domain names its inputs as the replay does (``token``, ``to``, ``order``, ``collection``)
and leaves the field empty for a refusal about the thing acted on (``not_owner``,
``token_locked``, ``hold_period``, ``halted``). The HTTP API takes ``collection_id`` +
``serial``, ``to_user_id``, ``order_id``; ``answering_for`` translates a refusal raised inside
it, so a client is told which of its own fields is at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tokenmall.domain.market import Code, MarketRefused

_RENAMED = {
    "token": "serial",
    "to": "to_user_id",
    "order": "order_id",
    "collection": "collection_id",
}

# Refusals about the thing acted on: the subject's field (``serial`` or ``order_id``).
_ABOUT_SUBJECT = frozenset(
    {Code.NOT_OWNER, Code.TOKEN_LOCKED, Code.HOLD_PERIOD, Code.EXPIRED, Code.NOT_FOUND}
)


def api_field(refused: MarketRefused, subject: str) -> str | None:
    """The API field a refusal is about, when the action's ``subject`` field is ``subject``."""
    if refused.field is not None:
        return _RENAMED.get(refused.field, refused.field)
    if refused.code in _ABOUT_SUBJECT:
        return subject
    if refused.code is Code.HALTED:
        return "collection_id"
    return None


@contextmanager
def answering_for(subject: str) -> Iterator[None]:
    """Re-raise a ``MarketRefused`` from the block with the API's field name."""
    try:
        yield
    except MarketRefused as refused:
        raise MarketRefused(refused.code, refused.detail, api_field(refused, subject)) from None
