"""Evaluation batches on a multi-core CPU: one single-threaded worker per core instead of one batch at a
time on all cores.

A small encoder's evaluation is a stream of independent batches whose matmuls are too small to keep
several cores busy together: each op's fork/join and the single-threaded ops between the matmuls
(GELU, layer norm, softmax) leave cores idle. Running whole batches side by side, each on one core,
keeps every core in its own matmuls (torch releases the GIL inside its kernels). On the 2-core machine
this evaluates MiniLM about a fifth faster (benchmarks/eval_speed.py).

Each batch runs with one intra-op thread whichever worker takes it, so the result of a batch does not
depend on the worker count's scheduling. Autocast and inference mode are per thread: ``fn`` sets them
up itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from rankbench.threads import single_torch_thread


def eval_workers(device: torch.device) -> int:
    """Workers for ``device``: one per torch thread on a CPU, one on an accelerator."""
    return max(1, torch.get_num_threads()) if device.type == "cpu" else 1


def map_batches(
    batches: Sequence,
    fn: Callable[[object], None],
    workers: int,
    progress: Callable | None = None,
    stage: str = "eval",
) -> None:
    """Call ``fn(batch)`` once per batch, longest first as given, on up to ``workers`` threads.

    An exception in a worker, or Ctrl-C in the caller, stops the others after their current batch and
    is raised here; torch's thread count is restored either way.
    """
    total = len(batches)
    if workers <= 1 or total <= 1:
        for done, batch in enumerate(batches, 1):
            fn(batch)
            if progress is not None:
                progress(stage, done, total, {})
        return

    lock, stop = threading.Lock(), threading.Event()
    queue = iter(batches)
    done = 0

    def work() -> None:
        nonlocal done
        while not stop.is_set():
            with lock:
                batch = next(queue, None)
            if batch is None:
                return
            try:
                fn(batch)
            except BaseException:
                stop.set()
                raise
            with lock:
                done += 1
                if progress is not None:
                    progress(stage, done, total, {})

    with single_torch_thread():
        pool = ThreadPoolExecutor(max_workers=min(workers, total), thread_name_prefix="rankbench-eval")
        try:
            futures = [pool.submit(work) for _ in range(min(workers, total))]
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True)
