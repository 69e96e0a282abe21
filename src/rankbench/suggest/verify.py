"""After `compress` writes a folder: read it back and check that every module's ΔW is the truncation.

The best rank-k approximation of ΔW keeps σ₁..σ_k and drops the rest, so the written module's
singular values must be the source's first k (and nothing beyond). They are compared at the
precision of the written dtype, relative to the module's σ₁: a bf16 or fp16 factor carries 8 or 11
bits of mantissa, so its product cannot be exact to more than that.
"""

from __future__ import annotations

import numpy as np

from rankbench.errors import RankbenchError

# relative tolerance (to σ₁) per stored dtype: a few units in the last place of the factors, times √r
_TOLERANCE = {"float64": 1e-9, "float32": 1e-5, "float16": 4e-3, "bfloat16": 3e-2}


def verify_truncation(out_dir, source, plan) -> int:
    """Raise RankbenchError naming the first module whose written spectrum is not its truncation.

    ``source`` is the :class:`~rankbench.suggest.spectra.Spectra` the plan was made from. Returns the
    number of modules checked.
    """
    from rankbench.suggest.spectra import compute_spectra

    written = {m.name: m for m in compute_spectra(out_dir, workers=1).modules}
    for m in source.modules:
        k, new = plan.ranks[m.name], written.get(m.name)
        if new is None:
            raise RankbenchError(f"module {m.name} is missing from the written adapter", path=out_dir)
        want = np.asarray(m.singular_values[:k])  # (k,)
        got = np.asarray(new.singular_values)  # (k,) when the rank is capped at k
        tol = _TOLERANCE.get(new.dtype, 3e-2) * max(float(want[0]) if want.size else 0.0, 1e-300)
        if new.r != k or np.max(np.abs(got[: want.size] - want), initial=0.0) > tol:
            raise RankbenchError(
                f"module {m.name}: the written adapter does not reproduce its rank-{k} truncation "
                f"(rank {new.r}, largest σ difference {np.max(np.abs(got[: want.size] - want), initial=0.0):.3g})",
                path=out_dir,
                hint="this is a bug in rankbench: please report it with the source adapter",
            )
    return len(source.modules)
