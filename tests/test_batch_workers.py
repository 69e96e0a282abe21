"""Evaluation batches side by side: every batch once, progress in order, errors and threads handled."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import torch

from rankbench.bench import batch_workers
from rankbench.bench.batch_workers import eval_workers, map_batches


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_every_batch_runs_once_on_single_threaded_workers(two_threads):
    seen, threads_inside, names = [], set(), set()
    lock = threading.Lock()
    progress = []

    def fn(batch):
        time.sleep(0.002)
        with lock:
            seen.append(batch)
            threads_inside.add(torch.get_num_threads())
            names.add(threading.current_thread().name)

    map_batches(
        list(range(40)), fn, 2, progress=lambda stage, done, total, info: progress.append((done, total))
    )
    assert sorted(seen) == list(range(40))
    assert threads_inside == {1}  # one intra-op thread per worker
    assert all(n.startswith("rankbench-eval") for n in names)
    assert progress == [(i, 40) for i in range(1, 41)]
    assert torch.get_num_threads() == 2  # restored


def test_one_worker_runs_in_the_caller_on_all_threads(two_threads):
    where = []
    map_batches([1, 2, 3], lambda b: where.append((threading.current_thread(), torch.get_num_threads())), 1)
    assert where == [(threading.main_thread(), 2)] * 3


def test_an_error_stops_the_other_workers_and_is_raised(two_threads, monkeypatch):
    """No timing: the failing batch raises while the other worker is inside its batch, which holds on
    until the pool's stop flag is set; then nothing else may start."""
    stops = []

    def recorded_event():
        stops.append(threading.Event())
        return stops[-1]

    monkeypatch.setattr(
        batch_workers, "threading", SimpleNamespace(Lock=threading.Lock, Event=recorded_event)
    )
    other_inside, started = threading.Event(), []

    def fn(batch):
        started.append(batch)
        if batch == 0:
            assert other_inside.wait(30), "the second worker never took a batch"
            raise ValueError("bad batch")
        other_inside.set()
        assert stops[0].wait(30), "the failure did not set the stop flag"

    with pytest.raises(ValueError, match="bad batch"):
        map_batches(list(range(100)), fn, 2)
    assert len(stops) == 1 and sorted(started) == [0, 1]  # the other 98 never started
    assert torch.get_num_threads() == 2


def test_workers_per_device(two_threads):
    assert eval_workers(torch.device("cpu")) == 2
    assert eval_workers(torch.device("cuda")) == 1
