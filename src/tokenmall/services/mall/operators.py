"""Platform operators: created from the CLI or the serve settings, never over the API."""

from __future__ import annotations

from datetime import datetime

from tokenmall.services.mall import auth, ids, passwords, validate
from tokenmall.services.mall.errors import Conflict, Unauthenticated
from tokenmall.services.unit_of_work import UnitOfWork


def create(uow: UnitOfWork, email: str, password: str, now: datetime) -> str:
    address = validate.email(email)
    passwords.check_strength(password)
    if uow.operators.login_row(address) is not None:
        raise Conflict(f"operator {address} already exists", "email")
    operator_id = ids.new_id("opr")
    uow.operators.add(operator_id, address, passwords.hash_password(password), now)
    return operator_id


def ensure(uow: UnitOfWork, email: str, password: str, now: datetime) -> bool:
    """Create the operator unless one with this email exists; True if created.

    Several server processes start at once and each ensures the same operator: the insert
    yields to one already there, so none of them fails its start-up."""
    address = validate.email(email)
    if uow.operators.login_row(address) is not None:
        return False
    passwords.check_strength(password)
    operator_id = ids.new_id("opr")
    return uow.operators.add_unless_exists(
        operator_id, address, passwords.hash_password(password), now
    )


def logout(uow: UnitOfWork, caller: auth.Principal | None, now: datetime) -> None:
    if caller is None or caller.via != "operator_session":
        raise Unauthenticated("log out needs an operator session token")
    uow.operators.revoke_session(caller.credential_id, now)
