"""Fixtures of the device tests: the CPU stand-in for CUDA."""

import pytest

from tests.device.fixtures import standin_device


@pytest.fixture
def standin():
    """`device="cuda"` is the CPU stand-in for the duration of the test."""
    with standin_device():
        yield
