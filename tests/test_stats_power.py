"""Power to declare non-inferiority when the true Δ is 0 (normal and t), its label and the claim strength."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankbench.errors import RankbenchError
from rankbench.stats import (
    PowerResult,
    claim_strength,
    minimum_detectable_effect,
    power_label,
    statistical_power,
)


def test_power_hand_worked_marginal():
    # se = 0.004, tolerance = 0.01: Φ(0.01/0.004 − 1.959964) = Φ(0.540036) = 0.705414
    r = statistical_power(0.004, 0.01, n_seeds=3)
    assert r.power == pytest.approx(0.705414, abs=1e-6)
    assert r.label == "marginal"
    # MDE at 80%: 2.801585·0.004 = 0.0112063
    assert r.mde == pytest.approx(0.0112063, abs=1e-7)
    assert r.rule.startswith("power = F(tolerance/se − z_{1−α/2}), α = 0.05, F normal:")
    assert "exceeds −0.01 when the true Δ is 0" in r.rule


def test_power_with_t_quantiles_hand_worked():
    # se = 0.004, tolerance = 0.01, df = 4: T₄(2.5 − 2.776445) = T₄(−0.276445) = 0.397951 (mpmath)
    r = statistical_power(0.004, 0.01, n_seeds=5, df=4)
    assert r.power == pytest.approx(0.397951, abs=1e-6) and r.df == 4
    assert r.mde == pytest.approx(minimum_detectable_effect(0.004, df=4))
    assert "Student t, df = 4" in r.rule


def test_power_hand_worked_sufficient_and_insufficient():
    # se = 0.002: Φ(5 − 1.959964) = Φ(3.040036) = 0.998817 → sufficient
    high = statistical_power(0.002, 0.01, n_seeds=3)
    assert high.power == pytest.approx(0.998817, abs=1e-6)
    assert high.label == "sufficient"
    # se = 0.01: Φ(1 − 1.959964) = Φ(−0.959964) = 0.168537 → insufficient, low
    low = statistical_power(0.01, 0.01, n_seeds=5)
    assert low.power == pytest.approx(0.168537, abs=1e-6)
    assert low.label == "insufficient"


def test_other_confidence_levels():
    # 90% interval: α = 0.1, Φ(2.5 − 1.644854) = Φ(0.855146) = 0.803765
    r = statistical_power(0.004, 0.01, n_seeds=3, confidence=0.9)
    assert r.power == pytest.approx(0.803765, abs=1e-6) and r.alpha == 0.1


@given(st.floats(min_value=1e-5, max_value=0.5))
def test_power_at_the_mde_is_exactly_eighty_percent(se):
    # tolerance = (z_{1−α/2} + z_0.8)·se ⇒ Φ(tolerance/se − z_{1−α/2}) = Φ(z_0.8) = 0.8
    assert statistical_power(se, minimum_detectable_effect(se), n_seeds=3).power == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("power", "label"),
    [
        (1.0, "sufficient"),
        (0.8, "sufficient"),
        (0.7999, "marginal"),
        (0.5, "marginal"),
        (0.4999, "insufficient"),
        (0.0, "insufficient"),
        (None, "insufficient"),
    ],
)
def test_power_label_boundaries(power, label):
    assert power_label(power) == label


@pytest.mark.parametrize(
    ("n_seeds", "probability", "level"),
    [
        (3, 0.8, "high"),
        (10, 0.99, "high"),
        (2, 0.99, "medium"),
        (3, 0.79, "medium"),
        (2, 0.5, "medium"),
        (2, 0.49, "low"),
        (1, 0.99, "low"),
        (5, None, "low"),
    ],
)
def test_claim_strength_rule(n_seeds, probability, level):
    assert claim_strength(n_seeds, probability) == level


def test_degenerate_standard_errors():
    # no spread: no power is stated, never a degenerate 1 with a zero margin
    for se in (None, 0.0):
        r = statistical_power(se, 0.01, n_seeds=3)
        assert (r.power, r.mde, r.label) == (None, None, "insufficient")
        assert "cannot be stated" in r.notes[0]


def test_round_trip_and_errors():
    r = statistical_power(0.004, 0.01, n_seeds=3)
    assert PowerResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with pytest.raises(RankbenchError, match=r"tolerance must be a finite number ≥ 0, got -0.01"):
        statistical_power(0.004, -0.01, n_seeds=3)
    with pytest.raises(ValueError, match=r"se must be a finite number ≥ 0 or None"):
        statistical_power(float("nan"), 0.01, n_seeds=3)
