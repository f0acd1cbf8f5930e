"""Shared fixtures: a fixed seed per test, and the optional torch oracle."""

import numpy as np
import pytest

import gradwork as gw


@pytest.fixture(autouse=True)
def _seed():
    gw.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def torch():
    """The PyTorch module, or skip the test when torch is not installed."""
    return pytest.importorskip("torch")
