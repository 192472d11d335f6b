"""tokenmall: token-economy e-commerce with exact arithmetic and a double-entry ledger.

Layout: ``domain`` is pure (stdlib only, no I/O, no clock); ``cli`` is the command line.
"""

__version__ = "0.1.0"
