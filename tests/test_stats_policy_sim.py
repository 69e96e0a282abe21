"""P(policy passes | Δ = 0): the computed probability against a brute-force simulation of campaigns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankbench.stats import load_policy
from rankbench.stats.decision import decision_spread
from rankbench.stats.policy import parse_policy
from rankbench.stats.policy_sim import (
    CampaignModel,
    campaign_model,
    decision_pass_probability,
    policy_pass_probability,
)
from rankbench.stats.tango import tango_lower

Z = 1.959963984540054
REPS = 6000


def brute_force(seed, n_seeds, n, p, seed_sd, reps=REPS, tol=0.01):
    """Campaigns at Δ = 0 drawn item by item (multinomial), decided by the library's own interval."""
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, seed_sd, (reps, n_seeds)) if seed_sd > 0 else np.zeros((reps, n_seeds))
    p_b = np.clip((p + u) / 2.0, 0.0, p)
    b, c = np.empty((reps, n_seeds)), np.empty((reps, n_seeds))
    for s in range(n_seeds):
        draws = rng.multinomial(n, np.stack([p_b[:, s], p - p_b[:, s], np.full(reps, 1.0 - p)], axis=1))
        b[:, s], c[:, s] = draws[:, 0], draws[:, 1]
    d = (b - c) / n
    ses = (d - tango_lower(b, c, n, Z)) / Z
    half = decision_spread(d, ses, 0.0, 0.95)[0]
    floor = float(np.mean(np.square(ses).sum(axis=1) / n_seeds**2))
    return float(np.mean(d.mean(axis=1) - half > -tol)), floor


@pytest.mark.parametrize(
    ("n_seeds", "p", "seed_sd"), [(3, 0.02, 0.0), (3, 0.08, 0.01), (5, 0.08, 0.0), (10, 0.08, 0.01)]
)
def test_the_computed_probability_matches_a_brute_force_simulation(n_seeds, p, seed_sd):
    simulated, floor = brute_force(n_seeds * 7 + int(p * 100), n_seeds, 2000, p, seed_sd)
    model = CampaignModel(n_seeds, seed_sd**2 + p / 2000, 0.0, floor)
    computed = decision_pass_probability(model, 0.01, 0.95)
    mc_se = math.sqrt(max(simulated * (1 - simulated), 1e-4) / REPS)
    assert abs(computed - simulated) <= 3 * mc_se + 0.005, (computed, simulated)


def test_shared_items_add_their_covariance_to_the_mean_only():
    # C enters Var(D̄) and the interval, not s²: a larger C lowers the probability, C = 0 is the
    # independent case, and with σ² → 0 the answer is Φ((τ − t·√C)/√C) exactly
    base = CampaignModel(3, 4e-5, 0.0, 1e-6)
    shared = CampaignModel(3, 4e-5, 1e-5, 1e-6)
    assert decision_pass_probability(shared, 0.01, 0.95) < decision_pass_probability(base, 0.01, 0.95)
    tiny = CampaignModel(3, 1e-14, 1e-5, 0.0)
    expected = 0.5 * math.erfc(-(0.01 - 4.302653 * math.sqrt(1e-5)) / math.sqrt(1e-5) / math.sqrt(2))
    assert decision_pass_probability(tiny, 0.01, 0.95) == pytest.approx(expected, abs=1e-4)


def test_the_default_policy_gets_easier_with_every_seed_and_the_majority_clause_did_not():
    # 8% discordance, 2,000 items a seed, no seed spread: the default policy (interval only) against
    # the old v2 rule that also wanted a majority of seeds to pass on their own (simulated)
    counts = {s: [(76, 84, 2000)] * s for s in (3, 5, 10)}
    default = load_policy()
    probs = [policy_pass_probability(default, counts[s], tolerance=0.01, confidence=0.95) for s in (3, 5, 10)]
    assert probs[0].probability < probs[1].probability < probs[2].probability
    assert all(x.n_sim == 0 for x in probs)
    v2 = parse_policy(
        {
            "name": "v2",
            "version": 2,
            "clauses": {
                "min_seeds": 3,
                "min_pass_rate": "majority",
                "decision_ci_lower_gt": "-tolerance",
                "min_power": None,
            },
        },  # fmt: skip
        source="test",
    )
    old = [
        policy_pass_probability(v2, counts[s], tolerance=0.01, confidence=0.95, n_sim=4000) for s in (5, 10)
    ]
    assert old[0].n_sim == 4000 and "simulations" in old[0].method
    assert old[1].probability < old[0].probability  # the reason the clause was switched off


def test_the_seed_variance_is_floored_at_item_sampling_and_too_few_seeds_never_pass():
    model = campaign_model([(40, 40, 2000)] * 3, 0.0, 0.95)  # identical seeds: s² = 0
    assert model.seed_var == pytest.approx(80 / 2000 / 2000)
    two = policy_pass_probability(load_policy(), [(40, 40, 2000)] * 2, tolerance=0.01, confidence=0.95)
    assert two.probability == 0.0  # min_seeds 3


@pytest.mark.parametrize("seed_sd", [0.0, 0.005])
def test_the_reported_probability_is_close_to_unbiased_over_campaigns(seed_sd):
    # 3 seeds, 2% discordance: the mean of what the aggregate reports, over simulated campaigns, against
    # the pass rate of those same campaigns' decision intervals (brute force). The plug-in of the
    # integral was +0.14 off at seed SD 0.005; the reported value must be within 0.05.
    rng, n, p, reps = np.random.default_rng(5), 2000, 0.02, 800
    u = rng.normal(0.0, seed_sd, (reps, 3)) if seed_sd > 0 else np.zeros((reps, 3))
    p_b = np.clip((p + u) / 2, 0, p)
    b = rng.binomial(n, p_b)
    c = rng.binomial(n - b, (p - p_b) / (1 - p_b))
    d = (b - c) / n
    passed = d.mean(axis=1) - decision_spread(d, (d - tango_lower(b, c, n, Z)) / Z, 0.0, 0.95)[0] > -0.01
    policy = load_policy()
    reported = [
        policy_pass_probability(
            policy, list(zip(b[r], c[r], [n] * 3, strict=True)), tolerance=0.01, confidence=0.95
        )
        for r in range(reps)
    ]
    assert all(x.n_sim == 0 and "no simulation" in x.method for x in reported)
    mean = float(np.mean([x.probability for x in reported]))
    assert abs(mean - passed.mean()) <= 0.05, (mean, passed.mean())
