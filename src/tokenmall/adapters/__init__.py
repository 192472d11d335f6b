"""Adapters: the I/O at the edges (database today; payments, chain anchoring, QR later).

Design note. Adapters translate between the outside world and the domain's integers; they hold
no business rules. ``adapters.db`` keeps the ledger (tables, Alembic migrations, ``Store``);
``adapters.db.mall`` keeps the mall's own tables and repositories.
"""
