"""Every thread setting rankbench makes: BLAS and OpenMP pools, torch's intra-op threads, the OpenMP
wait policy, the audit's worker count, and what a run records about them.

Thread counts matter more than anything else on a small machine: an oversubscribed BLAS on 2 cores once
made a run 100x slower, so every entry point pins them, before the libraries start their pools, and
the numbers we report say which settings produced them. Nothing here imports numpy or torch at module
level (torch is imported inside the functions that set it).

The order of the calls, in a bench run (``rankbench run``):

1. :func:`choose_wait_policy` (``rankbench.cli.main``, before torch loads libgomp): OMP_WAIT_POLICY and
   GOMP_SPINCOUNT from how busy the machine is.
2. :func:`pin_pools_for_bench` (``rankbench.cli.run``): every variable of :data:`THREAD_VARS` to the core
   count, unless the user set it.
3. :func:`apply_cpus_per_task` (``rankbench.cli.run`` / a campaign job): ``executor.cpus_per_task``, when
   set, overrides OMP_NUM_THREADS and torch's threads.
4. :func:`set_torch_threads` (each profile's train and evaluate): torch's intra-op threads from
   OMP_NUM_THREADS (else the usable CPUs); returns the settings the stage records.
5. :func:`single_torch_thread` (``rankbench.bench.batch_workers``): one intra-op thread while evaluation
   batches run side by side, one per core; the count is restored after.
6. :func:`thread_env` (``rankbench.provenance``): the variables as they were, for bench.json's ``env``.

In an audit (``rankbench audit``, ``suggest``, ``compress``):

1. :func:`pin_blas_for_audit` (first thing in the command's ``run``, before numpy loads): one BLAS thread
   per call, through the environment, or through threadpoolctl when numpy is already loaded.
2. :func:`audit_workers` (``rankbench.auditor`` and the suggest/compress rebuilds): modules processed in
   parallel, one per core when BLAS has one thread per call.

How idle OpenMP workers wait (:func:`choose_wait_policy`, chosen once per process before torch
starts): torch's CPU kernels run on an OpenMP pool (libgomp in the Linux wheels). Between two parallel
regions a worker either spins, ready for the next op, or sleeps and must be woken. A LoRA training
step is thousands of small ops, so the choice dominates on 2 cores, and the right answer depends on
the machine's load (measured with benchmarks/train_throughput.py, MiniLM-L6, r=16, batch 16):

    2-core machine      spin 10,000 (GOMP_SPINCOUNT)   sleep at once (PASSIVE)
    idle                0.33 s/step                    0.52 s/step
    2 busy processes    1.07 s/step                    0.74 s/step

So we spin briefly when the other processes leave a core free for each torch thread, and sleep at
once otherwise. "Busy" is read from /proc/stat over a quarter of a second (the CPUs' busy share,
times their count), not from the 1-minute load average, which lags a minute behind what just
ended; elsewhere the load average is the fallback. Settings the user made (OMP_WAIT_POLICY or
GOMP_SPINCOUNT) are kept as they are. The decision is written to RANKBENCH_OPENMP_WAIT, which the
run's provenance records.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, MutableMapping

# the BLAS/OpenMP pool sizes that numpy and torch read once, when their pools start
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# what a bench stage records with torch's thread counts (set_torch_threads)
TORCH_RECORDED_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",  # how idle OpenMP workers wait: see choose_wait_policy
    "GOMP_SPINCOUNT",
    "RANKBENCH_OPENMP_WAIT",  # why rankbench chose those two
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TOKENIZERS_PARALLELISM",
)
SPIN_COUNT = "10000"  # spin iterations before sleeping: ~tens of µs, enough to bridge two small ops
DECISION_VAR = "RANKBENCH_OPENMP_WAIT"


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask in a container, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


# --- a bench run ---------------------------------------------------------------------------------


def pin_pools_for_bench(n: int | None = None) -> dict[str, str]:
    """Pin BLAS/OpenMP pools to ``n`` (default: the core count) unless the user set them already.

    Must run before numpy/torch start their pools to be fully effective. Oversubscription on a
    2-core machine once made a run 100x slower, so every entry point calls this.
    """
    n = n or os.cpu_count() or 1
    for var in THREAD_VARS:
        os.environ.setdefault(var, str(n))
    return {var: os.environ[var] for var in THREAD_VARS}


def apply_cpus_per_task(cpus_per_task: int) -> None:
    """torch threads: ``executor.cpus_per_task`` when set (> 0), else the pinned default (all cores)."""
    if cpus_per_task:
        import torch

        # set_torch_threads re-pins torch from OMP_NUM_THREADS before training, so set both
        os.environ["OMP_NUM_THREADS"] = str(cpus_per_task)
        torch.set_num_threads(cpus_per_task)


def set_torch_threads() -> dict:
    """Set torch's intra-op threads to the usable CPUs unless the user set OMP_NUM_THREADS.

    Idempotent; returns the settings for provenance: what torch uses and where that number came from.
    """
    import torch

    # the fast tokenizers' own thread pool fights torch's on small machines; we tokenise once, cached
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    env = {k: os.environ[k] for k in TORCH_RECORDED_ENV if k in os.environ}
    if "OMP_NUM_THREADS" in env:
        try:
            threads = max(1, int(env["OMP_NUM_THREADS"]))
            source = "OMP_NUM_THREADS"
        except ValueError:
            threads, source = usable_cpus(), "cpu_count (OMP_NUM_THREADS not an integer)"
    else:
        threads, source = usable_cpus(), "cpu_count"
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return {
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "source": source,
        "usable_cpus": usable_cpus(),
        "env": env,
    }


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """One torch intra-op thread inside the block (batches side by side, one per core); restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def thread_env(torch_num_threads: int | None) -> dict:
    """The thread variables as they are now (null: unset), torch's thread count and the OpenMP wait
    choice, for the ``threads`` block of a run's provenance."""
    env: dict = {var: os.environ.get(var) for var in THREAD_VARS}
    env["torch_num_threads"] = torch_num_threads
    # how idle OpenMP workers waited, and why (choose_wait_policy): it moves CPU step times by 1.5x
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env[var] = os.environ.get(var)
    env["openmp_wait"] = os.environ.get(DECISION_VAR)
    return env


# --- an audit ------------------------------------------------------------------------------------


def pin_blas_for_audit(stack: contextlib.ExitStack) -> int | None:
    """Before numpy loads: one BLAS thread per call, and (in the auditor) one worker per core.

    The audit's matrix products are tall-skinny (n x r, r <= a few hundred); splitting each one over
    threads gains little and, with other work on the machine, OpenBLAS's spinning threads can make
    them 10-100x slower. Auditing modules in parallel, one per core, uses the cores instead. A user
    who set any of the thread variables keeps them (the auditor then sizes its workers to fit).

    Returns the ``workers`` argument for the library: None (its default, :func:`audit_workers`) or 1
    when numpy was loaded before the pin and threadpoolctl is not there to cap its pool.
    """
    if _single_blas_thread_env():
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return 1
    stack.enter_context(threadpool_limits(limits=1, user_api="blas"))  # numpy is loaded: cap its pool
    return None


def _single_blas_thread_env() -> bool:
    """Set every THREAD_VARS to 1 unless the user set one; False when numpy was loaded already (too late)."""
    if any(var in os.environ for var in THREAD_VARS):
        return True
    for var in THREAD_VARS:
        os.environ[var] = "1"
    return "numpy" not in sys.modules


def audit_workers() -> int:
    """Modules audited in parallel: one per core when BLAS is pinned to one thread per call, else 1.

    Several numpy threads on top of a multi-threaded BLAS oversubscribe the cores; OpenBLAS then
    busy-waits and can run 10-100x slower. `rankbench audit` pins BLAS to 1 thread (unless the user set
    a thread variable), so it gets one worker per core; library callers keep 1 unless they pin BLAS.
    """
    cores = usable_cpus()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # OpenBLAS's own order of precedence
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return max(1, cores // int(value))
    return 1


# --- the OpenMP wait policy ----------------------------------------------------------------------


def busy_cpus(window: float = 0.25) -> float:
    """How many CPUs other work keeps busy now: the non-idle share of /proc/stat's ticks × CPU count."""
    try:
        first = _cpu_ticks()
        time.sleep(window)
        second = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else float(usable_cpus())
    total = second[0] - first[0]
    idle = second[1] - first[1]
    if total <= 0:
        return 0.0
    return (total - idle) / total * (os.cpu_count() or 1)


def _cpu_ticks() -> tuple[int, int]:
    """(all ticks, idle + iowait ticks) of the machine, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]  # user..steal; idle, iowait


def _threads(environ: MutableMapping[str, str], cpus: int) -> int:
    try:
        return max(1, int(environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return cpus


def choose_wait_policy(
    environ: MutableMapping[str, str] | None = None,
    *,
    load: float | None = None,
    cpus: int | None = None,
) -> str:
    """Set OMP_WAIT_POLICY (and GOMP_SPINCOUNT when spinning) in ``environ``; return the reason.

    Must run before torch's first parallel op: libgomp reads these once, when its pool starts.
    """
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        reason = "kept the user's OMP_WAIT_POLICY / GOMP_SPINCOUNT"
    else:
        cpus = usable_cpus() if cpus is None else cpus
        if load is None:
            load = busy_cpus()
        threads = min(_threads(environ, cpus), cpus)
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
        if cpus - load >= threads - 0.5:
            environ["GOMP_SPINCOUNT"] = SPIN_COUNT
            reason = f"{load:.2f} CPUs busy leaves {threads} of {cpus} free: spin {SPIN_COUNT}, then sleep"
        else:
            reason = f"{load:.2f} of {cpus} CPUs busy: workers sleep at once (spinning slows a busy machine)"
    environ[DECISION_VAR] = reason
    return reason
