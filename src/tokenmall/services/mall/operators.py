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
    """Create the operator unless one with this email exists; True if created.

    Several server processes start at once and each ensures the same operator: the insert
    yields to one already there, so none of them fails its start-up."""
    address = validate.email(email)
    if people_repo.operator_login_row(conn, address) is not None:
        return False
    passwords.check_strength(password)
    operator_id = ids.new_id("opr")
    return people_repo.add_operator_unless_exists(
        conn, operator_id, address, passwords.hash_password(password), now
    )


def logout(conn: Connection, caller: auth.Principal | None, now: datetime) -> None:
    if caller is None or caller.via != "operator_session":
        raise Unauthenticated("log out needs an operator session token")
    people_repo.revoke_operator_session(conn, caller.credential_id, now)
