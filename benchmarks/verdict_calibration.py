"""Do the verdicts hold their stated error rate? Today's procedure and the one before it, side by side.

A non-inferiority verdict at tolerance τ = 0.01 may PASS a variant that is truly τ worse than the probe
at most 2.5% of the time (the one-sided level of a 95% interval). This script measures that false-PASS
rate at Δ = −τ, and P(PASS) at Δ = 0 (power), in every regime the bench claims:

1. **One seed, 1/0 scores, exact** (every (b, c) table summed with its trinomial probability), n from
   20 to 5,000, the worst case over the discordance p ∈ [τ, 1]. Old: Tango's score interval with the
   normal critical value. New: the same statistic with the exact critical value (rankbench.stats.exact).
2. **Campaigns** (Monte Carlo, ``--reps`` a cell): 3, 5 and 10 seeds of 2,000 items at 8% discordance,
   seed SD of the true Δ 0–0.02, items independent or shared (``calibration_campaigns.py``). Old: the
   interval with Satterthwaite df and policy v2 (majority of seeds + interval). New: S − 1 df and
   policy v3 (the interval).
3. **P(policy passes | Δ = 0)**: the value the aggregate reports, against the truth, over campaigns.
4. **The ladder**: several rungs at the margin; the family-wise false claim of the fixed sequence
   against taking the smallest rung that passes its own separate test (the fixed menu's reading).

Target: every new false-PASS rate ≤ 2.5% + 2 MC standard errors.

    python benchmarks/verdict_calibration.py            # a few minutes on one thread (4,000 campaigns a cell)
    python benchmarks/verdict_calibration.py --full     # 40,000 campaigns a cell and a finer p grid
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # numpy's elementwise work needs no BLAS pool; avoid oversubscription

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from calibration_campaigns import ALPHA, TOL, Z, campaign_cell  # noqa: E402
from rankbench.stats import load_policy  # noqa: E402
from rankbench.stats.decision import decision_spread  # noqa: E402
from rankbench.stats.exact import exact_critical_value, nuisance_grid, tail_probability  # noqa: E402
from rankbench.stats.policy_sim import (  # noqa: E402
    CampaignModel,
    campaign_model,
    decision_pass_probability,
    policy_pass_probability,
)
from rankbench.stats.tango import score_statistic, tango_lower  # noqa: E402

LEVEL = ALPHA / 2
N_GRID = (20, 30, 50, 75, 110, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000)


def _worst(n, critical, grid):
    rates = [tail_probability(n, float(p), TOL, critical) for p in grid]
    k = int(np.argmax(rates))
    return rates[k], float(grid[k])


def single_seed_table(points: int) -> None:
    grid = nuisance_grid(TOL, points)
    print(
        f"\n## 1. One seed, 1/0 scores (exact), tolerance {TOL}, worst case over {grid.size} discordances in [τ, 1]\n"
    )
    print("| n | false PASS, worst p: old (Tango, z) | at p | new (exact critical) | at p | critical value "
          "| false PASS at p = 8%: old | new | P(PASS) at Δ = 0, p = 2%: old | new |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst_new = 0.0
    for n in N_GRID:
        crit = exact_critical_value(n, TOL)
        old, p_old = _worst(n, Z, grid)
        new, p_new = _worst(n, crit, grid)
        worst_new = max(worst_new, new)
        at8 = [tail_probability(n, 0.08, TOL, c) for c in (Z, crit)]
        pw = [tail_probability(n, 0.02, TOL, c, delta=0.0) for c in (Z, crit)]
        print(f"| {n} | {old:.5f} | {p_old:.3f} | {new:.5f} | {p_new:.3f} | {crit:.4f} | {at8[0]:.4f} | "
              f"{at8[1]:.4f} | {pw[0]:.4f} | {pw[1]:.4f} |")  # fmt: skip
    print(
        f"\nLargest new false PASS: {worst_new:.5f} (exact; target ≤ {LEVEL}): {'met' if worst_new <= LEVEL else 'NOT met'}"
    )


def campaign_table(reps: int) -> float:
    rng = np.random.default_rng(20261208)
    mc = math.sqrt(LEVEL * (1 - LEVEL) / reps)
    print(f"\n## 2. Campaigns: 2,000 items a seed, discordance 8%, tolerance {TOL}, {reps} campaigns a cell")
    print(f"MC standard error at 2.5%: {mc:.4f}; target: new false PASS ≤ {LEVEL + 2 * mc:.4f}\n")
    print("| S | seed SD | items | false PASS, interval: old | new | false PASS, policy: old | new "
          "| P(PASS) at Δ = 0, policy: old | new | clipped |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst, power = 0.0, {}
    for seeds in (3, 5, 10):
        for sd in (0.0, 0.005, 0.01, 0.02):
            for shared in (False, True):
                fp = campaign_cell(rng, reps, seeds, sd, shared, -TOL)
                at0 = campaign_cell(rng, reps, seeds, sd, shared, 0.0)
                worst = max(worst, fp["new_ci"], fp["new_policy"])
                power[seeds, sd, shared] = (at0["old_policy"], at0["new_policy"])
                print(f"| {seeds} | {sd} | {'shared' if shared else 'independent'} | {fp['old_ci']:.4f} | "
                      f"{fp['new_ci']:.4f} | {fp['old_policy']:.4f} | {fp['new_policy']:.4f} | "
                      f"{at0['old_policy']:.3f} | {at0['new_policy']:.3f} | "
                      f"{max(fp['clipped'], at0['clipped']):.1e} |")  # fmt: skip
    rises = all(
        power[3, sd, sh][1] < power[5, sd, sh][1] < power[10, sd, sh][1]
        for sd in (0.0, 0.005, 0.01, 0.02)
        for sh in (False, True)
    )
    print(
        f"\nLargest new false PASS: {worst:.4f} (target ≤ {LEVEL + 2 * mc:.4f}): {'met' if worst <= LEVEL + 2 * mc else 'NOT met'}"
    )
    print(f"P(policy PASS | Δ = 0) rises 3 → 5 → 10 seeds in every row: {'yes' if rises else 'NO'}")
    return worst


def policy_probability_table(reps: int) -> None:
    """The reported P(policy passes | Δ = 0) against its true value (3, 5, 10 seeds; 2% discordance)."""
    rng, n, p = np.random.default_rng(7), 2000, 0.02
    policy = load_policy()
    print(
        f"\n## 3. P(policy passes | Δ = 0): reported vs true, 2% discordance, {n} items a seed, {reps} campaigns\n"
    )
    print(
        "| S | seed SD | true (quadrature) | true (simulated) | mean reported | its bias | bias of the plug-in |"
    )
    print("|---|---|---|---|---|---|---|")
    for seeds in (3, 5, 10):
        for sd in (0.0, 0.005, 0.01):
            u = rng.normal(0.0, sd, (reps, seeds)) if sd > 0 else np.zeros((reps, seeds))
            p_b = np.clip((p + u) / 2, 0, p)
            b = rng.binomial(n, p_b)
            c = rng.binomial(n - b, (p - p_b) / (1 - p_b))
            d = (b - c) / n
            ses = (d - tango_lower(b, c, n, Z)) / Z
            simulated = float(np.mean(d.mean(axis=1) - decision_spread(d, ses, 0.0, 0.95)[0] > -TOL))
            true = decision_pass_probability(
                CampaignModel(seeds, sd**2 + p / n, 0.0, p / n / seeds), TOL, 0.95
            )
            counts = [list(zip(b[r], c[r], [n] * seeds, strict=True)) for r in range(reps)]
            est = [
                policy_pass_probability(policy, x, tolerance=TOL, confidence=0.95).probability for x in counts
            ]
            plug = [decision_pass_probability(campaign_model(x, 0.0, 0.95), TOL, 0.95) for x in counts]
            print(f"| {seeds} | {sd} | {true:.3f} | {simulated:.3f} | {np.mean(est):.3f} | "
                  f"{np.mean(est) - true:+.3f} | {np.mean(plug) - true:+.3f} |")  # fmt: skip


def ladder_table(reps: int) -> float:
    """Family-wise false claim with K rungs; rungs i < good are as good as the probe, the rest at −τ."""
    rng, n = np.random.default_rng(11), 2000
    crit = exact_critical_value(n, TOL)
    mc = math.sqrt(LEVEL * (1 - LEVEL) / reps)
    print(
        f"\n## 4. Ladder: one seed, {n} items a rung, tolerance {TOL}, {reps} ladders a row (MC se at 2.5%: {mc:.4f})\n"
    )
    print(
        "| rungs | as good as the probe, then at −τ | discordance | false claim: smallest separate PASS (old) | fixed sequence (new) | rungs evaluated (new, mean) |"
    )
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for k, good in ((2, 0), (4, 0), (6, 0), (4, 2), (6, 3)):
        for p in (0.02, 0.08):
            deltas = np.array([0.0] * good + [-TOL] * (k - good))
            p_b = (p + deltas) / 2
            b = rng.binomial(n, np.broadcast_to(p_b, (reps, k)))
            c = rng.binomial(n - b, (p - p_b) / (1 - p_b))
            old_pass = tango_lower(b, c, n, Z) > -TOL
            new_pass = score_statistic(b, c, n, -TOL) >= crit
            bad = deltas < 0
            old_false = (old_pass & bad).any(
                axis=1
            )  # some worse rung PASSes: the smallest passing one is claimed
            run = np.cumprod(new_pass, axis=1).astype(bool)  # passed every rung up to and including this one
            new_false = (run & bad).any(axis=1)
            evaluated = np.minimum(run.sum(axis=1) + 1, k).mean()
            worst = max(worst, new_false.mean())
            print(
                f"| {k} | {good} then {k - good} | {p:.0%} | {old_false.mean():.4f} | {new_false.mean():.4f} | {evaluated:.2f} of {k} |"
            )
    print(
        f"\nLargest family-wise false claim (new): {worst:.4f} (target ≤ {LEVEL + 2 * mc:.4f}): {'met' if worst <= LEVEL + 2 * mc else 'NOT met'}"
    )
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=4000, help="campaigns per campaign cell (default 4,000)")
    ap.add_argument(
        "--full", action="store_true", help="40,000 campaigns a cell, 601 discordances, 40,000 ladders"
    )
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--skip-campaigns", action="store_true")
    args = ap.parse_args()
    reps = 40_000 if args.full else args.reps
    t0 = time.perf_counter()
    if not args.skip_single:
        single_seed_table(601 if args.full else 241)
    if not args.skip_campaigns:
        campaign_table(reps)
    policy_probability_table(1000 if args.full else 300)
    ladder_table(40_000 if args.full else 20_000)
    print(f"\n({time.perf_counter() - t0:.0f} s; numpy {np.__version__}, threads pinned to 1)")


if __name__ == "__main__":
    main()
