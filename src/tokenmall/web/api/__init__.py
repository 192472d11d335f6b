"""Routers, one per endpoint family, and the request/response schemas they share."""
