"""Why the market refuses an action: a stable code and a sentence in Chinese and English.

Every refusal of the market's rules is a ``MarketRefused`` carrying one ``Code``; the replay
prints the code, the service maps it to a 4xx (``kind`` says which family), the pages show the
sentence next to the action. A refused action has changed nothing.
"""

from __future__ import annotations

from enum import StrEnum

from tokenmall.domain.errors import DomainError, ErrorKind


class Code(StrEnum):
    """The refusal codes of market.md, exactly."""

    NOT_OWNER = "not_owner"
    TOKEN_LOCKED = "token_locked"
    KYC_REQUIRED = "kyc_required"
    PROFILE_FORBIDS = "profile_forbids"
    HOLD_PERIOD = "hold_period"
    PRICE_BAND = "price_band"
    HOLDER_LIMIT = "holder_limit"
    HALTED = "halted"
    SELF_TRADE = "self_trade"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    MARKET_CLOSED = "market_closed"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    INVALID_INPUT = "invalid_input"


# code -> (Chinese, English)
SENTENCES: dict[Code, tuple[str, str]] = {
    Code.NOT_OWNER: ("您不是该藏品或订单的持有人。", "You do not own this token or order."),
    Code.TOKEN_LOCKED: (
        "该藏品已挂单、兑换中、已兑换或已销毁，暂不可操作。",
        "The token is listed, being redeemed, redeemed or burned, and cannot be used now.",
    ),
    Code.KYC_REQUIRED: (
        "交易双方均须完成实名认证。",
        "Both sides must have completed real-name verification (KYC).",
    ),
    Code.PROFILE_FORBIDS: (
        "本平台的合规模式不允许此操作。",
        "This platform's compliance profile does not allow this action.",
    ),
    Code.HOLD_PERIOD: (
        "尚在持有期内，暂不可交易或转赠。",
        "The holding period has not ended yet: this cannot be traded or given now.",
    ),
    Code.PRICE_BAND: (
        "价格超出当日涨跌幅限制。",
        "The price is outside today's price band.",
    ),
    Code.HOLDER_LIMIT: (
        "该藏品的持有人数已达上限。",
        "This collection has reached its limit of holders.",
    ),
    Code.HALTED: ("该藏品已停牌。", "Trading in this collection is halted."),
    Code.SELF_TRADE: ("不能与自己的订单成交。", "An order cannot trade with your own order."),
    Code.INSUFFICIENT_FUNDS: ("可用余额不足。", "Your available cash is not enough."),
    Code.MARKET_CLOSED: (
        "今日非交易日，市场休市。",
        "Today is not a trading day: the market is closed.",
    ),
    Code.NOT_FOUND: (
        "未找到该藏品、订单或协议。",
        "No such collection, token, order or agreement.",
    ),
    Code.EXPIRED: ("该订单已过期。", "This order has expired."),
    Code.INVALID_INPUT: ("输入有误。", "The input is not valid."),
}

_KINDS: dict[Code, ErrorKind] = {
    Code.NOT_FOUND: ErrorKind.NOT_FOUND,
    Code.INVALID_INPUT: ErrorKind.INVALID,
    Code.KYC_REQUIRED: ErrorKind.FORBIDDEN,
    Code.PROFILE_FORBIDS: ErrorKind.FORBIDDEN,
    Code.NOT_OWNER: ErrorKind.FORBIDDEN,
}


class MarketRefused(DomainError):
    """An action the market's rules refuse. ``code`` is stable; ``detail`` says more (for
    ``invalid_input``, which field and why); ``field`` names the input at fault, if any."""

    def __init__(self, code: Code, detail: str = "", field: str | None = None) -> None:
        self.code = code
        self.detail = detail
        self.field = field
        english = SENTENCES[code][1]
        super().__init__(f"{code.value}: {english}" + (f" ({detail})" if detail else ""))

    @property
    def kind(self) -> ErrorKind:  # type: ignore[override]
        """Not-found, invalid or forbidden input; every other refusal is a conflict with the
        state of the market (a balance, a hold, a halt)."""
        return _KINDS.get(self.code, ErrorKind.CONFLICT)

    @property
    def zh(self) -> str:  # type: ignore[override]
        return SENTENCES[self.code][0]

    @property
    def en(self) -> str:
        return SENTENCES[self.code][1]


def sentence(code: Code | str, lang: str = "zh") -> str:
    """The sentence for ``code`` in ``lang`` (``zh`` or ``en``)."""
    zh, en = SENTENCES[Code(code)]
    return en if lang == "en" else zh
