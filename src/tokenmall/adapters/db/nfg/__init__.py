"""Tables and queries of NFG: the transparency log, and (beside it) the registry."""
