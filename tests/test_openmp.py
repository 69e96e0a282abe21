"""The OpenMP wait choice: spin briefly on an idle machine, sleep at once on a busy one, keep the user's."""

from __future__ import annotations

import os

import pytest

from rankbench import openmp
from rankbench.openmp import DECISION_VAR, SPIN_COUNT, busy_cpus, choose_wait_policy


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

    monkeypatch.setattr(openmp, "_cpu_ticks", missing)
    monkeypatch.setattr(openmp.os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    assert busy_cpus(window=0.0) == 1.25
