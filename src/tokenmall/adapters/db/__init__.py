"""The ledger's storage: SQLAlchemy 2 Core tables, Alembic migrations and ``Store``.

Design note. One URL picks the database: SQLite (the default, a file under the user's data
directory) or PostgreSQL (psycopg 3). ``tenant_id`` leads every primary key so a tenant's rows
sit together and the tables can be distributed by tenant (Citus). Amounts are BIGINT integers
of minor units, never REAL. Balances carry CHECK constraints, and on PostgreSQL a deferred
constraint trigger re-checks at commit that each journal's postings sum to zero per asset.
``Store`` is a set of functions over a connection already inside a transaction: it never
commits; the service that opened the transaction does.
"""
