"""The token economy of economy.md: parameters, state, and rules 1–9.

``params`` validates a tenant's parameters; ``state`` holds the integer balances; one module a
rule family (``purchase``, ``market``, ``dividend``, ``standing``); ``invariants`` checks
economy.md's invariants; ``engine.Economy`` is the facade every caller uses.
"""

from tokenmall.domain.economy.engine import Economy, Order
from tokenmall.domain.economy.params import DEFAULT, PRESETS, SEED, Params

__all__ = ["DEFAULT", "PRESETS", "SEED", "Economy", "Order", "Params"]
