"""Module paths torch scripts name: gradwork.utils.data, device, cuda, accelerator, backends."""

import pickle

import pytest

import gradwork as gw
from tests.helpers import without_cuda

try:
    import torch
except ImportError:
    torch = None


def test_utils_data_is_gradwork_data():
    import gradwork.utils.data
    from gradwork.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert gradwork.utils.data is gw.data
    assert gw.utils.data is gw.data
    assert (DataLoader, Dataset, TensorDataset, random_split) == (
        gw.data.DataLoader, gw.data.Dataset, gw.data.TensorDataset, gw.data.random_split
    )  # fmt: skip


@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:1", "cpu:0", "mps", "meta"])
def test_device_parses_like_torch(spec):
    mine = gw.device(spec)
    assert (mine.type, mine.index, str(mine)) == {
        "cpu": ("cpu", None, "cpu"), "cuda": ("cuda", None, "cuda"),
        "cuda:1": ("cuda", 1, "cuda:1"), "cpu:0": ("cpu", 0, "cpu:0"),
        "mps": ("mps", None, "mps"), "meta": ("meta", None, "meta"),
    }[spec]  # fmt: skip
    if torch is not None:
        theirs = torch.device(spec)
        assert (mine.type, mine.index, str(mine), repr(mine)) == (
            theirs.type, theirs.index, str(theirs), repr(theirs)
        )  # fmt: skip


def test_device_equality_hash_and_forms():
    assert gw.device("cuda", 1) == gw.device("cuda:1") == gw.device(gw.device("cuda:1"))
    assert gw.device(0) == gw.device("cuda:0")
    assert gw.device("cpu") != gw.device("cuda") and gw.device("cpu") != "cpu"  # as torch
    assert len({gw.device("cpu"), gw.device("cpu")}) == 1
    assert pickle.loads(pickle.dumps(gw.device("cuda:2"))) == gw.device("cuda:2")
    assert repr(gw.device("cuda", 1)) == "device(type='cuda', index=1)"


@pytest.mark.parametrize(
    "args, message",
    [
        (("cuda:x",), "Invalid device string: 'cuda:x'"),
        (("foo",), "device type at start of device string: foo"),
        (("cuda:1", 2), "must not include an index"),
        (("cuda", -1), "must not be negative"),
    ],
)
def test_device_errors_as_torch(args, message):
    with pytest.raises(RuntimeError, match=message):
        gw.device(*args)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.device(*args)


@without_cuda
def test_cuda_accelerator_and_mps_report_absent():
    assert gw.cuda.is_available() is False and gw.cuda.device_count() == 0
    assert gw.cuda.manual_seed(3) is None and gw.cuda.manual_seed_all(3) is None
    assert gw.accelerator.is_available() is False
    assert gw.accelerator.current_accelerator() is None
    assert gw.backends.mps.is_available() is False and gw.backends.mps.is_built() is False
    gw.backends.cudnn.benchmark = True  # what torch scripts do; accepted
    assert gw.backends.cudnn.is_available() is False
    gw.backends.cudnn.benchmark = False


def test_exports():
    for name in ["save", "load", "device", "inference_mode"]:
        assert name in gw.__all__ and hasattr(gw, name)
