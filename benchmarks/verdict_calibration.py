"""Do the verdicts hold their stated error rate? Old procedure and new, side by side (prints tables).

A non-inferiority verdict at tolerance τ may PASS a variant that is truly τ worse than the probe at
most 2.5% of the time (the one-sided level of a 95% interval). This script measures that false-PASS
rate at Δ = −τ and, for context, P(PASS) at Δ = 0, for:

**One seed, 1/0 scores** (exact: every (b, c) table is enumerated with its multinomial probability).
n ∈ {200, 2000}, discordance p ∈ {0.5%, 1%, 2%, 8%}; Δ = −τ only where p ≥ τ (a Δ larger than the
discordance is impossible). Old: the paired t-interval, with ±(1 − 0.025^(1/n)) when no item is
discordant. New: Tango's score interval (``rankbench.stats.tango``).

**Seeds** (Monte Carlo, ``--reps`` campaigns per cell, with the MC standard error). S ∈ {3, 5} seeds of
n = 2000 items, seed SD of the true Δ ∈ {0, 0.006, 0.01}, items independent (each seed its own draw)
or shared (every seed the same items). Items differ: each has a discordance propensity
πᵢ = p·gᵢ, gᵢ ~ Gamma(0.5, 2) (mean 1), and a lean eᵢ ~ U(−0.35, 0.35) towards the variant or the
probe; in seed s a discordant item favours the variant with probability ½ + (Δ + uₛ)/(2p) + eᵢ,
uₛ ~ N(0, SD²). With p = 8% the true population Δ is exactly Δ (clipping, counted and printed, is
rare). Old: the hierarchical percentile bootstrap (``--boots`` resamples) and policy v1 (pass rate ≥
0.66 of per-seed t verdicts, worst seed ≥ −τ, bootstrap lower bound > −τ, normal power ≥ 0.8). New:
the decision interval (``rankbench.stats.decision``) and policy v2 (a majority of per-seed Tango
verdicts, decision lower bound > −τ).

Target: the new false-PASS rate ≤ 2.5% + 2 MC standard errors in every cell.

    python benchmarks/verdict_calibration.py [--reps 2000] [--boots 1000] [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # numpy's elementwise work needs no BLAS pool; avoid oversubscription

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from rankbench.stats.decision import decision_spread  # noqa: E402
from rankbench.stats.distributions import normal_cdf, normal_ppf, t_ppf  # noqa: E402
from rankbench.stats.tango import tango_lower  # noqa: E402

TOL, ALPHA = 0.01, 0.05
Z = normal_ppf(1 - ALPHA / 2)
LEVEL = ALPHA / 2
_lgamma = np.frompyfunc(math.lgamma, 1, 1)


# --- old procedures (removed from the library; kept here as the baseline) -------------------------


def old_t_lower(b, c, n):
    """Paired t lower bound from discordant counts; ±(1 − (α/2)^(1/n)) when none are discordant."""
    b, c = np.asarray(b, float), np.asarray(c, float)
    mean = (b - c) / n
    var = (b + c - n * mean**2) / (n - 1)
    low = mean - t_ppf(1 - ALPHA / 2, n - 1) * np.sqrt(np.maximum(var, 0) / n)
    return np.where(b + c == 0, -(1 - (ALPHA / 2) ** (1 / n)), low)


def old_bootstrap(rng, b, c, n, boots):
    """(lower bound, se) of the hierarchical percentile bootstrap, per campaign; b, c: (R, S)."""
    reps, seeds = b.shape
    low, se = np.empty(reps), np.empty(reps)
    for r in range(reps):
        pick = rng.integers(0, seeds, size=(boots, seeds))  # resample seeds
        pb, pc = b[r, pick] / n, c[r, pick] / n  # (boots, S)
        pvals = np.stack([pb, pc, 1 - pb - pc], axis=-1).reshape(-1, 3)
        draws = rng.multinomial(n, pvals).reshape(boots, seeds, 3)  # resample items
        theta = ((draws[..., 0] - draws[..., 1]) / n).mean(axis=1)
        low[r], se[r] = np.quantile(theta, LEVEL), theta.std(ddof=1)
        if b[r].sum() + c[r].sum() == 0:
            low[r] = -(1 - (ALPHA / 2) ** (1 / (n * seeds)))
    return low, se


# --- one seed: exact enumeration ------------------------------------------------------------------


def single_seed_rates(n: int, p: float, delta: float) -> tuple[float, float]:
    """(P(PASS) old, P(PASS) new) at true Δ = delta, summed exactly over every (b, c)."""
    p_b, p_c = (p + delta) / 2, (p - delta) / 2
    k = int(n * p + 12 * math.sqrt(n * p) + 30)
    b, c = np.meshgrid(np.arange(min(k, n) + 1), np.arange(min(k, n) + 1), indexing="ij")
    ok = b + c <= n
    b, c = b[ok].astype(float), c[ok].astype(float)
    logp = (
        math.lgamma(n + 1)
        - _lgamma(b + 1).astype(float)
        - _lgamma(c + 1).astype(float)
        - _lgamma(n - b - c + 1).astype(float)
        + _xlogy(b, p_b)
        + _xlogy(c, p_c)
        + (n - b - c) * math.log1p(-p)
    )
    prob = np.exp(logp)
    old = prob[old_t_lower(b, c, n) > -TOL].sum()
    new = prob[tango_lower(b, c, n, Z) > -TOL].sum()
    return float(old), float(new)


def _xlogy(x, y):
    return np.where(x > 0, x * math.log(y) if y > 0 else -np.inf, 0.0)


def single_seed_table() -> None:
    print("\n## One seed, 1/0 scores (exact), tolerance 0.01, nominal false-PASS 2.5%\n")
    print("| n | discordance | false PASS at Δ = −0.01: old | new | P(PASS) at Δ = 0: old | new |")
    print("|---|---|---|---|---|---|")
    for n in (200, 2000):
        for p in (0.005, 0.01, 0.02, 0.08):
            at0 = single_seed_rates(n, p, 0.0)
            if p >= TOL:
                fp = single_seed_rates(n, p, -TOL)
                fp_txt = f"{fp[0]:.4f} | {fp[1]:.4f}"
            else:
                fp_txt = "infeasible | infeasible"
            print(f"| {n} | {p:.1%} | {fp_txt} | {at0[0]:.4f} | {at0[1]:.4f} |")


# --- seeds: Monte Carlo ---------------------------------------------------------------------------

P_DISC, LEAN, N_ITEMS = 0.08, 0.35, 2000


def _items(rng, reps, n):
    g = rng.gamma(0.5, 2.0, size=(reps, n))
    return np.minimum(P_DISC * g, 1.0), rng.uniform(-LEAN, LEAN, size=(reps, n))


def simulate_campaigns(rng, reps, seeds, seed_sd, shared, delta):
    """Per-item differences d, shape (reps, S, n), and the share of clipped probabilities."""
    if shared:
        pi, lean = _items(rng, reps, N_ITEMS)
        pi, lean = pi[:, None, :], lean[:, None, :]
    else:
        pi, lean = _items(rng, reps * seeds, N_ITEMS)
        pi, lean = pi.reshape(reps, seeds, -1), lean.reshape(reps, seeds, -1)
    u = rng.normal(0.0, seed_sd, size=(reps, seeds, 1)) if seed_sd > 0 else 0.0
    q = 0.5 + (delta + u) / (2 * P_DISC) + lean
    clipped = float(np.mean((q < 0) | (q > 1)))
    q = np.clip(q, 0.0, 1.0)
    disc = rng.random((reps, seeds, N_ITEMS)) < pi
    plus = rng.random((reps, seeds, N_ITEMS)) < q
    return np.where(disc, np.where(plus, 1, -1), 0).astype(np.int8), clipped


def new_procedure(d):
    """(decision lower bound, policy v2 passes) per campaign, from per-item differences (R, S, n)."""
    reps, seeds, n = d.shape
    b, c = (d == 1).sum(axis=2), (d == -1).sum(axis=2)
    means = (b - c) / n
    low_seed = tango_lower(b, c, n, Z)
    return _decision(d, means, (means - low_seed) / Z), low_seed > -TOL


def _decision(d, means, ses):
    reps, seeds, n = d.shape
    centred = d - means[:, :, None]
    gram = np.einsum("rsi,rti->rst", centred, centred) / (n - 1)  # (R, S, S) item covariances
    upper = np.triu_indices(seeds, 1)
    cov_v = np.maximum(gram[:, upper[0], upper[1]].mean(axis=1), 0.0)  # pooled over seed pairs
    half = decision_spread(means, ses, cov_v / n, 1 - ALPHA)[0]  # all n items shared: Ĉ = σ̂²ᵥ·n/n²
    return means.mean(axis=1) - half


def seed_cell(rng, reps, seeds, seed_sd, shared, delta, boots):
    out = {"old_ci": 0, "new_ci": 0, "old_policy": 0, "new_policy": 0, "clipped": 0.0}
    chunk = 100
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        d, clipped = simulate_campaigns(rng, m, seeds, seed_sd, shared, delta)
        new_low, seed_pass = new_procedure(d) if shared else _independent(d)
        b, c = (d == 1).sum(axis=2), (d == -1).sum(axis=2)
        boot_low, boot_se = old_bootstrap(rng, b, c, N_ITEMS, boots)
        deltas = (b - c) / N_ITEMS
        old_seed_pass = old_t_lower(b, c, N_ITEMS) > -TOL
        power = np.array([normal_cdf(TOL / s - Z) if s > 0 else 1.0 for s in boot_se])
        old_policy = (
            (old_seed_pass.mean(axis=1) >= 0.66 - 1e-12)
            & (deltas.min(axis=1) >= -TOL - 1e-12)
            & (boot_low > -TOL)
            & (power >= 0.8)
        )
        new_policy = (seed_pass.mean(axis=1) > 0.5) & (new_low > -TOL)
        out["old_ci"] += int((boot_low > -TOL).sum())
        out["new_ci"] += int((new_low > -TOL).sum())
        out["old_policy"] += int(old_policy.sum())
        out["new_policy"] += int(new_policy.sum())
        out["clipped"] += clipped * m / reps
    return {k: (v / reps if k != "clipped" else v) for k, v in out.items()}


def _independent(d):
    """Independent items: no item is shared, so the decision interval has no shared-item term."""
    reps, seeds, n = d.shape
    b, c = (d == 1).sum(axis=2), (d == -1).sum(axis=2)
    means = (b - c) / n
    low_seed = tango_lower(b, c, n, Z)
    half = decision_spread(means, (means - low_seed) / Z, 0.0, 1 - ALPHA)[0]
    return means.mean(axis=1) - half, low_seed > -TOL


def seeds_table(reps: int, boots: int, quick: bool) -> None:
    rng = np.random.default_rng(20261130)
    mc = math.sqrt(LEVEL * (1 - LEVEL) / reps)
    print(
        f"\n## Seeds: {N_ITEMS} items a seed, discordance {P_DISC:.0%}, tolerance {TOL}, {reps} campaigns a cell"
    )
    print(f"MC standard error at 2.5%: {mc:.4f}; target: new false PASS ≤ {LEVEL + 2 * mc:.4f}\n")
    print("| S | seed SD | items | false PASS, interval: old | new | false PASS, policy: old | new "
          "| P(PASS) at Δ = 0, policy: old | new | clipped |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for seeds in (3, 5):
        for sd in (0.0, 0.006, 0.01):
            for shared in (False, True):
                if quick and (sd == 0.006 or seeds == 5):
                    continue
                fp = seed_cell(rng, reps, seeds, sd, shared, -TOL, boots)
                at0 = seed_cell(rng, reps, seeds, sd, shared, 0.0, boots)
                worst = max(worst, fp["new_ci"], fp["new_policy"])
                print(
                    f"| {seeds} | {sd} | {'shared' if shared else 'independent'} | {fp['old_ci']:.4f} | "
                    f"{fp['new_ci']:.4f} | {fp['old_policy']:.4f} | {fp['new_policy']:.4f} | "
                    f"{at0['old_policy']:.3f} | {at0['new_policy']:.3f} | {max(fp['clipped'], at0['clipped']):.1e} |"
                )
    verdict = "met" if worst <= LEVEL + 2 * mc else "NOT met"
    print(f"\nLargest new false-PASS rate: {worst:.4f} (target ≤ {LEVEL + 2 * mc:.4f}): {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2000, help="campaigns per seed cell")
    ap.add_argument("--boots", type=int, default=1000, help="bootstrap resamples per campaign (old)")
    ap.add_argument("--quick", action="store_true", help="fewer seed cells (a smoke check)")
    ap.add_argument("--skip-single", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if not args.skip_single:
        single_seed_table()
    seeds_table(args.reps, args.boots, args.quick)
    print(f"\n({time.perf_counter() - t0:.0f} s; numpy {np.__version__}, threads pinned to 1)")


if __name__ == "__main__":
    main()
