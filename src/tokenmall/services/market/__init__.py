"""The market (文交所) as a service: loads the slice of state an action reads into the domain's
``MarketState``, applies one ``Market`` action, persists its effects (``persist``)."""
