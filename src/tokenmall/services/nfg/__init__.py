"""The NFG use cases: collections, media, tokens, transfers, the drop, certificates."""
