"""Shared fixtures.

``shared_data`` is the team's real reference data (``../shared/data`` next to the
repository). Users' machines do not have it: tests that need it skip with a reason.
"""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """Path of ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference data not found at {SHARED_DATA} (only on the team's machines)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Deterministic, CPU-friendly tests."""
    torch.manual_seed(0)
    np.random.seed(0)
    yield
