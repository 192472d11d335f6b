"""postings: the statement trigger checks that the journals it posted to exist with one ordered
probe per tenant (a writer batch's journals are consecutive), planned once per session

Revision ID: 0015_journal_range_probe
Revises: 0014_planned_balance_note
Create Date: 2026-12-01

``ledger_note_journals`` (0013, 0014) looked every journal a statement posted to up in
``journals`` by its primary key, in a query planned at each call: ~0.44 ms of a writer batch
of 32 purchases (its postings insert took 1.4 ms in all; 2026-12-01).

A writer batch posts to consecutive journals of one tenant. Now the statement's part-sums
give, per tenant, the lowest and highest journal posted to and how many distinct ones; if
they are consecutive (``n = hi - lo + 1``), they all exist exactly when the ``n``-th journal
of the tenant from ``lo`` on is ``hi`` (journal ids are unique integers, so ``n`` of them
between ``lo`` and ``hi`` are all of them). That is one ordered index probe per tenant, in
the same statement as the part-sums. Only when the ids are not consecutive, or the probe
does not find ``hi`` there, is each journal looked up as before (0014's query, planned at each
call), and the missing ones noted for the check at commit. What is checked, the messages and
the error codes are 0013's.

The probe is ``ORDER BY journal_id OFFSET n - 1 LIMIT 1``: an ordered scan that only the
primary key (``tenant_id, journal_id``) gives. A plan of ``count(*) … BETWEEN lo AND hi`` made
while ``journals`` was empty chose ``uq_journals_tenant_key`` (tenant only, every journal of
the tenant filtered) and kept it for the session (4.4 ms a batch after 400 batches); the
ordered one keeps the primary key from the first call (0.23 ms a batch throughout, 400
batches on a fresh database). The trigger's part of a batch of 32: 0.44 -> 0.22 ms.
"""

from __future__ import annotations

from importlib import import_module

from tokenmall.adapters.db.migrations import postgres_only

_0014 = import_module("tokenmall.adapters.db.migrations.versions.0014_planned_balance_note")

revision = "0015_journal_range_probe"
down_revision = "0014_planned_balance_note"
branch_labels = None
depends_on = None

NOTE_JOURNALS = """
    CREATE OR REPLACE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan = off
    SET enable_hashjoin = off
    SET enable_mergejoin = off
    SET enable_material = off
    SET plan_cache_mode = force_custom_plan
    AS $$
    DECLARE
        tenant_ids text[];
        journal_ids bigint[];
        unbalanced bigint;
        unsure bigint;
        missing bigint := 0;
    BEGIN
        -- One pass over the statement's postings: part-sums per journal and asset that do not
        -- net to zero (yet) are kept; per tenant, whether the journals posted to are
        -- consecutive and all there (the n-th journal from the lowest is the highest).
        WITH sums AS (
            SELECT tenant_id, journal_id, asset, sum(amount) AS total
            FROM new_postings GROUP BY tenant_id, journal_id, asset
        ), open AS (
            INSERT INTO ledger_tx_pending (tenant_id, txid, journal_id, asset, total)
            SELECT tenant_id, txid_current(), journal_id, asset, total FROM sums
            WHERE total <> 0
            RETURNING 1
        ), named AS (
            SELECT tenant_id, min(journal_id) AS lo, max(journal_id) AS hi,
                   count(DISTINCT journal_id) AS n
            FROM sums GROUP BY tenant_id
        )
        SELECT (SELECT count(*) FROM open),
               (SELECT count(*) FROM named
                WHERE n <> hi - lo + 1
                   OR (SELECT j.journal_id FROM journals AS j
                       WHERE j.tenant_id = named.tenant_id AND j.journal_id >= named.lo
                       ORDER BY j.journal_id OFFSET named.n - 1 LIMIT 1)
                      IS DISTINCT FROM named.hi)
        INTO unbalanced, unsure;
        IF unsure > 0 THEN
            -- Not consecutive, or some not there (yet): each journal by its primary key; the
            -- missing ones, marked by a NULL asset, are looked for again at commit.
            SELECT array_agg(tenant_id), array_agg(journal_id) INTO tenant_ids, journal_ids
            FROM (SELECT DISTINCT tenant_id, journal_id FROM new_postings) AS named;
            INSERT INTO ledger_tx_pending (tenant_id, txid, journal_id, asset, total)
            SELECT n.tenant_id, txid_current(), n.journal_id, NULL, 0
            FROM unnest(tenant_ids, journal_ids) AS n(tenant_id, journal_id)
            WHERE NOT EXISTS (SELECT 1 FROM journals AS j
                              WHERE j.tenant_id = n.tenant_id AND j.journal_id = n.journal_id);
            GET DIAGNOSTICS missing = ROW_COUNT;
        END IF;
        IF unbalanced + missing > 0 THEN
            INSERT INTO ledger_tx_checks (tenant_id, txid, lo, hi)
            SELECT DISTINCT tenant_id, txid_current(), 0, 0 FROM new_postings
            ON CONFLICT (tenant_id, txid) DO NOTHING;
        END IF;
        RETURN NULL;
    END $$
"""


def upgrade() -> None:
    postgres_only.execute([NOTE_JOURNALS])


def downgrade() -> None:
    postgres_only.execute([_0014.NOTE_JOURNALS])
