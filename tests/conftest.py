"""Shared pytest fixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run unless RESIDUE_FUZZ=1 asks for fresh ones:
# CI stays reproducible, and a developer can still go looking for new counterexamples.
settings.register_profile("reproducible", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile("explore" if os.environ.get("RESIDUE_FUZZ") == "1" else "reproducible")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(0)
