"""bench.json's ``ladder`` block: the fixed sequence over the rungs, rebuilt from the run folder.

The same :func:`rankbench.bench.ladder.ladder_sequence` the bench ran decides again here, reading each
reached rung's entry of ``compressed`` instead of building it, so the block is a function of the
records alone (``rankbench report --rebuild``) and says exactly what the run did.
"""

from __future__ import annotations

from rankbench.bench.ladder import ladder_sequence, outcome_from_ci
from rankbench.bench.variants import rung_jobs, variant_jobs
from rankbench.errors import RankbenchError
from rankbench.keys import VERDICT


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
