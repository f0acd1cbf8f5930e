"""Shared fixtures: a fixed seed per test, and the optional torch oracle."""

import importlib.util

import numpy as np
import pytest

import gradwork as gw


@pytest.fixture(autouse=True)
def _seed():
    gw.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _no_pending_device_checks():
    """A device-side check one test leaves unread (a bad target on the GPU path, reported
    at the next host read) must not fail the next test: each test starts clean."""
    from gradwork import _device_checks

    _device_checks.discard()
    yield
    _device_checks.discard()


@pytest.fixture
def torch():
    """The PyTorch module, or skip the test when torch is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture
def cuda_standin():
    """A CUDA device for one test: the real GPU when gradwork sees one (CuPy), else the
    CPU stand-in for CuPy, registered for the test and then put back as it was."""
    from gradwork import _standin

    was_enabled = _standin.enabled()
    if not was_enabled and not gw.cuda.is_available():
        _standin.enable()
    yield
    if not was_enabled and _standin.enabled():
        _standin.disable()


@pytest.fixture
def scipy():
    """SciPy, or skip the test when it is not installed (gradwork.tune's bayes and sobol)."""
    return pytest.importorskip("scipy", reason="needs SciPy: python -m pip install scipy")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that reached gradwork.tune's "needs SciPy" error skips where SciPy is absent.

    NOTE: only then: with SciPy installed the same error is a failure like any other.
    """
    outcome = yield
    report = outcome.get_result()
    error = call.excinfo
    if (
        error is None
        or not error.errisinstance(ImportError)
        or "needs SciPy" not in str(error.value)
    ):
        return
    if importlib.util.find_spec("scipy") is None or _scipy_blocked():
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, "Skipped: needs SciPy "
                           "(not installed): python -m pip install scipy")  # fmt: skip


def _scipy_blocked() -> bool:
    try:
        import scipy  # noqa: F401
    except ImportError:
        return True
    return False
