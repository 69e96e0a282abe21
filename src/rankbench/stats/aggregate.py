"""One variant's block of bench_aggregate.json, computed from its per-seed records (pure: no file I/O)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.stats._validate import check_confidence, check_tolerance, paired_differences
from rankbench.stats.bootstrap import hierarchical_bootstrap_delta
from rankbench.stats.paired import noninferiority, paired_delta
from rankbench.stats.power import statistical_power
from rankbench.stats.seeds import summarize, t_interval

RECORD_KEYS = (
    "seed",
    "accuracy",
    "delta_vs_probe",
    "param_reduction",
    "verdict",
    "probe_scores",
    "variant_scores",
)
# A record's delta_vs_probe must equal mean(variant_scores) − mean(probe_scores) within this.
DELTA_CONSISTENCY = 1e-6


def _plain(value: Any) -> Any:
    """numpy scalars become Python ones, so the block serialises with json.dumps."""
    return value.item() if isinstance(value, np.generic) else value


def _check_records(per_seed: list[dict[str, Any]]) -> None:
    if not per_seed:
        raise RankbenchError("no per-seed records to aggregate", hint="run at least one seed first")
    seen = set()
    for i, rec in enumerate(per_seed):
        named = isinstance(rec, dict) and "seed" in rec
        where = f"seed record #{i}" + (f" (seed {rec['seed']})" if named else "")
        if not isinstance(rec, dict):
            raise RankbenchError(f"{where} must be a mapping, got {type(rec).__name__}")
        missing = [k for k in RECORD_KEYS if k not in rec]
        if missing:
            raise RankbenchError(f"{where} lacks key(s): {', '.join(missing)}")
        if rec["verdict"] not in ("PASS", "FAIL"):
            raise RankbenchError(f"{where} has verdict {rec['verdict']!r}; expected 'PASS' or 'FAIL'")
        if rec["seed"] in seen:
            raise RankbenchError(f"{where}: seed {rec['seed']} appears twice", hint="list each seed once")
        seen.add(rec["seed"])
        probe, variant, _ = paired_differences(rec["probe_scores"], rec["variant_scores"], where=where)
        computed = float(variant.mean() - probe.mean())
        if abs(float(rec["delta_vs_probe"]) - computed) > DELTA_CONSISTENCY:
            raise RankbenchError(
                f"{where}: delta_vs_probe is {float(rec['delta_vs_probe']):.6g} but its scores give "
                f"{computed:.6g}",
                hint="keep unrounded values in the records, and attach each seed's own per-item scores",
            )


def aggregate_variant(
    per_seed: list[dict[str, Any]],
    *,
    tolerance: float,
    confidence: float = 0.95,
    n_boot: int = 2000,
    boot_seed: int = 0,
) -> dict[str, Any]:
    """The variant block of bench_aggregate.json from records like
    {"seed", "accuracy", "delta_vs_probe", "param_reduction", "verdict", "probe_scores", "variant_scores"}.

    Returns (seed-format keys first): ``rank`` (only when every record has the same one),
    ``accuracy`` / ``delta_vs_probe`` / ``param_reduction`` as :func:`summarize` dicts, ``pass_rate``
    (#PASS / n), ``verdict_distribution`` {"PASS", "FAIL"}; then ``n_seeds``, ``seeds``, ``tolerance``,
    ``confidence``, ``worst_seed_delta`` (min Δ) with its ``worst_seed``, ``delta_ci_t``
    (:func:`t_interval` of the per-seed Δ), ``delta_ci_pooled`` (:func:`hierarchical_bootstrap_delta`),
    ``pooled_verdict`` (:func:`noninferiority` on the pooled interval), ``power``
    (:func:`statistical_power` from the pooled se) and ``notes`` (e.g. a recorded per-seed verdict that
    the scores do not reproduce).
    """
    tolerance = check_tolerance(tolerance)
    confidence = check_confidence(confidence)
    _check_records(per_seed)
    seeds = [_plain(rec["seed"]) for rec in per_seed]
    deltas = [float(rec["delta_vs_probe"]) for rec in per_seed]
    verdicts = [rec["verdict"] for rec in per_seed]
    pairs = [(rec["probe_scores"], rec["variant_scores"]) for rec in per_seed]
    notes = []
    for seed, verdict, (probe, variant) in zip(seeds, verdicts, pairs, strict=True):
        redone = noninferiority(paired_delta(probe, variant, confidence=confidence), tolerance).verdict
        if redone != verdict:
            notes.append(f"seed {seed}: recorded verdict {verdict}, but its scores give {redone}")
    pooled = hierarchical_bootstrap_delta(pairs, n_boot=n_boot, confidence=confidence, seed=boot_seed)
    worst = int(np.argmin(deltas))
    n_pass = verdicts.count("PASS")
    block: dict[str, Any] = {}
    ranks = {rec.get("rank") for rec in per_seed}
    if len(ranks) == 1 and None not in ranks:
        block["rank"] = _plain(ranks.pop())
    block.update(
        {
            "accuracy": summarize([rec["accuracy"] for rec in per_seed]),
            "delta_vs_probe": summarize(deltas),
            "param_reduction": summarize([rec["param_reduction"] for rec in per_seed]),
            "pass_rate": n_pass / len(per_seed),
            "verdict_distribution": {"PASS": n_pass, "FAIL": len(per_seed) - n_pass},
            "n_seeds": len(per_seed),
            "seeds": seeds,
            "tolerance": tolerance,
            "confidence": confidence,
            "worst_seed_delta": deltas[worst],
            "worst_seed": seeds[worst],
            "delta_ci_t": t_interval(deltas, confidence).to_dict(),
            "delta_ci_pooled": pooled.to_dict(),
            "pooled_verdict": noninferiority(pooled, tolerance).to_dict(),
            "power": statistical_power(
                pooled.se, tolerance, n_seeds=len(per_seed), confidence=confidence
            ).to_dict(),
            "notes": notes,
        }
    )
    return block
