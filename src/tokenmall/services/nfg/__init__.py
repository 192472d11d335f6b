"""The NFG registry's use cases: collections, media, tokens, transfers, the log's state check."""
