"""The HTTP service: FastAPI on uvicorn, thin routes over ``services/mall``.

Design note. ``app.create_app(settings)`` builds the application; ``api/`` holds one router per
endpoint family (health, platform, people, catalogue) and ``api/schemas.py`` the request and
response models, apart from the records of the services. Routes are plain ``def`` (a sync core
run in the server's thread pool): parse, authenticate (``deps``), call one use case inside one
unit of work, map the result. Errors are mapped to ``{"error": {"code", "message", "field"}}``
in one place (``errors.py``), and every status a route can answer is declared in the OpenAPI.
Mutating routes go through ``idempotent.py`` (``Idempotency-Key``). Money travels as decimal
strings; request models refuse unknown fields and coerce nothing (strict).
"""
