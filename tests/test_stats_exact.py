"""The small-n exact critical value: its false-PASS rate by full enumeration, and where it is used."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankbench.stats import noninferiority, paired_delta
from rankbench.stats.distributions import normal_ppf
from rankbench.stats.exact import (
    EXACT_MAX_N,
    EXACT_METHOD,
    exact_critical_value,
    tail_probability,
    verdict_critical_value,
)
from rankbench.stats.tango import TANGO_METHOD, score_statistic

Z = normal_ppf(0.975)


def full_enumeration_false_pass(n: int, p: float, tol: float, critical: float) -> float:
    """P(T(−τ) ≥ critical) at Δ = −τ, summed over every (b, c) with b + c ≤ n (no window)."""
    lf = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = b + c <= n
    b, c = b[keep], c[keep]
    p_b, p_c = (p - tol) / 2, (p + tol) / 2
    rest = n - b - c
    logp = lf[n] - lf[b] - lf[c] - lf[rest] + c * math.log(p_c)
    logp = logp + (b * math.log(p_b) if p_b > 0 else np.where(b > 0, -np.inf, 0.0))
    logp = logp + (rest * math.log1p(-p) if p < 1 else np.where(rest > 0, -np.inf, 0.0))
    return float(np.exp(logp)[score_statistic(b, c, n, -tol) >= critical].sum())


@pytest.mark.parametrize("n", [20, 60, 110, 200])
def test_the_exact_critical_value_holds_the_level_at_every_discordance(n):
    tol = 0.01 if n > 60 else 0.05
    critical = exact_critical_value(n, tol)
    # discordances off the grid the critical value was built on, from p = τ to every item discordant
    grid = np.unique(np.concatenate([np.linspace(tol, 1.0, 97), tol + np.geomspace(1e-4, 0.3, 41)]))
    worst = max(full_enumeration_false_pass(n, float(p), tol, critical) for p in grid if p <= 1.0)
    assert worst <= 0.025 + 1e-9


def test_tango_alone_exceeds_the_level_at_n_110_and_the_window_misses_nothing():
    # the defect being fixed: 8% discordance, 110 items, tolerance 0.01
    tango = full_enumeration_false_pass(110, 0.08, 0.01, Z)
    assert tango == pytest.approx(0.0284, abs=5e-4) and tango > 0.025
    assert tail_probability(110, 0.08, 0.01, Z) == pytest.approx(tango, abs=1e-12)
    assert exact_critical_value(110, 0.01) > Z


def test_the_verdict_names_the_method_that_decided():
    probe = [1] * 60 + [0] * 50
    variant = [1] * 58 + [0, 0] + [1] * 3 + [0] * 47  # b = 3, c = 2, n = 110
    small = noninferiority(paired_delta(probe, variant), 0.01)
    assert small.method == EXACT_METHOD and small.critical_value == exact_critical_value(110, 0.01)
    at_margin = paired_delta(probe, variant, tolerance=0.01)
    assert at_margin.method == EXACT_METHOD and at_margin.ci_low == pytest.approx(small.ci_low)
    assert verdict_critical_value(EXACT_MAX_N + 1, 0.01) == Z  # above the enumeration range: Tango
    big = noninferiority(paired_delta([1] * 6000, [1] * 6000), 0.01)
    assert big.method == TANGO_METHOD and big.critical_value == Z


def test_too_few_items_to_pass_at_any_outcome_is_a_fail_with_a_reason():
    # one item: even "only the variant right" would PASS a variant 0.01 worse with probability > 2.5%
    assert exact_critical_value(1, 0.01) == math.inf
    v = noninferiority(paired_delta([0], [1]), 0.01)
    assert v.verdict == "FAIL" and v.critical_value is None and v.mde is None and v.ci_low is None
    assert "1 item(s) cannot show non-inferiority at tolerance 0.01" in v.notes[0]
    pd = paired_delta([0], [1], tolerance=0.01)  # the interval falls back to z, and says why
    assert pd.critical_value == Z and pd.method == TANGO_METHOD and "cannot show" in pd.notes[0]
