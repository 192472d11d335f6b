"""``tokenmall demo [--port P]`` (issue 5): to be filled."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
