"""The end of training: audit.json and suggest.json next to the checkpoint, and one line in the log.

When the Trainer saved a checkpoint at the last step, that folder is audited from its file (the same
call as ``rankbench audit``, so audit.json carries the file's sha256) and both documents go into it.
Otherwise (plain loops, ``save_strategy="no"``) the last live sample is the audit, with an empty
``weights_file`` and ``sha256`` since there is no file yet; both documents go into ``output_dir``.
The plans are those of ``rankbench suggest --json`` (:mod:`rankbench.suggest.document`: its default plans and rule).
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

from rankbench.auditor import AdapterInfo, AuditResult, audit, audit_flags
from rankbench.io import atomic_write_json
from rankbench.spectral.summary import summarize
from rankbench.suggest.document import DEFAULT_PLANS, DEFAULT_RULE, suggest_document
from rankbench.suggest.plans import make_plan
from rankbench.suggest.rules import parse_rule

log = logging.getLogger("rankbench.monitor")


@dataclass(frozen=True)
class FinalReport:
    audit: AuditResult
    plans: dict  # plan name -> suggest.plans.Plan
    audit_path: Path | None
    suggest_path: Path | None
    message: str


def _peft_config(model) -> dict:
    configs = getattr(model, "peft_config", None) or {}
    first = next(iter(configs.values()), None)
    return first.to_dict() if hasattr(first, "to_dict") else {}


def live_audit(model, audits, where: Path | None) -> AuditResult:
    """An AuditResult (audit.json's schema) from the live modules of the last sample."""
    cfg = _peft_config(model)
    targets = cfg.get("target_modules")
    names = sorted({a.adapter_name for a in audits})
    info = AdapterInfo(
        path=str(where or ""),
        source="live model (rankbench.monitor)",
        weights_file="",
        sha256="",
        peft_type=str(cfg.get("peft_type", "LORA")).removeprefix("PeftType."),
        base_model=cfg.get("base_model_name_or_path"),
        target_modules=sorted(targets) if isinstance(targets, (set, list, tuple)) else targets,
        use_rslora=bool(cfg.get("use_rslora", False)),
        use_dora=bool(cfg.get("use_dora", False)),
        fan_in_fan_out=bool(cfg.get("fan_in_fan_out", False)),
        adapter_names=names,
    )
    flags = audit_flags(audits, method="exact", use_dora=info.use_dora, rank_mismatch=False, non_lora=False,
                        n_adapters=len(names))  # fmt: skip
    return AuditResult(adapter=info, method="exact", flags=flags, modules=audits, summary=summarize(audits))


def _message(step: int, plans: dict, folder: Path | None, saved: bool) -> str:
    plan = plans.get("uniform_median")
    if plan is None:
        return f"rankbench: step {step}: no rank plan (see the warnings above)"
    r = max(plan.source_ranks.values())
    k = plan.uniform_rank
    head = (
        f"rankbench: step {step}: the adapter really uses rank {k} of {r} "
        f"(median over {len(plan.ranks)} modules of the rank holding 90% of ‖ΔW‖_F²; "
        f"{100 * plan.discarded_energy_fraction:.2f}% of the energy beyond it)"
    )
    src = shlex.quote(str(folder)) if saved else "ADAPTER_DIR"
    out = shlex.quote(f"{folder}-r{k}") if saved else f"ADAPTER_DIR-r{k}"
    cmd = f"rankbench compress {src} --plan uniform_median --out {out}"
    return head + (f"; compress it: {cmd}" if saved else f"; save the adapter, then: {cmd}")


def write_final(monitor, step: int, checkpoint) -> FinalReport | None:
    folder = Path(checkpoint) if checkpoint is not None else None
    saved = folder is not None and (folder / "adapter_config.json").is_file()
    if saved:
        result = audit(folder, workers=1)
        target = folder
    elif monitor.latest_audits:
        target = monitor.output_dir
        result = live_audit(monitor.model, monitor.latest_audits, target)
    else:
        return None
    plans = {}
    if len(result.adapter.adapter_names) == 1:  # plans handle one adapter at a time
        plans = {spec: make_plan(spec, result, rule=DEFAULT_RULE) for spec in DEFAULT_PLANS}
    audit_path = suggest_path = None
    if target is not None:
        audit_path, suggest_path = target / "audit.json", target / "suggest.json"
        atomic_write_json(audit_path, result.to_dict())
        doc = suggest_document(result.adapter.path, result.adapter.sha256, parse_rule(DEFAULT_RULE), plans)
        atomic_write_json(suggest_path, doc)
    message = _message(step, plans, folder if saved else None, saved)
    log.warning(message)
    return FinalReport(result, plans, audit_path, suggest_path, message)
