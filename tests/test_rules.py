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


def test_sv_fro_keeps_one_beyond_the_root_of_cumulative_energy():
    # kohya: k₀ = first k with cumsum(σ²)/Σσ² >= t², then k₀ + 1. t = 0.9 is 81% energy:
    # 13/15 = 0.867 >= 0.81 > 9/15, so k₀ = 2 and kohya keeps 3; energy:0.81 is k₀ itself.
    assert rank("sv_fro:0.9") == 3
    assert rank("energy:0.81") == 2 == rank("sv_fro:0.9") - 1
    assert rank("sv_fro:0.7") == 2  # 0.49 <= 9/15: k₀ = 1, and kohya never keeps fewer than 2
    assert rank("sv_fro:0.95") == 4  # 0.9025 <= 14/15: k₀ = 3
    assert rank("sv_fro:1") == 4  # k₀ = 4, k₀ + 1 = 5 is capped at r = 4


def test_sv_cumulative_keeps_one_beyond_cumulative_sigma():
    assert rank("sv_cumulative:0.4") == 2  # 3/7 = 0.43 >= 0.4: k₀ = 1
    assert rank("sv_cumulative:0.7") == 3  # 5/7 = 0.714 >= 0.7 > 3/7: k₀ = 2
    assert rank("sv_cumulative:0.8") == 4  # 6/7 = 0.857 >= 0.8 > 5/7: k₀ = 3
    ones = [1.0] * 4  # cumulative exactly [0.25, 0.5, 0.75, 1]
    assert rank("sv_cumulative:0.5", s=ones) == 3  # a cumulative value equal to t reaches it: k₀ = 2
    assert rank("sv_cumulative:0.5000001", s=ones) == 4


def test_sv_ratio_keeps_count_above_max_over_ratio_plus_one():
    assert rank("sv_ratio:2") == 3  # σ > 1.5: 2 of them, kohya keeps 3
    assert rank("sv_ratio:3") == 3  # σ > 1 strictly: the two 1s are not counted (σ₁/σᵢ = 3 is not < 3)
    assert rank("sv_ratio:3.01") == 4  # all 4 counted, 5 capped at r
    assert rank("sv_ratio:1.4") == 2  # σ > 2.14: only σ₁
    assert rank("sv_ratio:0.5") == 2  # σ > 6: none; kohya's index is clamped to 1, so it keeps 2


def test_kohya_rules_clamp_as_sd_scripts_does():
    # r = 1: k₀ + 1 = 2 is capped at the old rank (kohya with --new_rank equal to it)
    for spec in ("sv_fro:0.9", "sv_cumulative:0.9", "sv_ratio:10"):
        assert rank(spec, s=[5.0]) == 1, spec
    # min(out, in) = 2 < r = 4: kohya's S has 2 entries and its rank is at most len(S) = 2
    assert rank("sv_ratio:3.01", s=[3.0, 2.0, 0.0, 0.0], shape=(2, 8)) == 2
    assert rank("sv_ratio:3.01", s=[3.0, 2.0, 0.0, 0.0], shape=(8, 8)) == 3  # a zero direction, as kohya
    assert rank("sv_fro:0.99", s=[3.0, 2.0, 0.0, 0.0], shape=(16, 2)) == 2
    # without a shape only r caps
    assert parse_rule("sv_ratio:3.01")(np.array([3.0, 2.0, 0.0, 0.0])) == 3
    # min(out, in) = 1: kohya asks for rank 2 of a rank-1 matrix and fails; we keep 1
    assert rank("sv_fro:0.5", s=[5.0, 0.0], shape=(1, 8)) == 1


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


def test_kohya_rules_agree_with_sd_scripts_rank_resize():
    """sd-scripts' own rank_resize (networks/resize_lora.py, run unchanged) on random spectra."""
    torch = pytest.importorskip("torch")
    from helpers.sd_scripts import HINT, load_resize_lora, sd_scripts_root

    root = sd_scripts_root()
    if root is None:
        pytest.skip(f"no sd-scripts snapshot: {HINT}")
    resize_lora = load_resize_lora(root)
    rng = np.random.default_rng(1)
    for _ in range(300):
        r = int(rng.integers(1, 20))
        s = np.sort(rng.exponential(size=r))[::-1]
        s[rng.random(r) < 0.2] = 0.0  # some modules of lower true rank
        s = np.sort(s)[::-1]
        m = int(rng.integers(max(2, int(np.count_nonzero(s))), 40))  # kohya's len(S) = min(out, in)
        padded = torch.tensor(np.concatenate([s, np.zeros(max(0, m - r))])[:m])  # σ beyond r are 0
        for method in ("sv_ratio", "sv_cumulative", "sv_fro"):
            target = float(rng.uniform(0.5, 10.0) if method == "sv_ratio" else rng.uniform(0.05, 1.0))
            if s[0] <= resize_lora.MIN_SV:
                continue
            want = resize_lora.rank_resize(padded, r, method, target)["new_rank"]
            got = rank(f"{method}:{target!r}", s=s, shape=(m, 64))
            assert got == want, (method, target, s, m)


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
