"""One variant's block of bench_aggregate.json, computed from its per-seed records (pure: no file I/O)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.keys import DECISION_CI, DELTA, PARAM_REDUCTION, PASS_RATE, VERDICT
from rankbench.stats._validate import check_confidence, check_tolerance, paired_differences
from rankbench.stats.bootstrap import hierarchical_bootstrap_delta
from rankbench.stats.decision import SeedDiffs, decision_interval
from rankbench.stats.paired import noninferiority, paired_delta
from rankbench.stats.power import statistical_power
from rankbench.stats.seeds import summarize, t_interval

RECORD_KEYS = (
    "seed",
    "accuracy",
    DELTA,
    PARAM_REDUCTION,
    VERDICT,
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
        if rec[VERDICT] not in ("PASS", "FAIL"):
            raise RankbenchError(f"{where} has verdict {rec[VERDICT]!r}; expected 'PASS' or 'FAIL'")
        if rec["seed"] in seen:
            raise RankbenchError(f"{where}: seed {rec['seed']} appears twice", hint="list each seed once")
        seen.add(rec["seed"])
        probe, variant, _ = paired_differences(rec["probe_scores"], rec["variant_scores"], where=where)
        computed = float(variant.mean() - probe.mean())
        if abs(float(rec[DELTA]) - computed) > DELTA_CONSISTENCY:
            raise RankbenchError(
                f"{where}: {DELTA} is {float(rec[DELTA]):.6g} but its scores give {computed:.6g}",
                hint="keep unrounded values in the records, and attach each seed's own per-item scores",
            )


def _seed_results(per_seed, tolerance, confidence):
    """Per seed: its PairedDelta (Tango / paired t), verdict at ``tolerance``, and SeedDiffs."""
    out = []
    for rec in per_seed:
        pd = paired_delta(rec["probe_scores"], rec["variant_scores"], confidence=confidence)
        _, _, d = paired_differences(rec["probe_scores"], rec["variant_scores"])
        ids = rec.get("item_ids")
        diffs = SeedDiffs(d, None if ids is None else tuple(map(str, ids)), float(pd.se or 0.0))
        out.append((pd, noninferiority(pd, tolerance).verdict, diffs))
    return out


def aggregate_variant(
    per_seed: list[dict[str, Any]],
    *,
    tolerance: float,
    confidence: float = 0.95,
    policy=None,
    n_boot: int = 2000,
    boot_seed: int = 0,
) -> dict[str, Any]:
    """The variant block of bench_aggregate.json from records like
    {"seed", "accuracy", "delta_vs_probe", "param_reduction", "verdict", "probe_scores",
    "variant_scores"} and optionally "item_ids" (the eval items, to detect items shared by seeds).

    ``tolerance`` is the one in force (the policy's when it sets one): every per-seed verdict is
    recomputed at it from the scores (Tango for 1/0 scores). Returns (seed-format keys first):
    ``rank`` (only when every record has the same one), ``accuracy`` / ``delta_vs_probe`` /
    ``param_reduction`` as :func:`summarize` dicts, ``pass_rate`` (#PASS / n), ``verdict_distribution``;
    then ``decision_ci`` (:func:`~rankbench.stats.decision.decision_interval`, the interval the verdict
    and the policy use) with its ``decision_verdict``, ``discordant`` (per seed: items only the variant
    got right, only the probe, and n), ``power`` (from the decision interval), ``per_seed_verdicts``,
    ``worst_seed_delta`` / ``worst_seed``, the descriptive ``delta_ci_t`` and ``delta_ci_pooled``
    (hierarchical bootstrap) with ``pooled_verdict``, ``policy_pass_probability`` (when a policy is
    given) and ``notes``.
    """
    tolerance = check_tolerance(tolerance)
    confidence = check_confidence(confidence)
    _check_records(per_seed)
    seeds = [_plain(rec["seed"]) for rec in per_seed]
    deltas = [float(rec[DELTA]) for rec in per_seed]
    results = _seed_results(per_seed, tolerance, confidence)
    verdicts = [v for _, v, _ in results]
    decision = decision_interval([diffs for _, _, diffs in results], confidence)
    worst = int(np.argmin(deltas))
    block = _seed_format_keys(per_seed, seeds, deltas, verdicts)
    block.update(
        {
            "tolerance": tolerance,
            "confidence": confidence,
            DECISION_CI: decision.ci(),
            "decision_verdict": _decision_verdict(decision, tolerance),
            "discordant": _discordant(results),
            "power": statistical_power(
                decision.se, tolerance, n_seeds=len(per_seed), confidence=confidence, df=decision.df
            ).to_dict(),
            "per_seed_verdicts": verdicts,
            "worst_seed_delta": deltas[worst],
            "worst_seed": seeds[worst],
            "delta_ci_t": t_interval(deltas, confidence).to_dict(),
            **_pooled(per_seed, tolerance, confidence, n_boot, boot_seed),
            "notes": _verdict_notes(per_seed, seeds, verdicts, tolerance) + list(decision.notes),
        }
    )
    if policy is not None:
        block["policy_pass_probability"] = _pass_probability(policy, results, decision, tolerance, confidence)
    return block


def _seed_format_keys(per_seed, seeds, deltas, verdicts) -> dict[str, Any]:
    """The keys of the seed format: ``rank`` (when every record has the same one), the summaries of
    accuracy, Δ and parameter reduction, the pass rate and verdict counts, and the seeds."""
    n_pass = verdicts.count("PASS")
    block: dict[str, Any] = {}
    ranks = {rec.get("rank") for rec in per_seed}
    if len(ranks) == 1 and None not in ranks:
        block["rank"] = _plain(ranks.pop())
    block.update(
        {
            "accuracy": summarize([rec["accuracy"] for rec in per_seed]),
            DELTA: summarize(deltas),
            PARAM_REDUCTION: summarize([rec[PARAM_REDUCTION] for rec in per_seed]),
            PASS_RATE: n_pass / len(per_seed),
            "verdict_distribution": {"PASS": n_pass, "FAIL": len(per_seed) - n_pass},
            "n_seeds": len(per_seed),
            "seeds": seeds,
        }
    )
    return block


def _pooled(per_seed, tolerance, confidence, n_boot, boot_seed) -> dict[str, Any]:
    """The descriptive pooled Δ (hierarchical bootstrap over seeds, then items) and its verdict."""
    pairs = [(rec["probe_scores"], rec["variant_scores"]) for rec in per_seed]
    pooled = hierarchical_bootstrap_delta(pairs, n_boot=n_boot, confidence=confidence, seed=boot_seed)
    return {
        "delta_ci_pooled": pooled.to_dict(),
        "pooled_verdict": noninferiority(pooled, tolerance).to_dict(),
    }


def _verdict_notes(per_seed, seeds, verdicts, tolerance) -> list[str]:
    """A note for every seed whose recorded verdict differs from the one its scores give at ``tolerance``."""
    return [
        f"seed {seed}: recorded verdict {rec[VERDICT]}, but its scores give {v} at tolerance {tolerance:g}"
        for seed, rec, v in zip(seeds, per_seed, verdicts, strict=True)
        if rec[VERDICT] != v
    ]


def _decision_verdict(decision, tolerance: float) -> dict[str, Any]:
    """The non-inferiority verdict read off the decision interval (FAIL when there is none)."""
    view = SimpleNamespace(
        delta=decision.delta, ci_low=decision.low, se=decision.se, confidence=decision.confidence,
        df=decision.df,
    )  # fmt: skip
    return noninferiority(view, tolerance).to_dict()


def _discordant(results) -> dict[str, Any]:
    """Per seed and in total: items only the variant got right, only the probe, and n (1/0 scores)."""
    b = [pd.variant_only_correct for pd, _, _ in results]
    c = [pd.probe_only_correct for pd, _, _ in results]
    binary = all(x is not None for x in b + c)
    return {
        "variant_only_correct": b,
        "probe_only_correct": c,
        "n_items": [pd.n for pd, _, _ in results],
        "variant_only_total": sum(b) if binary else None,
        "probe_only_total": sum(c) if binary else None,
    }


def _pass_probability(policy, results, decision, tolerance, confidence) -> dict[str, Any]:
    from rankbench.stats.policy_sim import policy_pass_probability

    if not all(pd.binary for pd, _, _ in results):
        return {"probability": None, "notes": ["graded scores: no discordance model to simulate"]}
    counts = [(pd.variant_only_correct, pd.probe_only_correct, pd.n) for pd, _, _ in results]
    return policy_pass_probability(
        policy, counts, tolerance=tolerance, confidence=confidence, cov_term=decision.cov_term
    ).to_dict()
