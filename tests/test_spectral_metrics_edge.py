"""Edge cases of the rank metrics that rounding can reach."""

from rankbench.spectral.metrics import effective_rank


def test_effective_rank_of_a_subnormal_tail_is_finite():
    # 5e-324 / 2 underflows to 0 in the normalised spectrum: it must count as an empty direction
    assert effective_rank([2.0, 5e-324]) == 1.0
