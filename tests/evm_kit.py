"""An in-process EVM (web3's EthereumTesterProvider on py-evm) behind the ``ChainAccess`` port,
for the anchoring tests: one URL reaches it, any other is a real (refused) JSON-RPC call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from tokenmall.adapters.chain.evm import EvmChain, address_of
from tokenmall.domain.log.anchors import ChainError

RPC = "http://evm.test/rpc"
UNREACHABLE = "http://127.0.0.1:9/rpc"  # the discard port: nothing listens, refused at once


@dataclass
class Faults:
    """Failures to inject: the next ``sends`` sends fail as an endpoint would."""

    sends: int = 0


class FlakyChain(EvmChain):
    def __init__(self, w3: Web3, key: bytes | None, faults: Faults) -> None:
        super().__init__(w3, key, where=RPC)
        self.faults = faults

    def send(self, raw: bytes) -> None:
        if self.faults.sends > 0:
            self.faults.sends -= 1
            raise ChainError(f"sending the transaction failed at {RPC}: 503 Service Unavailable")
        super().send(raw)


@dataclass
class EvmAccess:
    w3: Web3 = field(default_factory=lambda: Web3(EthereumTesterProvider()))
    faults: Faults = field(default_factory=Faults)

    def connect(self, rpc_url: str, private_key: bytes | None) -> EvmChain:
        if rpc_url == RPC:
            return FlakyChain(self.w3, private_key, self.faults)
        return EvmChain.over_rpc(rpc_url, private_key)

    def address_of(self, private_key: bytes) -> str:
        return address_of(private_key)

    @property
    def tester(self) -> Any:
        return self.w3.provider.ethereum_tester  # type: ignore[union-attr]

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def fund(self, address: str, wei: int = 10**18) -> None:
        self.w3.eth.send_transaction(
            {"from": self.w3.eth.accounts[0], "to": Web3.to_checksum_address(address), "value": wei}
        )

    def new_key(self) -> str:
        return "0x" + bytes(Account.create().key).hex()


class OfflineAccess:
    """No chain at all: every connection refused at once (the tests that must send nothing
    out of the machine, whatever URL they store)."""

    def connect(self, rpc_url: str, private_key: bytes | None) -> EvmChain:
        raise ChainError(f"no chain is reachable in this test (asked for {rpc_url})")

    def address_of(self, private_key: bytes) -> str:
        return address_of(private_key)
