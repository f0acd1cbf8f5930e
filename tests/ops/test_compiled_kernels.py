"""The Numba-compiled CPU kernels (ops/kernels/cpu_numba*.py): bit-identical where the
arithmetic is, on one thread and on several, and the rules of compiled.py."""

from __future__ import annotations

import os

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import gradwork as gw  # noqa: E402
from gradwork.ops.kernels import compiled, cpu, cpu_numba_optim, reference  # noqa: E402

SIZES = [7, compiled.PARALLEL_MIN + 13]  # one thread; split over threads


def _adam_state(rng, size, dtype):
    state = {name: rng.standard_normal(size).astype(dtype) for name in ("param", "grad", "m")}
    state["v"] = np.abs(rng.standard_normal(size)).astype(dtype)
    state["v_max"] = np.abs(rng.standard_normal(size)).astype(dtype)
    return state


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_adam_is_bit_identical_to_numpy_over_steps(size, dtype, amsgrad):
    rng = np.random.default_rng(size)
    ours = _adam_state(rng, size, dtype)
    ours["grad"][:3] = [np.nan, np.inf, -0.0]  # a NaN and an inf flow through alike
    theirs = {name: a.copy() for name, a in ours.items()}
    for step in (1, 2, 3):
        for state, module in ((ours, cpu_numba_optim), (theirs, reference)):
            v_max = state["v_max"] if amsgrad else None
            module.adam_step(state["param"], state["grad"], state["m"], state["v"], v_max,
                             lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, step=step)  # fmt: skip
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_adam_on_a_strided_parameter_runs_the_numpy_kernel():
    rng = np.random.default_rng(1)
    state = _adam_state(rng, (6, 4), np.float32)
    twin = {name: a.copy() for name, a in state.items()}
    columns = {name: a[:, ::2] for name, a in state.items()}  # not contiguous
    twin_columns = {name: a[:, ::2] for name, a in twin.items()}
    cpu_numba_optim.adam_step(*(columns[k] for k in ("param", "grad", "m", "v")), None,
                              1e-2, 0.9, 0.999, 1e-8, 1)  # fmt: skip
    cpu.adam_step(*(twin_columns[k] for k in ("param", "grad", "m", "v")), None,
                  1e-2, 0.9, 0.999, 1e-8, 1)  # fmt: skip
    for name in state:
        np.testing.assert_array_equal(state[name], twin[name])


def test_adam_refuses_a_gradient_of_another_size():
    param, grad = np.zeros(4, np.float32), np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="differ"):
        cpu_numba_optim.adam_step(param, grad, param.copy(), param.copy(), None,
                                  1e-2, 0.9, 0.999, 1e-8, 1)  # fmt: skip


def test_compiled_loops_run_on_one_thread_and_one_launch_at_a_time():
    before = gw.get_num_threads()
    try:
        gw.set_num_threads(2)  # BLAS's count; the compiled loops stay on one (compiled.py)
        with compiled.prange_allowed() as parallel:
            assert parallel and numba.get_num_threads() == 1
            with compiled.prange_allowed() as inner:
                assert not inner  # one launch at a time: the other runs the NumPy form
    finally:
        gw.set_num_threads(before)


def test_adam_gives_the_same_on_one_and_two_threads_and_while_another_thread_launches():
    rng = np.random.default_rng(5)
    size = compiled.PARALLEL_MIN * 3 + 5
    start = _adam_state(rng, size, np.float32)
    results = []
    before = gw.get_num_threads()
    try:
        for threads, contended in ((1, False), (2, False), (2, True)):
            gw.set_num_threads(threads)
            state = {name: a.copy() for name, a in start.items()}
            args = (state["param"], state["grad"], state["m"], state["v"], state["v_max"],
                    1e-2, 0.9, 0.999, 1e-8, 4)  # fmt: skip
            if contended:  # as if another Python thread were inside a compiled loop
                with compiled.prange_allowed():
                    cpu_numba_optim.adam_step(*args)
            else:
                cpu_numba_optim.adam_step(*args)
            results.append(state)
    finally:
        gw.set_num_threads(before)
    for other in results[1:]:
        for name in start:
            np.testing.assert_array_equal(other[name], results[0][name])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_compiled_kernels_on_one_thread():
    before = gw.get_num_threads()
    gw.set_num_threads(2)
    try:
        size = compiled.PARALLEL_MIN * 2
        param, grad = np.ones(size, np.float32), np.ones(size, np.float32)
        cpu_numba_optim.adam_step(
            param, grad, param * 0, param * 0, None, 0.1, 0.9, 0.999, 1e-8, 1
        )  # fmt: skip  (threads started in the parent)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one thread, and the kernel still runs
            ok = False
            try:
                with compiled.prange_allowed() as parallel:
                    ok = not parallel
                cpu_numba_optim.adam_step(param, grad, param * 0, param * 0, None, 0.1, 0.9,
                                          0.999, 1e-8, 1)  # fmt: skip
            finally:
                os.write(write, b"1" if ok else b"0")
                os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.waitpid(pid, 0)
        assert answer == b"1"
    finally:
        gw.set_num_threads(before)


def test_a_numba_that_cannot_load_warns_and_the_numpy_kernels_run(tmp_path):
    """Numba installed but broken (e.g. too old for this NumPy): a warning that says why."""
    import subprocess
    import sys

    (tmp_path / "numba.py").write_text("raise ImportError('Numba needs NumPy 1.0')\n")
    code = (
        "from gradwork.ops import kernels; print(kernels.backend_name())\n"
        "try:\n    kernels.use('numba')\nexcept ValueError as e:\n    print(e)"
    )
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "cpu",
        'kernels "numba" need Numba: pip install "gradwork[fast]"',
    ]
    assert "Numba is installed but cannot be used (Numba needs NumPy 1.0)" in done.stderr


@pytest.mark.parametrize("numba_first", [False, True], ids=["gradwork_first", "numba_first"])
def test_numbas_thread_pool_has_one_thread_unless_the_user_sized_it(numba_first):
    """Idle OpenMP workers spin beside OpenBLAS's threads (compiled.py): a one-thread pool."""
    import subprocess
    import sys

    code = (
        ("import numba\n" if numba_first else "")
        + "import numpy as np, numba, numba.np.ufunc.parallel as pool\n"
        "from gradwork.ops.kernels import cpu_numba_optim\n"
        "a = np.ones(8, np.float32)\n"
        "cpu_numba_optim.adam_step(a, a.copy(), a * 0, a * 0, None, 0.1, 0.9, 0.999, 1e-8, 1)\n"
        "print(pool.NUM_THREADS, numba.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "NUMBA_NUM_THREADS": "2"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "2"  # the user's choice stands
