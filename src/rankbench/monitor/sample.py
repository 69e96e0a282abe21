"""One sample of the monitor: per-module rank metrics at a training step, the aggregates that go into
the Trainer's logs, and the JSON line written to ``rankbench_spectra.jsonl``. Pure: no torch, no files.

A line of the timeline (``schema_version`` 1)::

    {schema_version, kind: "sample", run, step, time, aggregates: {name: number},
     modules: [{name, adapter_name, r, scale, sigma_1, frobenius_norm, energy_rank_90, effective_rank,
                utilization, zero, singular_values?}],
     nonfinite: [module], alerts: [{step, kind, modules, message}]}
    {schema_version, kind: "skipped", run, step, time, reason}

The metrics are those of ``rankbench audit`` (:mod:`rankbench.spectral.metrics`): σ₁, ‖ΔW‖_F, the
energy rank at 90% (cumulative σ²), effective rank, utilization = effective rank / r.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rankbench.records import from_record

SCHEMA_VERSION = 1
SCALAR_PREFIX = "rankbench/"
TIMELINE_FILE = "rankbench_spectra.jsonl"


@dataclass(frozen=True)
class ModuleRow:
    name: str
    adapter_name: str
    r: int
    scale: float
    sigma_1: float
    frobenius_norm: float
    energy_rank_90: int
    effective_rank: float
    utilization: float
    zero: bool  # a factor is all zeros: ΔW is exactly 0
    singular_values: tuple[float, ...] | None = None

    @property
    def key(self) -> str:
        """The name used in warnings: the module path, with the adapter when it is not "default"."""
        return self.name if self.adapter_name == "default" else f"{self.name}[{self.adapter_name}]"

    @classmethod
    def of(cls, audit, keep_singular_values: bool) -> ModuleRow:
        """From a :class:`rankbench.auditor.ModuleAudit` (same metrics, fewer fields)."""
        return cls(
            name=audit.name,
            adapter_name=audit.adapter_name,
            r=audit.r,
            scale=audit.scale,
            sigma_1=audit.spectral_norm,
            frobenius_norm=audit.frobenius_norm,
            energy_rank_90=audit.energy_rank["0.9"],
            effective_rank=audit.effective_rank,
            utilization=audit.utilization,
            zero=audit.delta_is_zero,
            singular_values=audit.singular_values if keep_singular_values else None,
        )

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "singular_values"}
        if self.singular_values is not None:
            d["singular_values"] = list(self.singular_values)
        return d

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def aggregates(rows: list[ModuleRow], inert: list[str]) -> dict[str, float]:
    """The few scalars for the Trainer's logs (keys without the ``rankbench/`` prefix)."""
    if not rows:
        return {}
    util = np.array([row.utilization for row in rows])
    return {
        "utilization_median": float(np.median(util)),
        "utilization_max": float(util.max()),
        "utilization_min": float(util.min()),
        "sigma1_max": float(max(row.sigma_1 for row in rows)),
        "energy_rank_90_median": float(np.median([row.energy_rank_90 for row in rows])),
        "inert_modules": float(len(inert)),
    }


@dataclass(frozen=True)
class Sample:
    run: str
    step: int
    time: float
    modules: list[ModuleRow]
    aggregates: dict[str, float]
    nonfinite: list[str] = field(default_factory=list)
    alerts: list = field(default_factory=list)  # [checks.Alert]

    def scalars(self) -> dict[str, float]:
        """The aggregates with the ``rankbench/`` prefix, as they go into the Trainer's logs."""
        return {SCALAR_PREFIX + k: v for k, v in self.aggregates.items()}

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "sample",
            "run": self.run,
            "step": self.step,
            "time": self.time,
            "aggregates": dict(self.aggregates),
            "modules": [row.to_dict() for row in self.modules],
            "nonfinite": list(self.nonfinite),
            "alerts": [a.to_dict() for a in self.alerts],
        }


def skipped_line(run: str, step: int, time: float, reason: str) -> dict:
    return {"schema_version": SCHEMA_VERSION, "kind": "skipped", "run": run, "step": step, "time": time,
            "reason": reason}  # fmt: skip
