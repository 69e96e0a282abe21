"""Budget allocation: exact against brute force, and the greedy-by-ratio counterexample."""

import itertools

import numpy as np
import pytest

from rankbench.suggest.allocate import allocate_budget, default_allowed_ranks, minimum_params, round_up


def brute_force(spectra_sq, costs, budget):
    """Max kept energy over every (k_1, …, k_M) with k_m in [1, r_m] and Σ c_m·k_m ≤ budget."""
    best = -1.0
    for ks in itertools.product(*[range(1, len(s) + 1) for s in spectra_sq]):
        if sum(k * c for k, c in zip(ks, costs, strict=True)) <= budget:
            best = max(best, sum(float(np.sum(s[:k])) for s, k in zip(spectra_sq, ks, strict=True)))
    return best


def kept(spectra_sq, ranks):
    return sum(float(np.sum(s[:k])) for s, k in zip(spectra_sq, ranks, strict=True))


def random_case(rng, n_costs):
    m = int(rng.integers(2, 5))
    spectra_sq = [np.sort(rng.exponential(size=int(rng.integers(1, 5))) ** 2)[::-1] for _ in range(m)]
    pool = rng.choice([3, 5, 7, 11], size=n_costs, replace=False)
    costs = [int(rng.choice(pool)) for _ in range(m)]
    top = sum(len(s) * c for s, c in zip(spectra_sq, costs, strict=True))
    budget = int(rng.integers(minimum_params(costs), top + 3))
    return spectra_sq, costs, budget


@pytest.mark.parametrize("n_costs", [1, 2, 3])
def test_exact_allocation_matches_brute_force(n_costs):
    rng = np.random.default_rng(n_costs)
    for _ in range(150):
        spectra_sq, costs, budget = random_case(rng, n_costs)
        alloc = allocate_budget(spectra_sq, costs, budget)
        assert alloc.solver == "exact"
        assert alloc.params <= budget
        assert all(1 <= k <= len(s) for k, s in zip(alloc.ranks, spectra_sq, strict=True))
        assert alloc.params == sum(k * c for k, c in zip(alloc.ranks, costs, strict=True))
        assert kept(spectra_sq, alloc.ranks) == pytest.approx(alloc.kept_energy, rel=1e-12)
        assert alloc.kept_energy == pytest.approx(brute_force(spectra_sq, costs, budget), rel=1e-12)


def test_greedy_by_ratio_is_not_optimal_with_different_costs():
    # X costs 6 per rank, Y costs 5; one rank each is forced (11), 10 parameters remain.
    # Greedy by σ²/c buys X's 9 (ratio 1.5) and then nothing fits: +9. The optimum buys Y's 5 + 5: +10.
    spectra_sq = [np.array([100.0, 9.0]), np.array([100.0, 5.0, 5.0])]
    costs, budget = [6, 5], 21
    exact = allocate_budget(spectra_sq, costs, budget)
    greedy = allocate_budget(spectra_sq, costs, budget, max_work=0)
    assert (exact.solver, exact.ranks, exact.kept_energy) == ("exact", [1, 3], 210.0)
    assert (greedy.solver, greedy.ranks, greedy.kept_energy) == ("greedy", [2, 1], 209.0)
    assert greedy.upper_bound_gap >= 210.0 - 209.0


def test_greedy_fallback_is_feasible_and_its_gap_bounds_the_true_gap():
    rng = np.random.default_rng(7)
    for _ in range(100):
        spectra_sq, costs, budget = random_case(rng, 3)
        alloc = allocate_budget(spectra_sq, costs, budget, max_work=0)
        best = brute_force(spectra_sq, costs, budget)
        assert alloc.solver == "greedy" and alloc.params <= budget
        assert alloc.kept_energy <= best + 1e-9
        assert alloc.kept_energy + alloc.upper_bound_gap >= best - 1e-9


def test_equal_costs_greedy_takes_the_largest_sigma_squared():
    spectra_sq = [np.array([10.0, 8.0, 1.0]), np.array([9.0, 2.0, 1.0])]
    alloc = allocate_budget(spectra_sq, [4, 4], 4 * 3)
    assert alloc.ranks == [2, 1]  # forced 10 and 9, then 8 beats 2


def test_zero_singular_values_are_never_bought():
    alloc = allocate_budget([np.array([4.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.0])], [2, 2], 100)
    assert alloc.ranks == [1, 2]
    assert alloc.params == 6


def test_minimum_budget_is_one_rank_per_module():
    assert minimum_params([8192, 15104, 15104]) == 38400
    with pytest.raises(ValueError, match="below the minimum 38400"):
        allocate_budget([np.ones(2)] * 3, [8192, 15104, 15104], 38399)


def test_default_allowed_ranks_are_powers_of_two_plus_r():
    assert default_allowed_ranks(64) == [1, 2, 4, 8, 16, 32, 64]
    assert default_allowed_ranks(48) == [1, 2, 4, 8, 16, 32, 48]
    assert default_allowed_ranks(1) == [1]


def test_round_up_never_goes_down_or_above_r():
    assert round_up(40, default_allowed_ranks(64), 64) == 64  # not a silent cap at 32
    assert round_up(40, [16, 32, 48, 64], 64) == 48
    assert round_up(33, [8, 16, 32], 64) == 64  # nothing allowed fits: r itself
    assert round_up(3, [8, 16], 4) == 4  # allowed values above this module's r are skipped
    assert round_up(8, [8, 16], 64) == 8
