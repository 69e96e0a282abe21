"""Rebuilding one module's factors at a new rank: read, truncate (or project), encode. Thread-safe.

Compression reads each pair straight from the file (``os.pread``) into the dtype it computes in: float32
when the factors are stored in 16 bits (their rounding, ~4e-3 relative, dwarfs float32's 6e-8), float64
otherwise. The factorisation itself (:class:`~rankbench.spectral.truncate.CoreSVD`) is always float64;
only the two thin products that apply it run in the compute dtype.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from rankbench.adapters.writer import encode_float
from rankbench.spectral import NonFiniteError
from rankbench.spectral.truncate import (
    CoreSVD,
    apply_truncation,
    core_svd,
    discarded_energy,
    random_subspace_factors,
    truncation_weights,
)

_NARROW = {"BF16", "F16"}


_BLAS_LOCK = threading.Lock()
_BLAS_STATE: dict = {"controller": None, "loaded": False, "depth": 0, "limiter": None}


@contextlib.contextmanager
def single_threaded_blas():
    """Run BLAS on one thread inside this block, when threadpoolctl is installed (else do nothing).

    For the r×r SVD of a truncation: LAPACK makes dozens of tiny BLAS calls there, and with a
    multi-threaded OpenBLAS on a busy machine each one can wait for its spinning threads (measured on
    the 2-core dev box under load: 190 ms per 64×64 SVD instead of 2 ms). The limit is process-wide, so
    nested and concurrent blocks share one: the first to enter sets it, the last to leave restores it.
    """
    with _BLAS_LOCK:
        state = _BLAS_STATE
        if not state["loaded"]:
            state["loaded"] = True
            try:
                from threadpoolctl import ThreadpoolController

                state["controller"] = ThreadpoolController()
            except ImportError:
                pass
        if state["controller"] is not None and state["depth"] == 0:
            state["limiter"] = state["controller"].limit(limits=1, user_api="blas")
        state["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            state["depth"] -= 1
            if state["depth"] == 0 and state["limiter"] is not None:
                state["limiter"].restore_original_limits()
                state["limiter"] = None


def pread_exact(fd: int, begin: int, end: int) -> bytes:
    """Bytes [begin, end) of an open file (positional, so threads can share ``fd``)."""
    chunks, offset = [], begin
    while offset < end:
        chunk = os.pread(fd, end - offset, offset)
        if not chunk:
            raise EOFError(f"file ends at {offset}, expected {end}")
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks) if len(chunks) != 1 else chunks[0]


def decode(raw: bytes, dtype: str, shape: tuple[int, ...], out_dtype) -> np.ndarray:
    """Bytes of a float tensor → an array of ``out_dtype`` (bf16 widened exactly by a 16-bit shift)."""
    if dtype == "BF16":
        x = np.left_shift(np.frombuffer(raw, dtype="<u2"), 16, dtype=np.uint32).view(np.float32)
    else:
        x = np.frombuffer(raw, dtype={"F16": "<f2", "F32": "<f4", "F64": "<f8"}[dtype])
    return x.astype(out_dtype, copy=False).reshape(shape)


@dataclass(frozen=True, eq=False)
class Job:
    spec: object  # rankbench.adapters.PairSpec
    k: int
    new_scale: float
    method: str  # "truncate" | "random_subspace"
    core: CoreSVD | None  # from a spectra pass, or None to compute here
    gaussian: np.ndarray | None  # (r, k) standard normal draw for random_subspace


@dataclass(frozen=True)
class Rebuilt:
    A: bytes | None  # None: copy the source bytes unchanged
    B: bytes | None
    total_energy: float
    discarded_energy: float


def compute_dtype(spec) -> type:
    return np.float32 if {spec.info_A.dtype, spec.info_B.dtype} <= _NARROW else np.float64


def rebuild(job: Job, fd: int) -> Rebuilt:
    """New (A, B) bytes for one module, with its total and discarded energy."""
    s, a, b = job.spec, job.spec.info_A, job.spec.info_B
    if job.k == s.r and job.new_scale == s.scale:  # same rank and scale: ΔW unchanged, copy the bytes
        core = job.core or _core(s, fd)
        return Rebuilt(None, None, float(np.sum(core.s**2)), 0.0)
    dt = compute_dtype(s)
    A = decode(pread_exact(fd, a.begin, a.end), a.dtype, a.shape, dt).reshape(a.shape[0], -1)  # (r, in)
    B = decode(pread_exact(fd, b.begin, b.end), b.dtype, b.shape, dt).reshape(b.shape[0], -1)  # (out, r)
    if job.method == "truncate":
        core = job.core or core_svd(B.astype(np.float64), A.astype(np.float64), s.scale)
        with single_threaded_blas():  # the r×r SVD: dozens of tiny BLAS calls
            left, right = truncation_weights(core, job.k, job.new_scale)
        B_new, A_new = apply_truncation(B, A, left, right, job.k)
        total, dropped = float(np.sum(core.s**2)), discarded_energy(core.s, job.k)
    else:
        B_new, A_new, dropped = random_subspace_factors(
            B.astype(np.float64), A.astype(np.float64), s.scale, job.k, job.new_scale, job.gaussian
        )
        total = float(np.sum((job.core or _core(s, fd)).s ** 2))
    return Rebuilt(encode_float(A_new, a.dtype), encode_float(B_new, b.dtype), total, dropped)


def _core(spec, fd) -> CoreSVD:
    a, b = spec.info_A, spec.info_B
    A = decode(pread_exact(fd, a.begin, a.end), a.dtype, a.shape, np.float64).reshape(a.shape[0], -1)
    B = decode(pread_exact(fd, b.begin, b.end), b.dtype, b.shape, np.float64).reshape(b.shape[0], -1)
    return core_svd(B, A, spec.scale)


def ordered_map(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``map(fn, items)`` in order, on ``workers`` threads with at most 2·workers results in flight."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rankbench-compress") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def rebuild_or_refuse(job: Job, fd: int, path) -> Rebuilt:
    """:func:`rebuild`, with NaN or Inf factors reported as the user's problem (file, module, key)."""
    from rankbench.errors import RankbenchError

    try:
        return rebuild(job, fd)
    except NonFiniteError as exc:
        key = job.spec.info_A.key if exc.factor == "A" else job.spec.info_B.key
        raise RankbenchError(
            f"module {job.spec.name}: {key} contains NaN or Inf",
            path=path,
            hint="the training diverged or the file is damaged; use an earlier checkpoint",
        ) from None
