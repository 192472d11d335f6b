"""The import contract: ``tokenmall.domain`` imports the pure standard library and itself only.

Every module under src/tokenmall/domain is parsed with ``ast`` (nothing is imported or run);
any import outside the allow-list below fails the build. No I/O modules (os, io, pathlib,
time, random, socket, sqlite3…), no frameworks, nothing from tokenmall outside
tokenmall.domain.

``datetime`` is the one nuance: the domain may name its value types (a business ``date``
passed in by the caller, house-style's aware ``*_at`` datetimes) via ``from datetime import
date, datetime, timedelta, timezone``, but ``import datetime`` is refused and no call to a
clock (``now``, ``today``, ``utcnow``, ``fromtimestamp``…) may appear anywhere in the domain.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tokenmall.domain

DOMAIN = Path(tokenmall.domain.__file__).parent

ALLOWED_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "bisect",
        "collections",
        "collections.abc",
        "dataclasses",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "json",
        "math",
        "operator",
        "re",
        "typing",
    }
)


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def imported_modules(path: Path, root: Path = DOMAIN) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in ``path`` under the domain ``root``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(
        ("tokenmall", "domain", *path.relative_to(root).with_suffix("").parts)
    ).removesuffix(".__init__")
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            elif node.module == "datetime":
                continue  # value types only: see datetime_crossings
            else:
                name = node.module or ""
            found.append((node.lineno, name))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            found.append((node.lineno, "__import__()"))
    return found


DATETIME_VALUE_TYPES = frozenset({"date", "datetime", "timedelta", "timezone"})
CLOCK_CALLS = frozenset({"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp"})


def datetime_crossings(path: Path) -> list[str]:
    """``from datetime import`` anything but value types, and every call to a clock."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "datetime" and not node.level:
            bad.extend(
                f"line {node.lineno}: datetime.{alias.name}"
                for alias in node.names
                if alias.name not in DATETIME_VALUE_TYPES
            )
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in CLOCK_CALLS:
                bad.append(f"line {node.lineno}: clock call {name}()")
    return bad


def is_allowed(module: str) -> bool:
    return module in ALLOWED_STDLIB or module == "tokenmall.domain" or (
        module.startswith("tokenmall.domain.")
    )


def test_the_domain_has_modules_to_check() -> None:
    names = {p.relative_to(DOMAIN).as_posix() for p in domain_modules()}
    assert {"money.py", "errors.py", "economy/engine.py", "economy/dividend.py"} <= names


@pytest.mark.parametrize(
    "path", domain_modules(), ids=lambda p: p.relative_to(DOMAIN).as_posix()
)
def test_domain_module_imports_only_the_allowed(path: Path) -> None:
    bad = [f"line {line}: {name}" for line, name in imported_modules(path) if not is_allowed(name)]
    bad += datetime_crossings(path)
    assert bad == [], f"{path.relative_to(DOMAIN)} crosses the import contract: {bad}"


def probe_imports(tmp_path: Path, source: str) -> list[str]:
    """The imports of ``source`` placed as if it were domain/economy/probe.py."""
    probe = tmp_path / "economy" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source + "\n", encoding="utf-8")
    return [name for _, name in imported_modules(probe, tmp_path)]


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("import os", False),
        ("from pathlib import Path", False),
        ("import time", False),
        ("import random", False),
        ("import socket", False),
        ("import sqlite3", False),
        ("import sqlalchemy", False),
        ("from fastapi import FastAPI", False),
        ("from tokenmall.services import replay", False),
        ("from tokenmall.adapters.db import mall", False),
        ("import tokenmall.cli.main", False),
        ("__import__('os')", False),
        ("def f():\n    import os", False),
        ("from fractions import Fraction", True),
        ("from tokenmall.domain.money import parse_money", True),
        ("from collections.abc import Callable", True),
    ],
)
def test_the_checker_itself_catches_crossings(
    source: str, allowed: bool, tmp_path: Path
) -> None:
    names = probe_imports(tmp_path, source)
    assert names
    assert all(is_allowed(n) for n in names) is allowed


@pytest.mark.parametrize(
    ("source", "crossings"),
    [
        ("from datetime import date, datetime, timezone", 0),
        ("import datetime", 1),  # through imported_modules: not on the allow-list
        ("from datetime import date\nd = date.today()", 1),
        ("from datetime import datetime, UTC\nx = datetime.now(UTC)", 2),
        ("from datetime import MINYEAR", 1),
    ],
)
def test_datetime_value_types_yes_clocks_no(source: str, crossings: int, tmp_path: Path) -> None:
    names = probe_imports(tmp_path, source) if source.startswith("import") else []
    probe = tmp_path / "economy" / "probe.py"
    if not probe.exists():
        probe.parent.mkdir()
        probe.write_text(source + "\n", encoding="utf-8")
    found = [n for n in names if not is_allowed(n)] + datetime_crossings(probe)
    assert len(found) == crossings


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    names = probe_imports(tmp_path, "from . import state\nfrom ..money import x\nfrom ... import y")
    assert names == ["tokenmall.domain.economy", "tokenmall.domain.money", "tokenmall"]
    assert [is_allowed(n) for n in names] == [True, True, False]
