"""bench_aggregate.json: single-seed runs of one config pooled over seeds.

The aggregate is a superset of the seed format (../shared/seed/bench_aggregate.json). It reads only
the run folders (bench.json, run_config.json and the per-item predictions), so `rankbench aggregate`
over folders made anywhere, by any executor, gives the same numbers as the campaign that made them.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

from rankbench.artifacts.aggregate_summary import summary_block
from rankbench.artifacts.bench_variants import item_scores
from rankbench.artifacts.ladder import aggregate_ladder_block
from rankbench.bench.config import BENCH_VERSION, canonical_json
from rankbench.bench.runstate import config_diff
from rankbench.errors import RankbenchError
from rankbench.io import read_json
from rankbench.keys import DELTA, PARAM_REDUCTION, POLICY_RESULT, VERDICT
from rankbench.run_layout import (
    AGGREGATE_HTML,
    AGGREGATE_JSON,
    AGGREGATE_MD,
    BENCH_JSON,
    LOCK,
    PROBE_EVAL,
    predictions_path,
    variant_stage,
)

SCHEMA_VERSION = 2  # 2: Tango intervals, decision_ci, new validation levels
ENV_KEYS = (
    "python_version",
    "torch_version",
    "transformers_version",
    "peft_version",
    "cuda_available",
    "gpu_devices",
    "git_commit",
    "git_tag",
    "threads",
    "platform",
)


def load_run(path: Path) -> dict:
    path = Path(path)
    if not (path / BENCH_JSON).is_file():
        raise RankbenchError(
            "no bench.json here: not a finished rankbench run",
            path=path,
            hint="run `rankbench run --output` on it first, or remove it from the list",
        )
    doc = read_json(path / BENCH_JSON)
    if doc.get("kind") != "bench":
        raise RankbenchError("bench.json is not a single-seed rankbench bench", path=path / BENCH_JSON)
    return {"path": path, "doc": doc, "lock": read_json(path / LOCK)}


def is_smoke(run: dict) -> bool:
    return (
        bool(run["doc"].get("smoke"))
        or run["doc"]["env"].get("validation_classification", {}).get("level") == "smoke"
    )


def without_seed(config: dict) -> dict:
    c = copy.deepcopy(config)
    c.get("train", {}).pop("seed", None)
    return c


def check_same_experiment(runs: list[dict]) -> None:
    """Refuse runs whose resolved configs differ in anything but train.seed, naming the keys."""
    ref = runs[0]
    for other in runs[1:]:
        keys = config_diff(without_seed(ref["lock"]["config"]), without_seed(other["lock"]["config"]))
        if keys:
            raise RankbenchError(
                f"runs differ in more than the seed: {', '.join(keys[:12])} "
                f"({ref['path']} vs {other['path']})",
                path=other["path"],
                hint="aggregate only seeds of the same config",
            )
    seeds = [r["doc"]["seed"] for r in runs]
    dupes = sorted({s for s in seeds if seeds.count(s) > 1})
    if dupes:
        raise RankbenchError(
            f"seed {dupes[0]} appears in more than one run", path=runs[0]["path"], hint="each seed once"
        )


def per_seed_records(run: dict, key: str, probe_scores) -> dict:
    v = run["doc"]["compressed"][key]
    ids, scores = item_scores(predictions_path(run["path"], variant_stage(key)))
    return {
        "seed": run["doc"]["seed"],
        "rank": v["rank"],
        "accuracy": v["accuracy"],
        DELTA: float(scores.mean() - probe_scores.mean()),
        PARAM_REDUCTION: v[PARAM_REDUCTION],
        VERDICT: v[VERDICT],
        "probe_scores": probe_scores,
        "variant_scores": scores,
        "item_ids": ids,
    }


def aggregate_runs(
    paths: list[Path], *, include_smoke: bool = False, policy=None, timestamp: str | None = None
) -> dict:
    """bench_aggregate.json from finished run folders (their bench.json, run_config.json and per-item
    predictions) and a claim policy. ``timestamp`` defaults to now."""
    from rankbench.stats import load_policy

    policy = policy or load_policy()
    runs, notes = usable_runs(paths, include_smoke=include_smoke)
    cfg = runs[0]["lock"]["config"]
    # one tolerance throughout: the policy's when it sets one, else the bench's
    tol = policy.tolerance if policy.tolerance is not None else cfg["eval"]["tolerance"]
    compressed = variant_blocks(runs, policy, tol, cfg["eval"]["confidence"])
    ladder = aggregate_ladder_block(runs, compressed, tolerance=tol, confidence=cfg["eval"]["confidence"])
    first, probe = runs[0]["doc"], probe_block(runs)
    return {
        "bench_version": BENCH_VERSION,
        "schema_version": SCHEMA_VERSION,
        "kind": "bench_aggregate",
        "timestamp": timestamp or dt.datetime.now(dt.timezone.utc).isoformat(),
        "aggregation_type": "multi_seed",
        "n_seeds": len(runs),
        "seeds": [r["doc"]["seed"] for r in runs],
        "model": first["model"],
        "task": first["task"],
        "env": {k: first["env"].get(k) for k in ENV_KEYS},
        "git_commit": first.get("git_commit"),
        "probe": probe,
        "compressed": compressed,
        **({"ladder": ladder} if ladder is not None else {}),
        "summary": summary_block(compressed, policy, len(runs), notes, tol, probe),
        "policy": policy.to_dict(),
        "runs": [
            {
                "seed": r["doc"]["seed"],
                "path": str(r["path"]),
                "config_hash": r["lock"]["config_hash"],
                "validation_level": r["doc"]["env"]["validation_classification"]["level"],
            }
            for r in runs
        ],
        "config_metadata": config_metadata(runs),
    }


def usable_runs(paths: list[Path], *, include_smoke: bool) -> tuple[list[dict], list[str]]:
    """The runs to pool, sorted by seed, and notes on what was left out; refuses mixed configs and
    runs whose probe failed its gate."""
    runs = [load_run(p) for p in paths]
    notes: list[str] = []
    smoke = [r for r in runs if is_smoke(r)]
    if smoke and not include_smoke:
        notes.append(
            f"excluded {len(smoke)} smoke run(s): {', '.join(str(r['path']) for r in smoke)} "
            "(use --include-smoke to count them)"
        )
        runs = [r for r in runs if not is_smoke(r)]
    elif smoke:
        notes.append(f"included {len(smoke)} smoke run(s) on request: their numbers prove nothing")
    if not runs:
        raise RankbenchError(
            "no runs left to aggregate",
            path=paths[0] if paths else None,
            hint="smoke runs are excluded unless --include-smoke is given",
        )
    check_same_experiment(runs)
    runs.sort(key=lambda r: r["doc"]["seed"])
    failed_gate = [r for r in runs if not r["doc"]["probe_quality_gate"]["passed"] and not is_smoke(r)]
    if failed_gate:
        raise RankbenchError(
            f"{len(failed_gate)} run(s) failed the probe quality gate",
            path=failed_gate[0]["path"],
            hint="aggregate only runs whose probe passed",
        )
    return runs, notes


def variant_blocks(runs: list[dict], policy, tol: float, conf: float) -> dict:
    """One block per variant every run has: its per-seed records pooled, judged by the policy."""
    from rankbench.artifacts.variant_block import aggregate_variant
    from rankbench.stats import evaluate_policy, summarize

    probe_scores = {r["doc"]["seed"]: item_scores(predictions_path(r["path"], PROBE_EVAL))[1] for r in runs}
    keys = [k for k in runs[0]["doc"]["compressed"] if all(k in r["doc"]["compressed"] for r in runs)]
    compressed = {}
    for key in keys:
        recs = [per_seed_records(r, key, probe_scores[r["doc"]["seed"]]) for r in runs]
        block = aggregate_variant(recs, tolerance=tol, confidence=conf, policy=policy)
        first = runs[0]["doc"]["compressed"][key]
        block.update(
            variant=first["variant"],
            method=first["method"],
            role=first["role"],
            params=summarize([r["doc"]["compressed"][key]["params"] for r in runs]),
        )
        if "rank" not in block:
            block["rank"] = None  # per-module ranks differ between seeds; see each run's bench.json
        result = evaluate_policy(policy, block)
        block[POLICY_RESULT] = result.to_dict()
        block["recommended"] = bool(result.passed) and first["role"] == "compression"
        compressed[key] = block
    return compressed


def config_metadata(runs: list[dict]) -> dict:
    """The experiment's config (without the seed) and the seed format's embedded config."""
    first = runs[0]["doc"]
    embedded = copy.deepcopy(first["config_metadata"]["embedded_config"])
    embedded["train"].pop("seed", None)
    embedded["train"]["seeds"] = [r["doc"]["seed"] for r in runs]
    experiment = without_seed(runs[0]["lock"]["config"])
    return {
        "primary_metric_key": first["config_metadata"]["primary_metric_key"],
        "config_hash": hashlib.sha256(canonical_json(experiment).encode()).hexdigest(),
        "config_hash_of": "the resolved config without train.seed (canonical JSON)",
        "resolved_config": experiment,
        "embedded_config": embedded,
    }


def probe_block(runs: list[dict]) -> dict:
    from rankbench.stats import summarize

    probes = [r["doc"]["probe"] for r in runs]
    return {
        "rank": probes[0]["rank"],
        "accuracy": summarize([p["accuracy"] for p in probes]),
        "params": summarize([float(p["params"]) for p in probes]),
        "utilization_mean": summarize([p["utilization_mean"] for p in probes]),
        "energy_rank_90_p50": summarize([p["energy_rank_90_p50"] for p in probes]),
        "metric_key": probes[0].get("metric_key"),
    }


def write_aggregate(out: Path, doc: dict) -> list[Path]:
    """bench_aggregate.json, .md and (with matplotlib) .html into ``out``; returns the files written."""
    from rankbench.io import atomic_write_json, atomic_write_text
    from rankbench.report.aggregate_md import render_aggregate
    from rankbench.report.html import render_aggregate_html, write_html_if_possible

    atomic_write_json(out / AGGREGATE_JSON, doc)
    atomic_write_text(out / AGGREGATE_MD, render_aggregate(doc))
    page = write_html_if_possible(out / AGGREGATE_HTML, lambda: render_aggregate_html(doc))
    return [out / AGGREGATE_JSON, out / AGGREGATE_MD] + ([out / AGGREGATE_HTML] if page else [])


def rebuild_aggregate(folder: Path) -> dict:
    """bench_aggregate.json rebuilt from the seed folders it lists, with the policy it records; the
    timestamp is kept. A listed path that is not there is looked for inside ``folder`` (a campaign's
    seed_N folders, when the campaign was written from another working directory or moved). Runs the
    original left out (smoke runs it was not asked to count) are not listed, so the note naming them
    is not repeated."""
    from rankbench.stats.policy import Policy

    folder = Path(folder)
    old = read_json(folder / AGGREGATE_JSON)
    if old.get("kind") != "bench_aggregate" or not old.get("runs"):
        raise RankbenchError(
            "bench_aggregate.json lists no runs to rebuild from",
            path=folder / AGGREGATE_JSON,
            hint="rebuild from an unmodified bench_aggregate.json written by rankbench",
        )
    paths = [
        Path(r["path"]) if Path(r["path"]).is_dir() else folder / Path(r["path"]).name for r in old["runs"]
    ]
    try:
        policy = Policy(**old["policy"])
    except (KeyError, TypeError) as exc:
        raise RankbenchError(
            f"bench_aggregate.json records no usable policy ({exc})", path=folder / AGGREGATE_JSON
        ) from None
    smoke = any(r.get("validation_level") == "smoke" for r in old["runs"])
    return aggregate_runs(paths, include_smoke=smoke, policy=policy, timestamp=old.get("timestamp"))
