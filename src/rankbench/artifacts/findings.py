"""``summary.findings``: what a surprising result means, said in words, derived from the judged variants.

A verdict is PASS or FAIL; some results need a sentence more before a user can act on them: a control
that passes, a variant clearly better than the probe, a "variant" that is the probe itself, a retrain
and a truncation of the same plan that disagree, a run too small to resolve its tolerance. Each finding
is ``{kind, variant, text}`` plus the numbers it rests on; the kinds are named in
:mod:`rankbench.keys` (``FINDING_KINDS``, also their order in the list).

bench.json builds them from its ``compressed`` entries and bench_aggregate.json from its variant blocks,
through one view (:class:`~rankbench.artifacts.judged.Judged`), so both documents say the same thing in the same words. Nothing here
reads a file: the findings are a function of the other keys, so a rebuild gives the same ones.
"""

from __future__ import annotations

import math

from rankbench.artifacts.judged import Judged, Scope, judged_aggregate, judged_bench
from rankbench.bench.variants import VARIANT_TABLE, control_names
from rankbench.keys import (
    BETTER_THAN_PROBE,
    CONTROL_PASSES,
    FINDING_KINDS,
    PARAM_REDUCTION,
    RETRAIN_FAILS_TRUNCATION_PASSES,
    TRUNCATION_FAILS_RETRAIN_PASSES,
    UNDERPOWERED,
    VARIANT_IS_PROBE,
)

MAX_SEEDS = 200  # a campaign that needs more seeds than this is told to change items or tolerance


def bench_findings(compressed: dict, probe: dict, *, tolerance: float, confidence: float, gate_passed: bool):
    """The findings of one run (none when the probe failed its gate: no verdict means anything then)."""
    if not gate_passed:
        return []
    scope = Scope(tolerance, confidence, probe.get("accuracy"), probe.get("rank"), probe.get("rule"))
    return findings(judged_bench(compressed), scope)


def aggregate_findings(compressed: dict, probe: dict, *, tolerance: float, confidence: float, n_seeds: int):
    """The findings of a campaign, from its decision intervals and policy verdicts."""
    accuracy = (probe.get("accuracy") or {}).get("mean")
    scope = Scope(tolerance, confidence, accuracy, probe.get("rank"), None, n_seeds)
    return findings(judged_aggregate(compressed), scope)


def findings(judged: list[Judged], scope: Scope) -> list[dict]:
    """Every finding, grouped by kind in the order of ``FINDING_KINDS``, variants in their order."""
    found = [
        *(control_passes(j, scope) for j in judged if j.variant in control_names() and j.passed),
        *(better_than_probe(j, scope) for j in judged if j.low is not None and j.low > 0),
        *(variant_is_probe(j, scope) for j in judged if is_probe(j)),
        *retrain_against_truncation(judged, scope),
    ]
    if (under := underpowered(judged, scope)) is not None:
        found.append(under)
    return sorted(found, key=lambda f: FINDING_KINDS.index(f["kind"]))  # stable: variant order kept


def is_probe(j: Judged) -> bool:
    """A variant that keeps the probe's rank in every module (no parameter saved), not a designed control."""
    return j.variant not in control_names() and (
        j.role == "control" or (j.reduction is not None and j.reduction <= 0.0)
    )


def _size(j: Judged) -> str:
    if j.rank is not None:
        return f"r={j.rank}"
    return f"a mean r={j.rank_mean:.1f} per module" if j.rank_mean is not None else "its plan's ranks"


def _interval(j: Judged, scope: Scope) -> str:
    if j.low is None:
        return "no interval"
    what = f"decision interval over {scope.n_seeds} seeds" if scope.campaign else "interval"
    return f"{scope.confidence:.0%} {what} of Δ [{j.low:+.3f}, {j.high:+.3f}]"


def _also(j: Judged, scope: Scope) -> str:
    return "" if j.low is None else f", {_interval(j, scope)}"


def _of_probe(j: Judged, scope: Scope) -> str:
    if j.rank is None or scope.probe_rank is None or j.rank >= scope.probe_rank:
        return ""
    return f", r={j.rank} of the probe's r={scope.probe_rank}"


def _counts(j: Judged, scope: Scope) -> str:
    if j.variant_only is None:
        return ""
    over = " (summed over seeds)" if scope.campaign else ""
    return f"; {j.variant_only} items only it got right, {j.probe_only} only the probe{over}"


def _numbers(j: Judged) -> dict:
    """The numbers a finding about one variant rests on."""
    return {
        "delta": j.delta,
        "interval": [j.low, j.high],
        "variant_only_correct": j.variant_only,
        "probe_only_correct": j.probe_only,
        "n_items": j.n_items,
    }


def _passes(scope: Scope) -> str:
    return "meets the policy" if scope.campaign else "passes"


def control_passes(j: Judged, scope: Scope) -> dict:
    row = VARIANT_TABLE.get(j.variant)
    meaning = (
        row.meaning
        if row and row.meaning
        else "the question this control asks of the method is answered against the method"
    ).format(size=_size(j))
    where = f" ({_interval(j, scope)}, above −{scope.tolerance:g})" if j.low is not None else ""
    text = f"Control {j.key} {_passes(scope)}{where}: {meaning}."
    return {"kind": CONTROL_PASSES, "variant": j.key, "text": text, **_numbers(j)}


def better_than_probe(j: Judged, scope: Scope) -> dict:
    scores = (
        f"scores {j.accuracy:.3f} against the probe's {scope.probe_accuracy:.3f}"
        if j.accuracy is not None and scope.probe_accuracy is not None
        else f"has Δ {j.delta:+.3f}"
    )
    text = (
        f"{j.key} ({j.method}{_of_probe(j, scope)}) is significantly better than the probe: it {scores}"
        f"{_counts(j, scope)}; the {_interval(j, scope)} lies wholly above 0. The probe is likely "
        "over-trained (over-fit) for this data: "
        + (
            "fewer directions generalise better, so a smaller rank or fewer training steps may serve better."
            if j.reduction and j.reduction > 0
            else "another training of the same size generalises better."
        )
    )
    return {"kind": BETTER_THAN_PROBE, "variant": j.key, "text": text, **_numbers(j)}


def variant_is_probe(j: Judged, scope: Scope) -> dict:
    rule = f" (rule {scope.rule})" if scope.rule else ""
    what = {
        "truncate": "truncating at the full rank gives the probe back, so its verdict compares the probe "
        "with itself",
        "retrain": "it is a second training at the probe's own rank, so its Δ measures training noise, "
        "not compression",
    }.get(j.method, "it is the probe trained further at its own rank, not a compression")
    text = (
        f"{j.key} keeps the probe's rank in every module (r={scope.probe_rank}, 0% fewer LoRA "
        f"parameters): the {j.variant} plan{rule} asks for all of this adapter's rank. It is not a "
        f"compression, so the bench counts it as a control and never recommends it; {what}."
    )
    return {"kind": VARIANT_IS_PROBE, "variant": j.key, "text": text, PARAM_REDUCTION: j.reduction}


def retrain_against_truncation(judged: list[Judged], scope: Scope) -> list[dict]:
    """A retrain and a truncation of the same compression plan with different verdicts."""
    trunc = {j.variant: j for j in judged if j.method == "truncate" and j.role == "compression"}
    out = []
    for r in judged:
        t = trunc.get(r.variant)
        if r.method != "retrain" or r.role != "compression" or t is None or t.passed == r.passed:
            continue
        pair = f"At {r.variant}'s ranks ({_size(t)}), "
        if t.passed:
            kind = RETRAIN_FAILS_TRUNCATION_PASSES
            text = (
                f"{pair}truncating the probe {_passes(scope)} (Δ {t.delta:+.3f}) but training a fresh "
                f"adapter of that size does not ({r.key}: Δ {r.delta:+.3f}{_also(r, scope)}): the "
                "probe's top directions hold what a fresh training of that size did not learn in the "
                "same steps. Compress the trained adapter rather than retrain at the smaller rank."
            )
        else:
            kind = TRUNCATION_FAILS_RETRAIN_PASSES
            text = (
                f"{pair}a fresh training {_passes(scope)} ({r.key}: Δ {r.delta:+.3f}) but truncating "
                f"the probe does not ({t.key}: Δ {t.delta:+.3f}{_also(t, scope)}): the rank is "
                "enough for the task, but the probe spreads what it learned beyond its top directions. "
                "Retrain at the smaller rank rather than truncate."
            )
        out.append(
            {"kind": kind, "variant": r.key, "text": text, "truncate_variant": t.key,
             "truncate_delta": t.delta, "retrain_delta": r.delta}
        )  # fmt: skip
    return out


def items_to_resolve(n_items: int, mde: float, tolerance: float) -> int:
    """Eval items that bring the 80%-power margin down to ``tolerance``, at the same rate of
    disagreement: the margin is (z_{1−α/2} + z_0.8)·se and se shrinks as 1/√n, so n·(mde/tolerance)²."""
    return math.ceil(n_items * (mde / tolerance) ** 2)


def seeds_to_resolve(n_seeds: int, se: float, df: float | None, tolerance: float, alpha: float) -> int | None:
    """Seeds that bring the decision interval's 80%-power margin down to ``tolerance`` if the per-seed
    spread stays as observed (se shrinks as 1/√S; t quantiles at S − 1 df when the interval uses t);
    None beyond :data:`MAX_SEEDS`."""
    from rankbench.stats import minimum_detectable_effect

    for s in range(n_seeds + 1, MAX_SEEDS + 1):
        scaled = se * math.sqrt(n_seeds / s)
        if minimum_detectable_effect(scaled, alpha=alpha, df=None if df is None else s - 1) <= tolerance:
            return s
    return None


def underpowered(judged: list[Judged], scope: Scope) -> dict | None:
    """One finding for the level: the compressions whose resolvable margin exceeds the tolerance,
    and what would resolve the worst of them. Controls are not the claim, so they do not count."""
    comp = [j for j in judged if j.role == "compression" and j.mde is not None]
    blind = [j for j in comp if j.mde > scope.tolerance]
    if not blind:
        return None
    worst = max(blind, key=lambda j: j.mde)
    head = (
        f"{'The campaign' if scope.campaign else 'This run'} is underpowered: {len(blind)} of {len(comp)} "
        f"compression variants cannot resolve the tolerance {scope.tolerance:g} (the smallest margin "
        f"resolvable with 80% power when Δ = 0 is {worst.mde:.4f} for {worst.key}). It cannot reliably tell "
        f"a loss of {scope.tolerance:g} from none: a FAIL whose interval reaches above −{scope.tolerance:g} "
        "may be the test's blindness rather than a real loss. "
    )
    shown = [j.key for j in blind if j.high is not None and j.high < -scope.tolerance]
    if shown:
        head += (
            f"({', '.join(shown)}: the whole interval lies below −{scope.tolerance:g}, so that loss is "
            "shown all the same.) "
        )
    extra: dict = {"tolerance": scope.tolerance, "mde": worst.mde, "variants": [j.key for j in blind]}
    if scope.campaign:
        alpha = round(1.0 - scope.confidence, 12)
        seeds = (
            seeds_to_resolve(scope.n_seeds, worst.se, worst.df, scope.tolerance, alpha) if worst.se else None
        )
        extra |= {"n_seeds": scope.n_seeds, "seeds_needed": seeds}
        tail = (
            f"If the per-seed spread stays as observed, about {seeds} seeds would resolve it."
            if seeds
            else f"More than {MAX_SEEDS} seeds would be needed: use more eval items per seed or a "
            "larger tolerance."
        )
    else:
        needed = items_to_resolve(worst.n_items, worst.mde, scope.tolerance) if worst.n_items else None
        extra |= {"n_items": worst.n_items, "items_needed": needed}
        disagree = (
            f" ({worst.variant_only + worst.probe_only} of {worst.n_items:,} items)"
            if worst.variant_only is not None
            else ""
        )
        tail = (
            f"At the same rate of disagreement{disagree}, about {needed:,} eval items would resolve it "
            f"for every compression (the margin shrinks as 1/√n; this run has {worst.n_items:,})."
            if needed
            else "More eval items would resolve it."
        )
    return {"kind": UNDERPOWERED, "variant": worst.key, "text": head + tail, **extra}
