"""How idle OpenMP workers wait between torch ops, chosen once per process before torch starts.

torch's CPU kernels run on an OpenMP pool (libgomp in the Linux wheels). Between two parallel
regions a worker either spins, ready for the next op, or sleeps and must be woken. A LoRA training
step is thousands of small ops, so the choice dominates on 2 cores, and the right answer depends on
the machine's load (measured with benchmarks/train_throughput.py, MiniLM-L6, r=16, batch 16):

    2-core machine      spin 10,000 (GOMP_SPINCOUNT)   sleep at once (PASSIVE)
    idle                0.33 s/step                    0.52 s/step
    2 busy processes    1.07 s/step                    0.74 s/step

So we spin briefly when the other processes leave a core free for each torch thread, and sleep at
once otherwise. "Busy" is read from /proc/stat over a quarter of a second (the CPUs' busy share,
times their count), not from the 1-minute load average, which lags a minute behind what just
ended; elsewhere the load average is the fallback. Settings the user made (OMP_WAIT_POLICY or GOMP_SPINCOUNT) are kept as
they are. The decision is written to RANKBENCH_OPENMP_WAIT, which the run's provenance records.
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping

SPIN_COUNT = "10000"  # spin iterations before sleeping: ~tens of µs, enough to bridge two small ops
DECISION_VAR = "RANKBENCH_OPENMP_WAIT"


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def busy_cpus(window: float = 0.25) -> float:
    """How many CPUs other work keeps busy now: the non-idle share of /proc/stat's ticks × CPU count."""
    try:
        first = _cpu_ticks()
        time.sleep(window)
        second = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else float(_cpus())
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
        cpus = _cpus() if cpus is None else cpus
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
