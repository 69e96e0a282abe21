"""One bench, one seed: probe -> gate -> audit -> plans -> variants -> paired verdicts -> artifacts.

Each step is a stage with its own folder in the run directory (see :mod:`rankbench.bench.runstate`):

    provenance/       where the data and the model came from (stage.json)
    probe/            the probe adapter (trained at lora.probe_r), train.json
    probe_eval/       eval.json, predictions.jsonl, the quality gate
    audit/            audit.json (the exact spectral audit of the probe)
    plans/            plans.json (every plan the variants are built from)
    variants/<key>/   adapter/, build.json, eval.json, predictions.jsonl
    bench.json, bench.md

Stages are functions of the run folder and the config only, so a campaign executor can run the
variant stages of many seeds anywhere (see :mod:`rankbench.bench.executors`).
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
from rankbench.bench.variants import VariantJob, shuffled_ranks, variant_jobs
from rankbench.errors import CheckFailed
from rankbench.io import atomic_write_json, atomic_write_jsonl, read_json
from rankbench.names import BASE_PLANS, CONTROLS, VARIANT_PLANS

if TYPE_CHECKING:
    from rankbench.auditor import AuditResult
    from rankbench.suggest.plans import Plan

PROVENANCE_STAGE = "provenance"  # the stage that records where the data and the model came from
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
        return self.run.stage_dir("probe") / "adapter"

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
    with b.run.stage("probe") as st:
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
    job = TrainJob(spec, cfg.train.steps, b.seed, out / "adapter", progress=b.progress)
    train = _train_record(b.profile.train(cfg, data, job), spec)
    atomic_write_json(out / "train.json", train)
    return train


def stage_eval(b: BenchRun, name: str, adapter_dir: Path, label: str) -> dict:
    """Evaluate an adapter on the fixed eval items; write eval.json and predictions.jsonl."""
    with b.run.stage(name) as st:
        if st.done:
            return st.record
        st.record = evaluate_into(b, st.dir, adapter_dir, label)
    return st.record


def evaluate_into(b: BenchRun, out: Path, adapter_dir: Path, label: str) -> dict:
    b.progress.stage(f"evaluating {label} on {len(b.data.eval_ids)} items")
    res = b.profile.evaluate(b.cfg, b.data, adapter_dir, progress=b.progress)
    if [r["item_id"] for r in res.records] != list(b.data.eval_ids):
        raise RuntimeError(f"{label}: evaluation did not return the fixed eval items in order")
    record = {
        "metric_key": res.metric_key,
        "value": float(res.value),
        "n_items": len(res.records),
        "eval_seconds": round(res.seconds, 3),
    }
    if res.forward is not None:
        record["forward"] = res.forward
    atomic_write_jsonl(out / "predictions.jsonl", res.records)
    atomic_write_json(out / "eval.json", record)
    return record


def check_gate(b: BenchRun, probe_eval: dict) -> dict:
    return gate_verdict(b.cfg, b.run, probe_eval, smoke=b.smoke)


def stage_audit(b: BenchRun) -> dict:
    from rankbench.auditor import audit

    with b.run.stage("audit") as st:
        if st.done:
            return st.record
        b.progress.stage("auditing the probe's spectrum")
        doc = audit(b.probe_adapter()).to_dict()
        atomic_write_json(st.dir / "audit.json", doc)
        st.record = {"summary": doc["summary"]}
    return st.record


def load_audit(b: BenchRun) -> AuditResult:
    from rankbench.auditor import AuditResult

    return AuditResult.from_dict(read_json(b.run.stage_dir("audit") / "audit.json"))


def stage_plans(b: BenchRun) -> dict:
    from rankbench.suggest.plans import make_plan, plan_from_ranks

    with b.run.stage("plans") as st:
        if st.done:
            return st.record
        c = b.cfg.compression
        audit_result = load_audit(b)
        kw = {"rule": c.rule, "allowed_ranks": c.allowed_ranks, "alpha_policy": c.alpha_policy}
        plans = {}
        for spec in BASE_PLANS:
            plans[spec] = make_plan(spec, audit_result, **kw)
        if "per_layer_shuffled" in c.variants:
            ranks = shuffled_ranks(plans["per_layer"].ranks, seed=b.seed)
            # a module can't take more than its own probe rank; clip (same probe r everywhere in practice)
            ranks = {m: min(k, plans["per_layer"].source_ranks[m]) for m, k in ranks.items()}
            plans["per_layer_shuffled"] = plan_from_ranks(
                "per_layer_shuffled", ranks, audit_result, alpha_policy=c.alpha_policy
            )
        record = {"plans": {k: p.to_dict() for k, p in plans.items()}}
        atomic_write_json(st.dir / "plans.json", record)
        st.record = {"plan_names": sorted(plans)}
    return st.record


def load_plans(b: BenchRun) -> dict[str, Plan]:
    from rankbench.suggest.plans import Plan

    data = read_json(b.run.stage_dir("plans") / "plans.json")
    return {k: Plan.from_dict(v) for k, v in data["plans"].items()}


def stage_variant(b: BenchRun, job: VariantJob) -> dict:
    """Build one variant (truncate / retrain / truncate+finetune) and evaluate it."""
    with b.run.stage(job.stage) as st:
        if st.done:
            return st.record
        plan = load_plans(b)[VARIANT_PLANS[job.variant]]
        b.progress.stage(f"building {job.key} ({job.method}, {_rank_text(plan)})")
        build: dict = {"variant": job.variant, "method": job.method, "plan": plan.name}
        if job.method in ("truncate", "truncate+finetune"):
            build["compression"] = _truncate(b, job, plan, st.dir)
        if job.method in ("retrain", "truncate+finetune"):
            build["train"] = _retrain(b, job, plan, st.dir)
        build["build_seconds"] = round(st.elapsed(), 3)
        atomic_write_json(st.dir / "build.json", build)
        ev = evaluate_into(b, st.dir, st.dir / "adapter", job.key)
        st.record = {"build": build, "eval": ev, "role": role_of(job, plan)}
    return st.record


def _truncate(b: BenchRun, job: VariantJob, plan: Plan, out: Path) -> dict:
    """Cut the probe to the plan's ranks: the variant's adapter, or the start of its finetune."""
    from rankbench.suggest.compress import compress_adapter

    method = "random_subspace" if job.variant == "random_subspace" else "truncate"
    target = out / "adapter" if job.method == "truncate" else out / "truncated"
    rec = compress_adapter(b.probe_adapter(), plan, target, method=method, seed=b.seed)
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
        out_dir=out / "adapter",
        init_adapter=out / "truncated" if finetune else None,
        progress=b.progress,
    )
    return _train_record(b.profile.train(b.cfg, b.data, train), spec)


def role_of(job: VariantJob, plan: Plan) -> str:
    if job.variant in CONTROLS:
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
    with b.run.stage(PROVENANCE_STAGE) as st:
        if st.done:
            return st.record
        data = b.data
        st.record = {
            "data": dict(data.provenance),
            "n_eval_items": len(data.eval_ids),
            "model": b.profile.model_provenance(b.cfg),
        }
    return st.record


# --- the whole bench -----------------------------------------------------------------------------


def _context(b: BenchRun) -> dict:
    """Now and this machine, unless this process ran no stage: then the finished run's bench.json is
    rewritten byte for byte (its timestamp and machine facts kept)."""
    from rankbench.artifacts.bench import assembled_now, kept_context

    return assembled_now() if b.run.finished_here else kept_context(b.run.root)


def run_bench(b: BenchRun, *, variants: bool = True) -> dict:
    """Run (or resume) every stage of one seed and write bench.json + bench.md. Returns bench.json."""
    from rankbench.artifacts.bench import assemble_bench, write_bench
    from rankbench.bench.progress import watch_bench

    watch_bench(b.progress, b.run, b.cfg)
    stage_provenance(b)
    stage_probe(b)
    probe_eval = stage_eval(
        b, "probe_eval", b.probe_adapter(), "the adapter" if b.cfg.probe.adapter else "the probe"
    )
    gate = check_gate(b, probe_eval)
    if not gate["passed"] and not b.smoke:
        doc = assemble_bench(b.run.root, b.cfg, **_context(b))
        write_bench(b.run.root, doc)
        raise CheckFailed(
            f"probe quality gate failed: {gate['message']}; no variants were built",
            path=b.run.root / "bench.json",
            hint="check that the adapter was trained for this task (task.dataset, task.labels), or lower "
            "task.probe_gate.min_value"
            if b.cfg.probe.adapter
            else "train longer (train.steps), raise train.learning_rate, or lower task.probe_gate.min_value",
        )
    stage_audit(b)
    stage_plans(b)
    if variants:
        for job in variant_jobs(b.cfg.compression):
            stage_variant(b, job)
    doc = assemble_bench(b.run.root, b.cfg, **_context(b))
    write_bench(b.run.root, doc)
    return doc
