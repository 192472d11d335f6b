"""A tenant's anchoring settings: the chain's JSON-RPC URL, its chain id, the contract, the
sending account's key (sealed under the deployment's secret, never shown back: only the
account's address is), the connection test and the contract's deployment.

The connection test names the first problem a person can fix: the endpoint unreachable, a
chain id other than the settings', no contract at the address, or an account without funds
to pay for gas (on a chain that charges for it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from tokenmall.adapters.db.nfg.anchors import AnchorRecord as AnchorRecord
from tokenmall.adapters.db.nfg.anchors import AnchorSettings
from tokenmall.domain.log.anchors import (
    RPC_URL,
    ChainError,
    Deployment,
    covered_by,
    normal_address,
    private_key_bytes,
)
from tokenmall.domain.mall.people import Role
from tokenmall.services.log.anchor_ports import Chain
from tokenmall.services.log.anchoring import ASSOCIATED, DROPPED, Anchoring
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.uow import Database, MallUnitOfWork

MAX_CHAIN_ID = 2**53 - 1  # EIP-2294's bound


@dataclass(frozen=True, slots=True)
class DroppedAnchor:
    """A confirmed anchor a reorganisation took away, not sent again: the newer anchor on
    the same contract that covers it (None: none yet, a gap)."""

    record: AnchorRecord
    covered_by: int | None


@dataclass(frozen=True, slots=True)
class AnchorView:
    """What the console and the API show: never the key."""

    tenant_id: str
    configured: bool
    rpc_url: str | None
    chain_id: int | None
    contract: str | None
    account: str | None
    deploy_tx_hash: str | None  # the transaction that deployed the contract, if tokenmall did
    deploy_block: int | None
    latest: AnchorRecord | None  # the newest anchor row, with its status and last error
    confirmed: AnchorRecord | None  # the newest confirmed anchor
    dropped: list[DroppedAnchor]


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    problem: str | None  # the first problem found, for a person
    chain_id: int | None
    block: int | None
    balance: int | None  # the account's balance in wei


def admin(caller: Principal | None, tenant_id: str) -> None:
    """Only the tenant's admins see or change its anchoring (another tenant's: 404)."""
    require(caller, tenant_id, (Role.ADMIN,))


def view_in(unit: MallUnitOfWork, tenant_id: str) -> AnchorView:
    if not unit.log.tenant_exists(tenant_id):
        raise NotFound(f"no tenant {tenant_id}")
    found = unit.anchors.settings(tenant_id)
    records = unit.anchors.anchors(tenant_id)
    confirmed = [r for r in records if r.status == "confirmed"]
    pairs = [(r.size, r.contract) for r in confirmed]
    dropped = [
        DroppedAnchor(r, covered_by(r.size, r.contract, pairs))
        for r in records
        if r.status == DROPPED
    ]
    return AnchorView(
        tenant_id=tenant_id,
        configured=found is not None,
        rpc_url=None if found is None else found.rpc_url,
        chain_id=None if found is None else found.chain_id,
        contract=None if found is None else found.contract,
        account=None if found is None else found.account,
        deploy_tx_hash=None if found is None else found.deploy_tx_hash,
        deploy_block=None if found is None else found.deploy_block,
        latest=max(records, key=lambda r: r.size) if records else None,
        confirmed=confirmed[-1] if confirmed else None,
        dropped=dropped,
    )


def view(db: Database, tenant_id: str) -> AnchorView:
    with db.reading() as unit:
        return view_in(unit, tenant_id)


def configure(
    unit: MallUnitOfWork,
    anchoring: Anchoring,
    tenant_id: str,
    *,
    rpc_url: str,
    chain_id: int,
    contract: str | None,
    private_key: str | None,
    now: datetime,
) -> AnchorView:
    """Store the settings in ``unit`` (``private_key`` None or empty: keep the stored one);
    ``InvalidInput`` naming the field, nothing changed, on a bad value."""
    url = rpc_url.strip()
    if not RPC_URL.fullmatch(url):
        raise InvalidInput("rpc_url must be an http(s):// or ws(s):// URL", "rpc_url")
    if not 1 <= chain_id <= MAX_CHAIN_ID:
        raise InvalidInput(f"chain_id must be between 1 and {MAX_CHAIN_ID}", "chain_id")
    address: str | None = None
    if contract:
        try:
            address = normal_address(contract, "contract")
        except ValueError as error:
            raise InvalidInput(str(error), "contract") from None
    raw: bytes | None = None
    if private_key:
        try:
            raw = private_key_bytes(private_key)
        except ValueError as error:
            raise InvalidInput(str(error), "private_key") from None
    if not unit.log.tenant_exists(tenant_id):
        raise NotFound(f"no tenant {tenant_id}")
    stored = unit.anchors.settings(tenant_id)
    if raw is not None:
        sealed = anchoring.sealer.seal(tenant_id, raw, ASSOCIATED)
        account = anchoring.access.address_of(raw)
    elif stored is not None:
        sealed, account = stored.sealed_key, stored.account
    else:
        raise InvalidInput("private_key is required the first time", "private_key")
    kept = stored is not None and stored.contract == address
    unit.anchors.save_settings(
        AnchorSettings(
            tenant_id,
            url,
            chain_id,
            address,
            account,
            sealed,
            now,
            stored.deploy_tx_hash if kept and stored else None,
            stored.deploy_block if kept and stored else None,
        )
    )
    return view_in(unit, tenant_id)


def _settings(db: Database, tenant_id: str) -> AnchorSettings:
    with db.reading() as unit:
        if not unit.log.tenant_exists(tenant_id):
            raise NotFound(f"no tenant {tenant_id}")
        found = unit.anchors.settings(tenant_id)
    if found is None:
        raise NotFound(f"tenant {tenant_id} has no anchoring settings")
    return found


@dataclass(slots=True)
class _Probe:
    """What asking the chain found, and the first problem a person can fix with the setting
    it is in (None: ready)."""

    chain: Chain | None = None
    chain_id: int | None = None
    block: int | None = None
    balance: int | None = None
    problem: str | None = None
    field: str | None = None

    def stop(self, problem: str, field: str) -> _Probe:
        self.problem, self.field = problem, field
        return self


def _probe(anchoring: Anchoring, found: AnchorSettings, *, contract: bool) -> _Probe:
    """In order: the key and the endpoint, the chain id, the account's funds for gas, and (with
    ``contract``) the contract at its address; stopping at the first problem."""
    seen = _Probe()
    try:
        seen.chain = chain = anchoring.connect(found)
    except (ChainError, ValueError) as error:
        return seen.stop(str(error), "private_key")
    try:
        seen.chain_id = chain.chain_id()
        seen.block = chain.head()
    except ChainError as error:
        return seen.stop(f"the JSON-RPC endpoint is unreachable: {error}", "rpc_url")
    if seen.chain_id != found.chain_id:
        return seen.stop(
            f"wrong chain id: the endpoint is chain {seen.chain_id}, the settings say "
            f"{found.chain_id}",
            "chain_id",
        )
    try:
        seen.balance = chain.balance()
        if seen.balance == 0 and chain.gas_price() > 0:
            return seen.stop(
                f"the account {found.account} has no funds to pay for gas", "private_key"
            )
        if not contract:
            return seen
        if found.contract is None:
            return seen.stop(
                "no contract yet: deploy it (tokenmall log anchor-deploy) or set it", "contract"
            )
        if not chain.has_code(found.contract):
            return seen.stop(
                f"no contract at {found.contract} on chain {seen.chain_id}", "contract"
            )
    except ChainError as error:
        return seen.stop(str(error), "rpc_url")
    return seen


def check(db: Database, anchoring: Anchoring, tenant_id: str) -> ConnectionCheck:
    """Reach the endpoint and check it is the configured chain, the contract is there and the
    account can pay for gas; the first problem, named."""
    seen = _probe(anchoring, _settings(db, tenant_id), contract=True)
    return ConnectionCheck(
        seen.problem is None, seen.problem, seen.chain_id, seen.block, seen.balance
    )


@dataclass(frozen=True, slots=True)
class Deployed:
    address: str
    tx_hash: str
    block_number: int
    replaced: str | None  # the contract it replaces, if any


def _deploy_on_chain(anchoring: Anchoring, found: AnchorSettings, replace: bool) -> Deployment:
    """Deploy from the tenant's account after checking what a person can fix first; a
    refusal names its field (``Conflict``), nothing changed."""
    tenant_id = found.tenant_id
    if found.contract is not None and not replace:
        raise Conflict(
            f"tenant {tenant_id} already anchors to contract {found.contract}: "
            "set replace to deploy a new one",
            "replace",
            zh=f"已部署合约 {found.contract}：如需替换，请确认替换（replace）",
        )
    seen = _probe(anchoring, found, contract=False)
    if seen.problem is not None:
        raise Conflict(seen.problem, seen.field)
    assert seen.chain is not None
    try:
        return seen.chain.deploy(found.chain_id, anchoring.wait)
    except ChainError as error:
        raise Conflict(f"the deployment failed: {error}", "contract") from None


def _store(unit: MallUnitOfWork, seen: AnchorSettings, done: Deployment, now: datetime) -> Deployed:
    """Record the new contract if the settings did not change meanwhile; an anchor of the
    old contract not confirmed yet is forgotten (the new contract anchors the next one)."""
    tenant_id = seen.tenant_id
    current = unit.anchors.settings(tenant_id)
    if current is None or current.contract != seen.contract or current.rpc_url != seen.rpc_url:
        raise Conflict(f"tenant {tenant_id}'s settings changed while deploying", "contract")
    if seen.contract is not None:
        unit.anchors.forget_open(tenant_id, seen.contract)
    unit.anchors.save_settings(
        replace(
            current,
            contract=done.address,
            deploy_tx_hash=done.tx_hash,
            deploy_block=done.block_number,
            updated_at=now,
        )
    )
    return Deployed(done.address, done.tx_hash, done.block_number, seen.contract)


def deploy_in(
    unit: MallUnitOfWork,
    anchoring: Anchoring,
    tenant_id: str,
    *,
    replace_deployed: bool,
    now: datetime,
) -> Deployed:
    """Deploy the contract (the API: inside the request's transaction) and record it."""
    if not unit.log.tenant_exists(tenant_id):
        raise NotFound(f"no tenant {tenant_id}")
    found = unit.anchors.settings(tenant_id)
    if found is None:
        raise NotFound(f"tenant {tenant_id} has no anchoring settings")
    done = _deploy_on_chain(anchoring, found, replace_deployed)
    return _store(unit, found, done, now)


def deploy(
    db: Database,
    anchoring: Anchoring,
    tenant_id: str,
    now: datetime,
    *,
    replace_deployed: bool = False,
) -> Deployed:
    """Deploy the contract from the tenant's account and store its address and transaction
    (``Conflict`` naming the field: one deployed without ``replace_deployed``, the endpoint,
    the chain id, the funds)."""
    found = _settings(db, tenant_id)
    done = _deploy_on_chain(anchoring, found, replace_deployed)
    with db.unit() as unit:
        return _store(unit, found, done, now)
