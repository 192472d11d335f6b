"""The import contracts.

The layer contract (import-linter, ``[tool.importlinter]`` in pyproject.toml) is run here too,
so a wrong import fails pytest as well as ``lint-imports``; a probe package shaped like
tokenmall shows that each contract catches the import it forbids.

The domain check: ``tokenmall.domain`` imports the pure standard library and itself only.

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
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import tokenmall.domain

DOMAIN = Path(tokenmall.domain.__file__).parent

ALLOWED_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
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
    return (
        module in ALLOWED_STDLIB
        or module == "tokenmall.domain"
        or (module.startswith("tokenmall.domain."))
    )


def test_the_domain_has_modules_to_check() -> None:
    names = {p.relative_to(DOMAIN).as_posix() for p in domain_modules()}
    assert {"money.py", "errors.py", "economy/engine.py", "economy/dividend.py"} <= names


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.relative_to(DOMAIN).as_posix())
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
def test_the_checker_itself_catches_crossings(source: str, allowed: bool, tmp_path: Path) -> None:
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


# --- the layer contract (import-linter, configured in pyproject.toml) -------------------------

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


def run_lint_imports(config: Path, cwd: Path, python_path: str | None = None) -> tuple[int, str]:
    """Run import-linter on ``config`` in a fresh interpreter (no cache): (exit code, output)."""
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def contracts() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]["contracts"]
    return found


def test_the_package_keeps_every_import_contract() -> None:
    code, output = run_lint_imports(PYPROJECT, ROOT)
    assert code == 0, output
    assert "0 broken" in output


def test_the_contracts_name_the_forbidden_arrows() -> None:
    by_id = {c["id"]: c for c in contracts()}
    assert by_id["layers"]["layers"][-1] == "tokenmall.domain"
    assert by_id["layers"]["layers"].index("tokenmall.web") < by_id["layers"]["layers"].index(
        "tokenmall.bootstrap"
    )
    edges = by_id["edges-without-adapters"]
    assert set(edges["source_modules"]) == {"tokenmall.web", "tokenmall.cli"}
    assert edges["forbidden_modules"] == ["tokenmall.adapters"]
    inward = by_id["adapters-inward"]["forbidden_modules"]
    assert {"tokenmall.services", "tokenmall.web", "tokenmall.cli"} <= set(inward)
    pure = by_id["pure-domain"]["forbidden_modules"]
    assert {"sqlalchemy", "fastapi", "pydantic", "starlette", "psycopg", "alembic"} <= set(pure)
    assert by_id["no-cycles"]["type"] == "acyclic_siblings"


PROBE = "probe_mall"
# A small package shaped like tokenmall whose imports all point inward.
PROBE_MODULES = {
    "__init__.py": "",
    "__main__.py": "from probe_mall.cli import main",
    "cli/__init__.py": "",
    "cli/main.py": "from probe_mall import bootstrap\nfrom probe_mall.web import app",
    "bench/__init__.py": "from probe_mall.web import app",
    "demo/__init__.py": "from probe_mall.services import use",
    "web/__init__.py": "",
    "web/app.py": "from probe_mall import bootstrap\nfrom probe_mall.services import use",
    "bootstrap.py": "from probe_mall.adapters import store\nfrom probe_mall.services import use",
    "services/__init__.py": "",
    "services/use.py": "from probe_mall.adapters import store\nfrom probe_mall.domain import rule",
    "services/other.py": "from probe_mall.services import use",
    "sim/__init__.py": "from probe_mall.domain import rule",
    "adapters/__init__.py": "",
    "adapters/store.py": (
        "import sqlalchemy\nfrom probe_mall import config\nfrom probe_mall.domain import rule"
    ),
    "config.py": "",
    "domain/__init__.py": "",
    "domain/rule.py": "from fractions import Fraction",
}


def probe_contract(tmp_path: Path, changes: dict[str, str]) -> tuple[int, str]:
    """Lint a probe package, with ``changes`` appended to its modules, under our contracts."""
    for name, source in PROBE_MODULES.items():
        path = tmp_path / PROBE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source + "\n" + changes.get(name, "") + "\n", encoding="utf-8")
    section = PYPROJECT.read_text(encoding="utf-8").split("[tool.importlinter]", 1)[1]
    # the real package's ignored imports name modules the probe does not have
    kept = [line for line in section.splitlines() if not line.startswith("ignore_imports")]
    config = tmp_path / "probe.toml"
    config.write_text(
        "[tool.importlinter]" + "\n".join(kept).replace("tokenmall", PROBE), encoding="utf-8"
    )
    return run_lint_imports(config, tmp_path, str(tmp_path))


def broken(output: str) -> set[str]:
    """The ids of the contracts the output reports broken."""
    names = {c["name"].replace("tokenmall", PROBE): c["id"] for c in contracts()}
    return {
        names[line.rpartition(" BROKEN")[0].strip()]
        for line in output.splitlines()
        if line.rstrip().endswith("BROKEN")
    }


def test_a_probe_that_points_inward_keeps_the_contracts(tmp_path: Path) -> None:
    code, output = probe_contract(tmp_path, {})
    assert code == 0, output


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        ("web/app.py", "from probe_mall.adapters import store", "edges-without-adapters"),
        ("cli/main.py", "import probe_mall.adapters.store", "edges-without-adapters"),
        ("adapters/store.py", "from probe_mall.services import use", "adapters-inward"),
        ("adapters/store.py", "from probe_mall.web import app", "adapters-inward"),
        ("services/use.py", "from probe_mall.web import app", "services-without-edges"),
        ("domain/rule.py", "import sqlalchemy", "pure-domain"),
        ("domain/rule.py", "from probe_mall.adapters import store", "pure-domain"),
        ("services/use.py", "from probe_mall.services import other", "no-cycles"),
    ],
)
def test_the_contracts_catch_a_wrong_import(
    tmp_path: Path, module: str, source: str, contract: str
) -> None:
    code, output = probe_contract(tmp_path, {module: source})
    assert code == 1, output
    assert contract in broken(output), output
