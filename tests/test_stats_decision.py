"""The multi-seed decision interval: t across per-seed Δ, shared items, the floor; and P(policy | Δ = 0)."""

from __future__ import annotations

import numpy as np
import pytest

from rankbench.errors import RankbenchError
from rankbench.stats import SeedDiffs, decision_interval, load_policy
from rankbench.stats.decision import INDEPENDENT_METHOD, SHARED_METHOD, decision_spread
from rankbench.stats.policy_sim import policy_pass_probability


def _seed(diffs, ids=None, se=0.0):
    return SeedDiffs(np.asarray(diffs, dtype=float), None if ids is None else tuple(ids), se)


def test_independent_items_hand_worked_t_interval():
    # per-seed Δ 0.01, 0.02, 0.03 (100 items each, disjoint ids): mean 0.02, s = 0.01,
    # se = 0.01/√3 = 0.0057735, t_{0.975,2} = 4.302653, half-width 0.0248414
    seeds = [
        _seed([1.0] * k + [0.0] * (100 - k), [f"s{k}-{i}" for i in range(100)], se=0.001) for k in (1, 2, 3)
    ]
    d = decision_interval(seeds)
    assert d.delta == pytest.approx(0.02) and d.se == pytest.approx(0.0057735, abs=1e-7)
    assert (d.low, d.high) == (pytest.approx(-0.0048414, abs=1e-6), pytest.approx(0.0448414, abs=1e-6))
    assert d.df == 2 and d.item_sharing == "independent" and d.method == INDEPENDENT_METHOD
    assert not d.floor_binds and d.cov_term == 0.0
    assert d.ci() == {
        "low": d.low, "high": d.high, "confidence": 0.95, "method": INDEPENDENT_METHOD, "df": 2.0,
        "se": d.se, "item_sharing": "independent", "shared_items_mean": 0.0, "floor_binds": False,
    }  # fmt: skip


def test_shared_items_hand_worked_covariance():
    # two seeds on the same 4 items: d_a = 1 0 0 −1 (mean 0), d_b = 1 0 0 0 (mean 0.25)
    # σ̂²ᵥ = Σ (d_a − 0)(d_b − 0.25)/(4 − 1) = (0.75 + 0.25)/3 = 0.3333333
    # Ĉ = σ̂²ᵥ·4/(4·4) = 0.0833333;  s²/S = var(0, 0.25)/2 = 0.03125/2 = 0.015625
    # V = 0.0989583;  df = S − 1 = 1 (not Satterthwaite's 40.1 from the observed spread: liberal)
    ids = ["a", "b", "c", "d"]
    d = decision_interval([_seed([1, 0, 0, -1], ids), _seed([1, 0, 0, 0], ids)])
    assert d.item_covariance == pytest.approx(1 / 3) and d.cov_term == pytest.approx(1 / 12)
    assert d.se == pytest.approx(np.sqrt(0.015625 + 1 / 12))
    assert d.df == 1.0
    assert d.high - d.delta == pytest.approx(12.706205 * np.sqrt(0.015625 + 1 / 12), abs=1e-5)
    assert d.item_sharing == "shared" and d.method == SHARED_METHOD and d.shared_items_mean == 4
    # the same items in another order give the same interval: items are matched by id
    shuffled = decision_interval([_seed([1, 0, 0, -1], ids), _seed([0, 0, 1, 0], ["d", "c", "a", "b"])])
    assert (shuffled.low, shuffled.high) == (pytest.approx(d.low), pytest.approx(d.high))


def test_negative_item_covariance_is_floored_at_zero():
    ids = ["a", "b", "c", "d"]
    d = decision_interval([_seed([1, 0, 0, -1], ids), _seed([-1, 0, 0, 1], ids)])
    assert d.item_covariance == 0.0 and d.cov_term == 0.0


def test_the_floor_keeps_total_agreement_from_collapsing():
    # every seed agrees with its probe on every item: s² = 0, so the half-width is the item-level
    # z·√(Σ seₛ²/S²) = 1.959964·√(3·0.002²)/3 = 1.959964·0.0011547 = 0.0022632, normal quantile
    seeds = [_seed(np.zeros(50), [f"{k}-{i}" for i in range(50)], se=0.002) for k in range(3)]
    d = decision_interval(seeds)
    assert d.floor_binds and d.df is None and d.se == pytest.approx(0.002 / np.sqrt(3))
    assert d.low == pytest.approx(-0.0022632, abs=1e-7) and d.high == pytest.approx(0.0022632, abs=1e-7)
    assert "item-level uncertainty" in d.notes[0]


def test_the_floor_binds_by_half_width_not_by_variance():
    # s/√S = 0.0057735 with t_{0.975,2} = 4.302653 gives 0.0248414; an item-level se of 0.02 per seed
    # gives z·0.02/√3 = 0.0226317 < 0.0248414: the t-interval still decides
    seeds = [
        _seed([1.0] * k + [0.0] * (100 - k), [f"s{k}-{i}" for i in range(100)], se=0.02) for k in (1, 2, 3)
    ]
    d = decision_interval(seeds)
    assert not d.floor_binds and d.df == 2 and d.high - d.delta == pytest.approx(0.0248414, abs=1e-6)
    wider = [_seed(s.diffs, s.item_ids, se=0.03) for s in seeds]  # z·0.03/√3 = 0.0339476 > 0.0248414
    d = decision_interval(wider)
    assert d.floor_binds and d.df is None and d.high - d.delta == pytest.approx(0.0339476, abs=1e-6)


def test_unknown_ids_and_a_single_seed():
    d = decision_interval([_seed([1, 0]), _seed([0, 0]), _seed([1, 1])])
    assert d.item_sharing == "unknown" and "item ids unknown" in d.notes[0]
    one = decision_interval([_seed([1, 0], ["x", "y"])])
    assert one.low is None and one.se is None and "only 1 seed" in one.notes[0]
    with pytest.raises(RankbenchError, match="no seeds to decide on"):
        decision_interval([])


def test_false_pass_rate_at_the_margin_stays_at_the_nominal_level():
    # 3 seeds, independent items, true Δ = −0.01 with a seed SD of 0.006 and 2% discordance:
    # the decision interval's lower bound must exceed −0.01 in at most 2.5% of campaigns (+ 3 MC se)
    rng, tol, n, reps, passes = np.random.default_rng(7), 0.01, 2000, 300, 0
    for _ in range(reps):
        seeds = []
        for k in range(3):
            delta = -tol + rng.normal(0.0, 0.006)
            p_b = max(0.0, (0.02 + delta) / 2.0)
            draws = rng.choice([1.0, -1.0, 0.0], size=n, p=[p_b, 0.02 - p_b, 0.98])
            seeds.append(_seed(draws, [f"{k}-{i}" for i in range(n)], se=np.sqrt(0.02 / n)))
        passes += decision_interval(seeds).low > -tol
    rate = passes / reps
    assert rate <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / reps)


def test_policy_pass_probability_is_computed_and_grows_with_seeds():
    policy = load_policy()
    first = policy_pass_probability(policy, [(30, 34, 2000)] * 3, tolerance=0.01, confidence=0.95)
    assert first.n_sim == 0 and first.mc_se is None and first.seed_sd == 0.0  # no simulation noise
    five = policy_pass_probability(policy, [(30, 34, 2000)] * 5, tolerance=0.01, confidence=0.95)
    ten = policy_pass_probability(policy, [(30, 34, 2000)] * 10, tolerance=0.01, confidence=0.95)
    assert 0.0 < first.probability < five.probability < ten.probability < 1.0  # more seeds help


def test_policy_pass_probability_needs_two_seeds_for_the_interval():
    one = policy_pass_probability(load_policy(), [(0, 0, 2000)], tolerance=0.01, confidence=0.95)
    assert one.probability == 0.0  # min_seeds 3 and no decision interval from one seed


def test_shared_items_with_seed_noise_hold_the_level_with_s_minus_1_df():
    # The case the Satterthwaite df got wrong (issue 22): 3 seeds on the same 2,000 items, 8%
    # discordance, items that lean one way in every seed, seed SD of the true Δ 0.01, Δ = −0.01.
    # The decision interval must PASS at most 2.5% of such campaigns (+ 3 MC se).
    rng, reps, n, seeds, tol = np.random.default_rng(22), 1500, 2000, 3, 0.01
    lean = rng.uniform(-0.3, 0.3, size=(reps, 1, n))
    u = rng.normal(0.0, 0.01, size=(reps, seeds, 1))
    q = np.clip(0.5 + (-tol + u) / 0.16 + lean, 0.0, 1.0)
    disc = rng.random((reps, seeds, n)) < 0.08
    d = np.where(disc, np.where(rng.random((reps, seeds, n)) < q, 1.0, -1.0), 0.0)
    means = d.mean(axis=2)
    centred = d - means[:, :, None]
    gram = np.einsum("rsi,rti->rst", centred, centred) / (n - 1)
    upper = np.triu_indices(seeds, 1)
    cov_term = np.maximum(gram[:, upper[0], upper[1]].mean(axis=1), 0.0) / n  # every item shared
    ses = np.full((reps, seeds), np.sqrt(0.08 / n))
    half, _, df, _ = decision_spread(means, ses, cov_term, 0.95)
    assert np.all((df == 2.0) | np.isinf(df))  # S − 1, never a df read off the observed spread
    rate = float(np.mean(means.mean(axis=1) - half > -tol))
    assert rate <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / reps), rate
