"""NFG use cases: the drop (primary sale), on the mall's unit of work."""
