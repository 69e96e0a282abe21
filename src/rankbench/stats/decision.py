"""The interval a multi-seed verdict is decided on: per-seed Δ, their spread, and shared items.

Each seed s gives Dₛ = mean of its per-item differences (variant − probe), over nₛ items. Seeds are the
units: training noise shows only between seeds, so the decision uses the spread of the Dₛ, with
S − 1 degrees of freedom, never the items alone.

    D̄ = (1/S)·Σ Dₛ          s² = std(Dₛ, ddof=1)          V = s²/S + Ĉ

- **Independent items** (each seed evaluated its own draw of items, none shared): Ĉ = 0 and the
  interval is the t-interval D̄ ± t_{1−α/2, S−1}·√(s²/S). Every seed weighs the same; this is the
  Hartung–Knapp (HKSJ) random-effects interval with equal weights.
- **Shared items**: an item seen by two seeds carries its own effect (some items are hard for the
  compressed adapter whatever the seed) into both Dₛ, so the Dₛ are positively correlated and s²
  misses that part. With σ²ᵥ the covariance of the per-item differences of one item across two seeds,
  Cov(Dₛ, Dₜ) = σ²ᵥ·mₛₜ/(nₛ·nₜ) for mₛₜ shared items, and Var(D̄) = E[s²]/S + mean_{s≠t} Cov(Dₛ, Dₜ).
  So Ĉ = mean over seed pairs of σ̂²ᵥ·mₛₜ/(nₛ·nₜ), with σ̂²ᵥ pooled over all pairs' shared items and
  floored at 0. Degrees of freedom: S − 1, as without shared items. (A Satterthwaite df computed from
  the observed spread, df = (S − 1)·V²/(s²/S)², was used before: it is largest exactly when s² came
  out small by chance, so it shrank the quantile when the interval was already too short, and its
  false PASS at Δ = −tolerance reached 2.7–3.0% with 3 seeds, 8% discordance and a seed SD of the true
  Δ of 0.01–0.02. With S − 1 the same campaigns stay below 2.5%: see the calibration benchmark.)
- **Floor**: the half-width is never below z_{1−α/2}·√F with F = (1/S²)·Σ seₛ², the item-level
  uncertainty alone (seₛ is the standard error each seed's own interval implies, Tango's for 1/0
  scores; it rests on thousands of items, so the normal quantile). When every seed agrees with its
  probe on every item, s² = 0 but the run has not shown Δ = 0 exactly; the floor keeps the interval
  from collapsing. A false PASS then needs both the t-interval and the item-level interval to pass
  falsely, so the floor can only lower the error rate. When it binds, ``se`` = √F and ``df`` is None.

The interval is D̄ ± max(t_{1−α/2, df}·√V, z_{1−α/2}·√F). ``benchmarks/verdict_calibration.py``
measures its false-PASS rate at Δ = −tolerance for 3 and 5 seeds, with and without shared items.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.stats._validate import check_confidence, to_dict
from rankbench.stats.distributions import normal_ppf, t_ppf

INDEPENDENT_METHOD = "t-interval across per-seed Δ (df = S - 1); seeds evaluated disjoint item sets"
SHARED_METHOD = "t-interval across per-seed Δ plus the covariance of items shared between seeds (df = S - 1)"
UNKNOWN_ITEMS_NOTE = "item ids unknown: seeds treated as evaluated on disjoint items"


@dataclass(frozen=True)
class SeedDiffs:
    """One seed's per-item differences d (variant − probe), their item ids, and its interval's se."""

    diffs: np.ndarray  # (n,)
    item_ids: tuple[str, ...] | None
    se: float  # the se the seed's own interval implies (floor for the pooled variance)


@dataclass(frozen=True)
class DecisionInterval:
    """D̄ with its decision interval; ``item_sharing`` says which case of the module docstring applied."""

    delta: float
    low: float | None
    high: float | None
    se: float | None
    df: float | None  # None: normal quantile (the item-level floor decided)
    confidence: float
    method: str
    item_sharing: str  # "independent" | "shared" | "unknown"
    shared_items_mean: float  # mean over seed pairs of the number of shared items
    item_covariance: float  # σ̂²ᵥ (0 when no items are shared)
    cov_term: float  # Ĉ, what shared items add to the variance of D̄
    floor_binds: bool
    n_seeds: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def ci(self) -> dict[str, Any]:
        """The stable ``decision_ci`` block: {low, high, confidence, method, df} and the details."""
        return {
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "method": self.method,
            "df": self.df,
            "se": self.se,
            "item_sharing": self.item_sharing,
            "shared_items_mean": self.shared_items_mean,
            "floor_binds": self.floor_binds,
        }


def _item_covariance(seeds: list[SeedDiffs]) -> tuple[float, list[int]]:
    """σ̂²ᵥ pooled over seed pairs' shared items, and mₛₜ for each pair (in combinations order)."""
    shared_counts, num, den = [], 0.0, 0
    for a, b in combinations(seeds, 2):
        pos_b = {item: i for i, item in enumerate(b.item_ids or ())}
        pairs = [(i, pos_b[item]) for i, item in enumerate(a.item_ids or ()) if item in pos_b]
        shared_counts.append(len(pairs))
        if len(pairs) < 2:
            continue
        ia, ib = (np.fromiter(ix, dtype=np.int64) for ix in zip(*pairs, strict=True))
        da, db = a.diffs[ia] - a.diffs.mean(), b.diffs[ib] - b.diffs.mean()
        num += float(da @ db)
        den += len(pairs) - 1
    return (max(num / den, 0.0) if den else 0.0), shared_counts


def decision_spread(means: np.ndarray, ses: np.ndarray, cov_term, confidence: float) -> tuple:
    """(half-width, se, df, floor_binds) over the last axis of ``means``/``ses`` (S ≥ 2 seeds).

    Leading axes batch (the calibration benchmark passes thousands of campaigns); ``cov_term`` is a
    scalar or broadcasts against them. V = s²/S + Ĉ with the t quantile at S − 1 df; df is inf where
    the item-level floor binds (normal quantile).
    """
    n_seeds = means.shape[-1]
    p = 0.5 + confidence / 2.0
    var = means.var(axis=-1, ddof=1) / n_seeds + cov_term
    floor = np.square(ses).sum(axis=-1) / n_seeds**2
    t_half, z_half = t_quantile(p, n_seeds - 1.0) * np.sqrt(var), normal_ppf(p) * np.sqrt(floor)
    floor_binds = z_half > t_half
    half = np.where(floor_binds, z_half, t_half)
    se = np.where(floor_binds, np.sqrt(floor), np.sqrt(var))
    return half, se, np.where(floor_binds, np.inf, n_seeds - 1.0), floor_binds


_T_MEMO: dict[tuple[float, float], float] = {}


def t_quantile(p: float, df: float) -> float:
    """t_ppf memoised on df rounded to 3 significant digits (the simulation asks for thousands)."""
    key = (p, float(f"{df:.3g}"))
    if key not in _T_MEMO:
        _T_MEMO[key] = t_ppf(p, key[1])
    return _T_MEMO[key]


def decision_interval(seeds: list[SeedDiffs], confidence: float = 0.95) -> DecisionInterval:
    """The decision interval of the mean per-seed Δ (see the module docstring for the three cases)."""
    confidence = check_confidence(confidence)
    if not seeds:
        raise RankbenchError("no seeds to decide on", hint="run at least one seed first")
    n_seeds = len(seeds)
    means = np.array([s.diffs.mean() for s in seeds])  # (S,)
    delta = float(means.mean())
    ids_known = all(s.item_ids is not None for s in seeds)
    if n_seeds < 2:
        note = "only 1 seed: training noise cannot be estimated, so there is no decision interval"
        sharing = "independent" if ids_known else "unknown"
        return DecisionInterval(
            delta, None, None, None, None, confidence, INDEPENDENT_METHOD, sharing, 0.0, 0.0, 0.0, False, 1,
            (note,),
        )  # fmt: skip
    n_pairs = n_seeds * (n_seeds - 1) // 2
    cov_v, counts = _item_covariance(seeds) if ids_known else (0.0, [0] * n_pairs)
    cov_term = shared_covariance(cov_v, counts, [s.diffs.size for s in seeds])
    half, se, df, floor_binds = (
        x.item() for x in decision_spread(means, np.array([s.se for s in seeds]), cov_term, confidence)
    )
    shared_mean = float(np.mean(counts))
    sharing = "unknown" if not ids_known else ("shared" if shared_mean > 0 else "independent")
    notes = [UNKNOWN_ITEMS_NOTE] if not ids_known else []
    if floor_binds:
        notes.append(
            "the seeds' Δ vary less than their own item-level uncertainty allows: the interval uses "
            "that uncertainty instead (normal quantile)"
        )
    return DecisionInterval(
        delta=delta,
        low=delta - half,
        high=delta + half,
        se=se,
        df=None if floor_binds else df,
        confidence=confidence,
        method=SHARED_METHOD if sharing == "shared" else INDEPENDENT_METHOD,
        item_sharing=sharing,
        shared_items_mean=shared_mean,
        item_covariance=cov_v,
        cov_term=cov_term,
        floor_binds=bool(floor_binds),
        n_seeds=n_seeds,
        notes=tuple(notes),
    )


def shared_covariance(cov_v: float, counts: list[int], sizes: list[int]) -> float:
    """Ĉ = mean over seed pairs of σ̂²ᵥ·mₛₜ/(nₛ·nₜ)."""
    pairs = combinations(range(len(sizes)), 2)
    return float(
        np.mean([cov_v * m / (sizes[i] * sizes[j]) for (i, j), m in zip(pairs, counts, strict=True)])
    )
