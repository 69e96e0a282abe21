"""The ladder inside a bench: the rungs, truncations of the probe from largest to smallest, tested in
their fixed order with the probe as reference (:mod:`rankbench.stats.ladder` holds the procedure).

:func:`ladder_sequence` is the one place that turns the rungs and the plans into the fixed sequence. The
bench calls it with an ``evaluate`` that builds a rung's stage and judges it, so a rung after the first
failure never gets a stage; bench.json calls it with one that reads the finished stages, so the
artifact's ladder block is a function of the run folder alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rankbench.bench.variants import VariantJob


def rung_max_rank(plan: dict) -> int:
    return max(int(k) for k in (plan.get("ranks") or {}).values())


def ladder_sequence(cfg, jobs: Sequence[VariantJob], plans: dict, evaluate: Callable[[VariantJob], object]):
    """The :class:`~rankbench.stats.ladder.LadderResult` of ``jobs`` (the rungs, in order), with the
    serving cap applied (``compression.max_rank``) and ``evaluate(job) -> RungOutcome`` called only
    for the rungs the sequence reaches."""
    from rankbench.stats.ladder import Rung, cap_rungs, run_fixed_sequence

    c = cfg.compression
    rung_plans = [plans[job.row.plan_name] for job in jobs]
    kept, removed = cap_rungs([rung_max_rank(p) for p in rung_plans], c.max_rank)
    rungs = [
        Rung(
            plan=jobs[i].row.base_plan,
            ranks=dict(rung_plans[i].get("ranks") or {}),
            parameters=rung_plans[i].get("lora_params"),
        )
        for i in kept
    ]
    return run_fixed_sequence(
        rungs,
        lambda i: evaluate(jobs[kept[i]]),
        tolerance=cfg.eval.tolerance,
        confidence=cfg.eval.confidence,
        evaluate_all=c.evaluate_all,
        removed_by_cap=[jobs[i].row.base_plan for i in removed],
        max_rank=c.max_rank,
    )


def outcome_from_ci(verdict: str, ci: dict):
    """A rung's outcome from the seed format's ``ci`` block of its verdict."""
    from rankbench.stats.ladder import RungOutcome

    keys = ("low", "high", "confidence", "method")
    return RungOutcome(verdict, {k: ci.get(k) for k in keys})


def plan_note(cfg, ci: dict) -> str | None:
    """After the first rung: the items this tolerance needs for 80% power at the discordance seen, when
    the eval set has fewer (None when it has enough)."""
    from rankbench.stats.power import discordance_estimate, plan_items

    n, b, c = ci.get("n"), ci.get("variant_only_correct"), ci.get("probe_only_correct")
    if not n or b is None or c is None or b + c == 0:
        return None
    p = discordance_estimate(int(b), int(c), int(n))
    need = plan_items(p, cfg.eval.tolerance, confidence=cfg.eval.confidence).items_per_seed
    if need is None or need <= n:
        return None
    return (
        f"the first rung disagrees with the probe on {b + c} of {n} items ({p:.1%}): about {need:,} items "
        f"would resolve the tolerance {cfg.eval.tolerance:g} with 80% power; with {n} the remaining "
        "rungs may FAIL for want of items rather than quality"
    )
