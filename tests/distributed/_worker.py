"""What each MPI rank runs in tests/distributed: `mpiexec -n 2 python _worker.py SCENARIO`.

Every scenario asserts on its own rank and prints `ok <scenario> rank <r>`; a
failed assertion aborts every rank (gradwork.distributed's excepthook).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def collectives(dist, gw) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    values = {r: np.array([r + 1.0, -2.0 * r, 3.0]) for r in range(world)}
    stacked = np.stack(list(values.values()))
    expected = {"SUM": stacked.sum(0), "AVG": stacked.mean(0), "MEAN": stacked.mean(0),
                "MAX": stacked.max(0), "MIN": stacked.min(0),
                "PRODUCT": stacked.prod(0)}  # fmt: skip
    for name, want in expected.items():
        for dtype in (np.float32, np.float64):
            array = values[rank].astype(dtype)
            dist.all_reduce(array, getattr(dist.ReduceOp, name))
            np.testing.assert_allclose(array, want.astype(dtype), rtol=1e-6, err_msg=name)
            assert array.dtype == dtype
        tensor = gw.tensor(values[rank])
        version = tensor._version
        dist.all_reduce(tensor, op=getattr(dist.ReduceOp, name))
        np.testing.assert_allclose(tensor.numpy(), want, err_msg=name)
        assert tensor._version == version + 1
    counts = np.array([rank, 10 * rank], np.int64)
    dist.all_reduce(counts, dist.ReduceOp.MAX)
    assert counts.tolist() == [world - 1, 10 * (world - 1)], counts
    strided = np.arange(12.0).reshape(3, 4)[:, ::2] * (rank + 1)  # not contiguous
    dist.all_reduce(strided)
    np.testing.assert_array_equal(strided, np.arange(12.0).reshape(3, 4)[:, ::2] * 3)
    half = gw.tensor(np.full(3, rank + 0.5, np.float16))
    dist.all_reduce(half)
    assert half.dtype == gw.float16 and half.numpy().tolist() == [2.0, 2.0, 2.0]
    # broadcast from the last rank, on a Tensor and an int array
    shared = gw.tensor(np.full((2, 3), float(rank)))
    dist.broadcast(shared, src=world - 1)
    assert (shared.numpy() == world - 1).all()
    labels = np.arange(4) * (rank + 7)
    dist.broadcast(labels, 0)
    assert labels.tolist() == [0, 7, 14, 21]
    # all_gather into a list, and into one tensor
    gathered = [gw.zeros(2, 2) for _ in range(world)]
    dist.all_gather(gathered, gw.full((2, 2), float(rank)))
    assert [float(t.numpy().mean()) for t in gathered] == [float(r) for r in range(world)]
    flat = np.zeros((2 * world, 3))
    dist.all_gather_into_tensor(flat, np.full((2, 3), rank + 1.0))
    assert flat[::2, 0].tolist() == [r + 1.0 for r in range(world)], flat
    work = dist.all_reduce(np.ones(5), async_op=True)
    assert work.wait() and work.is_completed()
    dist.barrier()


def _model(gw, sync_batchnorm: bool):
    """A float64 model with a weight used twice, an unused layer and (optionally) batch norm."""
    nn = gw.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 3, 3, padding=1)
            self.norm = nn.BatchNorm2d(3) if sync_batchnorm else nn.Identity()
            self.hidden = nn.Linear(3 * 16, 8)
            self.shared = nn.Linear(8, 8)  # applied twice: two gradient contributions
            self.head = nn.Linear(8, 3)
            self.unused = nn.Linear(4, 4)

        def forward(self, x):
            h = self.norm(self.conv(x)).relu().flatten(1)
            h = self.shared(self.shared(self.hidden(h).tanh()).tanh()).tanh()
            return self.head(h)

    gw.manual_seed(1)
    return Net().double()


def equivalence(dist, gw, sync_batchnorm: bool = False) -> None:
    """DDP over the ranks with batch B == one process with batch world x B, to 1e-9."""
    from gradwork.data import DistributedSampler
    from gradwork.nn.parallel import DistributedDataParallel, SyncBatchNorm

    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 1, 4, 4))
    y = rng.integers(0, 3, 96)
    batch, steps = 4, 10
    loss_fn = gw.nn.CrossEntropyLoss()

    model = _model(gw, sync_batchnorm)
    if rank == 1:  # different weights on purpose: DDP must start from rank 0's
        for p in model.parameters():
            p.data.add_(1.0)
    if sync_batchnorm:
        model = SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.0005)  # several small buckets
    assert len(ddp.reducer.buckets) > 2, len(ddp.reducer.buckets)
    optimizer = gw.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    orders = [list(DistributedSampler(x, world, r, shuffle=True, seed=5)) for r in range(world)]
    for step in range(steps):
        rows = orders[rank][step * batch : (step + 1) * batch]
        optimizer.zero_grad()
        loss_fn(ddp(gw.tensor(x[rows])), gw.tensor(y[rows])).backward()
        optimizer.step()
    # gradient accumulation: one no_sync micro-step, then a synced one
    micro = [orders[rank][(steps + k) * batch : (steps + k + 1) * batch] for k in range(2)]
    optimizer.zero_grad()
    with ddp.no_sync():
        loss_fn(ddp(gw.tensor(x[micro[0]])), gw.tensor(y[micro[0]])).backward()
    loss_fn(ddp(gw.tensor(x[micro[1]])), gw.tensor(y[micro[1]])).backward()
    optimizer.step()
    assert model.unused.weight.grad is None

    reference = _model(gw, sync_batchnorm)
    optimizer = gw.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)

    def global_rows(k: int) -> list:
        return [i for r in range(world) for i in orders[r][k * batch : (k + 1) * batch]]

    for step in range(steps):
        rows = global_rows(step)
        optimizer.zero_grad()
        loss_fn(reference(gw.tensor(x[rows])), gw.tensor(y[rows])).backward()
        optimizer.step()
    optimizer.zero_grad()
    for k in range(2):
        rows = global_rows(steps + k)
        loss_fn(reference(gw.tensor(x[rows])), gw.tensor(y[rows])).backward()
    optimizer.step()

    state, expected = model.state_dict(), reference.state_dict()
    worst = max(float(np.max(np.abs(np.asarray(state[k], np.float64) - np.asarray(v))))
                for k, v in expected.items())  # fmt: skip
    assert worst <= 1e-9, f"max weight difference {worst:.3g}"
    mine = np.concatenate([p.array.ravel() for p in model.parameters()])
    first = mine.copy()
    dist.broadcast(first, 0)
    assert np.array_equal(mine, first), "the ranks' weights differ"
    worst_anywhere = np.array([worst])
    dist.all_reduce(worst_anywhere, dist.ReduceOp.MAX)
    if rank == 0:  # one printer: the ranks' lines may interleave
        print(f"max weight difference {worst_anywhere[0]:.3g}")


def equivalence_sync_batchnorm(dist, gw) -> None:
    equivalence(dist, gw, sync_batchnorm=True)


def trainer(dist, gw) -> None:
    """Trainer.fit on sharded data: reduced logs, one writer, the ranks in step."""
    import json
    from pathlib import Path

    from gradwork import data, nn, optim, train
    from gradwork.nn.parallel import DistributedDataParallel

    rank = dist.get_rank()
    folder = Path(sys.argv[2])
    moons = data.make_moons(90, seed=0)  # 45 per rank: uneven batches, padded by the sampler
    gw.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2))
    ddp = DistributedDataParallel(model)
    sampler = data.DistributedSampler(moons, shuffle=True, seed=1)
    loader = data.DataLoader(moons, batch_size=10, sampler=sampler)

    class StopOnRank1(train.Callback):  # one rank's stop must stop every rank
        def on_batch_end(self, batch, logs=None):
            if rank == 1 and self.trainer.epoch == 2 and batch == 1:
                self.trainer.stop_training = True

    trainer = train.Trainer(ddp, optim.SGD(ddp.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                            metrics=["accuracy", train.ConfusionMatrix()], run_dir=folder,
                            callbacks=[StopOnRank1()])  # fmt: skip
    history = trainer.fit(loader, data.DataLoader(moons, batch_size=30), epochs=4)
    assert (trainer.epoch, trainer.batch) == (2, 2), (trainer.epoch, trainer.batch)
    matrix = history.history["confusion_matrix"][0]
    assert np.asarray(matrix).sum() == 90, matrix  # both shards counted, once each
    sharded = data.DataLoader(moons, batch_size=30, sampler=data.DistributedSampler(
        moons, shuffle=False))  # fmt: skip
    whole = trainer.evaluate(data.DataLoader(moons, batch_size=30))
    split = trainer.evaluate(sharded)
    assert abs(whole["loss"] - split["loss"]) < 1e-6 and whole["accuracy"] == split["accuracy"]
    logs = np.array([history.history["loss"][-1], whole["loss"]])
    first = logs.copy()
    dist.broadcast(first, 0)
    assert np.array_equal(logs, first), (logs, first)  # the same numbers on every rank
    dist.barrier()
    if rank == 0:
        rows = (folder / "history.csv").read_text().splitlines()
        epochs = [row.split(",")[0] for row in rows if row[:1].isdigit()]
        assert epochs == ["1", "2"], rows  # written once, by rank 0
        assert json.loads((folder / "summary.json").read_text())["status"] == "stopped"
        saved = train.load_checkpoint(folder / "checkpoints" / "last.npz")["model"]
        assert set(saved) == set(model.state_dict()), sorted(saved)


def misuse(dist, gw) -> None:
    """A weight used outside DDP's forward raises instead of averaging half a gradient."""
    from gradwork.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(gw.nn.Linear(3, 2))
    loss = model(gw.randn(4, 3)).sum() + (model.module.weight**2).sum()
    try:
        loss.backward()
    except RuntimeError as error:
        assert "used outside DistributedDataParallel's forward" in str(error), error
    else:
        raise AssertionError("no error for a parameter used outside forward")
    with gw.no_grad():
        model.eval()
        model(gw.randn(2, 3))  # an eval forward needs no backward; no error either


def fail_raise(dist, gw) -> None:
    """Rank 1 raises in the middle of training; every rank must end, none may hang."""
    from gradwork.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(gw.nn.Linear(4, 2))
    for step in range(1000):
        if step == 3 and dist.get_rank() == 1:
            raise ValueError("boom on purpose at step 3")
        model(gw.randn(8, 4)).sum().backward()


def fail_hang(dist, gw) -> None:
    """Rank 1 stops taking part (stuck); rank 0 times out and ends every rank."""
    from gradwork.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(gw.nn.Linear(4, 2))
    for step in range(1000):
        if step == 3 and dist.get_rank() == 1:
            time.sleep(600)
        model(gw.randn(8, 4)).sum().backward()


def fail_exit(dist, gw) -> None:
    """Rank 1 leaves with sys.exit(3) mid-run (no exception hook runs for that)."""
    for step in range(1000):
        if step == 3 and dist.get_rank() == 1:
            sys.exit(3)
        dist.all_reduce(np.ones(3))


def main() -> None:
    import gradwork as gw
    import gradwork.distributed as dist

    scenario = sys.argv[1]
    dist.init_process_group(backend="mpi")
    sys.stdout.reconfigure(line_buffering=True)
    globals()[scenario](dist, gw)
    print(f"ok {scenario} rank {dist.get_rank()}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
