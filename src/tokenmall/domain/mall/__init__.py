"""The mall's records and rules: orders, payments, refunds, withdrawals, referrals, catalogue.

Plain frozen values and pure functions only (no database, no framework, no clock): the
adapters map rows to these records, the services apply the rules, the edges format them.
"""
