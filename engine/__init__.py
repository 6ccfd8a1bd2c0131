"""Foley Assistant engine: data pipeline, models, training, evaluation, sound index, recommender.

Qt-free by contract (see pyproject's import-linter contract and tests/test_boundaries.py).
"""

from engine.version import __version__

__all__ = ["__version__"]
