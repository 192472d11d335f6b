"""Payment channels a tenant may switch on, and the stored record of one.

``sandbox`` needs no account (development and the demo); ``wechat`` and ``alipay`` are the
real money rails, each with a key set of its own. A key set replaced by a new one keeps
verifying the channel's callbacks for a grace period (``previous_until``), so callbacks
signed or encrypted with the old keys, in flight at the switch, are still taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

CHANNELS: tuple[str, ...] = ("sandbox", "wechat", "alipay")
DEFAULT_GRACE = timedelta(hours=72)
MAX_GRACE_HOURS = 24 * 30


@dataclass(frozen=True, slots=True)
class ChannelRow:
    tenant_id: str
    channel: str
    enabled: bool
    mode: str | None  # how the payer pays on a channel with several ways (WeChat: native, h5)
    public: str  # JSON: what may be shown back
    sealed: bytes | None  # the key set, sealed
    previous_sealed: bytes | None
    previous_until: datetime | None
    updated_by: str | None
    updated_at: datetime

    def previous_valid(self, now: datetime) -> bool:
        return (
            self.previous_sealed is not None
            and self.previous_until is not None
            and now < self.previous_until
        )
