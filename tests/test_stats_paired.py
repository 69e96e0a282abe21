"""Single-seed paired Δ: Tango's interval for 1/0 scores, the paired t-interval for graded scores,
the non-inferiority verdict and the resolvable margin, against published and hand-worked numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankbench.errors import RankbenchError
from rankbench.stats import PairedDelta, Verdict, minimum_detectable_effect, noninferiority, paired_delta
from rankbench.stats.paired import PAIRED_METHOD
from rankbench.stats.tango import TANGO_METHOD, restricted_mle, score_statistic, tango_interval

Z95 = 1.959963984540054

# 8 items.  probe   = 1 1 1 0 0 1 0 1   (5/8 = 0.625)
#           variant = 1 0 1 1 0 1 1 1   (6/8 = 0.750)
# discordant: variant right/probe wrong at items 4 and 7 (b = 2); probe right/variant wrong at item 2 (c = 1)
PROBE8 = [1, 1, 1, 0, 0, 1, 0, 1]
VARIANT8 = [1, 0, 1, 1, 0, 1, 1, 1]

# The same items with graded scores: every 0 becomes 0.5, so d is half the 1/0 example's.
#           d = 0 -.5 0 .5 0 0 .5 0   Σd = 0.5, Σd² = 0.75
# Δ = 0.0625;  s² = (0.75 − 8·0.0625²)/7 = 0.71875/7 = 0.1026786;  s = 0.3204350
# se = s/√8 = 0.1132909;  t_{0.975,7} = 2.364624;  half-width = 0.2678904
# CI = [0.0625 − 0.2678904, 0.0625 + 0.2678904] = [−0.2053904, 0.3303904]
PROBE8G = [1, 1, 1, 0.5, 0.5, 1, 0.5, 1]
VARIANT8G = [1, 0.5, 1, 1, 0.5, 1, 1, 1]


def _table(a: int, b: int, c: int, d: int) -> tuple[list[float], list[float]]:
    """Per-item scores for a 2x2 table: a both right, b only variant, c only probe, d both wrong."""
    variant = [1.0] * a + [1.0] * b + [0.0] * c + [0.0] * d
    probe = [1.0] * a + [0.0] * b + [1.0] * c + [0.0] * d
    return probe, variant


def test_tango_matches_the_published_example():
    # Tango (1998), Table I: a = 59, b = 6, c = 16, d = 80, n = 161: 95% interval (−0.1240, −0.0054)
    pd = paired_delta(*_table(59, 6, 16, 80))
    assert pd.delta == pytest.approx(-10 / 161)
    assert (round(pd.ci_low, 4), round(pd.ci_high, 4)) == (-0.1240, -0.0054)
    assert pd.method == TANGO_METHOD and pd.df is None
    assert (pd.variant_only_correct, pd.probe_only_correct) == (6, 16)


@pytest.mark.parametrize(
    ("b", "c", "n", "delta"),
    [(6, 16, 161, -0.1), (6, 16, 161, 0.03), (0, 3, 50, -0.2), (4, 0, 30, 0.05), (0, 0, 20, 0.1)],
)
def test_restricted_mle_is_the_constrained_maximum(b, c, n, delta):
    # maximise (n − b − c)·log(1 − 2q − δ) + b·log(q + δ) + c·log(q) over q on a fine grid, where q is
    # P(only probe right) and P(only variant right) = q + δ
    q = np.linspace(max(0.0, -delta), (1.0 - delta) / 2.0, 400_001)[1:-1]
    with np.errstate(divide="ignore"):
        loglik = (n - b - c) * np.log(1 - 2 * q - delta) + b * np.log(q + delta) + c * np.log(q)
    best = q[np.argmax(loglik)]
    assert float(restricted_mle(b, c, n, delta)) == pytest.approx(best, abs=5e-5)


@pytest.mark.parametrize(("b", "c", "n"), [(6, 16, 161), (1, 0, 200), (30, 45, 2000), (0, 0, 200)])
def test_tango_bounds_invert_the_score_test(b, c, n):
    low, high = (float(x) for x in tango_interval(b, c, n, Z95))
    assert float(score_statistic(b, c, n, low)) == pytest.approx(Z95, abs=1e-7)
    assert float(score_statistic(b, c, n, high)) == pytest.approx(-Z95, abs=1e-7)
    grid = np.linspace(-0.5, 0.5, 200_001)
    inside = grid[np.abs(score_statistic(b, c, n, grid)) <= Z95]
    assert inside.min() == pytest.approx(low, abs=1e-5) and inside.max() == pytest.approx(high, abs=1e-5)


def test_no_discordance_gives_a_closed_form_interval():
    # b = c = 0: T(δ) = −nδ/√(n|δ|(1 − |δ|)), so |T| = z at |δ| = z²/(n + z²)
    # n = 200: 3.841459/203.841459 = 0.0188453
    probe = [1.0] * 120 + [0.0] * 80
    pd = paired_delta(probe, probe)
    assert pd.ci_low == pytest.approx(-0.0188453, abs=1e-7) and pd.ci_high == pytest.approx(
        0.0188453, abs=1e-7
    )
    assert "agree on all 200 items" in pd.notes[0]
    v = noninferiority(pd, 0.01)
    assert v.verdict == "FAIL" and v.mde > 0.0  # 200 agreeing items cannot show a 1-point margin
    big = paired_delta([1.0] * 1500 + [0.0] * 500, [1.0] * 1500 + [0.0] * 500)
    assert noninferiority(big, 0.01).verdict == "PASS"  # 3.841459/2003.841459 = 0.001917 < 0.01


def test_the_verdict_is_monotone_in_the_evidence():
    # n = 200, tolerance 0.01: no discordant item and one item only the variant got right must agree
    # (the t-interval gave FAIL for the first and PASS, [−0.0049, +0.0149], for the second)
    none = noninferiority(paired_delta(*_table(120, 0, 0, 80)), 0.01)
    one = noninferiority(paired_delta(*_table(120, 1, 0, 79)), 0.01)
    assert none.verdict == one.verdict == "FAIL"
    assert one.ci_low > none.ci_low


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 300))
def test_lower_bound_rises_with_variant_wins_and_falls_with_probe_wins(b, c, rest):
    n = b + c + rest + 1
    low = float(tango_interval(b, c, n, Z95)[0])
    assert float(tango_interval(b + 1, c, n, Z95)[0]) >= low - 1e-12
    assert float(tango_interval(b, c + 1, n, Z95)[0]) <= low + 1e-12


def test_hand_worked_graded_scores_use_the_paired_t_interval():
    pd = paired_delta(PROBE8G, VARIANT8G)
    assert pd.delta == pytest.approx(0.0625) and not pd.binary
    assert pd.std == pytest.approx(0.3204350, abs=1e-7)
    assert pd.se == pytest.approx(0.1132909, abs=1e-7) and pd.df == 7
    assert pd.ci_low == pytest.approx(-0.2053904, abs=1e-7)
    assert pd.ci_high == pytest.approx(0.3303904, abs=1e-7)
    assert pd.method == PAIRED_METHOD and pd.variant_only_correct is None
    # resolvable margin with t quantiles: (t_{0.975,7} + t_{0.8,7})·se = (2.364624 + 0.896030)·0.1132909
    # = 3.260654·0.1132909 = 0.3694025
    v = noninferiority(pd, 0.01)
    assert v.mde == pytest.approx(0.3694025, abs=1e-6) and "t_{7}" in v.mde_rule
    assert v.verdict == "FAIL" and v.point_rule_verdict == "PASS"


def test_binary_se_is_the_one_the_lower_half_width_implies():
    pd = paired_delta(PROBE8, VARIANT8)
    assert pd.se == pytest.approx((pd.delta - pd.ci_low) / Z95)
    v = noninferiority(pd, 0.01)  # decided at the exact critical value for n = 8, above z
    assert v.critical_value > Z95 and v.method != pd.method
    se = (pd.delta - v.ci_low) / v.critical_value
    assert v.mde == pytest.approx((Z95 + 0.8416212335729143) * se)


def test_single_item():
    graded = paired_delta([0.5], [0.5])
    assert graded.ci_low is None and graded.degenerate == "single_item" and "no interval" in graded.notes[0]
    v = noninferiority(graded, 0.01)
    assert v.verdict == "FAIL" and v.mde is None and "cannot be shown" in v.notes[0]
    binary = paired_delta([1], [1])  # Tango still bounds it: ±z²/(1 + z²) = ±0.7934
    assert binary.ci_low == pytest.approx(-(Z95**2) / (1 + Z95**2))


def test_constant_graded_difference_keeps_the_zero_width_interval_and_says_so():
    pd = paired_delta([0.5, 0.25], [0.75, 0.5])  # d = 0.25, 0.25
    assert pd.degenerate == "zero_variance" and pd.ci_low == pd.ci_high == 0.25
    assert "zero width" in pd.notes[0] and pd.method == PAIRED_METHOD


def test_confidence_level_changes_width_and_rule_text():
    pd95, pd99 = paired_delta(PROBE8G, VARIANT8G), paired_delta(PROBE8G, VARIANT8G, confidence=0.99)
    # t_{0.995,7} = 3.499483: half-width 3.499483·0.1132909 = 0.3964596
    assert pd99.ci_high - pd99.delta == pytest.approx(0.3964596, abs=1e-6)
    assert pd99.ci_low < pd95.ci_low
    assert noninferiority(pd99, 0.02).rule == "PASS iff lower bound of 99% CI of Δ > −0.02"


def test_minimum_detectable_effect_hand_worked():
    # (1.959964 + 0.841621)·0.01 = 0.02801585;  α = 0.10: (1.644854 + 0.841621)·0.01 = 0.02486475
    assert minimum_detectable_effect(0.01) == pytest.approx(0.02801585, abs=1e-8)
    assert minimum_detectable_effect(0.01, alpha=0.10) == pytest.approx(0.02486475, abs=1e-8)
    assert minimum_detectable_effect(0.0) == 0.0
    # df = 4: (t_{0.975,4} + t_{0.8,4})·0.01 = (2.776445 + 0.940965)·0.01 = 0.03717410
    assert minimum_detectable_effect(0.01, df=4) == pytest.approx(0.0371741, abs=1e-7)
    with pytest.raises(ValueError, match="se must be a finite number"):
        minimum_detectable_effect(-1.0)


def test_round_trip_through_json():
    pd = paired_delta(PROBE8, VARIANT8)
    assert PairedDelta.from_dict(json.loads(json.dumps(pd.to_dict()))) == pd
    v = noninferiority(paired_delta([1], [0]), 0.01)
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def test_from_dict_names_missing_keys():
    data = paired_delta(PROBE8, VARIANT8).to_dict()
    del data["se"]
    with pytest.raises(RankbenchError, match=r"PairedDelta record lacks key\(s\): se"):
        PairedDelta.from_dict(data)


def test_mismatched_lengths_are_refused():
    with pytest.raises(RankbenchError, match=r"probe has 3 items but variant has 4; a paired comparison"):
        paired_delta([1, 0, 1], [1, 0, 1, 1])


@pytest.mark.parametrize(
    ("probe", "variant", "message"),
    [
        ([], [], r"probe scores is empty"),
        ([1, 0], [1, 2], r"variant scores has scores outside \[0, 1\] \(min 1, max 2\)"),
        ([1, 0], [1, 100], r"not percentages"),
        ([1, float("nan")], [1, 0], r"probe scores contains NaN or infinite scores"),
        ([[1, 0]], [[1, 0]], r"must be a 1-D sequence of per-item scores, got shape \(1, 2\)"),
    ],
)
def test_bad_scores_are_refused(probe, variant, message):
    with pytest.raises(RankbenchError, match=message):
        paired_delta(probe, variant)


@pytest.mark.parametrize("bad", [0.0, 1.0, 95])
def test_bad_confidence_is_refused(bad):
    with pytest.raises(RankbenchError, match=r"confidence must be strictly between 0 and 1") as info:
        paired_delta(PROBE8, VARIANT8, confidence=bad)
    assert info.value.hint == "use e.g. 0.95 for a 95% interval"


@pytest.mark.parametrize("bad", [-0.01, float("inf"), float("nan")])
def test_bad_tolerance_is_refused(bad):
    with pytest.raises(RankbenchError, match=r"tolerance must be a finite number ≥ 0"):
        noninferiority(paired_delta(PROBE8, VARIANT8), bad)


binary_pairs = st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n),
        st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n),
    )
)


@given(binary_pairs)
def test_properties_of_the_paired_interval(pair):
    probe, variant = pair
    pd = paired_delta(probe, variant)
    n = len(probe)
    # Δ is the difference of accuracies, and only discordant items move it.
    assert pd.delta == pytest.approx(pd.variant_mean - pd.probe_mean, abs=1e-12)
    assert pd.delta == pytest.approx((pd.variant_only_correct - pd.probe_only_correct) / n, abs=1e-12)
    assert pd.ci_low <= pd.delta <= pd.ci_high
    assert pd.ci_high - pd.ci_low > 0.0 and math.isfinite(pd.se) and pd.se > 0.0
    wider = paired_delta(probe, variant, confidence=0.99)
    assert wider.ci_low <= pd.ci_low + 1e-12 and wider.ci_high >= pd.ci_high - 1e-12
    # The verdict is exactly the stated rule.
    # (the verdict reads the interval at the critical value for its tolerance: give it that tolerance)
    at_margin = paired_delta(probe, variant, tolerance=0.05)
    assert (noninferiority(pd, 0.05).verdict == "PASS") == (at_margin.ci_low > -0.05)
