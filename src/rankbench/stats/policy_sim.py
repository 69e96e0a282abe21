"""How often would the policy pass if the compressed adapter were exactly as good (Δ = 0)?

A campaign's "power" is one clause's; the claim needs every clause. This module answers for the whole
policy by simulation from what the campaign observed, for 1/0 scores:

- each seed keeps its item count nₛ and its discordance rate, estimated as (bₛ + cₛ + 1)/(nₛ + 1) so
  that a seed with no disagreement still simulates some;
- seed-to-seed spread of the true Δ: σ²ᵤ = max(0, s²(Dₛ) − mean(pₛ/nₛ)), the part of the observed
  variance of the per-seed Δ that item sampling does not explain;
- one replicate draws uₛ ~ N(0, σ²ᵤ), then (bₛ, cₛ) ~ Multinomial(nₛ; (p + uₛ)/2, (p − uₛ)/2), and
  applies the policy's required clauses exactly as a campaign would: per-seed Tango verdicts for the
  pass rate, the decision interval (with the observed shared-item term) and its power.

The two optional older clauses are not simulated: when a policy switches them on, the probability is
an upper bound and a note says so. Graded scores are not simulated (no discordance model): None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rankbench.stats.decision import decision_spread
from rankbench.stats.distributions import normal_ppf
from rankbench.stats.policy import OPTIONAL_CLAUSES, Policy, clause_test, holds
from rankbench.stats.power import power_at_zero
from rankbench.stats.tango import tango_lower

SIMULATIONS = 2000
SIM_SEED = 0


@dataclass(frozen=True)
class PolicyPassProbability:
    probability: float | None
    mc_se: float | None
    n_sim: int
    seed_sd: float | None  # σᵤ used
    method: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, notes=list(self.notes))


def _simulate_counts(rng, n: np.ndarray, p_disc: np.ndarray, seed_sd: float, n_sim: int):
    """(b, c) of shape (n_sim, S) under Δ = 0 with seed effects of SD ``seed_sd``."""
    u = rng.normal(0.0, seed_sd, size=(n_sim, n.size)) if seed_sd > 0 else np.zeros((n_sim, n.size))
    p_b = np.clip((p_disc + u) / 2.0, 0.0, p_disc)
    p_c = p_disc - p_b
    b = np.empty((n_sim, n.size), dtype=np.int64)
    c = np.empty_like(b)
    for s in range(n.size):
        pvals = np.stack([p_b[:, s], p_c[:, s], 1.0 - p_disc[s] + 0.0 * p_b[:, s]], axis=1)
        draws = rng.multinomial(int(n[s]), pvals)  # (n_sim, 3)
        b[:, s], c[:, s] = draws[:, 0], draws[:, 1]
    return b, c


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
    """P(policy passes | Δ = 0) for seeds with observed (b, c, n), by ``n_sim`` seeded simulations."""
    method = (
        f"{n_sim} simulations at Δ = 0 from the observed discordance rates and seed spread "
        "(normal seed effects, multinomial items)"
    )
    if len(counts) < 1:
        return PolicyPassProbability(None, None, 0, None, method, ("no seeds",))
    b_obs, c_obs, n = (np.array(x, dtype=np.float64) for x in zip(*counts, strict=True))
    p_disc = (b_obs + c_obs + 1.0) / (n + 1.0)
    d_obs = (b_obs - c_obs) / n
    within = float(np.mean(p_disc / n))
    seed_sd = float(np.sqrt(max(0.0, d_obs.var(ddof=1) - within))) if n.size > 1 else 0.0
    rng = np.random.default_rng(seed)
    b, c = _simulate_counts(rng, n, p_disc, seed_sd, n_sim)
    passed = _required_clauses(policy, b, c, n, tolerance, confidence, cov_term)
    prob = float(passed.mean())
    notes = []
    active_old = [k for k in OPTIONAL_CLAUSES if policy.clauses.get(k) is not None]
    if active_old:
        notes.append(f"not simulated: {', '.join(active_old)}; the probability is an upper bound")
    mc_se = float(np.sqrt(prob * (1.0 - prob) / n_sim))
    return PolicyPassProbability(prob, mc_se, n_sim, seed_sd, method, tuple(notes))


def _required_clauses(policy, b, c, n, tolerance, confidence, cov_term) -> np.ndarray:
    """(n_sim,) bool: every active required clause held in each simulated campaign."""
    n_sim, n_seeds = b.shape
    z = normal_ppf(0.5 + confidence / 2.0)
    d = (b - c) / n  # (n_sim, S)
    low_seed = tango_lower(b, c, n, z)  # (n_sim, S)
    ok = np.ones(n_sim, dtype=bool)
    clauses = policy.clauses
    if clauses.get("min_seeds") is not None:
        ok &= n_seeds >= clauses["min_seeds"]
    if clauses.get("min_pass_rate") is not None:
        op, limit = clause_test("min_pass_rate", clauses["min_pass_rate"], tolerance)
        ok &= holds((low_seed > -tolerance).mean(axis=1), op, limit)
    need_ci = clauses.get("decision_ci_lower_gt") is not None or clauses.get("min_power") is not None
    if need_ci and n_seeds < 2:
        return np.zeros(n_sim, dtype=bool)  # no decision interval with one seed
    if need_ci:
        half, se, df, _ = decision_spread(d, (d - low_seed) / z, cov_term, confidence)
        if clauses.get("decision_ci_lower_gt") is not None:
            op, limit = clause_test("decision_ci_lower_gt", clauses["decision_ci_lower_gt"], tolerance)
            ok &= holds(d.mean(axis=1) - half, op, limit)
        if clauses.get("min_power") is not None:
            alpha = 1.0 - confidence
            power = np.array(
                [
                    power_at_zero(s, tolerance, alpha, None if np.isinf(x) else x)
                    for s, x in zip(se, df, strict=True)
                ]
            )
            op, limit = clause_test("min_power", clauses["min_power"], tolerance)
            ok &= holds(power, op, limit)
    return ok
