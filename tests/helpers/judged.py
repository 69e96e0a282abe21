"""Hand-built variant entries of bench.json, from discordant counts: the scores are made item by item,
and the interval and verdict come from the project's own statistics, as the bench makes them."""

from __future__ import annotations

import numpy as np

from rankbench.stats import noninferiority, paired_delta


def scores(n: int, probe_right: int, b: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Probe and variant 1/0 scores on n items: the probe right on ``probe_right``, the variant right
    on the same items but ``c`` of them, plus ``b`` the probe got wrong."""
    both = probe_right - c
    probe = np.zeros(n)
    variant = np.zeros(n)
    probe[:probe_right] = 1.0
    variant[:both] = 1.0
    variant[probe_right : probe_right + b] = 1.0
    return probe, variant


def entry(
    variant: str,
    *,
    b: int,
    c: int,
    n: int = 500,
    probe_right: int = 461,
    method: str = "truncate",
    role: str = "compression",
    rank: int | None = 8,
    reduction: float = 0.5,
    probe_params: int = 100_000,
    tolerance: float = 0.01,
) -> dict:
    """One ``compressed`` entry with the keys the findings and the reports read."""
    probe, var = scores(n, probe_right, b, c)
    pd = paired_delta(probe, var, confidence=0.95)
    verdict = noninferiority(pd, tolerance)
    return {
        "rank": rank,
        "rank_mean": float(rank) if rank is not None else 4.5,
        "params": int(round(probe_params * (1 - reduction))),
        "accuracy": float(var.mean()),
        "delta_vs_probe": float(var.mean() - probe.mean()),
        "param_reduction": reduction,
        "verdict": verdict.verdict,
        "variant": variant,
        "method": method,
        "role": role,
        "mde": verdict.mde,
        "ci": {
            "low": pd.ci_low,
            "high": pd.ci_high,
            "confidence": 0.95,
            "method": pd.method,
            "se": pd.se,
            "n": n,
            "variant_only_correct": b,
            "probe_only_correct": c,
        },
    }


def bbc_compressed(tolerance: float = 0.01) -> dict:
    """The issue's case: MiniLM r=16 on BBC News topics, 500 items, probe 0.922; random_subspace at
    r=8 scores 0.956 (26 items only it got right, 9 only the adapter); uniform_p90 keeps r=16."""
    kw = {"n": 500, "probe_right": 461, "tolerance": tolerance}
    key = "uniform_median" + "_retrain"
    return {
        "uniform_median": entry("uniform_median", b=6, c=5, rank=8, **kw),
        key: entry("uniform_median", b=3, c=30, rank=8, method="retrain", **kw),
        "uniform_p90": entry("uniform_p90", b=0, c=0, rank=16, reduction=0.0, role="control", **kw),
        "per_layer": entry("per_layer", b=4, c=9, rank=None, reduction=0.6, **kw),
        "random_subspace": entry("random_subspace", b=26, c=9, rank=8, role="control", **kw),
    }
