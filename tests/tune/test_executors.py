from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from objectives import noisy_by_seed, quadratic

from gradwork.tune import Categorical, Float, MedianPruner, TrialState, minimize

SPACE = {"x": Float(-2.0, 2.0), "y": Float(-3.0, 1.0), "kind": Categorical(["a", "b", "c"])}


def history(study):
    return [(t.number, t.state, t.params, t.value, t.seed) for t in study.trials]


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client.get_executor(pure=False)
    client.close()
    cluster.close()


def make_executor(kind, dask_executor=None):
    if kind == "threads":
        return ThreadPoolExecutor(2)
    if kind == "processes":
        return ProcessPoolExecutor(2)
    return dask_executor


@pytest.mark.parametrize("kind", ["threads", "processes", "dask"])
def test_async_executors_complete_every_trial(kind, request):
    dask = request.getfixturevalue("dask_executor") if kind == "dask" else None
    executor = make_executor(kind, dask)
    study = minimize(quadratic, SPACE, algorithm="tpe", n_trials=16, seed=0, executor=executor)
    if kind != "dask":
        executor.shutdown()
    assert sorted(t.number for t in study.trials) == list(range(16))
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert all(t.value == pytest.approx(quadratic(t.params)) for t in study.trials)
    keys = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(keys) == 16  # parallel workers never got the same point


def curve(trial):
    # The seed term makes trials differ a lot, so the median pruner has work to do.
    for step in range(4):
        value = noisy_by_seed(trial) + (trial.seed % 997) / 997 + 1.0 / (step + 1)
        trial.report(value, step)
        if trial.should_prune():
            from gradwork.tune import TrialPruned

            raise TrialPruned()
    return value


@pytest.mark.parametrize("algorithm", ["tpe", "bayes"])
def test_sync_history_is_identical_on_every_executor(algorithm, dask_executor):
    space = {"x": Float(-1.0, 1.0)}
    options = dict(algorithm=algorithm, n_trials=12, seed=3, sync=True, pruner=MedianPruner(2))
    serial = history(minimize(curve, space, **options))
    with ThreadPoolExecutor(2) as threads:
        assert history(minimize(curve, space, executor=threads, **options)) == serial
    with ProcessPoolExecutor(2) as processes:
        assert history(minimize(curve, space, executor=processes, **options)) == serial
    assert history(minimize(curve, space, executor=dask_executor, **options)) == serial
    assert {state for _, state, *_ in serial} == {TrialState.COMPLETE, TrialState.PRUNED}


def test_sync_batch_size_changes_the_schedule_not_the_budget():
    one = minimize(quadratic, SPACE, algorithm="tpe", n_trials=12, seed=1, sync=1)
    serial = minimize(quadratic, SPACE, algorithm="tpe", n_trials=12, seed=1)
    assert history(one) == history(serial)  # batches of one are the serial loop
    four = minimize(quadratic, SPACE, algorithm="tpe", n_trials=12, seed=1, sync=4)
    assert len(four.trials) == 12


def test_bad_executor_and_sync():
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        minimize(quadratic, SPACE, executor="threads")
    with pytest.raises(ValueError, match="sync=0"):
        minimize(quadratic, SPACE, sync=0)
