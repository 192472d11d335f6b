"""The EVM chain the transparency log's checkpoints are anchored on (web3 over JSON-RPC)."""
