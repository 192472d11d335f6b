"""The ports anchoring runs on: the chain (one account on one JSON-RPC endpoint), the way to
reach it, and the sealing of the account's key under the deployment's secret.

``adapters/chain/evm.py`` answers them over web3; the tests hand the same adapter an
in-process EVM. Every failure of the chain is ``domain.log.anchors.ChainError``.
"""

from __future__ import annotations

from typing import Protocol

from tokenmall.adapters.db.nfg.anchors import AnchorRecord
from tokenmall.domain.log.anchors import AnchoredEvent, Deployment


class ConfirmedAnchors(Protocol):
    """What a proof bundle reads of the anchors (``adapters/db/nfg/anchors.SqlAnchors``)."""

    def newest_confirmed(self, tenant_id: str) -> AnchorRecord | None: ...


class PreparedTx(Protocol):
    @property
    def tx_hash(self) -> str: ...

    @property
    def raw(self) -> bytes: ...


class ChainReceipt(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def block_number(self) -> int: ...

    @property
    def block_hash(self) -> str: ...

    @property
    def events(self) -> list[AnchoredEvent]: ...


class Chain(Protocol):
    @property
    def account(self) -> str: ...

    def chain_id(self) -> int: ...

    def head(self) -> int: ...

    def balance(self) -> int: ...

    def gas_price(self) -> int: ...

    def has_code(self, address: str) -> bool: ...

    def nonce(self) -> int: ...

    def prepare_anchor(
        self, contract: str, tag: bytes, size: int, root: bytes, nonce: int, chain_id: int
    ) -> PreparedTx: ...

    def send(self, raw: bytes) -> None: ...

    def receipt(self, tx_hash: str, wait: float) -> ChainReceipt | None: ...  # float-ok: time

    def block_hash(self, number: int) -> str | None: ...

    def latest(self, contract: str, tag: bytes) -> tuple[int, bytes]: ...

    def deploy(self, chain_id: int, wait: float) -> Deployment: ...  # float-ok: time


class ChainAccess(Protocol):
    """How to reach a chain: a URL and (to send) the account's private key."""

    def connect(self, rpc_url: str, private_key: bytes | None) -> Chain: ...

    def address_of(self, private_key: bytes) -> str: ...


class KeySealer(Protocol):
    """Sealing under the deployment's secret (``adapters/signing.py``'s ``Sealer``)."""

    def seal(self, tenant_id: str, plain: bytes, associated: bytes) -> bytes: ...

    def open(self, tenant_id: str, sealed: bytes, associated: bytes) -> bytes: ...
