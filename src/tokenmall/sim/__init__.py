"""The simulator: one tenant's economy over days, driven by simulated buyers, honestly shown.

``scenario`` describes a run (parameters, buyer arrival, basket sizes, repeat buying, referral,
selling and converting, in phases over the run); ``runner`` drives ``domain.economy.Economy``
day by day (no rule is copied here: every purchase, sale, conversion and dividend day is the
engine's) and records one ``DayRow`` a day with the health figures of
``domain.economy.health``; ``output`` writes the CSV and JSON, ``plots`` the PNGs (Chinese
labels, a CJK font found by file path), ``report`` the self-contained HTML; ``sweep`` repeats a
scenario over a grid of parameters.

Randomness lives here, never in ``domain/``: a ``random.Random`` is passed in, so a run is
reproduced by its seed. Floats appear only for behaviour (probabilities, arrival rates) and for
drawing plots; money and points stay integers of minor units, written as decimal strings.
"""
