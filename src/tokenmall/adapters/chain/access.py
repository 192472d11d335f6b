"""The ``ChainAccess`` port over JSON-RPC: how the composition root reaches a tenant's chain.

web3 is imported on the first call, not with this module: it takes a good part of a second to
import, and most processes (every CLI command, the web app's start) never reach a chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenmall.adapters.chain.evm import EvmChain


class Web3Access:
    """A chain over HTTP JSON-RPC, one account's key to send with."""

    def connect(self, rpc_url: str, private_key: bytes | None) -> EvmChain:
        from tokenmall.adapters.chain.evm import EvmChain

        return EvmChain.over_rpc(rpc_url, private_key)

    def address_of(self, private_key: bytes) -> str:
        from tokenmall.adapters.chain.evm import address_of

        return address_of(private_key)
