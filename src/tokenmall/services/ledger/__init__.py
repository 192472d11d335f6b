"""The ledger use cases: the tenant book, commands executed, the daily settlement, audit,
reports and replay."""
