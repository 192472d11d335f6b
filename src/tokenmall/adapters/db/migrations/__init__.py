"""Alembic migrations of the ledger (and of any other table set that adds a revision here)."""
