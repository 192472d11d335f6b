"""What a command says when the database it was pointed at cannot be used.

A wrong ``--database`` or ``TOKENMALL_DATABASE_URL`` (no such database, a server that is not
running, a typo in the URL, a driver that is not installed) is a user's mistake: the command
prints one line naming what failed and exits 2, and nothing has been written. A database that
fails in the middle of a command (the server went away, a disk is full) prints one line too and
exits 1. Neither shows a traceback; bugs (anything else) still do.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

CANNOT_OPEN = 2
FAILED = 1


def guard(app: typer.Typer) -> None:
    """Wrap every command of ``app`` and of its sub-apps (before the app is first called)."""
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = _guarded(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard(group.typer_instance)


def _guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(command, "_tokenmall_guarded", False):
        return command

    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy import exc

        from tokenmall.bootstrap import CitusNotReady, UnsupportedDatabase

        try:
            return command(*args, **kwargs)
        except UnsupportedDatabase as error:
            raise _fail(f"the database URL: {error}", CANNOT_OPEN) from None
        except CitusNotReady as error:
            raise _fail(f"Citus: {error}", CANNOT_OPEN) from None
        except exc.DBAPIError as error:
            # SQLAlchemy raises a failed connect without a statement; a failing statement
            # carries its SQL.
            reason = _first_line(error.orig) if error.orig is not None else _first_line(error)
            if error.statement is None:
                raise _fail(f"cannot connect to the database: {reason}", CANNOT_OPEN) from None
            raise _fail(f"the database failed: {reason}", FAILED) from None

    run._tokenmall_guarded = True  # type: ignore[attr-defined]
    return run


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"{_program()}: {message}", err=True)
    return typer.Exit(code)


def _program() -> str:
    """``tokenmall audit``, ``tokenmall db upgrade``… as the user typed it (its words before
    the first option)."""
    words = ["tokenmall"]
    for word in sys.argv[1:3]:
        if word.startswith("-"):
            break
        words.append(word)
    return " ".join(words)
