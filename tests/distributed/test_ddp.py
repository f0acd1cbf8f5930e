"""DistributedDataParallel over 2 ranks equals one process with twice the batch."""

import re

from tests.distributed.conftest import needs_mpi, run_scenario

pytestmark = needs_mpi


def _worst_difference(stdout: str) -> float:
    values = [float(v) for v in re.findall(r"max weight difference ([-+.0-9e]+)", stdout)]
    assert len(values) == 1, stdout
    return max(values)


def test_ddp_on_two_ranks_equals_one_process_with_double_batch():
    # float64 MLP+CNN with a weight used twice, several buckets, SGD with momentum,
    # ten steps then a no_sync accumulation step; rank 1 starts from other weights.
    result = run_scenario("equivalence")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _worst_difference(result.stdout) <= 1e-9


def test_sync_batchnorm_on_two_ranks_equals_batchnorm_on_the_whole_batch():
    result = run_scenario("equivalence_sync_batchnorm")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _worst_difference(result.stdout) <= 1e-9


def test_trainer_on_two_ranks_reduces_logs_and_writes_once(tmp_path):
    # metrics over both shards, one rank's stop_training stops both, BatchNorm
    # buffers agree in evaluation, history.csv and checkpoints from rank 0 only
    result = run_scenario("trainer", extra=[str(tmp_path / "run")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok trainer rank 0" in result.stdout and "ok trainer rank 1" in result.stdout


def test_a_parameter_used_outside_forward_is_an_error_not_a_wrong_average():
    result = run_scenario("misuse")
    assert result.returncode == 0, result.stderr[-3000:]
