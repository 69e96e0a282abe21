"""How often would the policy pass if the compressed adapter were exactly as good (Δ = 0)?

A campaign's "power" is one clause's; the claim needs every clause. This module answers for the whole
policy, for 1/0 scores, from what the campaign observed.

**The model.** Seed s gives Dₛ = uₛ + wₛ, where uₛ ~ N(0, σ²ᵤ) is training noise and wₛ the item
sampling error of that seed (variance ≈ pₛ/nₛ, pₛ its discordance). Items shared between seeds make the
wₛ correlated with mean covariance C (the decision interval's Ĉ). Then at Δ = 0

    D̄ ~ N(0, σ²/S + C),   (S − 1)·s²/σ² ~ χ²_{S−1} independent of D̄,   σ² = σ²ᵤ + mean(pₛ/nₛ) − C

and the decision interval passes iff D̄ − h(s²) > −τ with h(v) = max(t_{S−1}·√(v/S + C), z·√F)
(F: the item-level floor). So

    P(pass | Δ = 0) = ∫ f_{χ²}(x) · Φ( (τ − h(σ²x/(S − 1))) / √(σ²/S + C) ) dx

which is computed by quadrature (error < 1e-6), with the power clause, when active, as an indicator
on the same s² (power is a monotone function of the se the interval implies). No simulation noise.

**The estimate.** The aggregate reports the integrand at the observed s² (floored at the item-level
part mean(p̂ₛ/nₛ) − Ĉ, since σ²ᵤ ≥ 0), with σ² estimated by that same s²:
Φ((τ − h(s²))/√(s²/S + Ĉ)). The observed s² is one draw from the law the integral averages over, so
this is close to unbiased for P(pass | Δ = 0) over campaigns: measured bias −0.01 to +0.04 for 3, 5
and 10 seeds at 2% discordance (``benchmarks/verdict_calibration.py``, table 3). Plugging s² into the integral
instead is off by up to +0.14 there, and the old simulation from σ²ᵤ = max(0, s² − within) by −0.11
to +0.15. The integral itself (:func:`decision_pass_probability`) is exact given the variances: it
serves planning (:func:`rankbench.stats.power.plan_items`) and is tested against brute force.

A policy that turns on the per-seed pass-rate clause (``min_pass_rate``, off by default) couples the
decision with every seed's own Tango verdict; that case is simulated from the same model
(``n_sim`` seeded campaigns, multinomial items) and the method says so. The two optional older
clauses are not modelled: the probability is then an upper bound and a note says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rankbench.stats.decision import decision_spread, t_quantile
from rankbench.stats.distributions import normal_ppf
from rankbench.stats.policy import OPTIONAL_CLAUSES, Policy, clause_test, holds
from rankbench.stats.power import power_at_zero
from rankbench.stats.tango import tango_lower

SIMULATIONS = 2000
SIM_SEED = 0
ANALYTIC_METHOD = (
    "computed at Δ = 0 under the normal model of per-seed Δ: Φ((τ − h(s²))/√(s²/S + Ĉ)) at the "
    "observed seed variance s² (h: the decision interval's half-width); no simulation"
)
_QUAD_POINTS = 6001


@dataclass(frozen=True)
class PolicyPassProbability:
    probability: float | None
    mc_se: float | None  # None: computed, not simulated
    n_sim: int  # 0: computed, not simulated
    seed_sd: float | None  # σᵤ implied by the variance used
    method: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, notes=list(self.notes))


@dataclass(frozen=True)
class CampaignModel:
    """What P(pass | Δ = 0) depends on: S seeds, the variance σ² that s² estimates, C and the floor F."""

    n_seeds: int
    seed_var: float  # σ² = σ²ᵤ + mean(p/n) − C: the expected s² of the per-seed Δ
    cov_term: float  # C: mean covariance of two seeds' Δ through shared items
    floor_var: float  # F = Σ seₛ²/S²: the item-level floor of the decision interval's variance
    observed_var: float | None = None  # the s² a campaign drew (unfloored), where there is one


def decision_pass_probability(
    model: CampaignModel,
    margin: float,
    confidence: float,
    min_power: float | None = None,
    power_tolerance: float | None = None,
) -> float:
    """P(D̄ − h(s²) > −margin, and power at ``power_tolerance`` ≥ ``min_power`` if given) at Δ = 0,
    over campaigns with these true variances: the χ² integral of the module docstring.

    ``margin`` = inf drops the interval clause.
    """
    k = model.n_seeds - 1
    if k < 1:
        return 0.0
    y, weight = _chi_quadrature(k)  # s² = σ²·y²/k with y² ~ χ²_k
    cond = _pass_given_variance(
        model, model.seed_var * y * y / k, margin, confidence, min_power, power_tolerance
    )
    integrand = cond * weight
    return float(np.clip(np.sum((integrand[1:] + integrand[:-1]) * np.diff(y)) / 2.0, 0.0, 1.0))


def observed_pass_probability(
    model: CampaignModel,
    margin: float,
    confidence: float,
    min_power: float | None = None,
    power_tolerance: float | None = None,
) -> float:
    """The same at the observed seed variance: Φ((margin − h(s²))/√(σ̂²/S + C)), with s² the campaign's
    own (``observed_var``) and σ̂² = ``seed_var``, that s² floored at the item-level part.

    What the aggregate reports. It is the integrand above at the one s² the campaign drew, which has
    the law the integral averages over, so it is close to unbiased for the probability over campaigns
    (measured in the calibration benchmark); the plug-in of the integral is not (it was +0.14 off).
    """
    if model.n_seeds < 2:
        return 0.0
    v = np.array([model.seed_var if model.observed_var is None else model.observed_var])
    return float(_pass_given_variance(model, v, margin, confidence, min_power, power_tolerance)[0])


def _pass_given_variance(model, v, margin, confidence, min_power, power_tolerance) -> np.ndarray:
    """P(pass | s² = v) at Δ = 0, elementwise over v: D̄ ~ N(0, σ²/S + C) against h(v), and the
    power clause as an indicator (power is a function of the se the interval implies)."""
    k = model.n_seeds - 1
    p = 0.5 + confidence / 2.0
    t_half = t_quantile(p, float(k)) * np.sqrt(v / model.n_seeds + model.cov_term)
    z_half = normal_ppf(p) * math.sqrt(model.floor_var)
    floor_binds = z_half > t_half
    cond = np.ones_like(v)
    if math.isfinite(margin):
        sd_mean = math.sqrt(model.seed_var / model.n_seeds + model.cov_term)
        gap = margin - np.where(floor_binds, z_half, t_half)  # D̄ must exceed −gap
        cond = _phi(gap / sd_mean) if sd_mean > 0 else (gap > 0).astype(float)
    if min_power is not None:
        se = np.where(floor_binds, math.sqrt(model.floor_var), np.sqrt(v / model.n_seeds + model.cov_term))
        alpha = round(1.0 - confidence, 12)
        tol = margin if power_tolerance is None else power_tolerance
        power = [
            power_at_zero(s, tol, alpha, None if fb else float(k)) if s > 0 else 0.0
            for s, fb in zip(se, floor_binds, strict=True)
        ]
        cond = cond * holds(np.array(power), "≥", min_power)
    return cond


def _chi_quadrature(k: int) -> tuple[np.ndarray, np.ndarray]:
    """A grid y and the density of y = √x, x ~ χ²_k (finite at 0 for every k ≥ 1)."""
    y = np.linspace(0.0, math.sqrt(k + 12.0 * math.sqrt(2.0 * k) + 60.0), _QUAD_POINTS)
    x = y * y
    log_norm = math.lgamma(k / 2.0) + (k / 2.0) * math.log(2.0)
    with np.errstate(divide="ignore"):
        log_dens = math.log(2.0) + (k - 1) * np.log(y) - x / 2.0 - log_norm  # f_x(y²)·2y
    return y, np.exp(log_dens) if k > 1 else np.exp(math.log(2.0) - x / 2.0 - log_norm)


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF, elementwise."""
    return 0.5 * _ERFC(-np.asarray(x) / math.sqrt(2.0)).astype(np.float64)


def campaign_model(counts: list[tuple[int, int, int]], cov_term: float, confidence: float) -> CampaignModel:
    """The :class:`CampaignModel` estimated from each seed's (b, c, n) and the observed Ĉ."""
    b, c, n = (np.array(x, dtype=np.float64) for x in zip(*counts, strict=True))
    d = (b - c) / n
    within = float(np.mean((b + c) / n / n))  # mean(p̂ₛ/nₛ): item sampling alone
    observed = float(d.var(ddof=1)) if d.size > 1 else 0.0
    seed_var = max(observed, within - cov_term, 0.0)
    ses = (d - tango_lower(b, c, n, normal_ppf(0.5 + confidence / 2.0))) / normal_ppf(0.5 + confidence / 2.0)
    floor_var = float(np.square(ses).sum() / d.size**2)
    return CampaignModel(int(d.size), seed_var, float(cov_term), floor_var, observed)


def policy_pass_probability(
    policy: Policy,
    counts: list[tuple[int, int, int]],
    *,
    tolerance: float,
    confidence: float,
    cov_term: float = 0.0,
    n_sim: int = SIMULATIONS,
    seed: int = SIM_SEED,
) -> PolicyPassProbability:
    """P(policy passes | Δ = 0) for seeds with observed (b, c, n): computed, or simulated when the
    policy's per-seed pass-rate clause is on (``n_sim`` seeded campaigns)."""
    if len(counts) < 1:
        return PolicyPassProbability(None, None, 0, None, ANALYTIC_METHOD, ("no seeds",))
    model = campaign_model(counts, cov_term, confidence)
    within = float(np.mean([(b + c) / n / n for b, c, n in counts]))
    seed_sd = math.sqrt(max(0.0, model.seed_var - within + cov_term))
    notes = []
    active_old = [k for k in OPTIONAL_CLAUSES if policy.clauses.get(k) is not None]
    if active_old:
        notes.append(f"not modelled: {', '.join(active_old)}; the probability is an upper bound")
    clauses = policy.clauses
    if clauses.get("min_seeds") is not None and model.n_seeds < clauses["min_seeds"]:
        return PolicyPassProbability(0.0, None, 0, seed_sd, ANALYTIC_METHOD, tuple(notes))
    if clauses.get("min_pass_rate") is None:
        prob = 1.0
        if clauses.get("decision_ci_lower_gt") is not None or clauses.get("min_power") is not None:
            prob = _decision_clauses(policy, model, tolerance, confidence)
        return PolicyPassProbability(prob, None, 0, seed_sd, ANALYTIC_METHOD, tuple(notes))
    rng = np.random.default_rng(seed)
    n = np.array([x[2] for x in counts], dtype=np.float64)
    p_disc = np.array([(b + c + 1.0) / (n_ + 1.0) for b, c, n_ in counts])  # never 0
    b, c = _simulate_counts(rng, n, p_disc, seed_sd, n_sim)
    passed = _required_clauses(policy, b, c, n, tolerance, confidence, cov_term)
    prob = float(passed.mean())
    method = (
        f"{n_sim} simulations at Δ = 0 (the per-seed pass-rate clause needs every seed's own verdict): "
        "normal seed effects, multinomial items, from the observed discordance and seed variance"
    )
    return PolicyPassProbability(
        prob, float(math.sqrt(prob * (1 - prob) / n_sim)), n_sim, seed_sd, method, tuple(notes)
    )


def _decision_clauses(policy: Policy, model: CampaignModel, tolerance: float, confidence: float) -> float:
    """P(the interval clause and the power clause hold) at Δ = 0; a non-default threshold on the
    interval's lower end shifts τ (the clause is lower > threshold, i.e. margin −threshold)."""
    if policy.clauses.get("decision_ci_lower_gt") is not None:
        margin = -clause_test("decision_ci_lower_gt", policy.clauses["decision_ci_lower_gt"], tolerance)[1]
    else:
        margin = math.inf
    min_power = policy.clauses.get("min_power")
    if min_power is not None:
        min_power = clause_test("min_power", min_power, tolerance)[1]
    return observed_pass_probability(model, margin, confidence, min_power, power_tolerance=tolerance)


def _simulate_counts(rng, n: np.ndarray, p_disc: np.ndarray, seed_sd: float, n_sim: int):
    """(b, c) of shape (n_sim, S) under Δ = 0 with seed effects of SD ``seed_sd``."""
    u = rng.normal(0.0, seed_sd, size=(n_sim, n.size)) if seed_sd > 0 else np.zeros((n_sim, n.size))
    p_b = np.clip((p_disc + u) / 2.0, 0.0, p_disc)
    b = np.empty((n_sim, n.size), dtype=np.int64)
    c = np.empty_like(b)
    for s in range(n.size):
        pvals = np.stack([p_b[:, s], p_disc[s] - p_b[:, s], np.full(n_sim, 1.0 - p_disc[s])], axis=1)
        draws = rng.multinomial(int(n[s]), pvals)  # (n_sim, 3)
        b[:, s], c[:, s] = draws[:, 0], draws[:, 1]
    return b, c


def _required_clauses(policy, b, c, n, tolerance, confidence, cov_term) -> np.ndarray:
    """(n_sim,) bool: every active required clause held in each simulated campaign."""
    n_sim, n_seeds = b.shape
    z = normal_ppf(0.5 + confidence / 2.0)
    d = (b - c) / n  # (n_sim, S)
    low_seed = tango_lower(b, c, n, z)  # (n_sim, S)
    op, limit = clause_test("min_pass_rate", policy.clauses["min_pass_rate"], tolerance)
    ok = holds((low_seed > -tolerance).mean(axis=1), op, limit)
    need_ci = (
        policy.clauses.get("decision_ci_lower_gt") is not None or policy.clauses.get("min_power") is not None
    )
    if need_ci and n_seeds < 2:
        return np.zeros(n_sim, dtype=bool)  # no decision interval with one seed
    if need_ci:
        half, se, df, _ = decision_spread(d, (d - low_seed) / z, cov_term, confidence)
        if policy.clauses.get("decision_ci_lower_gt") is not None:
            op, limit = clause_test("decision_ci_lower_gt", policy.clauses["decision_ci_lower_gt"], tolerance)
            ok &= holds(d.mean(axis=1) - half, op, limit)
        if policy.clauses.get("min_power") is not None:
            alpha = round(1.0 - confidence, 12)
            power = np.array(
                [
                    power_at_zero(s, tolerance, alpha, None if np.isinf(x) else x)
                    for s, x in zip(se, df, strict=True)
                ]
            )
            op, limit = clause_test("min_power", policy.clauses["min_power"], tolerance)
            ok &= holds(power, op, limit)
    return ok
