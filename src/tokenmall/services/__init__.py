"""Use cases around the domain: each takes outside input, drives the engine, reports results.

``replay`` runs a JSON-lines history through ``domain.economy.Economy`` with no database.
"""
