"""The pages' languages: the Babel catalogues, the locale a request asks for, and locale-aware
formatting of exact decimal strings."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from fastapi import Request

from tokenmall.services.mall.settling import BUSINESS_TZ

I18N = Path(__file__).resolve().parent.parent / "i18n"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "tokenmall_lang"


@cache
def translations(locale: str) -> Translations:
    """The locale's Babel catalogue, compiled from its .po files once per process (no build
    step: the .po files are the source and what is packaged). ``messages.po`` first, then
    every other ``*.po`` of the folder (one per part of the pages: ``mall_*.po``,
    ``admin_*.po``…) merged into it; a later file's translation of the same id wins."""
    folder = I18N / locale / "LC_MESSAGES"
    paths = [folder / "messages.po"]
    paths += sorted(p for p in folder.glob("*.po") if p.name != "messages.po")
    catalog = None
    for path in paths:
        with path.open("rb") as handle:
            part = read_po(handle, locale=locale)
        if catalog is None:
            catalog = part
            continue
        for message in part:
            if message.id and message.string:
                catalog[message.id] = message
    assert catalog is not None
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def locale_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in ("en", "en_US", "en-US"):
        return "en"
    if asked in ("zh", "zh_CN", "zh-CN"):
        return "zh_CN"
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Fmt:
    """Locale-aware formatting of exact decimal strings (never through a float)."""

    locale: str

    def money(self, value: str | int | None) -> str:
        """Money from a decimal string ("12.50") or fen (an int)."""
        if value is None:
            return "—"
        amount = Decimal(value).scaleb(-2) if isinstance(value, int) else Decimal(value)
        return str(format_currency(amount, "CNY", locale=self.locale))

    def points(self, value: str | None, places: int = 4) -> str:
        """Points to ``places`` shown (the full 8 in a title attribute where it matters)."""
        if value is None:
            return "—"
        pattern = "#,##0." + "0" * places
        return str(format_decimal(Decimal(value), format=pattern, locale=self.locale))

    def number(self, value: str | int | None) -> str:
        if value is None:
            return "—"
        return str(format_decimal(Decimal(value), locale=self.locale))

    def price(self, value: str | None) -> str:
        if value is None:
            return "—"
        pattern = "#,##0.0000"
        text = format_decimal(Decimal(value), format=pattern, locale=self.locale)
        return f"¥{text}"

    def percent(self, value: str | None) -> str:
        if value is None:
            return "—"
        scaled = Decimal(value) * 100
        return str(format_decimal(scaled, format="#,##0.##", locale=self.locale)) + "%"

    def statement(self, line: str) -> str:
        """One line of the health statement (Chinese, then English) in this locale."""
        zh, sep, en = line.partition("。 ")
        if not sep:
            return line
        return zh + "。" if self.locale == "zh_CN" else en

    def date(self, value: Any) -> str:
        """A date as it is; an instant in the business time zone (UTC+8, the day the ledger
        settles by), to the minute: every page shows one clock."""
        if value is None:
            return "—"
        if isinstance(value, datetime):
            return _local(value).strftime("%Y-%m-%d %H:%M")
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return text[:16].replace("T", " ")

    def seconds(self, value: datetime | None) -> str:
        """An instant in the business time zone, to the second (histories, countdowns)."""
        return "—" if value is None else _local(value).strftime("%Y-%m-%d %H:%M:%S")


def _local(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(BUSINESS_TZ)
