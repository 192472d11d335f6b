"""The mall's storage: tables and repositories for tenants, people, catalogue and stock.

Design note. Repositories are functions over a SQLAlchemy ``Connection`` that is already inside
a transaction (the unit of work in ``services/mall/uow.py`` opens and commits it); they never
commit. Every function takes ``tenant_id`` first and every query filters on it, so a caller of
one tenant cannot reach another's rows by guessing ids. Counters change by atomic
``UPDATE … SET stock = stock + :change WHERE stock + :change >= 0`` with the row count
checked: no read-modify-write, so no oversold stock under any concurrency, on SQLite and
PostgreSQL alike.
"""
