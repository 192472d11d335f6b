"""The pure core: money, the economy's rules, and (later) the ledger's journals.

Nothing here imports a framework, touches a file, a socket, a clock or a random source; the
import contract in ``tests/unit/test_import_contract.py`` fails the build if it does. Callers
pass in everything (time, identifiers, randomness) so every rule is a deterministic function.
"""
