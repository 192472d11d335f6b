"""The Citus cluster the tests run on: found, and a fresh database on it per test module.

``TOKENMALL_CITUS`` names the coordinator (a database URL; default: the local cluster of
``scripts/citus-cluster.sh``, ``postgresql+psycopg://postgres@127.0.0.1:9700/tokenmall``). A fresh
database is created on the coordinator and on every worker (with the extension), and the
workers are registered in it, as ``citus-cluster.sh`` does for its own database.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:9700/tokenmall"
HOW = (
    "start one with scripts/citus-build.sh && scripts/citus-cluster.sh start, "
    "or set TOKENMALL_CITUS"
)


def coordinator_url() -> str:
    return os.environ.get("TOKENMALL_CITUS") or DEFAULT_URL


def libpq(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Node:
    host: str
    port: int

    def url(self, user: str, database: str) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"


def problem() -> str | None:
    """Why the cluster cannot be used, or None."""
    try:
        with psycopg.connect(libpq(coordinator_url()), connect_timeout=3) as conn:
            found = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'citus'"
            ).fetchone()
            if found is None:
                return f"{coordinator_url()} has no citus extension"
            workers = conn.execute(
                "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND isactive"
            ).fetchone()
            if not workers or workers[0] < 2:
                return f"{coordinator_url()} has fewer than two workers"
    except psycopg.Error as exc:
        return f"no Citus coordinator at {coordinator_url()} ({str(exc).strip()})"
    return None


def workers() -> list[Node]:
    with psycopg.connect(libpq(coordinator_url())) as conn:
        rows = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive"
            " ORDER BY nodeport"
        ).fetchall()
    return [Node(str(h), int(p)) for h, p in rows]


def create_database(prefix: str) -> str:
    """A new database on every node, Citus set up in it; its coordinator URL."""
    parsed = make_url(coordinator_url())
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    coordinator = Node(parsed.host or "127.0.0.1", parsed.port or 5432)
    user = parsed.username or "postgres"
    nodes = [coordinator, *workers()]
    for node in nodes:
        with psycopg.connect(node.url(user, "postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(node.url(user, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION citus")
    with psycopg.connect(coordinator.url(user, name), autocommit=True) as conn:
        conn.execute(
            "SELECT citus_set_coordinator_host(%s, %s)", (coordinator.host, coordinator.port)
        )
        for node in nodes[1:]:
            conn.execute("SELECT citus_add_node(%s, %s)", (node.host, node.port))
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    user = parsed.username or "postgres"
    coordinator = Node(parsed.host or "127.0.0.1", parsed.port or 5432)
    for node in [coordinator, *workers()]:
        with psycopg.connect(node.url(user, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
