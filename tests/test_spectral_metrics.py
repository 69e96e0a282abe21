"""Rank metrics against hand-worked values, and their invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankbench.spectral import metrics as m
from rankbench.spectral.summary import summarize

spectra = st.lists(st.floats(0, 1e3, allow_subnormal=False), min_size=1, max_size=32)


def test_hand_worked_spectrum():
    s = [3.0, 4.0, 0.0]  # any order in; sorted to [4, 3, 0]
    assert m.frobenius_norm(s) == 5.0
    assert m.spectral_norm(s) == 4.0
    assert m.stable_rank(s) == pytest.approx(25 / 16)
    p = np.array([4, 3]) / 7
    assert m.effective_rank(s) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert m.utilization(s, 3) == pytest.approx(m.effective_rank(s) / 3)


def test_energy_is_sigma_squared_not_sigma():
    # σ = [3, 1, 1]: σ² = [9, 1, 1] → cumulative 9/11 = 0.818, 10/11 = 0.909 → k = 2 at 90%.
    # Cumulative σ would give 3/5, 4/5, 5/5 → k = 3: the two definitions differ here.
    assert m.energy_rank([3, 1, 1], 0.9) == 2
    assert m.energy_rank([3, 1, 1], 0.8) == 1
    assert m.energy_ranks([3, 1, 1]) == {"0.9": 2, "0.95": 3, "0.99": 3}


def test_energy_rank_does_not_flip_on_rounding():
    assert m.energy_rank([1.0, 1.0], 0.5) == 1
    assert m.energy_rank([1.0, 1.0, 1.0], 1 / 3) == 1
    assert m.energy_rank([1.0, 0.0, 0.0], 1.0) == 1  # τ = 1: the number of non-zero directions


def test_zero_spectrum_is_all_zeros():
    s = np.zeros(4)
    assert (m.frobenius_norm(s), m.spectral_norm(s), m.stable_rank(s), m.effective_rank(s)) == (0, 0, 0, 0)
    assert m.energy_ranks(s) == {"0.9": 0, "0.95": 0, "0.99": 0}
    assert m.utilization(s, 4) == 0


def test_single_direction_and_flat_spectrum():
    assert m.effective_rank([5, 0, 0, 0]) == pytest.approx(1.0)
    assert m.utilization([5, 0, 0, 0], 4) == pytest.approx(0.25)
    assert m.effective_rank([2, 2, 2, 2]) == pytest.approx(4.0)
    assert m.stable_rank([2, 2, 2, 2]) == pytest.approx(4.0)
    assert m.utilization([2, 2, 2, 2], 4) == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\], got 0"):
        m.energy_rank([1.0], 0)
    with pytest.raises(ValueError, match="finite and non-negative"):
        m.frobenius_norm([1.0, -1.0])
    with pytest.raises(ValueError, match="finite and non-negative"):
        m.stable_rank([np.nan])
    with pytest.raises(ValueError, match="r must be positive, got 0"):
        m.utilization([1.0], 0)


@settings(max_examples=100, deadline=None)
@given(spectra, st.floats(0.01, 1.0), st.floats(0.01, 1.0))
def test_energy_rank_monotone_in_tau(s, t1, t2):
    lo, hi = sorted((t1, t2))
    assert m.energy_rank(s, lo) <= m.energy_rank(s, hi)


@settings(max_examples=100, deadline=None)
@given(spectra)
def test_rank_bounds(s):
    nonzero = sum(x > 0 for x in s)
    assert 0 <= m.energy_rank(s, 0.9) <= m.energy_rank(s, 0.99) <= nonzero
    if nonzero:
        assert 1 - 1e-9 <= m.stable_rank(s) <= nonzero + 1e-9
        assert 1 - 1e-9 <= m.effective_rank(s) <= nonzero + 1e-9
        assert 0 < m.utilization(s, len(s)) <= 1 + 1e-12
    # scale invariance of every rank measure
    scaled = [7.5 * x for x in s]
    assert m.energy_rank(scaled, 0.9) == m.energy_rank(s, 0.9)
    assert m.effective_rank(scaled) == pytest.approx(m.effective_rank(s))


class _Mod:
    def __init__(self, name, r, util, e90, e99, shape=(10, 10)):
        self.name, self.adapter_name, self.r, self.utilization, self.shape = name, "default", r, util, shape
        self.energy_rank = {"0.9": e90, "0.95": e90, "0.99": e99}
        self.params = r * sum(shape)
        self.effective_rank, self.stable_rank = util * r, 1.0


def test_summary_percentiles_and_wasteful_order():
    mods = [
        _Mod("a", 8, 0.9, 6, 8),
        _Mod("b", 8, 0.2, 1, 2),
        _Mod("c", 4, 0.2, 1, 3, (50, 50)),
        _Mod("d", 8, 0.5, 3, 5),
    ]
    s = summarize(mods, top=2)
    assert s.n_modules == 4 and s.r_values == [4, 8]
    assert s.utilization_mean == pytest.approx(0.45)
    assert s.energy_rank_90_p50 == pytest.approx(2.0)  # median of [1, 1, 3, 6]
    assert s.energy_rank_90_p90 == pytest.approx(np.percentile([1, 1, 3, 6], 90))
    assert [w.name for w in s.most_wasteful] == ["c", "b"]  # tie at 0.2: more params first
    assert s.params_at_energy_rank_99 == 8 * 20 + 2 * 20 + 3 * 100 + 5 * 20
    assert type(s).from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="no modules"):
        summarize([])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 64), min_size=1, max_size=40), st.sampled_from([0, 10, 50, 90, 99, 100]))
def test_percentile_matches_numpy(values, p):
    from rankbench.spectral.summary import percentile

    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)), abs=1e-12)
