"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import pytest

from engine.models import AVModel
from engine.resources import default_model_path


@pytest.fixture(scope="module")
def shipped() -> AVModel:
    """The shipped default model (skipped in a checkout without one)."""
    path = default_model_path()
    if path is None:
        pytest.skip("no shipped model in this checkout")
    return AVModel.load(path)
