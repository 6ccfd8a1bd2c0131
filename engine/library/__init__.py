"""Sound library: scan, index (hnswlib + SQLite), recommend. Public names are re-exported in ``engine.api``."""
