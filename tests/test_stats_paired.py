"""Single-seed paired Δ, its t-interval, the non-inferiority verdict and the MDE, with hand-worked numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankbench.errors import RankbenchError
from rankbench.stats import PairedDelta, Verdict, minimum_detectable_effect, noninferiority, paired_delta
from rankbench.stats.paired import NO_DISCORDANCE_METHOD, PAIRED_METHOD

# 8 items.  probe   = 1 1 1 0 0 1 0 1   (5/8 = 0.625)
#           variant = 1 0 1 1 0 1 1 1   (6/8 = 0.750)
#           d       = 0 -1 0 1 0 0 1 0  Σd = 1, Σd² = 3
# Δ = 1/8 = 0.125;  s² = (Σd² − nΔ²)/(n−1) = (3 − 0.125)/7 = 0.4107143;  s = 0.6408699
# se = s/√8 = 0.2265817;  t_{0.975,7} = 2.364624;  half-width = 0.5357807
# CI = [0.125 − 0.5357807, 0.125 + 0.5357807] = [−0.4107807, 0.6607807]
# discordant: variant right/probe wrong at items 4 and 7 (2); probe right/variant wrong at item 2 (1)
PROBE8 = [1, 1, 1, 0, 0, 1, 0, 1]
VARIANT8 = [1, 0, 1, 1, 0, 1, 1, 1]


def test_hand_worked_paired_t_interval():
    pd = paired_delta(PROBE8, VARIANT8)
    assert pd.n == 8
    assert pd.probe_mean == 0.625 and pd.variant_mean == 0.75 and pd.delta == 0.125
    assert pd.std == pytest.approx(0.6408699, abs=1e-7)
    assert pd.se == pytest.approx(0.2265817, abs=1e-7)
    assert pd.ci_low == pytest.approx(-0.4107807, abs=1e-7)
    assert pd.ci_high == pytest.approx(0.6607807, abs=1e-7)
    assert pd.binary and pd.variant_only_correct == 2 and pd.probe_only_correct == 1
    assert pd.degenerate is None and pd.notes == ()
    assert pd.method.startswith("paired t-interval")


def test_hand_worked_verdict_fails_on_the_interval_but_passes_the_point_rule():
    # ci_low −0.411 ≤ −0.01 → FAIL; Δ = 0.125 ≥ −0.01 → point rule PASS.
    # MDE = (z_0.975 + z_0.8)·se = (1.959964 + 0.841621)·0.2265817 = 2.801585·0.2265817 = 0.634788
    v = noninferiority(paired_delta(PROBE8, VARIANT8), 0.01)
    assert v.verdict == "FAIL" and v.point_rule_verdict == "PASS"
    assert v.rule == "PASS iff lower bound of 95% CI of Δ > −0.01"
    assert v.point_rule == "PASS iff Δ ≥ −0.01"
    assert v.mde == pytest.approx(0.634788, abs=1e-6)
    assert v.tolerance == 0.01 and v.confidence == 0.95 and v.ci_low == paired_delta(PROBE8, VARIANT8).ci_low


def test_hand_worked_pass_on_many_items():
    # 1000 items, identical except 2 items the variant fixes: Σd = 2, Σd² = 2, Δ = 0.002
    # s = √((2 − 1000·0.002²)/999) = 0.04469897;  se = s/√1000 = 0.00141351
    # t_{0.975,999} = 1.962341;  half-width = 0.00277378;  ci_low = 0.002 − 0.00277378 = −0.00077378
    probe = np.zeros(1000)
    probe[:800] = 1
    variant = probe.copy()
    variant[[900, 950]] = 1
    pd = paired_delta(probe, variant)
    assert pd.delta == pytest.approx(0.002, abs=1e-15)
    assert pd.se == pytest.approx(0.00141351, abs=1e-8)
    assert pd.ci_low == pytest.approx(-0.00077378, abs=1e-8)
    assert noninferiority(pd, 0.01).verdict == "PASS"  # −0.00077 > −0.01
    assert noninferiority(pd, 0.0005).verdict == "FAIL"  # −0.00077 ≤ −0.0005
    assert noninferiority(pd, 0.0005).point_rule_verdict == "PASS"


def test_single_item_has_no_interval_and_fails():
    pd = paired_delta([1], [1])
    assert pd.n == 1 and pd.delta == 0.0
    assert pd.std is None and pd.se is None and pd.ci_low is None and pd.ci_high is None
    assert pd.degenerate == "single_item" and "no interval" in pd.notes[0]
    v = noninferiority(pd, 0.01)
    assert v.verdict == "FAIL" and v.mde is None and v.point_rule_verdict == "PASS"
    assert "cannot be shown" in v.notes[0]


def test_identical_predictions_use_the_exact_no_discordance_bound():
    scores = [1, 0, 1, 1, 0]
    pd = paired_delta(scores, scores)
    assert (pd.delta, pd.std, pd.se) == (0.0, 0.0, 0.0)
    # u = 1 − 0.025^(1/5) = 1 − exp(0.2·ln 0.025) = 1 − exp(−0.7377759) = 1 − 0.4781762 = 0.5218238
    assert pd.ci_low == pytest.approx(-0.5218238, abs=1e-7) and pd.ci_high == pytest.approx(
        0.5218238, abs=1e-7
    )
    assert pd.degenerate == "zero_variance" and "agree on all 5 items" in pd.notes[0]
    assert pd.method == NO_DISCORDANCE_METHOD
    assert pd.variant_only_correct == 0 and pd.probe_only_correct == 0
    v = noninferiority(pd, 0.01)
    assert v.verdict == "FAIL"  # five agreeing items cannot show a 1-point margin
    assert v.point_rule_verdict == "PASS"
    assert v.mde == pytest.approx(0.5218238, abs=1e-7) and "half-width" in v.mde_rule
    assert noninferiority(pd, 0.6).verdict == "PASS"  # −0.522 > −0.6


@pytest.mark.parametrize(
    "n, u, verdict",
    [
        # u = 1 − exp(ln 0.025 / n), ln 0.025 = −3.6888795
        (100, 0.0362167, "FAIL"),  # 1 − exp(−0.0368888) = 1 − 0.9637833 = 0.0362167 > 0.01
        (2000, 0.0018427, "PASS"),  # 1 − exp(−0.0018444) = 1 − 0.9981573 = 0.0018427 < 0.01
    ],
)
def test_agreement_on_many_items_is_evidence_and_on_few_is_not(n, u, verdict):
    scores = np.zeros(n)
    scores[: n // 3] = 1.0
    pd = paired_delta(scores, scores)
    assert pd.ci_low == pytest.approx(-u, abs=1e-7)
    assert noninferiority(pd, 0.01).verdict == verdict


def test_constant_discordance_keeps_the_zero_width_interval_and_says_so():
    pd = paired_delta([1, 1, 1], [0, 0, 0])  # d = −1 on every item
    assert pd.degenerate == "zero_variance" and pd.ci_low == pd.ci_high == -1.0
    assert "zero width" in pd.notes[0] and pd.method == PAIRED_METHOD
    assert noninferiority(pd, 0.01).verdict == "FAIL"


def test_constant_nonzero_difference_is_also_zero_variance():
    pd = paired_delta([0.5, 0.25], [0.75, 0.5])  # d = 0.25, 0.25
    assert pd.degenerate == "zero_variance" and pd.ci_low == pd.ci_high == 0.25
    assert not pd.binary and pd.variant_only_correct is None and pd.probe_only_correct is None


def test_graded_scores_are_allowed_and_not_counted_as_discordant():
    # d = 0.5, −0.25, 0.25: Δ = 0.5/3 = 0.1666667
    pd = paired_delta([0.5, 0.75, 0.0], [1.0, 0.5, 0.25])
    assert pd.delta == pytest.approx(1 / 6)
    assert not pd.binary and pd.variant_only_correct is None


def test_confidence_level_changes_width_and_rule_text():
    # 99%: t_{0.995,7} = 3.499483, half-width = 3.499483·0.2265817 = 0.792919
    pd = paired_delta(PROBE8, VARIANT8, confidence=0.99)
    assert pd.ci_high - pd.delta == pytest.approx(0.792919, abs=1e-6)
    assert noninferiority(pd, 0.02).rule == "PASS iff lower bound of 99% CI of Δ > −0.02"


def test_minimum_detectable_effect_hand_worked():
    # (1.959964 + 0.841621)·0.01 = 0.02801585;  α = 0.10: (1.644854 + 0.841621)·0.01 = 0.02486475
    assert minimum_detectable_effect(0.01) == pytest.approx(0.02801585, abs=1e-8)
    assert minimum_detectable_effect(0.01, alpha=0.10) == pytest.approx(0.02486475, abs=1e-8)
    assert minimum_detectable_effect(0.0) == 0.0
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
    wider = paired_delta(probe, variant, confidence=0.99)
    assert wider.ci_low <= pd.ci_low + 1e-12 and wider.ci_high >= pd.ci_high - 1e-12
    # The verdict is exactly the stated rule.
    assert (noninferiority(pd, 0.05).verdict == "PASS") == (pd.ci_low > -0.05)
