"""The transparency log's use cases: append, sign checkpoints, serve proofs, verify."""
