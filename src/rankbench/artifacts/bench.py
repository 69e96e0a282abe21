"""bench.json: a pure function of a run folder's stage records and its config, never of memory.

The document is a superset of the seed format (../shared/seed/bench.json): every key there keeps its
meaning and type. Ours adds, per variant, the method, the plan and per-module ranks, the paired
confidence interval and the verdict rule; per-stage timings; thread settings; the config hash; and a
validation classification with its reason.

Two inputs are facts about the process that assembles the document rather than records of the run:
the machine's ``env`` (versions, threads, git commit) and the ``timestamp``. The caller passes them
(:func:`assembled_now` at the end of a run); :func:`rebuild_bench` keeps those of the bench.json it
replaces, so a rebuild of an unchanged folder gives the same document.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rankbench.artifacts.bench_summary import classify, invariants, summarize
from rankbench.artifacts.bench_variants import item_scores, variant_entry
from rankbench.artifacts.ladder import ladder_block
from rankbench.bench.config import BENCH_VERSION, BenchConfig
from rankbench.bench.gate import gate_verdict
from rankbench.bench.runstate import RunDir
from rankbench.bench.variants import variant_jobs
from rankbench.errors import RankbenchError
from rankbench.io import read_json
from rankbench.run_layout import (
    AUDIT,
    BENCH_HTML,
    BENCH_JSON,
    BENCH_MD,
    LOCK,
    MARKER,
    PLANS,
    PLANS_FILE,
    PREDICTIONS,
    PROBE,
    PROBE_EVAL,
    PROVENANCE,
)

SCHEMA_VERSION = 2  # 2: Tango intervals, decision_ci, new validation levels
COMPAT_TRAIN_KEYS = ("save_steps", "eval_steps", "logging_steps")
# env keys derived from the records, not facts about the machine
DERIVED_ENV_KEYS = ("model_info", "dataset_info", "validation_classification")
REBUILD_HINT = (
    "run the same `rankbench run --config ... --output RUN` again: it resumes the folder and writes the "
    "record without retraining; then `rankbench report RUN --rebuild` works"
)


def assembled_now() -> dict:
    """The machine facts and time of this process, for :func:`assemble_bench`."""
    from rankbench.provenance import environment

    return {"machine": environment(), "timestamp": dt.datetime.now(dt.timezone.utc).isoformat()}


def kept_context(root: Path) -> dict:
    """The machine facts and timestamp of the bench.json in ``root`` (a rebuild, or a rerun of a
    finished run, changes nothing); this process's when there is none."""
    context = assembled_now()
    if (Path(root) / BENCH_JSON).is_file():
        old = read_json(Path(root) / BENCH_JSON)
        machine = {k: v for k, v in old.get("env", {}).items() if k not in DERIVED_ENV_KEYS}
        context = {"machine": machine, "timestamp": old.get("timestamp", context["timestamp"])}
    return context


def assemble_bench(root: Path, cfg: BenchConfig, *, machine: dict, timestamp: str) -> dict:
    """bench.json of the run folder ``root`` run with ``cfg``, from its stage records alone."""
    run = RunDir(root)
    lock = run.locked_config()
    smoke = bool(lock.get("smoke"))
    inputs = provenance_record(run)
    probe_eval = run.record(PROBE_EVAL)
    gate = gate_verdict(cfg, run, probe_eval, smoke=smoke)
    probe_rec = run.record(PROBE)
    probe = probe_block(run, cfg, probe_rec, probe_eval)
    probe_ids, probe_scores = item_scores(run.stage_dir(PROBE_EVAL) / PREDICTIONS)
    compressed = variants_block(run, cfg, probe, probe_scores, probe_ids)
    plans = read_json(run.stage_dir(PLANS) / PLANS_FILE)["plans"] if run.is_done(PLANS) else None
    ladder = ladder_block(cfg, compressed, plans)
    env = env_block(machine, inputs, cfg)
    env["validation_classification"] = classify(gate, compressed, cfg, smoke=smoke)
    return {
        "bench_version": BENCH_VERSION,
        "schema_version": SCHEMA_VERSION,
        "kind": "bench",
        "timestamp": timestamp,
        "git_commit": env.get("git_commit"),
        "env": env,
        "model": cfg.model.name,
        "task": cfg.task.dataset + (f"/{cfg.task.subset}" if cfg.task.subset else ""),
        "seed": cfg.train.seed,
        "smoke": smoke,
        "probe_quality_gate": {k: gate[k] for k in ("metric_key", "metric_value", "min_value", "passed")}
        | {"status": gate["status"], "min_value_source": gate["min_value_source"]},
        "probe": probe,
        "compressed": compressed,
        **({"ladder": ladder} if ladder is not None else {}),
        "summary": summarize(gate, probe, compressed, cfg),
        "config_metadata": config_metadata(lock, cfg, probe_rec, probe_eval, inputs),
        "protocol_invariants": invariants(gate, compressed, probe_ids, cfg, inputs["data"], smoke=smoke),
        "timings": timings_block(run, cfg, probe_rec, probe_eval, compressed),
    }


def provenance_record(run: RunDir) -> dict:
    """The data and model provenance the run recorded (see ``stage_provenance``)."""
    if not run.is_done(PROVENANCE):
        raise RankbenchError(
            f"this run folder predates the {PROVENANCE} record (where the data and the model came "
            "from), so bench.json cannot be built from the folder alone",
            path=run.stage_dir(PROVENANCE) / MARKER,
            hint=REBUILD_HINT,
        )
    return run.record(PROVENANCE)


def env_block(machine: dict, inputs: dict, cfg: BenchConfig) -> dict:
    """The machine's env plus where the model and the data came from."""
    model_prov, data_prov = inputs["model"], inputs["data"]
    env = dict(machine)
    env["model_info"] = {
        "model_id": model_prov.get("model_id"),
        "revision": model_prov.get("revision"),
        "last_modified": model_prov.get("last_modified"),
        "source": model_prov.get("kind"),
    }
    sizes = data_prov.get("split_sizes", {})
    env["dataset_info"] = {
        "dataset_id": data_prov.get("dataset_id"),
        "revision": data_prov.get("revision"),
        "last_modified": data_prov.get("last_modified"),
        # the seed format names the held-out split "test": here it is the items every variant is scored on
        "split_sizes": {**sizes, "test": sizes.get("eval", inputs["n_eval_items"])},
        "requested_split": data_prov.get("requested_split", cfg.task.split),
        **{
            k: v
            for k, v in data_prov.items()
            if k not in ("dataset_id", "revision", "last_modified", "split_sizes", "requested_split")
        },
    }
    return env


def probe_block(run: RunDir, cfg: BenchConfig, probe_rec: dict, probe_eval: dict) -> dict:
    user = probe_rec.get("adapter")  # the user's own adapter, benched instead of a trained probe
    probe = {
        "rank": cfg.lora.probe_r,
        "params": None,
        "accuracy": probe_eval["value"],
        "metric_key": probe_eval["metric_key"],
        "n_eval_items": probe_eval["n_items"],
        "eval_forward": probe_eval.get("forward"),
        "utilization_mean": None,
        "energy_rank_90_p50": None,
        "energy_rank_90_p90": None,
        "suggested_r_global_median": None,
        "suggested_r_global_90": None,
        "train": probe_rec["train"],
        "source": "user_adapter" if user else "trained",
        "adapter": user,
    }
    if run.is_done(AUDIT):
        summary = run.record(AUDIT)["summary"]
        probe.update(
            params=summary.get("total_lora_params"),
            utilization_mean=summary.get("utilization_mean"),
            energy_rank_90_p50=summary.get("energy_rank_90_p50"),
            energy_rank_90_p90=summary.get("energy_rank_90_p90"),
            non_lora_params=summary.get("non_lora_params"),
        )
    if run.is_done(PLANS):
        plans = read_json(run.stage_dir(PLANS) / PLANS_FILE)["plans"]
        probe["suggested_r_global_median"] = plans["uniform_median"].get("uniform_rank")
        probe["suggested_r_global_90"] = plans["uniform_p90"].get("uniform_rank")
        probe["rule"] = cfg.compression.rule
    return probe


def variants_block(run: RunDir, cfg: BenchConfig, probe: dict, probe_scores, probe_ids) -> dict:
    """Every finished variant's entry, in the config's order."""
    if not run.is_done(PLANS):
        return {}
    plans = read_json(run.stage_dir(PLANS) / PLANS_FILE)["plans"]
    return {
        job.key: variant_entry(run, cfg, job, plans, probe_ids, probe_scores, probe)
        for job in variant_jobs(cfg.compression)
        if run.is_done(job.stage)
    }


def timings_block(run: RunDir, cfg: BenchConfig, probe_rec: dict, probe_eval: dict, compressed: dict) -> dict:
    timings = {
        "probe_import" if probe_rec.get("adapter") else "probe_train": probe_rec["seconds"],
        PROBE_EVAL: probe_eval["seconds"],
    }
    for stage in (AUDIT, PLANS):
        if run.is_done(stage):
            timings[stage] = run.record(stage)["seconds"]
    for job in variant_jobs(cfg.compression):
        if job.key in compressed:
            timings[job.key] = run.record(job.stage)["seconds"]
    timings["total"] = round(sum(v for v in timings.values()), 3)
    return timings


def config_metadata(lock: dict, cfg: BenchConfig, probe_rec: dict, probe_eval: dict, inputs: dict) -> dict:
    resolved = lock["config"]
    return {
        "primary_metric_key": probe_eval["metric_key"],
        "config_hash": lock["config_hash"],
        "config_hash_of": "resolved_config (sha256 of its canonical JSON: sorted keys, no spaces)",
        "resolved_config": resolved,
        "embedded_config": embedded_config(resolved, cfg, probe_rec, inputs["data"]),
    }


def embedded_config(resolved: dict, cfg: BenchConfig, probe_rec: dict, data_prov: dict) -> dict:
    """The resolved config plus the seed format's descriptive keys, derived (never user-set)."""
    import copy

    from rankbench.bench.profiles import get_profile

    emb = copy.deepcopy(resolved)
    emb["model"]["type"] = get_profile(cfg.task.profile).model_type
    emb["task"]["eval_max_samples"] = cfg.task.eval_size
    emb["task"]["probe_gate"]["metric"] = emb["task"]["probe_gate"]["metric"] or probe_rec.get("metric_key")
    if probe_rec.get("train"):
        emb["lora"]["target_modules"] = probe_rec["train"]["lora"]["target_modules"]
    n_train = data_prov.get("split_sizes", {}).get("train")
    emb["train"]["train_samples"] = n_train
    steps, bs = cfg.train.steps, cfg.train.batch_size
    emb["train"]["num_epochs"] = round(steps * bs / n_train, 4) if n_train else None
    for k in COMPAT_TRAIN_KEYS:
        emb["train"][k] = None  # the bench saves once at the end and logs every few steps
    return emb


def write_bench(out: Path, doc: dict, run_root: Path | None = None) -> list[Path]:
    """bench.json, bench.md and (with matplotlib) bench.html into ``out``; the page's figures read
    the audit and plans of ``run_root`` (default: ``out``). Returns the files written."""
    from rankbench.io import atomic_write_json, atomic_write_text
    from rankbench.report.bench_md import render_bench
    from rankbench.report.html import bench_html_beside, write_html_if_possible

    atomic_write_json(out / BENCH_JSON, doc)
    atomic_write_text(out / BENCH_MD, render_bench(doc))
    page = write_html_if_possible(out / BENCH_HTML, lambda: bench_html_beside(run_root or out, doc))
    return [out / BENCH_JSON, out / BENCH_MD] + ([out / BENCH_HTML] if page else [])


def rebuild_bench(root: Path) -> dict:
    """bench.json rebuilt from the folder's records and its locked config; the machine facts and the
    timestamp are those of the bench.json it replaces (this machine's and now when there is none)."""
    root = Path(root)
    if not (root / LOCK).is_file():
        raise RankbenchError(
            f"no {LOCK} here: not a rankbench run folder",
            path=root,
            hint="give the --output folder of `rankbench run` (a campaign's seed_N folder for one seed)",
        )
    cfg = BenchConfig.from_dict(RunDir(root).locked_config()["config"], source=str(root / LOCK))
    context = kept_context(root)
    for stage in (PROBE, PROBE_EVAL):
        if not RunDir(root).is_done(stage):
            raise RankbenchError(
                f"the {stage} stage has not finished: there is nothing to report yet",
                path=root / stage,
                hint="run (or resume) the bench first: `rankbench run --config ... --output RUN`",
            )
    return assemble_bench(root, cfg, **context)
