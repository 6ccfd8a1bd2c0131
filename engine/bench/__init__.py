"""``foley-engine bench``: the performance targets of the product, measured on this machine.

One module per group of figures (``search``, ``pipeline``, ``app``), ``targets`` holds the table
of targets, ``runner`` runs everything and ``report`` prints the table; ``library`` and ``timing``
are the measurement helpers they share with the detailed, per-parameter benchmarks in
``tests/benchmarks/`` (pytest-benchmark finds those there). This package measures one figure per target.
"""
