"""The market's storage: tables (``tables``) and the ``SqlMarket`` port (``store``)."""
