"""Thread settings (rankbench.threads): the OpenMP wait choice, the bench and audit pins, the audit's workers."""

from __future__ import annotations

import os

import pytest

from rankbench import threads
from rankbench.threads import DECISION_VAR, SPIN_COUNT, busy_cpus, choose_wait_policy


@pytest.mark.parametrize(
    "load, cpus, threads, spins",
    [
        (0.0, 2, None, True),  # idle: both torch threads have a core
        (0.4, 2, None, True),  # 1.6 free ≥ 2 − 0.5
        (0.6, 2, None, False),  # 1.4 free < 1.5: a worker would spin on a shared core
        (3.0, 2, None, False),  # busy
        (1.0, 2, "1", True),  # one thread, one free core
        (7.0, 16, None, False),  # 9 free < 15.5
        (7.0, 16, "8", True),  # 9 free ≥ 7.5
    ],
)
def test_spins_only_when_every_thread_has_a_free_core(load, cpus, threads, spins):
    env = {} if threads is None else {"OMP_NUM_THREADS": threads}
    reason = choose_wait_policy(env, load=load, cpus=cpus)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert (env.get("GOMP_SPINCOUNT") == SPIN_COUNT) is spins
    assert ("spin" in reason and "sleep at once" not in reason) is spins
    assert env[DECISION_VAR] == reason and f"{load:.2f}" in reason


@pytest.mark.parametrize("user", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "0"}])
def test_the_users_settings_are_kept(user):
    env = dict(user)
    reason = choose_wait_policy(env, load=0.0, cpus=2)
    assert {k: env[k] for k in user} == user
    assert "OMP_WAIT_POLICY" not in env or env["OMP_WAIT_POLICY"] == user.get("OMP_WAIT_POLICY")
    assert "GOMP_SPINCOUNT" not in env or env["GOMP_SPINCOUNT"] == user.get("GOMP_SPINCOUNT")
    assert "kept the user's" in reason and env[DECISION_VAR] == reason


def test_a_bad_thread_count_counts_as_all_cpus():
    env = {"OMP_NUM_THREADS": "many"}
    choose_wait_policy(env, load=0.4, cpus=2)
    assert env["GOMP_SPINCOUNT"] == SPIN_COUNT


def test_busy_cpus_reads_a_share_of_the_machine():
    busy = busy_cpus(window=0.05)
    assert 0.0 <= busy <= (os.cpu_count() or 1)


def test_without_proc_stat_the_load_average_stands_in(monkeypatch):
    def missing():
        raise OSError("no /proc here")

    monkeypatch.setattr(threads, "_cpu_ticks", missing)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    assert busy_cpus(window=0.0) == 1.25


THREAD_ENV_CLEAN = "import os\nfor v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):\n    os.environ.pop(v, None)\n"


def _run(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", THREAD_ENV_CLEAN + code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_audit_pin_sets_one_blas_thread_before_numpy_loads():
    code = (
        "import contextlib, os, sys\n"
        "from rankbench.threads import THREAD_VARS, pin_blas_for_audit\n"
        "with contextlib.ExitStack() as stack:\n"
        "    workers = pin_blas_for_audit(stack)\n"
        "print(workers, [os.environ[v] for v in THREAD_VARS], 'numpy' in sys.modules)\n"
    )
    assert _run(code) == "None ['1', '1', '1', '1'] False"


def test_the_audit_pin_keeps_a_users_setting():
    code = (
        "import contextlib, os\n"
        "os.environ['OMP_NUM_THREADS'] = '3'\n"
        "from rankbench.threads import THREAD_VARS, pin_blas_for_audit\n"
        "with contextlib.ExitStack() as stack:\n"
        "    print(pin_blas_for_audit(stack), [os.environ.get(v) for v in THREAD_VARS])\n"
    )
    assert _run(code) == "None ['3', None, None, None]"


def test_the_audit_pin_after_numpy_without_threadpoolctl_falls_back_to_one_worker():
    code = (
        "import contextlib, sys\n"
        "import numpy\n"
        "sys.modules['threadpoolctl'] = None\n"
        "from rankbench.threads import pin_blas_for_audit\n"
        "with contextlib.ExitStack() as stack:\n"
        "    print(pin_blas_for_audit(stack))\n"
    )
    assert _run(code) == "1"


@pytest.mark.parametrize(
    "env, workers",
    [
        ({}, 1),  # BLAS not pinned: one module at a time
        ({"OMP_NUM_THREADS": "1"}, 8),
        ({"OMP_NUM_THREADS": "2"}, 4),
        ({"OPENBLAS_NUM_THREADS": "4", "OMP_NUM_THREADS": "1"}, 2),  # OpenBLAS reads its own first
        ({"OPENBLAS_NUM_THREADS": "x", "OMP_NUM_THREADS": "8"}, 1),
        ({"OMP_NUM_THREADS": "16"}, 1),
    ],
)
def test_audit_workers_fill_the_cores_left_by_blas(monkeypatch, env, workers):
    for var in threads.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(threads, "usable_cpus", lambda: 8)
    assert threads.audit_workers() == workers


def test_the_bench_pin_fills_what_the_user_left_unset(monkeypatch):
    for var in threads.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "5")
    pinned = threads.pin_pools_for_bench(3)
    assert pinned == {
        "OMP_NUM_THREADS": "3",
        "OPENBLAS_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "5",
        "NUMEXPR_NUM_THREADS": "3",
    }


def test_thread_env_records_every_variable_in_order(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv(DECISION_VAR, "because")
    env = threads.thread_env(7)
    assert list(env) == [
        *threads.THREAD_VARS,
        "torch_num_threads",
        "OMP_WAIT_POLICY",
        "GOMP_SPINCOUNT",
        "openmp_wait",
    ]
    assert env["OMP_NUM_THREADS"] == "2" and env["torch_num_threads"] == 7
    assert env["GOMP_SPINCOUNT"] is None and env["openmp_wait"] == "because"


def test_torch_thread_settings_are_set_and_restored(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        with threads.single_torch_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before
        threads.apply_cpus_per_task(0)  # 0: leave everything as it is
        assert torch.get_num_threads() == before
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        threads.apply_cpus_per_task(2)
        assert torch.get_num_threads() == 2 and threads.os.environ["OMP_NUM_THREADS"] == "2"
    finally:
        torch.set_num_threads(before)


def test_one_name_per_job():
    """The two jobs once both called pin_threads now have their own names, in one module."""
    from rankbench import provenance
    from rankbench.bench import device

    assert not hasattr(provenance, "pin_threads") and not hasattr(device, "pin_threads")
    assert provenance.THREAD_VARS is threads.THREAD_VARS
