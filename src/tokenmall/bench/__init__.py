"""Benchmarks (``tokenmall bench``): the ledger, the economy engine, the HTTP API and the
simulator, each timed over a workload built for it. An outer layer, like ``cli`` and ``web``."""
