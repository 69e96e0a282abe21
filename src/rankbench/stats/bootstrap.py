"""Pooled Δ across seeds: a two-level (seeds, then items) percentile bootstrap.

For S seeds with per-item differences d_s (n_s items each), one bootstrap replicate is

    s*_1..s*_S ~ Uniform{1..S} with replacement                     (resample seeds)
    for each j: i*_1..i*_{n_{s*_j}} ~ Uniform{1..n_{s*_j}}            (resample that seed's items)
    θ* = (1/S) Σ_j mean_i d_{s*_j}[i*]                               (mean over seeds of mean Δ)

and the interval is the percentile interval [q_{α/2}(θ*), q_{1−α/2}(θ*)] (numpy's default linear
quantile), α = 1 − confidence. The point estimate is θ̂ = (1/S) Σ_s mean(d_s): every seed weighs the
same whatever its item count. se is the standard deviation of θ* (ddof=1). Its expected square is
Var(θ*) = [Var_s(mean d_s) + mean_s(σ²_s/n_s)] / S with population (ddof=0) variances, which the
tests check. Because those are ddof=0 variances, resampling S seeds understates the between-seed part
by (S − 1)/S: with 3 seeds the percentile interval is optimistic, and the t-interval across seeds
(:func:`~rankbench.stats.seeds.t_interval`) is the conservative companion; a note says so when S < 5.

When every seed's 1/0 scores agree on every item, every θ* is 0 and the percentile interval is
[0, 0]. As in the single-seed case (:mod:`rankbench.stats.paired`), the interval is then ±u with
u = 1 − (α/2)^(1/N), the exact bound on the discordance rate for 0 disagreements in all N items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.records import from_record
from rankbench.stats._validate import check_confidence, paired_differences, to_dict
from rankbench.stats.paired import no_discordance_bound

BOOTSTRAP_METHOD = (
    "hierarchical percentile bootstrap: seeds resampled with replacement, then items within each "
    "chosen seed; statistic = mean over chosen seeds of mean paired Δ"
)
# Item-index draws are made in chunks of at most this many int64 (16 MiB), whatever n_boot × n_items is.
CHUNK_ELEMENTS = 1 << 21
# Below this many seeds the note says that the seed-level resampling is optimistic.
FEW_SEEDS = 5


@dataclass(frozen=True)
class BootstrapCI:
    """Pooled Δ (``delta``, equal weight per seed) with its percentile bootstrap interval and se."""

    delta: float
    ci_low: float
    ci_high: float
    se: float
    confidence: float
    n_boot: int
    n_seeds: int
    n_items: tuple[int, ...]
    seed: int
    method: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def _resampled_means(rng: np.random.Generator, d: np.ndarray, count: int) -> np.ndarray:
    """``count`` means of d resampled with replacement (n draws each), drawn in bounded chunks."""
    n = d.size
    out = np.empty(count)  # (count,)
    rows = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, count, rows):
        m = min(rows, count - start)
        idx = rng.integers(0, n, size=(m, n))  # (m, n) item indices
        out[start : start + m] = d[idx].mean(axis=1)
    return out


def _replicates(diffs: list[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """θ* of every replicate: S seed picks with replacement, then each picked seed's items resampled."""
    n_seeds = len(diffs)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_seeds, size=(n_boot, n_seeds))  # (n_boot, S): seed at each position
    seed_means = np.empty((n_boot, n_seeds))  # (n_boot, S): resampled mean Δ at each position
    for s, d in enumerate(diffs):
        chosen = picks == s  # (n_boot, S)
        seed_means[chosen] = _resampled_means(rng, d, int(chosen.sum()))
    return seed_means.mean(axis=1)  # (n_boot,)


def _few_seeds_note(n_seeds: int) -> list[str]:
    if n_seeds == 1:
        return ["1 seed: only items are resampled; seed-to-seed variation is not captured"]
    if n_seeds < FEW_SEEDS:
        return [
            f"{n_seeds} seeds: resampling so few seeds understates seed-to-seed variance by a factor "
            f"({n_seeds}-1)/{n_seeds}; compare with the t-interval across seeds"
        ]
    return []


def _degenerate(triples, confidence: float) -> tuple[float | None, list[str]]:
    """When every per-item difference is equal: the half-width ±u to use instead of the zero-width
    percentile interval (1/0 scores that agree everywhere), or None, with the note that says why."""
    diffs = [d for _, _, d in triples]
    binary = all(np.isin(p, (0.0, 1.0)).all() and np.isin(v, (0.0, 1.0)).all() for p, v, _ in triples)
    if binary and all(not d.any() for d in diffs):
        total = sum(int(d.size) for d in diffs)
        u = no_discordance_bound(total, confidence)
        return u, [
            f"the two agree on all {total} items of every seed: the bootstrap interval would have zero "
            f"width, so the interval is ±{u:.4g}, the exact bound on how often they could disagree"
        ]
    if all(np.all(d == d[0]) for d in diffs) and len({float(d[0]) for d in diffs}) == 1:
        return None, ["every per-item difference is equal: the interval has zero width"]
    return None, []


def hierarchical_bootstrap_delta(
    per_seed_pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile interval of θ = mean over seeds of mean(variant − probe), resampling seeds then items.

    ``per_seed_pairs`` holds one (probe_scores, variant_scores) pair per seed; seeds may have different
    item counts. Draws come from ``np.random.default_rng(seed)`` in a fixed order (the seed picks, then
    each seed's item indices), so equal inputs and seed give an identical result.
    """
    confidence = check_confidence(confidence)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise RankbenchError(f"n_boot must be an integer ≥ 2, got {n_boot!r}", hint="use e.g. n_boot=2000")
    if len(per_seed_pairs) == 0:
        raise RankbenchError("no seeds to pool: the bootstrap needs at least one (probe, variant) pair")
    triples = [paired_differences(p, v, where=f"seed #{i}") for i, (p, v) in enumerate(per_seed_pairs)]
    diffs = [d for _, _, d in triples]
    theta = _replicates(diffs, n_boot, seed)
    alpha = 1.0 - confidence
    ci_low, ci_high = np.quantile(theta, [alpha / 2.0, 1.0 - alpha / 2.0])
    u, degenerate_notes = _degenerate(triples, confidence)
    if u is not None:
        ci_low, ci_high = -u, u
    return BootstrapCI(
        delta=float(np.mean([d.mean() for d in diffs])),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        se=float(theta.std(ddof=1)),
        confidence=confidence,
        n_boot=int(n_boot),
        n_seeds=len(diffs),
        n_items=tuple(int(d.size) for d in diffs),
        seed=int(seed),
        method=BOOTSTRAP_METHOD,
        notes=tuple(_few_seeds_note(len(diffs)) + degenerate_notes),
    )
