"""Power to declare non-inferiority when the true Δ is 0, its label and the confidence level."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankbench.errors import RankbenchError
from rankbench.stats import (
    PowerResult,
    confidence_level,
    minimum_detectable_effect,
    power_label,
    statistical_power,
)


def test_power_hand_worked_marginal():
    # se = 0.004, tolerance = 0.01: Φ(0.01/0.004 − 1.959964) = Φ(0.540036) = 0.705414
    r = statistical_power(0.004, 0.01, n_seeds=3)
    assert r.power == pytest.approx(0.705414, abs=1e-6)
    assert (r.label, r.confidence_level) == ("marginal", "medium")
    # MDE at 80%: 2.801585·0.004 = 0.0112063
    assert r.mde == pytest.approx(0.0112063, abs=1e-7)
    assert r.rule.startswith("power = Φ(tolerance/se − z_{1−α/2}), α = 0.05:")
    assert "exceeds −0.01 when the true Δ is 0" in r.rule


def test_power_hand_worked_sufficient_and_insufficient():
    # se = 0.002: Φ(5 − 1.959964) = Φ(3.040036) = 0.998817 → sufficient
    high = statistical_power(0.002, 0.01, n_seeds=3)
    assert high.power == pytest.approx(0.998817, abs=1e-6)
    assert (high.label, high.confidence_level) == ("sufficient", "high")
    assert statistical_power(0.002, 0.01, n_seeds=2).confidence_level == "medium"
    assert statistical_power(0.002, 0.01, n_seeds=1).confidence_level == "low"
    # se = 0.01: Φ(1 − 1.959964) = Φ(−0.959964) = 0.168537 → insufficient, low
    low = statistical_power(0.01, 0.01, n_seeds=5)
    assert low.power == pytest.approx(0.168537, abs=1e-6)
    assert (low.label, low.confidence_level) == ("insufficient", "low")


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
    ("n_seeds", "power", "level"),
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
def test_confidence_level_rule(n_seeds, power, level):
    assert confidence_level(n_seeds, power) == level


def test_degenerate_standard_errors():
    none = statistical_power(None, 0.01, n_seeds=3)
    assert (none.power, none.mde, none.label, none.confidence_level) == (None, None, "insufficient", "low")
    assert "cannot be computed" in none.notes[0]
    zero = statistical_power(0.0, 0.01, n_seeds=3)
    assert (zero.power, zero.mde, zero.label) == (1.0, 0.0, "sufficient")
    assert "degenerate" in zero.notes[0]
    assert statistical_power(0.0, 0.0, n_seeds=3).power == 0.0  # ci_low > 0 = Δ never holds


def test_round_trip_and_errors():
    r = statistical_power(0.004, 0.01, n_seeds=3)
    assert PowerResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with pytest.raises(RankbenchError, match=r"tolerance must be a finite number ≥ 0, got -0.01"):
        statistical_power(0.004, -0.01, n_seeds=3)
    with pytest.raises(ValueError, match=r"se must be a finite number ≥ 0 or None"):
        statistical_power(float("nan"), 0.01, n_seeds=3)
