"""The accounts' use cases on the in-memory unit of work: signing in (members and operators),
authenticating tokens and sliding idle sessions, changing and resetting passwords, signing
out everywhere, and the platform's operators."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork
from fakes_orders import FakeUnits

from tokenmall.domain.economy.params import Params
from tokenmall.domain.mall.people import ApiKey, KycStatus, Role, Scope, User
from tokenmall.services.mall import accounts, auth, ids, operators, passwords
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from tokenmall.services.mall.throttle import Policy, Throttle, Throttled

TENANT = "one"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSWORD = "correct-horse-battery-9"
NEW_PASSWORD = "another-staple-battery-7"
TTL = timedelta(hours=12)
IDLE = timedelta(hours=1)
SECRET = b"server-secret"


@pytest.fixture(autouse=True)
def _fast_hashes() -> None:
    passwords.configure(fast_for_tests=True)


class Outbox:
    """The mail sender of a test: what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


def _user(user_id: str, role: Role) -> User:
    return User(TENANT, user_id, f"{user_id}@example.com", user_id, role, KycStatus.NONE,
                user_id.upper(), None, NOW)  # fmt: skip


def mall() -> FakeUnitOfWork:
    """The tenant with an admin, a second admin and a consumer, each with ``PASSWORD``."""
    uow = FakeUnitOfWork()
    uow.tenant_ledger.create(TENANT, Params(), "op-1")
    uow.tenants.add(TENANT, "Tenant One", NOW)
    digest = passwords.hash_password(PASSWORD)
    for user_id, role in (("usr-admin", Role.ADMIN), ("usr-admin2", Role.ADMIN),
                          ("usr-member", Role.CONSUMER)):  # fmt: skip
        uow.people.users[(TENANT, user_id)] = _user(user_id, role)
        uow.people.hashes[(TENANT, user_id)] = digest
    return uow


def sign_in(uow: FakeUnitOfWork, email: str = "usr-member@example.com", *,
            password: str = PASSWORD, guard: Throttle | None = None,
            now: datetime = NOW) -> tuple[User, auth.IssuedToken]:  # fmt: skip
    return accounts.login(
        FakeUnits(uow), guard or Throttle(), TENANT, email, password,
        client="10.0.0.1", now=now, ttl=TTL, idle=IDLE,
    )  # fmt: skip


def who(uow: FakeUnitOfWork, token: str, now: datetime = NOW) -> Principal:
    return accounts.authenticate(FakeUnits(uow), token, now, ttl=TTL, idle=IDLE)


# -- signing in and authenticating ---------------------------------------------------------------


def test_login_issues_a_session_the_token_authenticates() -> None:
    uow = mall()
    user, issued = sign_in(uow, "  USR-Member@Example.com ")
    assert user.user_id == "usr-member"
    assert issued.expires_at == NOW + IDLE  # the idle deadline, under the whole lifetime
    assert list(uow.credentials.sessions) == [(TENANT, issued.credential_id)]
    caller = who(uow, issued.token)
    assert (caller.via, caller.subject_id, caller.role) == ("session", "usr-member", Role.CONSUMER)
    assert caller.scope == "user:usr-member"


@pytest.mark.parametrize(
    ("email", "password"),
    [("usr-member@example.com", "wrong-password-123"), ("nobody@example.com", PASSWORD)],
)
def test_a_wrong_login_is_refused_and_counted_and_writes_nothing(email: str, password: str) -> None:
    uow = mall()
    before = uow.snapshot()
    guard = Throttle(Policy(account_free=0, client_free=100))
    with pytest.raises(Unauthenticated, match="wrong email or password"):
        sign_in(uow, email, password=password, guard=guard)
    assert uow.snapshot() == before
    assert uow.commits == 0
    # The failure counted: the account is locked now, even with the right password.
    with pytest.raises(Throttled):
        sign_in(uow, email, guard=guard)
    assert uow.snapshot() == before


def test_an_idle_session_is_slid_forward_after_a_tenth_of_its_idle_time() -> None:
    uow = mall()
    _, issued = sign_in(uow)
    where = (TENANT, issued.credential_id)
    who(uow, issued.token, NOW + IDLE / 20)  # too soon: no write
    assert uow.credentials.sessions[where].expires_at == NOW + IDLE
    later = NOW + IDLE / 2
    who(uow, issued.token, later)
    assert uow.credentials.sessions[where].expires_at == later + IDLE
    with pytest.raises(Unauthenticated):
        who(uow, issued.token, later + IDLE)  # unused for the idle time: it stops working


def test_authenticating_inside_a_write_slides_the_session_in_that_transaction() -> None:
    uow = mall()
    _, issued = sign_in(uow)
    where = (TENANT, issued.credential_id)
    commits = uow.commits
    soon = accounts.authenticate_in(uow, issued.token, NOW + IDLE / 20, ttl=TTL, idle=IDLE)
    assert (soon.via, soon.subject_id) == ("session", "usr-member")
    assert uow.credentials.sessions[where].expires_at == NOW + IDLE  # too soon: no write
    later = NOW + IDLE / 2
    caller = accounts.authenticate_in(uow, issued.token, later, ttl=TTL, idle=IDLE)
    assert caller == soon
    assert uow.credentials.sessions[where].expires_at == later + IDLE
    assert uow.commits == commits  # written in the caller's unit, not a transaction of its own
    uow.credentials.sessions[where].revoked_at = later
    before = uow.snapshot()
    with pytest.raises(Unauthenticated):
        accounts.authenticate_in(uow, issued.token, later, ttl=TTL, idle=IDLE)
    assert uow.snapshot() == before


def test_tampered_revoked_and_unknown_tokens_are_refused() -> None:
    uow = mall()
    _, issued = sign_in(uow)
    kind, tenant, session_id, secret = issued.token.split(".")
    for token in (
        f"{kind}.{tenant}.{session_id}.{secret}x",
        f"{kind}.{tenant}.ses_nothing.{secret}",
        f"{kind}.other.{session_id}.{secret}",
        "tms.too.short",
        "",
    ):
        with pytest.raises(Unauthenticated):
            who(uow, token)
    uow.credentials.sessions[(TENANT, session_id)].revoked_at = NOW
    with pytest.raises(Unauthenticated):
        who(uow, issued.token)


def test_signing_many_in_at_once_answers_each_as_alone_and_writes_no_slide() -> None:
    """A drop's batch signs its presses in together (``sign_in_many``: the sessions read in
    one look-up): each token gets what ``authenticate_in`` gives it alone — its caller or its
    refusal — and a due slide is handed back unwritten, for the batch to write only for the
    presses that succeed."""
    uow = mall()
    _, member = sign_in(uow)
    _, admin = sign_in(uow, "usr-admin@example.com")
    kind, tenant, session_id, secret = member.token.split(".")
    tokens: list[str | None] = [
        member.token,
        f"{kind}.{tenant}.{session_id}.{secret}x",  # a wrong secret
        admin.token,
        f"{kind}.other.{session_id}.{secret}",  # another tenant's
        None,  # no credentials: anonymous
        "tms.too.short",
        member.token,  # the same session twice
    ]
    later = NOW + IDLE / 2  # a slide is due
    before = uow.snapshot()
    got = accounts.sign_in_many(uow, [accounts.SignIn(t, TTL, IDLE) for t in tokens], later)
    assert uow.snapshot() == before  # nothing written yet
    alone: list[object] = []
    for token in tokens:
        if token is None:
            alone.append(None)
            continue
        try:
            alone.append(auth.authenticate_credential(uow, token, later)[0])
        except Unauthenticated:
            alone.append(Unauthenticated)
    answered = [type(g) if isinstance(g, Unauthenticated) else g[0] for g in got]
    assert answered == alone
    first = got[0]
    assert not isinstance(first, Unauthenticated)
    slide = first[1]
    assert slide is not None
    slide()
    assert uow.credentials.sessions[(TENANT, session_id)].expires_at == later + IDLE


def test_an_api_key_authenticates_with_its_scopes_and_the_role_read_now() -> None:
    uow = mall()
    secret = ids.new_secret()
    key = ApiKey(TENANT, "key_1", "usr-admin", "shop", NOW, None, frozenset({Scope.INTEGRATION}))
    uow.people.keys[(TENANT, "key_1")] = key
    uow.credentials.key_hashes[(TENANT, "key_1")] = ids.hash_secret(secret)
    caller = auth.authenticate(uow, auth.api_key_token(TENANT, "key_1", secret), NOW)
    assert (caller.via, caller.role, caller.scopes) == (
        "api_key", Role.ADMIN, frozenset({Scope.INTEGRATION}),
    )  # fmt: skip
    uow.people.users[(TENANT, "usr-admin")] = replace(
        uow.people.users[(TENANT, "usr-admin")], role=Role.CONSUMER
    )
    demoted = auth.authenticate(uow, auth.api_key_token(TENANT, "key_1", secret), NOW)
    assert demoted.role == Role.CONSUMER
    uow.people.keys[(TENANT, "key_1")] = replace(key, revoked_at=NOW)
    with pytest.raises(Unauthenticated):
        auth.authenticate(uow, auth.api_key_token(TENANT, "key_1", secret), NOW)


# -- passwords -----------------------------------------------------------------------------------


def _session_of(uow: FakeUnitOfWork, email: str) -> Principal:
    _, issued = sign_in(uow, email)
    return who(uow, issued.token)


def test_change_password_revokes_the_other_sessions_only() -> None:
    uow = mall()
    other = _session_of(uow, "usr-member@example.com")
    caller = _session_of(uow, "usr-member@example.com")
    with uow:
        revoked = accounts.change_password(
            uow, caller, TENANT, old_password=PASSWORD, new_password=NEW_PASSWORD,
            guard=Throttle(), client="c", now=NOW,
        )  # fmt: skip
    assert revoked == 1
    assert uow.credentials.sessions[(TENANT, other.credential_id)].revoked
    assert not uow.credentials.sessions[(TENANT, caller.credential_id)].revoked
    assert passwords.verify_password(NEW_PASSWORD, uow.people.hashes[(TENANT, "usr-member")])


@pytest.mark.parametrize(
    ("old", "new", "error", "field"),
    [
        ("wrong-password-123", NEW_PASSWORD, InvalidInput, "old_password"),
        (PASSWORD, PASSWORD, InvalidInput, "new_password"),
        (PASSWORD, "short", InvalidInput, "new_password"),
    ],
)
def test_a_refused_password_change_changes_nothing(
    old: str, new: str, error: type[Exception], field: str
) -> None:
    uow = mall()
    caller = _session_of(uow, "usr-member@example.com")
    before = uow.snapshot()
    with pytest.raises(error) as refused, uow:
        accounts.change_password(
            uow, caller, TENANT, old_password=old, new_password=new,
            guard=Throttle(), client="c", now=NOW,
        )  # fmt: skip
    assert getattr(refused.value, "field", None) == field
    assert uow.snapshot() == before


def test_an_api_key_may_not_change_a_password() -> None:
    uow = mall()
    caller = Principal("api_key", "key_1", "usr-member", TENANT, Role.CONSUMER)
    before = uow.snapshot()
    with pytest.raises(Forbidden), uow:
        accounts.change_password(
            uow, caller, TENANT, old_password=PASSWORD, new_password=NEW_PASSWORD,
            guard=Throttle(), client="c", now=NOW,
        )  # fmt: skip
    assert uow.snapshot() == before


def test_logout_everywhere_revokes_every_session_of_the_caller() -> None:
    uow = mall()
    _session_of(uow, "usr-admin@example.com")
    first = _session_of(uow, "usr-member@example.com")
    caller = _session_of(uow, "usr-member@example.com")
    with uow:
        assert accounts.logout_everywhere(uow, caller, TENANT, NOW) == 2
    live = [s.owner_id for s in uow.credentials.sessions.values() if not s.revoked]
    assert live == ["usr-admin"]
    with pytest.raises(Unauthenticated):
        who(uow, "tms.one." + first.credential_id + ".x")


def test_an_admin_resets_a_members_password_but_not_another_admins() -> None:
    uow = mall()
    admin = _session_of(uow, "usr-admin@example.com")
    _session_of(uow, "usr-member@example.com")
    before = uow.snapshot()
    for user_id, error in (("usr-admin2", Forbidden), ("usr-nobody", NotFound)):
        with pytest.raises(error), uow:
            accounts.reset_by_admin(uow, admin, TENANT, user_id, new_password=NEW_PASSWORD,
                                    now=NOW)  # fmt: skip
        assert uow.snapshot() == before
    member = Principal("session", "ses_x", "usr-member", TENANT, Role.CONSUMER)
    with pytest.raises(Forbidden), uow:
        accounts.reset_by_admin(uow, member, TENANT, "usr-member", new_password=NEW_PASSWORD,
                                now=NOW)  # fmt: skip
    assert uow.snapshot() == before
    with uow:
        revoked = accounts.reset_by_admin(
            uow, admin, TENANT, "usr-member", new_password=NEW_PASSWORD, now=NOW
        )
    assert revoked == 1
    assert passwords.verify_password(NEW_PASSWORD, uow.people.hashes[(TENANT, "usr-member")])


def _reset_link(uow: FakeUnitOfWork, email: str) -> list[tuple[str, str, str]]:
    mail = Outbox()
    with uow:
        accounts.request_reset(uow, TENANT, email, secret=SECRET, sender=mail,
                               link_base="https://mall.test/", now=NOW)  # fmt: skip
    return mail.sent


def test_a_reset_link_sets_a_new_password_once() -> None:
    uow = mall()
    _session_of(uow, "usr-member@example.com")
    sent = _reset_link(uow, "USR-member@example.com")
    assert [to for to, _, _ in sent] == ["usr-member@example.com"]
    token = sent[0][2].split("token=")[1].split(" ")[0]
    with uow:
        revoked = accounts.reset_with_token(uow, TENANT, token, NEW_PASSWORD, secret=SECRET,
                                            now=NOW)  # fmt: skip
    assert revoked == 1
    assert passwords.verify_password(NEW_PASSWORD, uow.people.hashes[(TENANT, "usr-member")])
    before = uow.snapshot()
    with pytest.raises(InvalidInput, match="invalid or has expired"), uow:
        accounts.reset_with_token(uow, TENANT, token, "yet-another-pass-5", secret=SECRET,
                                  now=NOW)  # fmt: skip
    assert uow.snapshot() == before


def test_reset_links_that_are_tampered_expired_or_unknown_change_nothing() -> None:
    uow = mall()
    sent = _reset_link(uow, "usr-member@example.com")
    token = sent[0][2].split("token=")[1].split(" ")[0]
    user_id, expires, signature = token.split(".")
    before = uow.snapshot()
    other_last = "1" if signature.endswith("0") else "0"  # the signature is salted: any char
    for bad, at in (
        (f"{user_id}.{expires}.{signature[:-1]}{other_last}", NOW),
        (f"usr-admin.{expires}.{signature}", NOW),
        (f"{user_id}.{int(expires) + 60}.{signature}", NOW),
        ("not-a-token", NOW),
        (token, NOW + accounts.RESET_TTL),
    ):
        with pytest.raises(InvalidInput), uow:
            accounts.reset_with_token(uow, TENANT, bad, NEW_PASSWORD, secret=SECRET, now=at)
        assert uow.snapshot() == before
    assert _reset_link(uow, "nobody@example.com") == []  # the same silence, nothing sent
    with pytest.raises(NotFound), uow:
        accounts.request_reset(uow, "other", "usr-member@example.com", secret=SECRET,
                               sender=Outbox(), link_base="", now=NOW)  # fmt: skip
    assert uow.snapshot() == before


# -- operators -----------------------------------------------------------------------------------


def test_operators_are_created_once_sign_in_and_log_out() -> None:
    uow = FakeUnitOfWork()
    with uow:
        operator_id = operators.create(uow, "Ops@Example.com", PASSWORD, NOW)
    before = uow.snapshot()
    with pytest.raises(Conflict), uow:
        operators.create(uow, "ops@example.com", PASSWORD, NOW)
    with uow:
        assert operators.ensure(uow, "ops@example.com", PASSWORD, NOW) is False
    assert uow.snapshot() == before
    issued = accounts.operator_login(FakeUnits(uow), Throttle(), "ops@example.com", PASSWORD,
                                     client="c", now=NOW, ttl=TTL)  # fmt: skip
    caller = who(uow, issued.token)
    assert (caller.via, caller.subject_id, caller.is_operator) == (
        "operator_session", operator_id, True,
    )  # fmt: skip
    with uow:
        operators.logout(uow, caller, NOW)
    with pytest.raises(Unauthenticated):
        who(uow, issued.token)


def test_refused_operator_changes_write_nothing() -> None:
    uow = FakeUnitOfWork()
    before = uow.snapshot()
    for email, password, error in (("not-an-email", PASSWORD, InvalidInput),
                                   ("ops@example.com", "short", InvalidInput)):  # fmt: skip
        with pytest.raises(error), uow:
            operators.create(uow, email, password, NOW)
    member = Principal("session", "ses_1", "usr-member", TENANT, Role.CONSUMER)
    for caller in (None, member):
        with pytest.raises(Unauthenticated), uow:
            operators.logout(uow, caller, NOW)
    with pytest.raises(Unauthenticated):
        accounts.operator_login(FakeUnits(uow), Throttle(), "ops@example.com", PASSWORD,
                                client="c", now=NOW, ttl=TTL)  # fmt: skip
    assert uow.snapshot() == before
    with uow:
        assert operators.ensure(uow, "ops@example.com", PASSWORD, NOW) is True
    assert len(uow.operators.accounts) == 1
