"""Parameters shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

TenantId = Annotated[str, Path(max_length=32, description="The tenant's id, such as acme")]
ResourceId = Annotated[str, Path(max_length=40)]
After = Annotated[
    str | None, Query(max_length=40, description="Return items after this id (paging)")
]
Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items")]


def next_after(ids: list[str], limit: int) -> str | None:
    """The cursor for the next page, if this one was full."""
    return ids[-1] if len(ids) == limit else None
