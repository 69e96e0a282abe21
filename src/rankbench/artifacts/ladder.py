"""bench.json's ``ladder`` block: the fixed sequence over the rungs, rebuilt from the run folder.

The same :func:`rankbench.bench.ladder.ladder_sequence` the bench ran decides again here, reading each
reached rung's entry of ``compressed`` instead of building it, so the block is a function of the
records alone (``rankbench report --rebuild``) and says exactly what the run did.
"""

from __future__ import annotations

from rankbench.bench.ladder import ladder_sequence, outcome_from_ci
from rankbench.bench.variants import rung_jobs, variant_jobs
from rankbench.errors import RankbenchError
from rankbench.keys import DECISION_CI, POLICY_RESULT, VERDICT


def ladder_block(cfg, compressed: dict, plans: dict | None) -> dict | None:
    """The ladder block (None when the config has no ladder or the plans were never made)."""
    jobs = rung_jobs(variant_jobs(cfg.compression))
    if not jobs or plans is None:
        return None

    def evaluate(job):
        entry = compressed.get(job.key)
        if entry is None:
            raise RankbenchError(
                f"the ladder reached rung {job.row.base_plan} but its stage has not finished",
                hint="run the same `rankbench run` again to finish the bench (it resumes), then rebuild",
            )
        return outcome_from_ci(entry[VERDICT], entry["ci"])

    result = ladder_sequence(cfg, jobs, plans, evaluate).to_dict()
    keys = {job.row.base_plan: job.key for job in jobs}
    for rung in result["rungs"]:
        rung["variant"] = keys[rung["plan"]]  # its entry in `compressed`, where it was evaluated
    menu = sum(1 for _ in jobs)
    result["evaluations_saved"] = menu - result["evaluated"] - len(result["removed_by_cap"])
    return result


def aggregate_ladder_block(runs: list[dict], compressed: dict, *, tolerance: float, confidence: float):
    """bench_aggregate.json's ladder block: the same fixed sequence over the campaign's rung verdicts
    (each rung decided by the claim policy over its seeds, on the decision interval).

    Every seed of a ladder campaign evaluates every rung (the campaign sets ``evaluate_all``), so each
    rung has a pooled block; the sequence stops at the first rung the policy fails, and the rungs after
    it are marked outside the claim (they were evaluated, so nothing was saved)."""
    from rankbench.stats.ladder import RungOutcome, run_fixed_sequence

    first = runs[0]["doc"].get("ladder")
    if not first or not first["rungs"]:
        return None
    keys = [r["variant"] for r in first["rungs"]]
    missing = [k for k in keys if k not in compressed]
    if missing:
        raise RankbenchError(
            f"ladder rung(s) {', '.join(missing)} were not evaluated in every seed",
            hint="a ladder campaign evaluates every rung in every seed: run it with `rankbench run --seeds "
            "... --ladder` (it sets compression.evaluate_all)",
        )

    def evaluate(i: int):
        block = compressed[keys[i]]
        verdict = "PASS" if block[POLICY_RESULT]["passed"] else "FAIL"
        ci = block.get(DECISION_CI) or {}
        return RungOutcome(verdict, {k: ci.get(k) for k in ("low", "high", "confidence", "method")})

    from rankbench.stats.ladder import Rung

    rungs = [
        Rung(plan=r["plan"], ranks=r.get("ranks"), parameters=r.get("parameters")) for r in first["rungs"]
    ]
    result = run_fixed_sequence(
        rungs,
        evaluate,
        tolerance=tolerance,
        confidence=confidence,
        evaluate_all=True,
        removed_by_cap=first.get("removed_by_cap") or (),
        max_rank=first.get("max_rank"),
        reference="the probe, by the claim policy over the seeds",
    ).to_dict()
    for rung, key in zip(result["rungs"], keys, strict=True):
        rung["variant"] = key
    result["evaluations_saved"] = 0
    return result
