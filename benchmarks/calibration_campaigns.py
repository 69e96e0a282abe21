"""Campaign cells of ``verdict_calibration.py``: simulated multi-seed campaigns, old and new procedure.

Items differ: each has a discordance propensity πᵢ = p·gᵢ, gᵢ ~ Gamma(0.5, 2) (mean 1), and a lean
eᵢ ~ U(−0.35, 0.35) towards the variant or the probe; in seed s a discordant item favours the variant
with probability ½ + (Δ + uₛ)/(2p) + eᵢ, uₛ ~ N(0, SD²). Items are independent (each seed its own
draw) or shared (every seed the same items). That probability is clipped to [0, 1] (the share is
counted), and Δ inside it is shifted so that the population Δ after clipping is exactly the target.

Old (the procedure before issue 22): the decision interval with a Satterthwaite df from the observed
spread, and policy v2 (a majority of per-seed Tango verdicts and the interval). New: the interval with
S − 1 df, and policy v3 (the interval alone, at least 3 seeds).
"""

from __future__ import annotations

import functools

import numpy as np

from rankbench.stats.decision import decision_spread, t_quantile
from rankbench.stats.distributions import normal_ppf
from rankbench.stats.tango import tango_lower

TOL, ALPHA = 0.01, 0.05
Z = normal_ppf(1 - ALPHA / 2)
P_DISC, LEAN, N_ITEMS = 0.08, 0.35, 2000


def old_decision_half(means, ses, cov_term):
    """The removed Satterthwaite version: df = (S − 1)·V²/(s²/S)², at least S − 1; same floor."""
    n_seeds = means.shape[-1]
    seed_var = means.var(axis=-1, ddof=1) / n_seeds
    var = seed_var + cov_term
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(seed_var > 0, np.minimum((n_seeds - 1) * var**2 / seed_var**2, 1e6), 1e6)
    df = np.maximum(df, n_seeds - 1.0)
    q = np.vectorize(lambda x: t_quantile(1 - ALPHA / 2, x), otypes=[float])(df)
    floor = np.square(ses).sum(axis=-1) / n_seeds**2
    return np.maximum(q * np.sqrt(var), Z * np.sqrt(floor))


@functools.cache
def _shift(delta: float, seed_sd: float) -> float:
    """The shift δ in the lean model whose population Δ, after clipping q to [0, 1], is exactly ``delta``.

    Population Δ = E[π]·E[2·clip(½ + (δ + u)/(2p) + e) − 1], u ~ N(0, SD²), e ~ U(−0.35, 0.35), π
    independent of both; computed by quadrature and solved for δ by bisection. Without it, clipping
    at Δ = −τ pulls the true Δ towards 0 by up to 3% of τ at seed SD 0.02, which reads as false PASS.
    """
    x = np.linspace(-8.0, 8.0, 4001)  # standard normal grid for u and for √g (g ~ χ²₁ = Gamma(0.5, 2))
    w = np.exp(-x * x / 2.0)
    w /= w.sum()
    mean_pi = float(np.sum(w * np.minimum(P_DISC * x * x, 1.0)))
    e = np.linspace(-LEAN, LEAN, 2001)
    u = seed_sd * x if seed_sd > 0 else np.zeros(1)
    wu = w if seed_sd > 0 else np.ones(1)

    def population(shift: float) -> float:
        q = np.clip(0.5 + (shift + u[:, None]) / (2 * P_DISC) + e[None, :], 0.0, 1.0)
        return mean_pi * float(np.sum(wu[:, None] * (2.0 * q - 1.0)) / e.size)

    lo, hi = -4 * P_DISC, 4 * P_DISC
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if population(mid) < delta else (lo, mid)
    return 0.5 * (lo + hi)


def _items(rng, reps, n):
    g = rng.gamma(0.5, 2.0, size=(reps, n))
    return np.minimum(P_DISC * g, 1.0), rng.uniform(-LEAN, LEAN, size=(reps, n))


def simulate(rng, reps, seeds, seed_sd, shared, delta):
    """Per-item differences d, shape (reps, S, n), and the share of clipped probabilities."""
    if shared:
        pi, lean = _items(rng, reps, N_ITEMS)
        pi, lean = pi[:, None, :], lean[:, None, :]
    else:
        pi, lean = _items(rng, reps * seeds, N_ITEMS)
        pi, lean = pi.reshape(reps, seeds, -1), lean.reshape(reps, seeds, -1)
    u = rng.normal(0.0, seed_sd, size=(reps, seeds, 1)) if seed_sd > 0 else 0.0
    q = 0.5 + (_shift(delta, seed_sd) + u) / (2 * P_DISC) + lean
    clipped = float(np.mean((q < 0) | (q > 1)))
    q = np.clip(q, 0.0, 1.0)
    disc = rng.random((reps, seeds, N_ITEMS)) < pi
    plus = rng.random((reps, seeds, N_ITEMS)) < q
    return np.where(disc, np.where(plus, 1, -1), 0).astype(np.int8), clipped


def decide(d, shared):
    """Per campaign: (old lower bound, new lower bound, share of seeds passing on their own)."""
    _, seeds, n = d.shape
    b, c = (d == 1).sum(axis=2), (d == -1).sum(axis=2)
    means = (b - c) / n
    low_seed = tango_lower(b, c, n, Z)  # (R, S); n = 2,000: the exact critical value is z + 0.01
    ses = (means - low_seed) / Z
    cov = 0.0
    if shared:
        centred = (d - means[:, :, None]).astype(np.float32)
        gram = np.einsum("rsi,rti->rst", centred, centred) / (n - 1)  # (R, S, S)
        upper = np.triu_indices(seeds, 1)
        cov = np.maximum(gram[:, upper[0], upper[1]].mean(axis=1), 0.0) / n  # all n items shared
    centre = means.mean(axis=1)
    new = centre - decision_spread(means, ses, cov, 1 - ALPHA)[0]
    old = centre - old_decision_half(means, ses, cov)
    return old, new, (low_seed > -TOL).mean(axis=1)


def campaign_cell(rng, reps, seeds, seed_sd, shared, delta, chunk=100):
    """Rates over ``reps`` campaigns: interval and policy PASS, old and new, and the clipped share."""
    keys = ("old_ci", "new_ci", "old_policy", "new_policy")
    out = dict.fromkeys(keys, 0)
    clipped = 0.0
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        d, clip = simulate(rng, m, seeds, seed_sd, shared, delta)
        old, new, seed_pass = decide(d, shared)
        out["old_ci"] += int((old > -TOL).sum())
        out["new_ci"] += int((new > -TOL).sum())
        out["old_policy"] += int(((seed_pass > 0.5) & (old > -TOL)).sum())  # v2: majority + interval
        out["new_policy"] += int((new > -TOL).sum())  # v3: the interval (S ≥ 3 here)
        clipped += clip * m / reps
    return {**{k: v / reps for k, v in out.items()}, "clipped": clipped}
