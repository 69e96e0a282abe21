"""One bench, one seed: probe -> gate -> audit -> plans -> variants -> paired verdicts -> artifacts.

Each step is a stage with its own folder in the run directory; the folder's layout, its file names
and the order of the stages (:func:`rankbench.run_layout.seed_stages`) live in
:mod:`rankbench.run_layout`, the stage bookkeeping in :mod:`rankbench.bench.runstate`.

Stages are functions of the run folder and the config only, so a campaign executor can run the
variant stages of many seeds anywhere (see :mod:`rankbench.runner.executors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rankbench.bench.config import BenchConfig
from rankbench.bench.gate import gate_verdict
from rankbench.bench.profiles.base import LoraSpec, PreparedData, TaskProfile, TrainJob, TrainResult
from rankbench.bench.progress import Progress
from rankbench.bench.runstate import RunDir
from rankbench.bench.variants import VariantJob, build_plans, rung_jobs, variant_jobs
from rankbench.io import atomic_write_json, atomic_write_jsonl, read_json
from rankbench.run_layout import (
    ADAPTER_DIR,
    AUDIT,
    AUDIT_FILE,
    BUILD,
    EVAL,
    GATE_STAGE,
    PLANS,
    PLANS_FILE,
    PREDICTIONS,
    PROBE,
    PROBE_EVAL,
    PROVENANCE,
    TRAIN,
    TRUNCATED_DIR,
    audit_path,
    plans_path,
    seed_stages,
)

if TYPE_CHECKING:
    from rankbench.auditor import AuditResult
    from rankbench.bench.evaluators import Evaluator
    from rankbench.suggest.plans import Plan

SMOKE_OVERRIDES = {
    "train.steps": 20,
    "task.eval_size": 200,
    "task.train_size": 400,
    "compression.finetune_steps": 10,
}


@dataclass
class BenchRun:
    """Everything a stage needs. ``data`` is prepared on first use (tokenisation is cached on disk)."""

    cfg: BenchConfig
    run: RunDir
    cache_dir: Path
    smoke: bool = False
    progress: Progress = field(default_factory=Progress)
    _profile: TaskProfile | None = None
    _data: PreparedData | None = None
    _evaluator: Evaluator | None = None

    @property
    def evaluator(self) -> Evaluator:
        """The ``eval.harness`` evaluator, built once per process: the lm_eval one loads the base once
        and reuses it for the probe and every variant."""
        if self._evaluator is None:
            from rankbench.bench.evaluators import make_evaluator

            if self.cfg.eval.harness == "profile":
                self._evaluator = make_evaluator(self.cfg, profile=self.profile, data=self.data)
            else:
                base = self.profile.model_provenance(self.cfg)["path"]
                self._evaluator = make_evaluator(self.cfg, base=base)
        return self._evaluator

    @property
    def profile(self) -> TaskProfile:
        if self._profile is None:
            from rankbench.bench.profiles import get_profile

            quiet_libraries()
            self._profile = get_profile(self.cfg.task.profile)
        return self._profile

    @property
    def data(self) -> PreparedData:
        if self._data is None:
            self.progress.stage("preparing data")
            self._data = self.profile.prepare(self.cfg, seed=self.cfg.train.seed, cache_dir=self.cache_dir)
        return self._data

    @property
    def seed(self) -> int:
        return self.cfg.train.seed

    def probe_adapter(self) -> Path:
        return self.run.stage_dir(PROBE) / ADAPTER_DIR

    def target_modules(self) -> list[str]:
        """What a trained LoRA adapts: the config's list, a user adapter's modules, or the profile's default."""
        if self.cfg.lora.target_modules:
            return list(self.cfg.lora.target_modules)
        if self.cfg.probe.adapter:  # its config names them by a pattern: take the modules it adapted
            from rankbench.adapters.reader import open_adapter

            with open_adapter(self.probe_adapter()) as adapter:
                return list(adapter.pair_names)
        return self.profile.default_target_modules(self.cfg)


def quiet_libraries() -> None:
    """Our progress bar is the one on stderr: silence the libraries' own bars and chatter."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # the profile will say what is missing
        pass


def stage_probe(b: BenchRun) -> dict:
    """Train the probe at lora.probe_r, or import the user's adapter (``probe.adapter``) in its place."""
    with b.run.stage(PROBE) as st:
        if st.done:
            return st.record
        if b.cfg.probe.adapter:
            from rankbench.bench.adapter_fit import import_adapter

            b.progress.stage(f"checking and importing the adapter {b.cfg.probe.adapter}")
            adapter = import_adapter(b, st.dir)
            st.record = {"source": "user_adapter", "adapter": adapter, "train": None}
        else:
            st.record = {"train": _train_probe(b, st.dir)}
    return st.record


def _train_probe(b: BenchRun, out: Path) -> dict:
    cfg = b.cfg
    spec = LoraSpec(
        r=cfg.lora.probe_r,
        alpha=cfg.lora.alpha,
        target_modules=b.target_modules(),
        dropout=cfg.lora.dropout,
        use_rslora=cfg.lora.use_rslora,
    )
    data = b.data
    b.progress.stage(f"training the probe (r={spec.r}, {cfg.train.steps} steps)")
    job = TrainJob(spec, cfg.train.steps, b.seed, out / ADAPTER_DIR, progress=b.progress)
    train = _train_record(b.profile.train(cfg, data, job), spec)
    atomic_write_json(out / TRAIN, train)
    return train


def stage_eval(b: BenchRun, name: str, adapter_dir: Path, label: str) -> dict:
    """Evaluate an adapter on the fixed eval items; write eval.json and predictions.jsonl."""
    with b.run.stage(name) as st:
        if st.done:
            return st.record
        st.record = evaluate_into(b, st.dir, adapter_dir, label)
    return st.record


def evaluate_into(b: BenchRun, out: Path, adapter_dir: Path, label: str) -> dict:
    profile_harness = b.cfg.eval.harness == "profile"
    if profile_harness:
        b.progress.stage(f"evaluating {label} on {len(b.data.eval_ids)} items")
    else:
        b.progress.stage(f"evaluating {label} with {b.cfg.eval.harness} ({', '.join(b.cfg.eval.tasks)})")
    res = b.evaluator.evaluate(adapter_dir, progress=b.progress)
    if profile_harness and [r["item_id"] for r in res.records] != list(b.data.eval_ids):
        raise RuntimeError(f"{label}: evaluation did not return the fixed eval items in order")
    record = {
        "metric_key": res.metric_key,
        "value": float(res.value),
        "n_items": len(res.records),
        "eval_seconds": round(res.seconds, 3),
    }
    if res.forward is not None:
        record["forward"] = res.forward
    if not profile_harness:
        record.update(_harness_record(b, res.records))
    atomic_write_jsonl(out / PREDICTIONS, res.records)
    atomic_write_json(out / EVAL, record)
    return record


def _harness_record(b: BenchRun, records: list[dict]) -> dict:
    """Per-task results and the evaluator's provenance (with the documents' digests); documents that
    differ from the ones an earlier evaluation of this run recorded exit 2."""
    from rankbench.bench.evaluators import task_results

    ev = b.evaluator
    prov = ev.provenance()
    expect = getattr(ev, "expect_documents", None)
    if expect is not None and b.run.is_done(PROBE_EVAL):  # a resumed bench: the probe's documents
        tasks = b.run.record(PROBE_EVAL).get("evaluator", {}).get("tasks", {})
        expect({t: r["documents"] for t, r in tasks.items() if "documents" in r})
    return {"tasks": task_results(records), "evaluator": prov}


def stage_probe_eval(b: BenchRun) -> dict:
    """Evaluate the probe (or the user's adapter in its place): the record the quality gate judges."""
    label = "the adapter" if b.cfg.probe.adapter else "the probe"
    return stage_eval(b, PROBE_EVAL, b.probe_adapter(), label)


def check_gate(b: BenchRun, probe_eval: dict) -> dict:
    return gate_verdict(b.cfg, b.run, probe_eval, smoke=b.smoke)


def stage_audit(b: BenchRun) -> dict:
    from rankbench.auditor import audit

    with b.run.stage(AUDIT) as st:
        if st.done:
            return st.record
        b.progress.stage("auditing the probe's spectrum")
        doc = audit(b.probe_adapter()).to_dict()
        atomic_write_json(st.dir / AUDIT_FILE, doc)
        st.record = {"summary": doc["summary"]}
    return st.record


def load_audit(b: BenchRun) -> AuditResult:
    from rankbench.auditor import AuditResult

    return AuditResult.from_dict(read_json(audit_path(b.run.root)))


def stage_plans(b: BenchRun) -> dict:
    with b.run.stage(PLANS) as st:
        if st.done:
            return st.record
        c = b.cfg.compression
        kw = {"rule": c.rule, "allowed_ranks": c.allowed_ranks, "alpha_policy": c.alpha_policy}
        rungs = [job.rung for job in rung_jobs(variant_jobs(c))]
        plans = build_plans(c.variants, load_audit(b), seed=b.seed, rungs=rungs, **kw)
        record = {"plans": {k: p.to_dict() for k, p in plans.items()}}
        atomic_write_json(st.dir / PLANS_FILE, record)
        st.record = {"plan_names": sorted(plans)}
    return st.record


def load_plans(b: BenchRun) -> dict[str, Plan]:
    from rankbench.suggest.plans import Plan

    data = read_json(plans_path(b.run.root))
    return {k: Plan.from_dict(v) for k, v in data["plans"].items()}


def stage_variant(b: BenchRun, job: VariantJob) -> dict:
    """Build one variant (truncate / retrain / truncate+finetune) and evaluate it."""
    with b.run.stage(job.stage) as st:
        if st.done:
            return st.record
        plan = load_plans(b)[job.row.plan_name]
        b.progress.stage(f"building {job.key} ({job.method}, {_rank_text(plan)})")
        build: dict = {"variant": job.variant, "method": job.method, "plan": plan.name}
        if job.method in ("truncate", "truncate+finetune"):
            build["compression"] = _truncate(b, job, plan, st.dir)
        if job.method in ("retrain", "truncate+finetune"):
            build["train"] = _retrain(b, job, plan, st.dir)
        build["build_seconds"] = round(st.elapsed(), 3)
        atomic_write_json(st.dir / BUILD, build)
        ev = evaluate_into(b, st.dir, st.dir / ADAPTER_DIR, job.key)
        st.record = {"build": build, "eval": ev, "role": role_of(job, plan)}
    return st.record


def _truncate(b: BenchRun, job: VariantJob, plan: Plan, out: Path) -> dict:
    """Cut the probe to the plan's ranks: the variant's adapter, or the start of its finetune."""
    from rankbench.suggest.compress import compress_adapter

    target = out / ADAPTER_DIR if job.method == "truncate" else out / TRUNCATED_DIR
    rec = compress_adapter(b.probe_adapter(), plan, target, method=job.row.compress, seed=b.seed)
    return rec.to_dict() if hasattr(rec, "to_dict") else rec


def _retrain(b: BenchRun, job: VariantJob, plan: Plan, out: Path) -> dict:
    """Train at the plan's ranks: from scratch (retrain) or from the truncated probe (finetune)."""
    cfg_update = plan.peft_config_update(read_json(b.probe_adapter() / "adapter_config.json"))
    spec = LoraSpec(
        r=int(cfg_update["r"]),
        alpha=float(cfg_update["lora_alpha"]),
        target_modules=b.target_modules(),
        dropout=b.cfg.lora.dropout,
        use_rslora=b.cfg.lora.use_rslora,
        rank_pattern=dict(cfg_update.get("rank_pattern") or {}),
        alpha_pattern=dict(cfg_update.get("alpha_pattern") or {}),
    )
    finetune = job.method == "truncate+finetune"
    train = TrainJob(
        spec,
        steps=b.cfg.compression.finetune_steps if finetune else b.cfg.train.steps,
        seed=b.seed,
        out_dir=out / ADAPTER_DIR,
        init_adapter=out / TRUNCATED_DIR if finetune else None,
        progress=b.progress,
    )
    return _train_record(b.profile.train(b.cfg, b.data, train), spec)


def role_of(job: VariantJob, plan: Plan) -> str:
    if job.row.control:
        return "control"
    if all(plan.ranks[m] >= plan.source_ranks[m] for m in plan.ranks):
        return "control"  # keeps the probe's rank everywhere: nothing was compressed
    return "compression"


def _rank_text(plan: Plan) -> str:
    if getattr(plan, "uniform_rank", None):
        return f"r={plan.uniform_rank}"
    ks = sorted(plan.ranks.values())
    return f"r={ks[0]}..{ks[-1]} per module"


def _train_record(res: TrainResult, spec: LoraSpec) -> dict:
    return {
        "steps": res.steps,
        "final_loss": res.final_loss,
        "losses": res.losses,
        "seconds": round(res.seconds, 3),
        "examples_per_second": round(res.examples_per_second, 2),
        "device": res.device,
        "compute_dtype": res.compute_dtype,
        "lora": {
            "r": spec.r,
            "alpha": spec.alpha,
            "target_modules": spec.target_modules,
            "use_rslora": spec.use_rslora,
            "n_rank_pattern": len(spec.rank_pattern),
        },
    }


def stage_provenance(b: BenchRun) -> dict:
    """Where the data and the model came from, recorded when the data is prepared: bench.json reads
    this record, so a run folder alone rebuilds it (``rankbench report --rebuild``)."""
    with b.run.stage(PROVENANCE) as st:
        if st.done:
            return st.record
        data = b.data
        st.record = {
            "data": dict(data.provenance),
            "n_eval_items": len(data.eval_ids),
            "model": b.profile.model_provenance(b.cfg),
        }
        if b.cfg.eval.harness != "profile":  # lm-eval's version, each task's config and hash, shots
            st.record["evaluator"] = b.evaluator.provenance()
    return st.record


# --- the whole bench -----------------------------------------------------------------------------


def prefix_runners() -> dict:
    """The stage function of each stage before the variants (rankbench.run_layout.PREFIX_STAGES)."""
    return {
        PROVENANCE: stage_provenance,
        PROBE: stage_probe,
        PROBE_EVAL: stage_probe_eval,
        AUDIT: stage_audit,
        PLANS: stage_plans,
    }


def run_ladder(b: BenchRun, rungs: list[VariantJob]):
    """Build and judge the rungs largest first; stop at the first failure (``evaluate_all``: go on,
    outside the claim). A rung the sequence does not reach gets no stage."""
    from rankbench.bench import verdicts
    from rankbench.bench.ladder import ladder_sequence, outcome_from_ci, plan_note

    said = []

    def evaluate(job: VariantJob):
        stage_variant(b, job)
        pd, verdict = verdicts.judge_stage(b.run, b.cfg, job.stage)
        ci = {"low": pd.ci_low, "high": pd.ci_high, "confidence": b.cfg.eval.confidence}
        ci.update(method=pd.method, n=pd.n, variant_only_correct=pd.variant_only_correct)
        ci["probe_only_correct"] = pd.probe_only_correct
        low = "" if pd.ci_low is None else f", lower end of Δ {pd.ci_low:+.4f}"
        b.progress.stage(f"ladder: {job.row.base_plan} {verdict.verdict}{low}")
        note = None if said else plan_note(b.cfg, ci)
        said.append(job.key)
        if note:
            b.progress.stage(f"note: {note}")
        return outcome_from_ci(verdict.verdict, ci)

    plans = read_json(plans_path(b.run.root))["plans"]
    result = ladder_sequence(b.cfg, rungs, plans, evaluate)
    b.progress.stage(f"ladder: {result.claim}")
    return result


def run_stages(b: BenchRun, *, variants: bool = True) -> dict:
    """Run (or resume) one seed's stages in the order of :func:`~rankbench.run_layout.seed_stages`.

    Stops after the gate stage when the probe fails its quality gate (a smoke run goes on). Returns
    the gate's verdict; ``variants=False`` stops after the plans."""
    jobs = {job.stage: job for job in variant_jobs(b.cfg.compression)} if variants else {}
    rungs = rung_jobs(jobs.values())
    runners, gate = prefix_runners(), {}
    for stage in seed_stages(job.key for job in jobs.values()):
        if stage in jobs:
            if jobs[stage].rung is None:
                stage_variant(b, jobs[stage])
            elif jobs[stage] is rungs[0]:
                run_ladder(b, rungs)  # every rung, in its fixed order, up to the first failure
            continue
        record = runners[stage](b)
        if stage == GATE_STAGE:
            gate = check_gate(b, record)
            if not gate["passed"] and not b.smoke:
                break
    return gate
