"""The anchoring contract: its committed build output is what the pinned solcjs makes of
``contracts/Anchor.sol``, and on an in-process EVM (py-evm) it keeps the latest (tree size,
root) of each log, refuses a smaller size, another root at the same size and any sender but
its deployer, and emits ``Anchored``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from tokenmall.adapters.chain.evm import EvmChain, artifact
from tokenmall.domain.log.anchors import AnchoredEvent, ChainError

ROOT = Path(__file__).parents[2]
CONTRACTS = ROOT / "contracts"
BUILT = ROOT / "src" / "tokenmall" / "adapters" / "chain" / "anchor.json"


def test_the_committed_build_output_is_the_source_compiled() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot recompile contracts/Anchor.sol")
    if not (CONTRACTS / "node_modules" / "solc").is_dir():
        message = "the pinned solc is not installed (scripts/setup.sh runs npm ci in contracts/)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pinned = json.loads((CONTRACTS / "package.json").read_text())["devDependencies"]["solc"]
    made = subprocess.run(
        [node, str(CONTRACTS / "compile.js"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert json.loads(made.stdout)["compiler"].startswith(f"solc {pinned}+")
    assert made.stdout == BUILT.read_text(), (
        "src/tokenmall/adapters/chain/anchor.json is stale: run node contracts/compile.js"
    )


def funded_chain(w3: Web3) -> EvmChain:
    chain = EvmChain(w3, bytes(Account.create().key))
    w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": Web3.to_checksum_address(chain.account), "value": 10**18}
    )
    return chain


def anchor(chain: EvmChain, contract: str, tag: bytes, size: int, root: bytes) -> list[object]:
    prepared = chain.prepare_anchor(contract, tag, size, root, chain.nonce(), chain.chain_id())
    chain.send(prepared.raw)
    receipt = chain.receipt(prepared.tx_hash, 5)
    assert receipt is not None
    assert receipt.ok
    return list(receipt.events)


def test_the_contract_keeps_the_latest_and_refuses_going_back() -> None:
    assert artifact()["compiler"].startswith("solc ")
    w3 = Web3(EthereumTesterProvider())
    owner = funded_chain(w3)
    contract = owner.deploy(owner.chain_id(), 5).address
    assert owner.has_code(contract)
    wine, tea = b"w" * 32, b"t" * 32
    assert owner.latest(contract, wine) == (0, bytes(32))
    events = anchor(owner, contract, wine, 5, b"\x01" * 32)
    assert events == [AnchoredEvent(contract, wine, 5, b"\x01" * 32)]
    anchor(owner, contract, tea, 2, b"\x02" * 32)
    anchor(owner, contract, wine, 5, b"\x01" * 32)  # the same checkpoint again: allowed
    anchor(owner, contract, wine, 9, b"\x03" * 32)
    assert owner.latest(contract, wine) == (9, b"\x03" * 32)
    assert owner.latest(contract, tea) == (2, b"\x02" * 32)
    with pytest.raises(ChainError, match="tree size smaller than the anchored one"):
        owner.prepare_anchor(contract, wine, 8, b"\x04" * 32, owner.nonce(), owner.chain_id())
    with pytest.raises(ChainError, match="another root at the anchored size"):
        owner.prepare_anchor(contract, wine, 9, b"\x04" * 32, owner.nonce(), owner.chain_id())
    stranger = funded_chain(w3)
    with pytest.raises(ChainError, match="only the owner anchors"):
        stranger.prepare_anchor(contract, wine, 10, b"\x05" * 32, 0, owner.chain_id())
    # Sent anyway (no estimate: a fixed gas limit), the refusal is a failed receipt.
    tx = {
        "to": Web3.to_checksum_address(contract),
        "data": w3.eth.contract(abi=artifact()["abi"]).encode_abi(
            "anchor", [wine, 3, b"\x06" * 32]
        ),
        "gas": 100_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": owner.nonce(),
        "chainId": owner.chain_id(),
    }
    signed = Account.sign_transaction(tx, owner._key)
    w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = owner.receipt("0x" + bytes(signed.hash).hex(), 5)
    assert receipt is not None
    assert (receipt.ok, receipt.events) == (False, [])
    assert owner.latest(contract, wine) == (9, b"\x03" * 32)
