"""The mall's use cases: tenants, people, catalogue and stock.

Design note. Each use case is a function ``(conn, caller, tenant_id, …, now) -> record``: it
checks who the caller is (``auth.require``, deny by default), validates its input, calls the
repositories in ``adapters/db/mall`` and returns plain records. It runs inside the caller's unit
of work (``uow.Database.transaction``) and never commits, so a refused request changes nothing.
Errors are ``errors.MallError`` subclasses (or the domain's); the web layer maps them to HTTP.
Money is parsed once, by ``domain.money`` through ``validate.money``; economy parameters by
``Params.updated``. Nothing here knows about HTTP, so orders, payments and the integration API
(next) reuse the same calls: ``catalogue.reserve``/``release`` for stock, ``idempotency.run``.
"""
