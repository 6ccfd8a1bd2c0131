"""``foley-engine bench``: the performance targets of the product, measured on this machine.

One module per group of figures (``search``, ``pipeline``, ``app``), ``targets`` holds the table
of targets, ``runner`` runs everything and ``report`` prints the table. The detailed, per-parameter
benchmarks stay in ``tests/benchmarks/``; this package measures the one figure per target.
"""
