"""Normal and Student-t functions against textbook tables, closed forms and (when present) mpmath."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankbench.errors import RankbenchError
from rankbench.stats.distributions import normal_cdf, normal_ppf, t_cdf, t_ppf

# Two-sided 95% critical values t_{0.975, ν}, as printed (3 decimals) in every t table.
T_TABLE_975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    7: 2.365,
    9: 2.262,
    10: 2.228,
    29: 2.045,
    30: 2.042,
    100: 1.984,
}


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE_975.items()))
def test_t_ppf_matches_the_printed_table(df, expected):
    assert t_ppf(0.975, df) == pytest.approx(expected, abs=5e-4)
    assert t_ppf(0.025, df) == pytest.approx(-expected, abs=5e-4)


def test_normal_quantiles_match_the_familiar_values():
    assert normal_ppf(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert normal_ppf(0.95) == pytest.approx(1.644854, abs=1e-6)
    assert normal_ppf(0.8) == pytest.approx(0.841621, abs=1e-6)
    assert normal_cdf(0.0) == 0.5
    assert normal_cdf(math.inf) == 1.0 and normal_cdf(-math.inf) == 0.0


def test_t_approaches_the_normal_for_large_df():
    assert t_ppf(0.975, 1e6) == pytest.approx(normal_ppf(0.975), abs=1e-5)


@given(st.floats(min_value=1e-6, max_value=1 - 1e-6))
def test_t_ppf_closed_forms_for_one_and_two_df(p):
    # ν = 1 is the Cauchy: t = tan(π(p − ½)).  ν = 2: t = (2p − 1)/√(2p(1 − p)).
    assert t_ppf(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9, abs=1e-12)
    assert t_ppf(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9, abs=1e-12)


@given(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False))
def test_t_cdf_closed_forms_for_one_and_two_df(t):
    # ν = 1: F(t) = ½ + atan(t)/π.  ν = 2: F(t) = ½ + t / (2√(2 + t²)).
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-14)
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-14)


@given(st.floats(min_value=1e-4, max_value=1 - 1e-4), st.integers(min_value=1, max_value=500))
def test_t_ppf_inverts_t_cdf(p, df):
    assert t_cdf(t_ppf(p, df), df) == pytest.approx(p, abs=1e-12)


def test_t_cdf_matches_mpmath_reference():
    mpmath = pytest.importorskip("mpmath")

    def reference(t, df):  # F(t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0, computed with 30 digits
        with mpmath.workdps(30):
            x = mpmath.mpf(df) / (df + mpmath.mpf(t) ** 2)
            tail = mpmath.betainc(mpmath.mpf(df) / 2, mpmath.mpf(1) / 2, 0, x, regularized=True) / 2
            return float(1 - tail if t >= 0 else tail)

    checked = 0
    for df in (1, 2, 3, 7, 30, 200, 0.7, 5000):
        for t in (-30, -5, -2, -0.5, -1e-3, 0, 1e-6, 0.3, 1.5, 2.1, 4, 12, 100):
            expected = reference(t, df)
            assert t_cdf(t, df) == pytest.approx(expected, rel=1e-10, abs=1e-300)
            checked += 1
    assert checked == 8 * 13


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_quantiles_refuse_probabilities_outside_zero_one(p):
    with pytest.raises(RankbenchError, match=r"p must be strictly between 0 and 1"):
        t_ppf(p, 3)
    with pytest.raises(RankbenchError, match=r"p must be strictly between 0 and 1"):
        normal_ppf(p)


@pytest.mark.parametrize("df", [0, -1, math.inf, math.nan])
def test_t_refuses_bad_degrees_of_freedom(df):
    with pytest.raises(RankbenchError, match=r"degrees of freedom must be a positive finite number"):
        t_ppf(0.9, df)
