"""Server-rendered pages (issue 5): the consumer H5 mall and the admin console. To be filled."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
