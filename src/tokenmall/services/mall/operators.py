"""Platform operators: created from the CLI or the serve settings, never over the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.services.mall import auth, ids, passwords, validate
from tokenmall.services.mall.errors import Conflict, Unauthenticated


def create(conn: Connection, email: str, password: str, now: datetime) -> str:
    address = validate.email(email)
    passwords.check_strength(password)
    if people_repo.operator_login_row(conn, address) is not None:
        raise Conflict(f"operator {address} already exists", "email")
    operator_id = ids.new_id("opr")
    people_repo.add_operator(conn, operator_id, address, passwords.hash_password(password), now)
    return operator_id


def ensure(conn: Connection, email: str, password: str, now: datetime) -> bool:
    """Create the operator unless one with this email exists; True if created."""
    if people_repo.operator_login_row(conn, validate.email(email)) is not None:
        return False
    create(conn, email, password, now)
    return True


def logout(conn: Connection, caller: auth.Principal | None, now: datetime) -> None:
    if caller is None or caller.via != "operator_session":
        raise Unauthenticated("log out needs an operator session token")
    people_repo.revoke_operator_session(conn, caller.credential_id, now)
