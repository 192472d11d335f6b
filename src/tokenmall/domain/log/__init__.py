"""The transparency log's pure parts: RFC 9162 hashing and proofs, canonical leaves, notes."""
