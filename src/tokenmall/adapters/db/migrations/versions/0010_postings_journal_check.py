"""postings: a journal's existence checked once per journal at commit, not per posting row

Revision ID: 0010_postings_journal_check
Revises: 0009_integration_webhooks
Create Date: 2026-11-30

The foreign key from postings to journals was checked for every posting row: half of the
1M-row INSERT of a dividend day on PostgreSQL (about 5 of 10.5 s, measured 2026-11-30) and
about 1 s of it on SQLite, for a fact the ledger establishes once per journal. On PostgreSQL the
deferred constraint trigger that already runs once per journal at commit (it sums the
journal's postings per asset) now also refuses postings whose journal does not exist, and the
per-row foreign key goes. On SQLite, where there is no such trigger, the writers insert a
journal before its postings in the same transaction and ``tokenmall audit`` reports any posting
without its journal. SQLite cannot drop a constraint: the table is rebuilt from its own
CREATE statement without the clause (``WITHOUT ROWID`` and every other part kept as they are).
"""

from __future__ import annotations

import re

from alembic import op

revision = "0010_postings_journal_check"
down_revision = "0009_integration_webhooks"
branch_labels = None
depends_on = None

FK = "fk_postings_tenant_id_journals"

CHECK_WITH_EXISTENCE = """
CREATE OR REPLACE FUNCTION ledger_check_journal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    PERFORM 1 FROM journals
    WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'postings of tenant % refer to journal %, which does not exist',
            NEW.tenant_id, NEW.journal_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT asset, sum(amount) AS total INTO bad FROM postings
    WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id
    GROUP BY asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % of tenant % does not balance: % by %',
            NEW.journal_id, NEW.tenant_id, bad.asset, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM ledger_journal_checks
    WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id;
    RETURN NULL;
END $$
"""

CHECK_BALANCE_ONLY = """
CREATE OR REPLACE FUNCTION ledger_check_journal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT asset, sum(amount) AS total INTO bad FROM postings
    WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id
    GROUP BY asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % of tenant % does not balance: % by %',
            NEW.journal_id, NEW.tenant_id, bad.asset, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM ledger_journal_checks
    WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id;
    RETURN NULL;
END $$
"""

_FK_CLAUSE = re.compile(
    r",\s*CONSTRAINT " + FK + r" FOREIGN KEY\s*\(tenant_id, journal_id\)\s*"
    r"REFERENCES journals \(tenant_id, journal_id\)",
    re.IGNORECASE,
)
_FK_TEXT = (
    f", \n\tCONSTRAINT {FK} FOREIGN KEY(tenant_id, journal_id) "
    "REFERENCES journals (tenant_id, journal_id)"
)


def _rebuild_sqlite_postings(change: str) -> None:
    """Recreate SQLite's postings table with its CREATE statement changed (``drop``/``add`` the
    foreign key clause), keeping its rows and everything else about it."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'postings'"
    ).scalar_one()
    if change == "drop":
        new_sql, found = _FK_CLAUSE.subn("", sql)
        if found != 1:
            raise RuntimeError("postings: the foreign key clause to drop was not found")
    else:
        head, tail = sql.rsplit(")", 1)
        new_sql = head.rstrip() + _FK_TEXT + "\n)" + tail
    # After a rename SQLite keeps the name quoted: CREATE TABLE "postings" (…).
    new_sql, named = re.subn(
        r'^CREATE TABLE\s+"?postings"?', "CREATE TABLE postings_rebuilt", new_sql
    )
    if named != 1:
        raise RuntimeError("postings: unexpected CREATE statement")
    op.execute(new_sql)
    op.execute("INSERT INTO postings_rebuilt SELECT * FROM postings")
    op.execute("DROP TABLE postings")
    op.execute("ALTER TABLE postings_rebuilt RENAME TO postings")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK_WITH_EXISTENCE)
        op.drop_constraint(FK, "postings", type_="foreignkey")
    else:
        _rebuild_sqlite_postings("drop")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            FK, "postings", "journals", ["tenant_id", "journal_id"], ["tenant_id", "journal_id"]
        )
        op.execute(CHECK_BALANCE_ONLY)
    else:
        _rebuild_sqlite_postings("add")
