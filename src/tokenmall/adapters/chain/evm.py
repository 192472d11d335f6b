"""The ``Chain`` port over web3: one account, one JSON-RPC endpoint, the ``Anchor`` contract.

The contract's ABI and bytecode are ``anchor.json``, the build output of
``contracts/Anchor.sol`` (``contracts/compile.js`` with the pinned solcjs; a test recompiles
and compares). Every failure of the endpoint, the account or the contract is raised as
``ChainError`` with a message a person can act on; nothing else escapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from eth_account import Account
from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
)
from web3.logs import DISCARD

from tokenmall.domain.log.anchors import AnchoredEvent, ChainError, Deployment

T = TypeVar("T")
RPC_TIMEOUT = 10  # seconds: one JSON-RPC request


@cache
def artifact() -> dict[str, Any]:
    """The compiled contract: ``abi``, ``bytecode``, the compiler and its settings."""
    text = resources.files("tokenmall.adapters.chain").joinpath("anchor.json").read_text()
    found: dict[str, Any] = json.loads(text)
    return found


@dataclass(frozen=True, slots=True)
class Prepared:
    tx_hash: str  # 0x + 64 hex digits, known before the transaction is sent
    raw: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    ok: bool  # status 1: executed; 0: reverted
    block_number: int
    block_hash: str
    events: list[AnchoredEvent]


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 300 else text[:300] + "…"


def address_of(private_key: bytes) -> str:
    """The account's address (lower-case hex with 0x) of a secp256k1 private key."""
    return str(Account.from_key(private_key).address).lower()


class EvmChain:
    """The anchoring account on one chain."""

    def __init__(self, w3: Web3, private_key: bytes | None, *, where: str = "the chain") -> None:
        self.w3 = w3
        self._key = private_key
        self._where = where

    @classmethod
    def over_rpc(cls, url: str, private_key: bytes | None) -> EvmChain:
        provider = Web3.HTTPProvider(url, request_kwargs={"timeout": RPC_TIMEOUT})
        return cls(Web3(provider), private_key, where=f"the JSON-RPC endpoint {url}")

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ChainError:
            raise
        except ContractLogicError as error:
            raise ChainError(f"the contract refused {what}: {_describe(error)}") from error
        except Exception as error:  # the endpoint's failures come in many types
            raise ChainError(f"{what} failed at {self._where}: {_describe(error)}") from error

    @property
    def account(self) -> str:
        if self._key is None:
            raise ChainError("no account key is configured")
        return address_of(self._key)

    def _contract(self, address: str | None = None) -> Any:
        abi = artifact()["abi"]
        if address is None:
            return self.w3.eth.contract(abi=abi, bytecode=artifact()["bytecode"])
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def chain_id(self) -> int:
        return int(self._call("reading the chain id", lambda: self.w3.eth.chain_id))

    def head(self) -> int:
        return int(self._call("reading the latest block", lambda: self.w3.eth.block_number))

    def balance(self) -> int:
        account = Web3.to_checksum_address(self.account)
        return int(self._call("reading the balance", lambda: self.w3.eth.get_balance(account)))

    def gas_price(self) -> int:
        return int(self._call("reading the gas price", lambda: self.w3.eth.gas_price))

    def has_code(self, address: str) -> bool:
        where = Web3.to_checksum_address(address)
        return bool(self._call("reading the contract", lambda: self.w3.eth.get_code(where)))

    def nonce(self) -> int:
        account = Web3.to_checksum_address(self.account)
        return int(
            self._call(
                "reading the account's nonce",
                lambda: self.w3.eth.get_transaction_count(account, "pending"),
            )
        )

    def _signed(self, tx: dict[str, Any]) -> Prepared:
        signed = Account.sign_transaction(tx, self._key)
        return Prepared(_hex(signed.hash), bytes(signed.raw_transaction))

    def prepare_anchor(
        self, contract: str, tag: bytes, size: int, root: bytes, nonce: int, chain_id: int
    ) -> Prepared:
        """The signed ``anchor(tag, size, root)`` transaction (gas estimated: a call the
        contract would refuse is refused here, naming its reason)."""
        call = self._contract(contract).functions.anchor(tag, size, root)
        tx = self._call(
            "anchoring the checkpoint",
            lambda: call.build_transaction(
                {
                    "from": Web3.to_checksum_address(self.account),
                    "nonce": nonce,
                    "chainId": chain_id,
                }
            ),
        )
        return self._signed(tx)

    def send(self, raw: bytes) -> None:
        self._call("sending the transaction", lambda: self.w3.eth.send_raw_transaction(raw))

    def receipt(self, tx_hash: str, wait: float) -> Receipt | None:  # float-ok: time
        """The transaction's receipt, waiting up to ``wait`` seconds; None if it has none."""

        def fetch() -> Any:
            try:
                if wait > 0:
                    return self.w3.eth.wait_for_transaction_receipt(
                        HexStr(tx_hash), timeout=wait, poll_latency=0.5
                    )
                return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except (TransactionNotFound, TimeExhausted):
                return None

        found = self._call("reading the receipt", fetch)
        if found is None:
            return None
        events = []
        for log in self._call(
            "reading the receipt's events",
            lambda: (
                self._contract(found["to"] or found["contractAddress"])
                .events.Anchored()
                .process_receipt(found, errors=DISCARD)
            ),
        ):
            events.append(
                AnchoredEvent(
                    str(log["address"]).lower(),
                    bytes(log["args"]["tenant"]),
                    int(log["args"]["treeSize"]),
                    bytes(log["args"]["rootHash"]),
                )
            )
        return Receipt(
            bool(found["status"]), int(found["blockNumber"]), _hex(found["blockHash"]), events
        )

    def block_hash(self, number: int) -> str | None:
        def fetch() -> Any:
            try:
                return self.w3.eth.get_block(number)
            except BlockNotFound:
                return None

        block = self._call(f"reading block {number}", fetch)
        return None if block is None else _hex(block["hash"])

    def latest(self, contract: str, tag: bytes) -> tuple[int, bytes]:
        """The contract's stored (tree size, root) of the log ``tag``."""
        size, root = self._call(
            "reading the anchored checkpoint",
            lambda: self._contract(contract).functions.latest(tag).call(),
        )
        return int(size), bytes(root)

    def deploy(self, chain_id: int, wait: float) -> Deployment:  # float-ok: time
        """Deploy the contract from the account; its address and transaction once mined."""
        factory = self._contract()
        tx = self._call(
            "deploying the contract",
            lambda: factory.constructor().build_transaction(
                {
                    "from": Web3.to_checksum_address(self.account),
                    "nonce": self.nonce(),
                    "chainId": chain_id,
                }
            ),
        )
        prepared = self._signed(tx)
        self.send(prepared.raw)
        found = self._call(
            "waiting for the deployment",
            lambda: self.w3.eth.wait_for_transaction_receipt(
                HexStr(prepared.tx_hash), timeout=wait, poll_latency=0.5
            ),
        )
        if not found["status"] or not found["contractAddress"]:
            raise ChainError(f"the deployment transaction {prepared.tx_hash} failed")
        return Deployment(
            str(found["contractAddress"]).lower(), prepared.tx_hash, int(found["blockNumber"])
        )
