"""NFG use cases: the registry, the drop, transfers, rights and redemptions."""
