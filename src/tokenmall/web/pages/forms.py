"""Posted forms: reading them (bounded), what a re-rendered form shows, and running a form's
action once per form key through the same idempotency store as the API, so a double submit
replays the first answer (its redirect) and changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.services.mall import idempotency, validate
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.web.pages.sessions import database

MAX_FORM_BYTES = 64 * 1024


async def read_form(request: Request) -> FormData:
    """The posted form (URL-encoded or multipart), bounded in size."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise InvalidInput("the form is too large", None)
    form = await request.form(max_files=0, max_fields=100)
    validate.no_control((k, v) for k, v in form.multi_items() if isinstance(v, str))
    return form


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class FormState:
    """What a re-rendered form shows: the values sent and the message of the field at fault."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    zh: dict[str, str] = field(default_factory=dict)  # a refusal's own Chinese sentence

    @classmethod
    def of(cls, form: FormData, exc: DomainError | None = None) -> FormState:
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "password"}
        state = cls(values)
        if exc is not None:
            state.fail(exc)
        return state

    def fail(self, exc: DomainError) -> None:
        name = str(getattr(exc, "field", None) or "_form")
        self.errors[name] = str(exc)
        if exc.zh is not None:
            self.zh[name] = exc.zh

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def move_errors(self, names: Mapping[str, str]) -> None:
        """Show the message of each field ``names`` maps from next to the field it maps to
        (the service's field name → the form's)."""
        for source, target in names.items():
            if source in self.errors:
                self.errors[target] = self.errors.pop(source)


def submit(
    request: Request,
    form: FormData,
    *,
    tenant_id: str,
    caller: Principal | None,
    action: Callable[[Connection], str],
    private: Mapping[str, Callable[[str], str]] | None = None,
) -> str:
    """Run ``action`` (which returns where to go next) once per form key, in one transaction
    with the stored answer; a double submit answers the first redirect and changes nothing.
    ``private`` maps the fields never to be hashed as they are (personal data) to a keyed
    digest the request's hash is made of instead."""
    key, request_hash = keyed(request, form, private)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        return idempotency.Done(303, action(attempt.conn))

    outcome = idempotency.run_once(
        database(request),
        tenant_id=tenant_id,
        caller=caller,
        scope_prefix=PAGE_SCOPE,
        key=key,
        request=request_hash,
        action=act,
    )
    return outcome.body


PAGE_SCOPE = "page:"  # a form's answers are stored apart from the API's


def keyed(
    request: Request, form: FormData, private: Mapping[str, Callable[[str], str]] | None = None
) -> tuple[str, str]:
    """A form's key (a hand-made post without one gets a fresh key) and its request's hash."""
    key = text_field(form, "form_key")
    if not key:
        key = uuid.uuid4().hex  # a hand-made post without a key: no replay protection needed
    idempotency.check_key(key)
    body = {k: v for k, v in sorted(form.items()) if isinstance(v, str) and k != "form_key"}
    body.pop("csrf_token", None)
    if "password" in body:
        body["password"] = hashlib.sha256(body["password"].encode()).hexdigest()
    for name, digest in (private or {}).items():
        if name in body:
            body[name] = digest(body[name])
    return key, idempotency.request_hash("POST", request.url.path, body)
