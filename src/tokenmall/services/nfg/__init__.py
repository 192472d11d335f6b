"""The NFG use cases: collections and tokens, the drop, certificates."""
