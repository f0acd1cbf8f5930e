"""IDX reader on the real MNIST test files, corrupt files, MNIST/CIFAR data sets, downloads."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from gradwork.data import (
    CIFAR10,
    MNIST,
    DataLoader,
    FashionMNIST,
    download_file,
    load_mnist_arrays,
    md5sum,
    read_cifar_batch,
    read_idx,
    write_idx,
)
from tests.helpers import to_numpy

HERE = Path(__file__).resolve()
# The project keeps the real MNIST test set beside the repository: ../shared/data/mnist from
# the repository root (one more level up for a git worktree under wt/). Absent on a user's
# machine, where these tests skip.
CANDIDATES = [
    Path(os.environ.get("GRADWORK_MNIST_DIR", "/nonexistent")),
    HERE.parents[2] / ".." / "shared" / "data" / "mnist",
    HERE.parents[3] / ".." / "shared" / "data" / "mnist",
]
MNIST_DIR = next((p.resolve() for p in CANDIDATES if (p / "t10k-labels-idx1-ubyte.gz").is_file()),
                 None)  # fmt: skip
needs_mnist = pytest.mark.skipif(MNIST_DIR is None, reason="real MNIST files not present")

TEST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# Label counts of the MNIST test set, digits 0..9 (published with the data set).
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---------------------------------------------------------------- real MNIST
@needs_mnist
def test_real_mnist_checksums():
    for name, md5 in TEST_MD5.items():
        assert md5sum(MNIST_DIR / name) == md5


@needs_mnist
def test_read_idx_on_real_mnist():
    images = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == TEST_LABEL_COUNTS
    assert images.max() == 255 and images.min() == 0 and images.flags.writeable
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@needs_mnist
def test_mnist_dataset_and_arrays(tmp_path):
    ds = MNIST(MNIST_DIR, train=False)
    assert len(ds) == 10000 and ds.classes[7] == "7"
    x, y = next(iter(DataLoader(ds, batch_size=64)))
    assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert float(to_numpy(x).max()) == 1.0
    images, labels = load_mnist_arrays(MNIST_DIR)
    assert images.shape == (10000, 1, 28, 28) and np.array_equal(labels, to_numpy(ds.tensors[1]))
    flat, _ = load_mnist_arrays(MNIST_DIR, flatten=True)
    assert flat.shape == (10000, 784)
    with pytest.raises(FileNotFoundError, match="download=True"):
        MNIST(MNIST_DIR, train=True)  # only the test files are kept


@needs_mnist
def test_mnist_reads_uncompressed_copies(tmp_path):
    for name in TEST_MD5:
        raw = gzip.decompress((MNIST_DIR / name).read_bytes())
        (tmp_path / name.removesuffix(".gz")).write_bytes(raw)
    assert np.bincount(MNIST(tmp_path, train=False).targets).tolist() == TEST_LABEL_COUNTS


# --------------------------------------------------------------- IDX format
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / "a-idx3"
    write_idx(path, array, compress=compress)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=") and np.array_equal(back, array)


def valid_idx_bytes():
    return bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x00", "longer than its header"),
    (lambda b: b[:6], "truncated inside its header"),
    (lambda b: b[:3], "not an IDX file"),
    (lambda b: b"\x01" + b[1:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
    (lambda b: gzip.compress(b)[:-10], "corrupt or truncated gzip"),
])  # fmt: skip
def test_corrupt_idx_files_give_clear_errors(tmp_path, mangle, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(mangle(valid_idx_bytes()))
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        read_idx(tmp_path / "nothing")


def test_mnist_missing_files_name_paths(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        FashionMNIST(tmp_path, train=True)
    text = str(info.value)
    assert "train-images-idx3-ubyte.gz" in text and "train-labels-idx1-ubyte.gz" in text
    assert str(tmp_path) in text and "download=True" in text


# ------------------------------------------------------------------- download
def write_fake_mnist(folder, n=5):
    """Tiny files in MNIST's format; returns their md5s."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    return {p.name: md5sum(p) for p in folder.iterdir()}


class FakeMNIST(MNIST):
    pass


def test_download_fetches_verifies_and_keeps_good_files(tmp_path):
    md5s = write_fake_mnist(tmp_path / "server")
    FakeMNIST.resources = dict(md5s)
    FakeMNIST.mirrors = [
        (tmp_path / "missing").as_uri() + "/",
        (tmp_path / "server").as_uri() + "/",
    ]
    ds = FakeMNIST(tmp_path / "root", train=False, download=True)  # first mirror fails
    assert len(ds) == 5 and ds.targets.tolist() == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == sorted(md5s)
    target = tmp_path / "root" / "t10k-labels-idx1-ubyte.gz"
    stamp = target.stat().st_mtime_ns
    FakeMNIST.mirrors = []  # no network needed: good files are kept as they are
    FakeMNIST(tmp_path / "root", train=False, download=True)
    assert target.stat().st_mtime_ns == stamp


def test_download_rejects_bad_checksum_and_removes_partial(tmp_path):
    write_fake_mnist(tmp_path / "server")
    mirror = (tmp_path / "server").as_uri() + "/"
    with pytest.raises(RuntimeError, match="checksum mismatch") as info:
        download_file("t10k-labels-idx1-ubyte.gz", "0" * 32, [mirror], tmp_path / "root")
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)
    assert list((tmp_path / "root").iterdir()) == []  # no partial, no bad file


def test_download_replaces_a_corrupt_file_only_with_a_verified_one(tmp_path):
    md5s = write_fake_mnist(tmp_path / "server")
    name = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / name).write_bytes(b"garbage")
    download_file(name, md5s[name], [(tmp_path / "server").as_uri() + "/"], tmp_path / "root")
    assert md5sum(tmp_path / "root" / name) == md5s[name]


# ---------------------------------------------------------------------- CIFAR
def write_cifar_batch(path, labels, rng):
    images = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([np.asarray(labels, np.uint8)[:, None], images.reshape(-1, 3072)], 1)
    path.write_bytes(records.tobytes())
    return images


def test_cifar10_reader_on_synthetic_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    expected = [write_cifar_batch(folder / f"data_batch_{i}.bin", [i, 9 - i], rng) for i in
                range(1, 6)]  # fmt: skip
    test_images = write_cifar_batch(folder / "test_batch.bin", [3, 1, 4], rng)
    train = CIFAR10(tmp_path, train=True)
    assert len(train) == 10 and to_numpy(train.tensors[1]).tolist() == [
        1,
        8,
        2,
        7,
        3,
        6,
        4,
        5,
        5,
        4,
    ]
    images = to_numpy(train.tensors[0])
    assert images.shape == (10, 3, 32, 32) and images.dtype == np.float32
    assert np.array_equal(np.round(images * 255).astype(np.uint8), np.concatenate(expected))
    # Channel planes: byte 1 + 1024 of a record is the first green pixel.
    raw = (folder / "test_batch.bin").read_bytes()
    test = CIFAR10(folder, train=False)  # the batches folder itself also works
    assert test.data[0, 1, 0, 0] == raw[1 + 1024] and np.array_equal(test.data, test_images)
    assert test.classes[test.targets[0]] == "cat"
    images, labels = read_cifar_batch(folder / "test_batch.bin")
    assert images.dtype == np.uint8 and labels.tolist() == [3, 1, 4]


def test_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1.bin"):
        CIFAR10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(bytes(3073 + 100))
    with pytest.raises(ValueError, match="multiple of the record size 3073"):
        CIFAR10(tmp_path, train=False)
    (tmp_path / "test_batch.bin").write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(ValueError, match="labels are 0..9"):
        CIFAR10(tmp_path, train=False)
