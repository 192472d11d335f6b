"""The living demo (``tokenmall demo``): a seeded tenant with a history. An outer layer, like
``cli``: it drives the same use cases as the API and the pages."""
