"""The hierarchical (seeds, then items) bootstrap: hand-worked cases, variance formula, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rankbench.stats.bootstrap as bootstrap_module
from rankbench.errors import RankbenchError
from rankbench.stats import BootstrapCI, hierarchical_bootstrap_delta, noninferiority


def _random_pairs(sizes, seed=1, p_flip=0.1):
    rng = np.random.default_rng(seed)
    pairs = []
    for n in sizes:
        probe = (rng.random(n) < 0.8).astype(float)
        variant = np.where(rng.random(n) < p_flip, 1 - probe, probe)
        pairs.append((probe, variant))
    return pairs


def test_two_seeds_constant_within_seed_hand_worked():
    # Seed A: every d = +0.25, seed B: every d = −0.25, so item resampling changes nothing and
    # θ* = mean of two seeds drawn with replacement ∈ {−0.25, 0, +0.25} with probabilities ¼, ½, ¼.
    # Percentile 2.5% and 97.5% land inside the ¼ masses: CI = [−0.25, 0.25] exactly; θ̂ = 0.
    # Var(θ*) = Var_s(m_s)/S = 0.0625/2 = 0.03125, se ≈ √0.03125 = 0.1768.
    a = (np.zeros(40), np.full(40, 0.25))
    b = (np.full(60, 0.25), np.zeros(60))
    ci = hierarchical_bootstrap_delta([a, b], n_boot=4000)
    assert (ci.delta, ci.ci_low, ci.ci_high) == (0.0, -0.25, 0.25)
    assert ci.se == pytest.approx(0.1768, rel=0.05)
    assert ci.n_seeds == 2 and ci.n_items == (40, 60) and ci.n_boot == 4000 and ci.seed == 0
    assert any("understates seed-to-seed variance" in note for note in ci.notes)


def test_one_seed_two_items_hand_worked():
    # d = (1, 0). Resampling 2 items: mean ∈ {0, ½, 1} with probabilities ¼, ½, ¼ → CI = [0, 1],
    # θ̂ = ½, se ≈ √(Var(d)/2) = √(0.25/2) = 0.35355.
    ci = hierarchical_bootstrap_delta([(np.array([0.0, 0.0]), np.array([1.0, 0.0]))], n_boot=4000)
    assert (ci.delta, ci.ci_low, ci.ci_high) == (0.5, 0.0, 1.0)
    assert ci.se == pytest.approx(0.35355, rel=0.05)
    assert ci.notes[0].startswith("1 seed: only items are resampled")


def test_variance_matches_the_two_level_formula_with_unequal_item_counts():
    # Var(θ*) = [Var_s(m_s) + mean_s(σ²_s/n_s)] / S, population variances (ddof = 0).
    pairs = _random_pairs([50, 80, 120], seed=3, p_flip=0.2)
    diffs = [v - p for p, v in pairs]
    means = np.array([d.mean() for d in diffs])
    within = np.mean([d.var() / d.size for d in diffs])
    expected_var = (means.var() + within) / len(diffs)
    ci = hierarchical_bootstrap_delta(pairs, n_boot=4000, seed=11)
    # relative Monte Carlo error of a variance from 4000 draws ≈ √(2/4000) = 2.2%; allow 10%.
    assert ci.se**2 == pytest.approx(expected_var, rel=0.10)
    assert ci.delta == pytest.approx(means.mean(), abs=1e-15)  # equal weight per seed
    assert ci.ci_low < ci.delta < ci.ci_high


def test_identical_predictions_use_the_exact_no_discordance_bound():
    scores = (np.array([1.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]))
    ci = hierarchical_bootstrap_delta([scores, scores, scores], n_boot=100)
    assert (ci.delta, ci.se) == (0.0, 0.0)
    # N = 9 items in all: u = 1 − 0.025^(1/9) = 1 − exp(−0.4098755) = 1 − 0.6637329 = 0.3362671
    assert ci.ci_low == pytest.approx(-0.3362671, abs=1e-7) and ci.ci_high == pytest.approx(
        0.3362671, abs=1e-7
    )
    assert "agree on all 9 items" in ci.notes[-1]
    assert noninferiority(ci, 0.01).verdict == "FAIL"
    assert noninferiority(ci, 0.4).verdict == "PASS"


def test_constant_graded_differences_keep_a_zero_width_interval_and_say_so():
    pair = (np.array([0.5, 0.25]), np.array([0.75, 0.5]))  # d = 0.25 everywhere, not 1/0 scores
    ci = hierarchical_bootstrap_delta([pair, pair], n_boot=100)
    assert ci.ci_low == ci.ci_high == 0.25 and "zero width" in ci.notes[-1]


def test_same_seed_same_result_and_other_seed_differs():
    pairs = _random_pairs([300, 300, 300, 300, 300])
    first = hierarchical_bootstrap_delta(pairs, n_boot=500, seed=7)
    assert hierarchical_bootstrap_delta(pairs, n_boot=500, seed=7) == first
    other = hierarchical_bootstrap_delta(pairs, n_boot=500, seed=8)
    assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)
    assert other.delta == first.delta  # the point estimate is not random


def test_result_does_not_depend_on_the_memory_chunk_size(monkeypatch):
    pairs = _random_pairs([200, 333, 150])
    whole = hierarchical_bootstrap_delta(pairs, n_boot=300, seed=5)
    monkeypatch.setattr(bootstrap_module, "CHUNK_ELEMENTS", 1000)  # a few rows per chunk
    assert hierarchical_bootstrap_delta(pairs, n_boot=300, seed=5) == whole


def test_pooled_verdict_uses_the_bootstrap_lower_bound():
    pairs = _random_pairs([400, 400, 400], p_flip=0.02)
    ci = hierarchical_bootstrap_delta(pairs, n_boot=500)
    for tol in (0.005, 0.02, 0.05):
        v = noninferiority(ci, tol)
        assert v.verdict == ("PASS" if ci.ci_low > -tol else "FAIL")
        assert v.mde == pytest.approx(2.801585 * ci.se, rel=1e-6)


def test_round_trip_through_json():
    ci = hierarchical_bootstrap_delta(_random_pairs([30, 40]), n_boot=200)
    assert BootstrapCI.from_dict(json.loads(json.dumps(ci.to_dict()))) == ci


def test_errors_name_the_problem():
    with pytest.raises(RankbenchError, match=r"no seeds to pool"):
        hierarchical_bootstrap_delta([])
    with pytest.raises(RankbenchError, match=r"seed #1: probe has 3 items but variant has 2"):
        hierarchical_bootstrap_delta([([1, 0], [1, 1]), ([1, 0, 1], [1, 1])])
    for bad in (1, 0, 2.5, True):
        with pytest.raises(RankbenchError, match=r"n_boot must be an integer ≥ 2"):
            hierarchical_bootstrap_delta([([1, 0], [1, 1])], n_boot=bad)
    with pytest.raises(RankbenchError, match=r"confidence must be strictly between 0 and 1"):
        hierarchical_bootstrap_delta([([1, 0], [1, 1])], confidence=0)
