"""Choosing ranks: rounding up to an allowed set, and the optimal allocation of a parameter budget.

The budget problem. Module m has singular values σ_{m,1} ≥ … ≥ σ_{m,r_m} and costs c_m = in_m + out_m
LoRA parameters per unit of rank. Keeping rank k_m discards Σ_{i>k_m} σ_{m,i}² (Eckart–Young: the best
rank-k approximation loses exactly that). We choose 1 ≤ k_m ≤ r_m with Σ c_m·k_m ≤ P minimising the
total discarded energy, i.e. maximising the kept energy Σ_m Σ_{i≤k_m} σ_{m,i}².

Each unit of rank of module m is an *item* of value σ_{m,i}² and weight c_m, and module m's items must
be taken as a prefix (i = 1, 2, …). Because σ is sorted, the values along each prefix never increase.

1. **One cost class (all c_m equal): greedy is exactly optimal.** Take the items with the largest σ²
   (ties broken by smaller i). The chosen set is prefix-closed (an item is taken only if every earlier
   item of its module, being at least as large, was taken), and among all sets of the same size no set
   has a larger sum, so the top-n set is optimal for every n. With equal weights the budget fixes n.
2. **Several cost classes: greedy by σ²/c is NOT always optimal.** It solves the fractional (LP)
   relaxation, but the integer problem is a knapsack: e.g. budget 10, items (value 9, weight 6) and
   (value 5, weight 5) twice: greedy by ratio takes the 1.5-ratio item and stops at 9, the optimum takes
   both 5s for 10. So we solve it exactly: by (1), inside one cost class the best value for n items is
   F_c(n) = the sum of the n largest σ² of that class (concave in n); what remains is choosing n_c per
   class with Σ c·n_c ≤ P. :func:`allocate_budget` enumerates n_c for all classes but the last (which
   then takes as many items as fit, since F is non-decreasing): O(Π (N_c + 1)) work over all classes but
   the largest, ordered so that the two largest classes are the vectorised and the free one. That is exact and fast for the usual LLM adapters (2–3 cost classes: attention,
   GQA k/v, MLP). Beyond ``max_work`` it falls back to greedy by σ²/c (with skipping) and reports the
   LP upper bound so that the optimality gap is known, never hidden.

The minimum of one rank per module is forced first (those items are in every solution). Items with
σ² = 0 are never bought: they add parameters and no energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_WORK = 20_000_000


def default_allowed_ranks(r: int) -> list[int]:
    """Powers of two up to r, plus r itself when r is not a power of two."""
    out = [1 << i for i in range(int(r).bit_length()) if (1 << i) <= r]
    if out[-1] != r:
        out.append(int(r))
    return out


def round_up(k: int, allowed: list[int], r: int) -> int:
    """The smallest allowed rank ≥ k that is ≤ r; r itself when none is (never rounds down)."""
    candidates = [a for a in allowed if k <= a <= r]
    return min(candidates) if candidates else int(r)


@dataclass(frozen=True)
class Allocation:
    ranks: list[int]  # per module, in input order
    kept_energy: float
    params: int
    solver: str  # "exact" | "greedy"
    upper_bound_gap: float  # LP bound − kept energy (0 for exact; ≥ the true gap for greedy)


def _items(spectra_sq: list[np.ndarray]):
    """Non-forced items (i ≥ 2) with σ² > 0: module index, position, value."""
    mod, pos, val = [], [], []
    for m, sq in enumerate(spectra_sq):
        idx = np.nonzero(sq[1:] > 0)[0] + 1
        mod.append(np.full(idx.size, m))
        pos.append(idx)
        val.append(sq[idx])
    return np.concatenate(mod), np.concatenate(pos), np.concatenate(val)


def minimum_params(costs) -> int:
    return int(np.sum(np.asarray(costs, dtype=np.int64)))


def allocate_budget(spectra_sq, costs, budget: int, *, max_work: int = MAX_WORK) -> Allocation:
    """Ranks k_m ∈ [1, r_m] with Σ c_m·k_m ≤ budget maximising the kept energy (see module docs).

    ``spectra_sq``: per module, σ² sorted descending (length r_m). ``costs``: per-rank parameter cost
    (in + out) of each module. The caller checks ``budget >= minimum_params(costs)``.
    """
    sq = [np.asarray(x, dtype=np.float64) for x in spectra_sq]
    c = np.asarray(costs, dtype=np.int64)
    remaining = int(budget) - int(c.sum())
    if remaining < 0:
        raise ValueError(f"budget {budget} is below the minimum {int(c.sum())}")
    forced = float(sum(x[0] for x in sq))
    mod, pos, val = _items(sq)
    item_cost = c[mod]
    # fewest items first: the loops run over the small classes, the two largest are vectorised/free
    classes = sorted(np.unique(item_cost).tolist(), key=lambda cc: (int(np.sum(item_cost == cc)), cc))
    # per class: items sorted by value desc, ties by position (keeps prefixes), and prefix sums
    order_by_class, prefix = [], []
    for cc in classes:
        sel = np.nonzero(item_cost == cc)[0]
        sel = sel[np.lexsort((pos[sel], -val[sel]))]
        order_by_class.append(sel)
        prefix.append(np.concatenate([[0.0], np.cumsum(val[sel])]))
    sizes = [p.size for p in prefix]
    work = int(np.prod([float(n) for n in sizes[:-1]])) if len(sizes) > 1 else 1
    if work <= max_work:
        counts = _best_counts(prefix, classes, remaining)
        chosen = (
            np.concatenate([o[:n] for o, n in zip(order_by_class, counts, strict=True)]) if counts else []
        )
        solver, gap = "exact", 0.0
    else:
        chosen, gap = _greedy_ratio(val, item_cost, pos, remaining)
        solver = "greedy"
    ranks = np.ones(len(sq), dtype=np.int64)
    np.add.at(ranks, mod[np.asarray(chosen, dtype=np.int64)], 1)
    kept = forced + float(val[np.asarray(chosen, dtype=np.int64)].sum())
    return Allocation([int(k) for k in ranks], kept, int((ranks * c).sum()), solver, float(gap))


def _best_counts(prefix: list[np.ndarray], cost: list[int], budget: int) -> list[int]:
    """Exact max of Σ_c prefix[c][n_c] s.t. Σ cost[c]·n_c ≤ budget (each prefix non-decreasing)."""
    if not prefix:
        return []
    last_n, last_c = prefix[-1].size - 1, cost[-1]

    def take_last(rem):
        return np.minimum(last_n, rem // last_c)

    if len(prefix) == 1:
        return [int(take_last(budget))]

    def search(level: int, rem: int) -> tuple[float, list[int]]:
        if level == len(prefix) - 2:  # vectorise the second-to-last class
            n = np.arange(min(prefix[level].size - 1, rem // cost[level]) + 1)
            n_last = take_last(rem - n * cost[level])
            value = prefix[level][n] + prefix[-1][n_last]
            best = int(np.argmax(value))
            return float(value[best]), [best, int(n_last[best])]
        best_value, best_counts = -1.0, []
        for n in range(min(prefix[level].size - 1, rem // cost[level]) + 1):
            v, rest = search(level + 1, rem - n * cost[level])
            v += prefix[level][n]
            if v > best_value:
                best_value, best_counts = v, [n, *rest]
        return best_value, best_counts

    return search(0, budget)[1]


def _greedy_ratio(val, cost, pos, budget: int) -> tuple[np.ndarray, float]:
    """Greedy by σ²/c with skipping, and the LP upper bound minus its value."""
    order = np.lexsort((pos, -val / cost))
    chosen, rem, lp, lp_rem, lp_open = [], budget, 0.0, budget, True
    for i in order:
        ci = int(cost[i])
        if lp_open:
            take = min(1.0, lp_rem / ci)
            lp += take * val[i]
            lp_rem -= take * ci
            lp_open = lp_rem > 0
        if ci <= rem:
            chosen.append(i)
            rem -= ci
    got = float(val[np.asarray(chosen, dtype=np.int64)].sum()) if chosen else 0.0
    return np.asarray(chosen, dtype=np.int64), max(0.0, lp - got)
