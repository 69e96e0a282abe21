"""Adapter-level summary of per-module rank metrics (pure: numbers in, numbers out).

Percentiles are numpy's default definition (linear interpolation between order statistics: position
p/100·(n−1) in the sorted values), computed here because np.percentile imports numpy.ma (~40 ms).
"Most wasteful" modules are those with the lowest utilization (effective_rank / r); ties go to the
module with more LoRA parameters, since cutting it saves more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from rankbench.records import from_record
from rankbench.spectral.metrics import ENERGY_TAUS


@dataclass(frozen=True)
class WastefulModule:
    name: str
    adapter_name: str
    r: int
    utilization: float
    energy_rank_99: int  # directions holding 99% of ‖ΔW‖_F²

    def to_dict(self) -> dict:
        return asdict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


@dataclass(frozen=True)
class AuditSummary:
    n_modules: int
    total_lora_params: int  # Σ r·(out + in) over LoRA pairs
    other_params: int  # numel of non-LoRA tensors (modules_to_save, heads), listed but not audited
    r_values: list[int]  # distinct ranks, ascending
    utilization_mean: float
    utilization_min: float
    effective_rank_mean: float
    stable_rank_mean: float
    energy_rank_90_p50: float
    energy_rank_90_p90: float
    energy_rank_95_p50: float
    energy_rank_95_p90: float
    energy_rank_99_p50: float
    energy_rank_99_p90: float
    params_at_energy_rank_99: int  # Σ k₉₉·(out + in): LoRA params if each module kept its 99% energy rank
    most_wasteful: list[WastefulModule] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["most_wasteful"] = [w.to_dict() for w in self.most_wasteful]
        return d

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def percentile(values, p: float) -> float:
    """Same as ``np.percentile(values, p)`` (method "linear")."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    pos = p / 100.0 * (x.size - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, x.size - 1)
    return float(x[lo] + (x[hi] - x[lo]) * (pos - lo))


def most_wasteful(modules, top: int) -> list[WastefulModule]:
    """The ``top`` modules with the lowest utilization (ties: more parameters first)."""
    ranked = sorted(modules, key=lambda mod: (mod.utilization, -mod.params, mod.name))
    return [
        WastefulModule(mod.name, mod.adapter_name, mod.r, mod.utilization, mod.energy_rank["0.99"])
        for mod in ranked[: max(top, 0)]
    ]


def summarize(modules, *, other_params: int = 0, top: int = 5) -> AuditSummary:
    """Summary of a non-empty sequence of module audits (objects with the ModuleAudit fields)."""
    if not modules:
        raise ValueError("no modules to summarize")
    util = np.array([mod.utilization for mod in modules])
    pct = {}
    for tau in ENERGY_TAUS:
        k = np.array([mod.energy_rank[f"{tau:g}"] for mod in modules], dtype=np.float64)
        tag = f"{round(tau * 100)}"
        pct[f"energy_rank_{tag}_p50"] = percentile(k, 50)
        pct[f"energy_rank_{tag}_p90"] = percentile(k, 90)
    return AuditSummary(
        n_modules=len(modules),
        total_lora_params=int(sum(mod.params for mod in modules)),
        other_params=int(other_params),
        r_values=sorted({int(mod.r) for mod in modules}),
        utilization_mean=float(util.mean()),
        utilization_min=float(util.min()),
        effective_rank_mean=float(np.mean([mod.effective_rank for mod in modules])),
        stable_rank_mean=float(np.mean([mod.stable_rank for mod in modules])),
        params_at_energy_rank_99=int(sum(mod.energy_rank["0.99"] * sum(mod.shape) for mod in modules)),
        most_wasteful=most_wasteful(modules, top),
        **pct,
    )
