"""gradwork.distributed on 2 ranks: collective values, and failures that end every rank."""

import time

import numpy as np
import pytest

from tests.distributed.conftest import needs_mpi, run_scenario

pytestmark = needs_mpi


def test_all_reduce_broadcast_all_gather_values():
    result = run_scenario("collectives")
    assert result.returncode == 0, result.stderr
    assert "ok collectives rank 0" in result.stdout, result.stdout
    assert "ok collectives rank 1" in result.stdout, result.stdout


@pytest.mark.parametrize(
    "scenario, message",
    [
        ("fail_raise", "rank 1 of 2 failed (ValueError"),
        ("fail_hang", "all_reduce on rank 0 of 2 timed out after 3 s"),
        ("fail_exit", "all_reduce on rank 0 of 2 timed out after 3 s"),
    ],
)
def test_a_failing_rank_ends_every_rank_with_a_clear_error(scenario, message):
    start = time.monotonic()
    result = run_scenario(scenario, env={"GRADWORK_DISTRIBUTED_TIMEOUT": "3"}, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]
    assert "aborting all ranks" in result.stderr
    assert time.monotonic() - start < 45  # the timeout, not the 600 s sleep, ended it


def test_without_a_process_group_the_calls_say_what_to_do():
    import gradwork.distributed as dist

    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(np.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend 'nccl' is not supported"):
        dist.init_process_group(backend="nccl")
