"""postings: the balance check runs once per transaction, not once per journal

Revision ID: 0011_transaction_balance_check
Revises: 0010_postings_journal_check
Create Date: 2026-11-30

Until now (PostgreSQL only) a statement-level trigger noted every journal a statement's
postings touched, one row per journal in ``ledger_journal_checks``, and a deferred constraint
trigger ran once per noted journal at commit: for a writer batch of 64 purchases, 64 rows
noted and 64 × three statements at commit (about 3 ms of a ~16 ms batch, measured 2026-11-30).

Now the statement trigger keeps ONE row per (tenant, transaction) in ``ledger_tx_checks`` with
the lowest and highest journal id the transaction's postings touched, and the deferred trigger
runs once per transaction and tenant: one set-based statement refuses postings of a journal
that does not exist, one refuses any journal in that range whose postings do not net to zero
per asset. Journals in the range that other transactions committed are balanced already
(each was checked at its own commit) and uncommitted ones are invisible, so checking the whole
range is exact; it only costs time when one transaction posts to journals far apart (the
writers allocate journal ids in order, so a transaction's journals are contiguous).

SQLite has no such triggers: there the writers build balanced journals (checked in the domain)
and ``tokenmall audit`` re-checks every journal.
"""

from __future__ import annotations

from importlib import import_module

from tokenmall.adapters.db.migrations import postgres_only

# The per-journal check as 0010 left it (what a downgrade restores).
CHECK_WITH_EXISTENCE = import_module(
    "tokenmall.adapters.db.migrations.versions.0010_postings_journal_check"
).CHECK_WITH_EXISTENCE

revision = "0011_transaction_balance_check"
down_revision = "0010_postings_journal_check"
branch_labels = None
depends_on = None

UPGRADE = [
    "DROP TRIGGER IF EXISTS journal_balances ON ledger_journal_checks",
    "DROP TABLE IF EXISTS ledger_journal_checks",
    "DROP FUNCTION IF EXISTS ledger_check_journal()",
    """
    CREATE TABLE ledger_tx_checks (
        tenant_id varchar(64) NOT NULL,
        txid bigint NOT NULL,
        lo bigint NOT NULL,
        hi bigint NOT NULL,
        PRIMARY KEY (tenant_id, txid)
    )
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO ledger_tx_checks AS noted (tenant_id, txid, lo, hi)
        SELECT tenant_id, txid_current(), min(journal_id), max(journal_id)
        FROM new_postings GROUP BY tenant_id
        ON CONFLICT (tenant_id, txid) DO UPDATE
        SET lo = least(noted.lo, excluded.lo), hi = greatest(noted.hi, excluded.hi);
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION ledger_check_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        span record;
        bad record;
    BEGIN
        -- The row as it is now: later statements of the transaction widened its range.
        SELECT lo, hi INTO span FROM ledger_tx_checks
        WHERE tenant_id = NEW.tenant_id AND txid = NEW.txid;
        SELECT p.journal_id INTO bad
        FROM (SELECT DISTINCT journal_id FROM postings
              WHERE tenant_id = NEW.tenant_id AND journal_id BETWEEN span.lo AND span.hi) p
        WHERE NOT EXISTS (SELECT 1 FROM journals j
                          WHERE j.tenant_id = NEW.tenant_id AND j.journal_id = p.journal_id)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'postings of tenant % refer to journal %, which does not exist',
                NEW.tenant_id, bad.journal_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT journal_id, asset, sum(amount) AS total INTO bad FROM postings
        WHERE tenant_id = NEW.tenant_id AND journal_id BETWEEN span.lo AND span.hi
        GROUP BY journal_id, asset HAVING sum(amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'journal % of tenant % does not balance: % by %',
                bad.journal_id, NEW.tenant_id, bad.asset, bad.total
                USING ERRCODE = 'check_violation';
        END IF;
        DELETE FROM ledger_tx_checks WHERE tenant_id = NEW.tenant_id AND txid = NEW.txid;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER transaction_balances AFTER INSERT ON ledger_tx_checks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction()
    """,
]

DOWNGRADE = [
    "DROP TRIGGER IF EXISTS transaction_balances ON ledger_tx_checks",
    "DROP FUNCTION IF EXISTS ledger_check_transaction()",
    "DROP TABLE IF EXISTS ledger_tx_checks",
    """
    CREATE TABLE ledger_journal_checks (
        tenant_id varchar(64) NOT NULL,
        journal_id bigint NOT NULL,
        PRIMARY KEY (tenant_id, journal_id)
    )
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO ledger_journal_checks (tenant_id, journal_id)
        SELECT DISTINCT tenant_id, journal_id FROM new_postings
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$
    """,
    CHECK_WITH_EXISTENCE,
    """
    CREATE CONSTRAINT TRIGGER journal_balances AFTER INSERT ON ledger_journal_checks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_journal()
    """,
]


def upgrade() -> None:
    postgres_only.execute(UPGRADE)


def downgrade() -> None:
    postgres_only.execute(DOWNGRADE)
