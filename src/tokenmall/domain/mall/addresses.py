"""A consumer's shipping address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RECIPIENT_MAX = 50
PHONE_MAX = 20
REGION_MAX = 100
DETAIL_MAX = 200
POSTAL_CODE_MAX = 6


@dataclass(frozen=True, slots=True)
class Address:
    tenant_id: str
    address_id: str
    user_id: str
    recipient: str
    phone: str
    region: str
    detail: str
    postal_code: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @property
    def full_text(self) -> str:
        """The address as one line, as an order's snapshot keeps it."""
        text = f"{self.region} {self.detail}"
        return text if self.postal_code is None else f"{text} {self.postal_code}"
