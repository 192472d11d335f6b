"""What a page shows a human, and the raw words it must not show (docs/pages.md, "Ids and status
words on the pages").

A page's visible text is its text nodes and the values a visitor can read (text inputs, buttons,
placeholders, ``title``/``alt``/``aria-label``), outside ``<script>``, ``<style>``,
``<template>``, elements marked ``hidden`` and the contents of an element of class ``mono``:
the one place a page may print an internal id (an order number for support, a payment id)
or another machine string.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path

import tokenmall
import tokenmall.domain

_SOURCES = sorted(Path(tokenmall.__file__).parent.rglob("*.py"))

VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
SILENT = frozenset(("script", "style", "template", "noscript"))
READABLE_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label")
# The enums whose values never reach a page: API error kinds and market refusal codes are
# answered as messages, API-key scopes are shown through their own labels.
NOT_SHOWN = frozenset(
    (
        "tokenmall.domain.errors.ErrorKind",
        "tokenmall.domain.market.refusals.Code",
    )
)


def enum_words() -> frozenset[str]:
    """Every value of the domain's string enums (statuses, kinds, roles, journal codes...)."""
    words: set[str] = set()
    for info in pkgutil.walk_packages(tokenmall.domain.__path__, "tokenmall.domain."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, enum.StrEnum)
                and value.__module__ == module.__name__
                and f"{value.__module__}.{value.__qualname__}" not in NOT_SHOWN
            ):
                words.update(member.value for member in value)
    return frozenset(words)


# ``ord_01j…`` (the services' ids: any short prefix, then 26 Crockford characters), an id built
# by hand (``col_demo_vintage_2015``: a prefix the services use, then more of the same with a
# digit), and a bare ULID-like token.
_PREFIXES = "|".join(
    sorted(set(re.findall(r'new_id\("([a-z]+)"\)', "".join(p.read_text() for p in _SOURCES))))
)
_CROCKFORD = "[0-9a-hjkmnp-tv-z]"
RAW_ID = re.compile(
    rf"(?<![\w/.-])(?:[a-z]{{2,4}}_{_CROCKFORD}{{26}}"
    rf"|(?:{_PREFIXES})_(?=[0-9a-z_]*[0-9])[0-9a-z_]{{4,}}"
    rf"|(?=[0-9a-z]*[0-9])(?=[0-9a-z]*[a-z]){_CROCKFORD}{{26}})(?![\w-])"
)
_EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|/[\w./?=&%-]*")


def _word_pattern(words: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_-])(?:{alternatives})(?![A-Za-z0-9_-])", re.IGNORECASE)


RAW_WORD = _word_pattern(enum_words())


class VisibleText(HTMLParser):
    """Collects the text a visitor reads, as a list of chunks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, hides what it holds)

    @property
    def _hidden(self) -> bool:
        return any(hides for _, hides in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        classes = found.get("class", "").split()
        hides = (
            tag in SILENT
            or "hidden" in found
            or found.get("aria-hidden") == "true"
            or "mono" in classes
        )
        if not self._hidden and not hides:
            self._read_attributes(tag, found)
        if tag not in VOID:
            self._stack.append((tag, hides))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if not self._hidden:
            self._read_attributes(tag, found)

    def _read_attributes(self, tag: str, found: dict[str, str]) -> None:
        self.chunks.extend(found[a] for a in READABLE_ATTRIBUTES if found.get(a))
        kind = found.get("type", "text")
        if tag == "input" and kind not in ("hidden", "password", "checkbox", "radio", "file"):
            self.chunks.append(found.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.chunks.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return [c for c in parser.chunks if c]


def raw_ids(chunks: list[str]) -> list[str]:
    return [m.group(0) for chunk in chunks for m in RAW_ID.finditer(chunk)]


def raw_words(chunks: list[str]) -> list[str]:
    """Enum values shown as English words (emails and paths aside)."""
    found = []
    for chunk in chunks:
        plain = _EMAIL_OR_URL.sub(" ", chunk)
        found.extend(f"{m.group(0)!r} in {chunk[:80]!r}" for m in RAW_WORD.finditer(plain))
    return found
