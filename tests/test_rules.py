"""Rank rules against their published definitions, on hand-worked spectra (one test per rule)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankbench.errors import RankbenchError
from rankbench.suggest.rules import RULES, gd_omega, parse_rule

# σ = [3, 2, 1, 1]: σ² = [9, 4, 1, 1] (total 15), cumulative σ² = [9, 13, 14, 15];
# Σσ = 7, cumulative σ = [3, 5, 6, 7].
S = [3.0, 2.0, 1.0, 1.0]


def rank(spec, s=S, shape=(8, 8)):
    return parse_rule(spec)(np.array(s), shape)


def test_energy_is_cumulative_sigma_squared():
    assert rank("energy:0.8") == 2  # 13/15 = 0.867 >= 0.8 > 9/15
    assert rank("energy:0.9") == 3  # 14/15 = 0.933 >= 0.9 > 13/15
    assert rank("energy:0.6") == 1  # 9/15 = 0.6 exactly: the tie keeps 1
    assert rank("energy:1") == 4


def test_sv_fro_is_root_of_cumulative_energy():
    # kohya: searchsorted(cumsum(σ²)/Σσ², t²); t = 0.9 means 81% energy: 13/15 = 0.867 >= 0.81 > 0.6
    assert rank("sv_fro:0.9") == 2
    assert rank("sv_fro:0.9") == rank("energy:0.81") < rank("energy:0.9")


def test_sv_cumulative_is_cumulative_sigma():
    assert rank("sv_cumulative:0.7") == 2  # 5/7 = 0.714 >= 0.7 > 3/7
    assert rank("sv_cumulative:0.8") == 3  # 6/7 = 0.857 >= 0.8 > 5/7
    assert rank("sv_cumulative:0.8") != rank("energy:0.8")  # σ vs σ²: "80%" differs


def test_sv_ratio_keeps_sigma_above_max_over_ratio():
    assert rank("sv_ratio:2") == 2  # σ > 1.5
    assert rank("sv_ratio:3") == 2  # σ > 1 strictly: the two 1s are dropped (σ₁/σᵢ = 3 is not < 3)
    assert rank("sv_ratio:3.01") == 4
    assert rank("sv_ratio:0.5") == 1  # σ > 6: nothing, kept at 1


def test_threshold_is_absolute():
    assert rank("threshold:1") == 2  # σ > 1
    assert rank("threshold:0.5") == 4
    assert rank("threshold:5") == 1  # mergekit would return 0; we keep one direction
    assert rank("threshold:1", s=[30.0, 20.0, 10.0, 10.0]) == 4  # not scale-invariant, by definition


def test_gavish_donoho_uses_omega_of_beta_times_median():
    assert gd_omega(1.0) == pytest.approx(2.86)  # 0.56 - 0.95 + 1.82 + 1.43
    assert gd_omega(0.25) == pytest.approx(1.834375)
    s = [10.0, 2.5, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # median of the r = 8 values is 1
    assert rank("gavish_donoho", s, shape=(64, 64)) == 1  # τ = 2.86: only 10
    assert rank("gavish_donoho", s, shape=(16, 64)) == 3  # β = 1/4, τ = 1.834: 10, 2.5, 2
    assert rank("gavish_donoho", s, shape=(64, 16)) == 3  # β uses min/max, orientation-free
    with pytest.raises(ValueError, match="needs the module's shape"):
        parse_rule("gavish_donoho")(np.array(s))


def test_stable_rank_ceiling():
    assert rank("stable_rank") == 2  # 15/9 = 1.67
    assert rank("stable_rank", s=[1.0, 1.0, 1.0, 0.0]) == 3  # exactly 3, not 4 from rounding
    assert rank("stable_rank", s=[2.0, 2.0, 0.0, 0.0]) == 2


def test_effective_rank_ceiling():
    assert rank("effective_rank", s=[3.0, 1.0]) == 2  # exp(H(0.75, 0.25)) = 1.755
    assert rank("effective_rank", s=[1.0, 1.0, 0.0, 0.0]) == 2  # exp(ln 2) = 2 exactly
    assert rank("effective_rank", s=[1.0] * 4) == 4
    assert rank("effective_rank", s=[5.0, 0.0, 0.0, 0.0]) == 1
    assert rank("effective_rank", s=[1.0] + [1e-9] * 3) == 2  # 1.00000006: any tail counts


def test_zero_spectrum_keeps_one_direction():
    for name, info in RULES.items():
        spec = name if info.param is None else f"{name}:0.9"
        assert rank(spec, s=[0.0] * 4) == 1, spec


def test_energy_agrees_with_peft_cutoff():
    torch = pytest.importorskip("torch")
    from peft.tuners.lora.conversion import _find_cutoff_index

    rng = np.random.default_rng(0)
    for _ in range(200):
        s = np.sort(rng.exponential(size=rng.integers(1, 20)) ** 2)[::-1]
        tau = float(rng.uniform(0.05, 1.0))
        assert rank(f"energy:{tau!r}", s=s) == min(_find_cutoff_index(torch.tensor(s.copy()), tau), s.size)


def _kohya_index(s, method, target):
    """kohya-ss sd-scripts networks/resize_lora.py index_sv_* (+1 as in rank_resize), transcribed."""
    if method == "sv_ratio":
        index = int(np.sum(s > s[0] / target)) - 1
    elif method == "sv_cumulative":
        index = int(np.searchsorted(np.cumsum(s) / np.sum(s), target))
    else:
        index = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), target**2))
    return max(0, min(index, len(s) - 1)) + 1


def test_kohya_rules_agree_with_transcription():
    rng = np.random.default_rng(1)
    for _ in range(300):
        s = np.sort(rng.exponential(size=rng.integers(1, 20)))[::-1]
        for method in ("sv_ratio", "sv_cumulative", "sv_fro"):
            target = float(rng.uniform(1.0, 10.0) if method == "sv_ratio" else rng.uniform(0.05, 1.0))
            assert rank(f"{method}:{target!r}", s=s) == _kohya_index(s, method, target), (method, target)


spectra = st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(spectra, st.floats(0.01, 1.0))
def test_every_rule_returns_a_rank_in_1_to_r(s, p):
    for name, info in RULES.items():
        spec = name if info.param is None else f"{name}:{p!r}"
        k = rank(spec, s=s, shape=(16, 8))
        assert isinstance(k, int) and 1 <= k <= len(s), spec


@settings(max_examples=60, deadline=None)
@given(spectra, st.floats(0.01, 1.0), st.floats(0.01, 1.0))
def test_energy_rank_is_monotone_in_tau(s, a, b):
    lo, hi = sorted((a, b))
    assert rank(f"energy:{lo!r}", s=s) <= rank(f"energy:{hi!r}", s=s)


def test_parse_rule_names_rule_and_parameter():
    rule = parse_rule("energy:0.9")
    assert (rule.name, rule.param, rule.spec, str(rule)) == ("energy", 0.9, "energy:0.9", "energy:0.9")
    assert rule.describe() == "energy:0.9: smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σσᵢ²"
    assert parse_rule("stable_rank").spec == "stable_rank"
    assert parse_rule(" sv_fro:0.90 ").spec == "sv_fro:0.9"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("energy90", r"^error: unknown rule 'energy90'\nhint: choose one of: energy:TAU, sv_fro:TARGET"),
        ("energy", r"^error: rule energy needs tau as a fraction in \(0, 1\], got 'energy'"),
        ("energy:1.5", r"^error: rule energy needs tau as a fraction in \(0, 1\], got 'energy:1.5'"),
        ("energy:nan", r"needs tau as a fraction"),
        ("sv_ratio:-1", r"^error: rule sv_ratio needs ratio as a positive number, got 'sv_ratio:-1'"),
        ("stable_rank:2", r"^error: rule stable_rank takes no parameter, got 'stable_rank:2'"),
    ],
)
def test_bad_rules_are_clear_errors(spec, message):
    with pytest.raises(RankbenchError, match=message) as info:
        parse_rule(spec)
    assert info.value.exit_code == 2
    assert not math.isnan(info.value.exit_code)
