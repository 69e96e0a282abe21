"""Rank-selection rules: one module's singular values in, one rank out.

Every tool that shrinks a LoRA picks a rank with its own rule and most of them call it "90%". Each rule
here is a small pure function over σ₁ ≥ σ₂ ≥ … ≥ σ_r ≥ 0 (the exact spectrum of ΔW = scale·B·A, zeros
included) with its formula and where it comes from, so that a plan can say precisely what it used and
reproduce another tool's choice. Every rule returns an int in [1, r]: a rule that would keep nothing
(an all-zero ΔW, a threshold above σ₁) keeps one direction, and none keeps more than r.

=================  ==========================================================================  ===========
spec               keeps                                                                        source
=================  ==========================================================================  ===========
energy:τ           the smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σ σᵢ²  (cumulative **σ²**)                    PEFT
sv_fro:t           k₀ + 1, k₀ the smallest k with Σᵢ≤ₖ σᵢ² / Σ σᵢ² ≥ t²  (t = 0.9: 81% energy)   kohya
sv_cumulative:t    k₀ + 1, k₀ the smallest k with Σᵢ≤ₖ σᵢ / Σ σᵢ ≥ t  (cumulative **σ**)         kohya
sv_ratio:q         c + 1, c = max(1, #{i : σᵢ > σ₁ / q})  (the σ within a factor q of σ₁, plus one) kohya
threshold:ε        every σᵢ > ε  (absolute, in the units of scale·B·A)                          mergekit
gavish_donoho      every σᵢ > ω(β)·median(σ)  (optimal hard threshold, unknown noise)           [GD14]
stable_rank        k = ⌈Σ σᵢ² / σ₁²⌉                                                            —
effective_rank     k = ⌈exp(H(p))⌉, pᵢ = σᵢ / Σ σⱼ  (Roy & Vetterli 2007)                       —
=================  ==========================================================================  ===========

The three kohya rules keep **one direction beyond** the threshold, because that is what sd-scripts
writes; each is then capped at r and at min(out, in) of the module. The smallest k that meets the
threshold is ``energy:t²`` for ``sv_fro:t`` (``energy:0.81`` for ``sv_fro:0.9``); for sv_cumulative and
sv_ratio it is the kohya rank minus one wherever no cap applied (no separate rule carries it).

Sources, checked against their code:

- PEFT 0.21 ``peft.tuners.lora.conversion._find_cutoff_index``: the first k with cumsum(σ²)[k] ≥ τ·total.
  We use :func:`rankbench.spectral.energy_rank` so that the plan and the audit report the same number;
  it adds a 1e-12 relative slack so that exact ties (σ = [1, 1], τ = 0.5) don't flip on rounding.
- kohya-ss sd-scripts ``networks/resize_lora.py`` (commit 48d368fa): ``index_sv_fro`` /
  ``index_sv_cumulative`` return ``searchsorted(cumsum / total, target) + 1`` (``target**2`` over σ² for
  sv_fro; searchsorted's left side, so a cumulative value equal to the target counts as reaching it),
  ``index_sv_ratio`` returns ``count(S > S[0] / target)``; each clamps its index to [1, len(S) − 1].
  ``rank_resize`` then adds 1 again, so the rank it writes is the smallest k meeting the target plus one
  (count + 1 for sv_ratio), at least 2, at most len(S) = min(out, in·kh·kw); it caps that at
  ``--new_rank`` (``--new_conv_rank`` for convs), and writes rank 1 when σ₁ ≤ 1e-6. Our rules give the
  same number with the cap at the module's r (kohya's ``--new_rank`` equal to the old rank; a larger
  ``--new_rank`` lets kohya keep directions beyond r, which carry only its float32 noise). Where kohya
  is left undefined we stay in range: with min(out, in) = 1 it asks for rank 2 of a rank-1 matrix and
  fails, we keep 1. Two differences remain. kohya takes σ from a float32 SVD of the merged up·down,
  with min(out, in) − r noise values of about 1e-7·σ₁ after the r learned ones: they can move a
  cumulative value that sits within ~1e-5 of the target (and decide a t of exactly 1), where the exact
  σ may give one rank less. And its rank-1 test is the absolute σ₁ ≤ 1e-6 of the unscaled up·down,
  while our σ include the scale, so we force rank 1 only for an exactly zero ΔW.
- mergekit ``scripts/extract_lora.py`` ``--sv-epsilon``: rank = count(σ > ε) (mergekit can return 0;
  we keep at least 1).
- [GD14] Gavish & Donoho, "The optimal hard threshold for singular values is 4/√3", IEEE Trans. Inf.
  Theory 60(8), 2014: for an m×n matrix (β = m/n ≤ 1) with unknown noise level, threshold
  τ = ω(β)·σ_med, ω(β) ≈ 0.56β³ − 0.95β² + 1.82β + 1.43 (their eq. (5) approximation).

What "noise" means for a rank-r factorisation (gavish_donoho): Gavish–Donoho model Y = X + σZ with a
full m×n noise matrix and take σ_med over all min(m, n) singular values of Y. A LoRA update has only r
non-zero singular values; the other min(out, in) − r are exactly 0, so the literal rule (median of all
of them = 0 whenever r < min(out, in)/2) would keep everything. We therefore take the median over the
r learned singular values: "noise" is the part of the update that is spread evenly over the r learned
directions (what SGD puts there without a consistent signal), and the bulk of those r values plays the
role of the Marchenko–Pastur bulk. β is the aspect ratio min(out, in)/max(out, in) of the module's
ΔW as the issue asks. This is a heuristic transfer of an asymptotic result, not a theorem about LoRA.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.names import RULE_NAMES
from rankbench.spectral.metrics import energy_rank, stable_rank

_CEIL_SLACK = 1e-9  # ⌈3.0000000000000004⌉ is 3 here, not 4


def _clamp(k: int, s: np.ndarray) -> int:
    return int(min(max(k, 1), s.size))


def _sigma(s) -> np.ndarray:
    s = np.asarray(s, dtype=np.float64).ravel()
    if not s.size:
        raise ValueError("a module has at least one singular value (r >= 1)")
    if not np.isfinite(s).all() or s.min() < 0:
        raise ValueError("singular values must be finite and non-negative")
    return np.sort(s)[::-1]


def _ceil(x: float) -> int:
    return math.ceil(x * (1.0 - _CEIL_SLACK))


def energy_rule(s, tau: float) -> int:
    """Smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σ σᵢ² (PEFT's convert_to_lora threshold), in [1, r]."""
    s = _sigma(s)
    return _clamp(energy_rank(s, tau), s)


def _kohya_rank(k0: int, s: np.ndarray, shape) -> int:
    """sd-scripts' rank_resize from its index k0 (≥ 1): k0 + 1, at most min(out, in) and r, at least 1."""
    if s[0] == 0.0:  # an exactly zero ΔW (kohya: σ₁ ≤ 1e-6 of the unscaled up·down)
        return 1
    room = min(int(x) for x in shape) if shape is not None else s.size  # kohya's len(S)
    return int(max(1, min(k0 + 1, room, s.size)))


def _first_reaching(cumulative: np.ndarray, target: float) -> int:
    """The smallest k with cumulative[k − 1] ≥ target (len + 1 when none does), as kohya's searchsorted."""
    return int(np.searchsorted(cumulative, target, side="left")) + 1


def sv_fro_rule(s, target: float, shape=None) -> int:
    """kohya sv_fro: one more than the smallest k with Σᵢ≤ₖ σᵢ² / Σ σᵢ² ≥ target², capped (see module)."""
    s = _sigma(s)
    sq = s * s
    total = sq.sum()
    k0 = _first_reaching(np.cumsum(sq) / total, target**2) if total > 0.0 else 1
    return _kohya_rank(k0, s, shape)


def sv_cumulative_rule(s, target: float, shape=None) -> int:
    """kohya sv_cumulative: one more than the smallest k with Σᵢ≤ₖ σᵢ / Σ σᵢ ≥ target, capped."""
    s = _sigma(s)
    total = s.sum()
    k0 = _first_reaching(np.cumsum(s) / total, target) if total > 0.0 else 1
    return _kohya_rank(k0, s, shape)


def sv_ratio_rule(s, ratio: float, shape=None) -> int:
    """kohya sv_ratio: max(1, #{σᵢ > σ₁ / ratio}) + 1, capped (σ₁/σᵢ < ratio, strictly)."""
    s = _sigma(s)
    return _kohya_rank(max(1, int(np.sum(s > s[0] / ratio))), s, shape)


def threshold_rule(s, eps: float) -> int:
    """mergekit --sv-epsilon: the number of σᵢ > ε (absolute), in [1, r]."""
    s = _sigma(s)
    return _clamp(int(np.sum(s > eps)), s)


def gd_omega(beta: float) -> float:
    """ω(β) ≈ 0.56β³ − 0.95β² + 1.82β + 1.43, Gavish & Donoho (2014), unknown-noise threshold factor."""
    return 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43


def gavish_donoho_rule(s, shape: tuple[int, int]) -> int:
    """The number of σᵢ > ω(β)·median(σ), β = min(out, in)/max(out, in); median over the r values."""
    s = _sigma(s)
    out, n_in = (int(x) for x in shape)
    beta = min(out, n_in) / max(out, n_in)
    return _clamp(int(np.sum(s > gd_omega(beta) * float(np.median(s)))), s)


def stable_rank_rule(s) -> int:
    """⌈Σ σᵢ² / σ₁²⌉ (1 for ΔW = 0)."""
    s = _sigma(s)
    return _clamp(_ceil(stable_rank(s)), s)


def effective_rank_rule(s) -> int:
    """⌈exp(H(p))⌉, pᵢ = σᵢ / Σ σⱼ (Roy & Vetterli 2007; 1 for ΔW = 0)."""
    s = _sigma(s)
    total = s.sum()
    if total == 0.0:
        return 1
    p = s / total
    p = p[p > 0]  # same definition as spectral.metrics.effective_rank, but a σ whose p underflows to 0
    return _clamp(_ceil(float(np.exp(-np.sum(p * np.log(p))))), s)  # counts as 0·ln 0 = 0, not NaN


@dataclass(frozen=True)
class RuleInfo:
    fn: Callable
    param: str | None  # the parameter's name, None when the rule takes none
    check: Callable[[float], bool] | None
    expect: str  # what a valid parameter looks like, for errors
    formula: str
    needs_shape: bool = False
    takes_shape: bool = False  # uses the module's shape when given (the kohya rules' min(out, in) cap)


_TABLE: dict[str, RuleInfo] = {
    "energy": RuleInfo(
        energy_rule, "tau", lambda x: 0 < x <= 1, "a fraction in (0, 1]", "smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σσᵢ²"
    ),
    "sv_fro": RuleInfo(
        sv_fro_rule,
        "target",
        lambda x: 0 < x <= 1,
        "a fraction in (0, 1]",
        "k₀+1, k₀ = smallest k with √(Σᵢ≤ₖ σᵢ² / Σσᵢ²) ≥ t, ≤ r (kohya sv_fro; k₀ alone: energy:t²)",
        takes_shape=True,
    ),
    "sv_cumulative": RuleInfo(
        sv_cumulative_rule,
        "target",
        lambda x: 0 < x <= 1,
        "a fraction in (0, 1]",
        "k₀+1, k₀ = smallest k with Σᵢ≤ₖ σᵢ / Σσᵢ ≥ t, ≤ r (kohya sv_cumulative)",
        takes_shape=True,
    ),
    "sv_ratio": RuleInfo(
        sv_ratio_rule,
        "ratio",
        lambda x: x > 0,
        "a positive number",
        "c+1, c = max(1, #{σᵢ > σ₁/q}), ≤ r (kohya sv_ratio)",
        takes_shape=True,
    ),
    "threshold": RuleInfo(
        threshold_rule,
        "eps",
        lambda x: x >= 0,
        "a number >= 0",
        "keep σᵢ > ε (absolute; mergekit sv-epsilon)",
    ),
    "gavish_donoho": RuleInfo(
        gavish_donoho_rule,
        None,
        None,
        "no parameter",
        "keep σᵢ > ω(β)·median(σ) (Gavish–Donoho, unknown noise)",
        needs_shape=True,
    ),
    "stable_rank": RuleInfo(stable_rank_rule, None, None, "no parameter", "k = ⌈Σσᵢ²/σ₁²⌉"),
    "effective_rank": RuleInfo(
        effective_rank_rule, None, None, "no parameter", "k = ⌈exp(H(σ/Σσ))⌉ (Roy & Vetterli)"
    ),
}

if set(_TABLE) != set(RULE_NAMES):  # a rule added here must be named in rankbench.names too, and back
    raise ImportError(
        f"rule table and rankbench.names.RULE_NAMES differ: {sorted(set(_TABLE) ^ set(RULE_NAMES))}"
    )
RULES: dict[str, RuleInfo] = {name: _TABLE[name] for name in RULE_NAMES}  # in the names' order


@dataclass(frozen=True)
class Rule:
    """A parsed rule: ``Rule("energy", 0.9)``; call it on one module's σ (and shape, for gavish_donoho)."""

    name: str
    param: float | None = None
    fn: Callable = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    @property
    def spec(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param:g}"

    def __str__(self) -> str:
        return self.spec

    def __call__(self, s, shape: tuple[int, int] | None = None) -> int:
        info = RULES[self.name]
        if info.needs_shape:
            if shape is None:
                raise ValueError(f"rule {self.name} needs the module's shape (out, in)")
            return info.fn(s, shape)
        if info.takes_shape:
            return info.fn(s, self.param, shape)
        return info.fn(s) if self.param is None else info.fn(s, self.param)

    def describe(self) -> str:
        """``energy:0.9: smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σσᵢ²``."""
        return f"{self.spec}: {RULES[self.name].formula}"


def rule_menu() -> str:
    """``energy:TAU, sv_fro:TARGET, ..., effective_rank``: every rule, from the table."""
    return ", ".join(k if v.param is None else f"{k}:{v.param.upper()}" for k, v in RULES.items())


def parse_rule(spec: str) -> Rule:
    """``"energy:0.9"`` -> Rule("energy", 0.9). Raises RankbenchError for an unknown rule or bad parameter."""
    text = str(spec).strip()
    name, _, raw = text.partition(":")
    info = RULES.get(name)
    if info is None:
        raise RankbenchError(f"unknown rule {name!r}", hint=f"choose one of: {rule_menu()}")
    if info.param is None:
        if raw:
            raise RankbenchError(f"rule {name} takes no parameter, got {text!r}", hint=f"write just {name}")
        return Rule(name, None, info.fn)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not raw or not math.isfinite(value) or not info.check(value):
        raise RankbenchError(
            f"rule {name} needs {info.param} as {info.expect}, got {text!r}",
            hint=f"for example {name}:{'0.9' if 'fraction' in info.expect else '2'}",
        )
    return Rule(name, value, info.fn)
