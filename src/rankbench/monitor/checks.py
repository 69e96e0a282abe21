"""Warnings from a timeline of samples: inert modules, runaway σ₁, rank collapse. Pure: numbers in.

Each warning fires once per module (a later sample can name further modules) and only after the
warm-up, because a fresh LoRA starts at ΔW = 0 (PEFT's default B = 0) and its first steps are all
growth from nothing. The thresholds (:class:`MonitorThresholds`, every one configurable):

- **inert**: ΔW is exactly zero, or ‖ΔW‖_F < ``inert_relative`` × the largest ‖ΔW‖_F of the adapter
  (default 1e-3). When every module is exactly zero the whole adapter is inert (e.g. B never left 0).
- **runaway σ₁**: σ₁ rose at every one of the last ``runaway_window`` samples (default 5) and by more
  than ``runaway_factor`` (default 10×) over them: a direction that keeps growing, such as a rank-1
  spike.
- **rank collapse**: the energy rank at 90% is 1 in a module where it was at least
  ``collapse_from`` (default 2) at an earlier sample after the warm-up.

``warmup_steps`` None means 10% of the run's steps when they are known, else 100.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass

from rankbench.errors import RankbenchError
from rankbench.records import from_record

KINDS = ("inert", "runaway", "collapse", "nonfinite")
_LISTED = 8  # module names spelled out in one message; the rest are counted


@dataclass(frozen=True)
class MonitorThresholds:
    warmup_steps: int | None = None
    inert_relative: float = 1e-3
    runaway_window: int = 5
    runaway_factor: float = 10.0
    collapse_from: int = 2

    def __post_init__(self) -> None:
        problems = []
        if self.warmup_steps is not None and self.warmup_steps < 0:
            problems.append(f"warmup_steps: expected >= 0 or None, got {self.warmup_steps}")
        if not 0.0 <= self.inert_relative < 1.0:
            problems.append(f"inert_relative: expected in [0, 1), got {self.inert_relative}")
        if self.runaway_window < 1:
            problems.append(f"runaway_window: expected >= 1 samples, got {self.runaway_window}")
        if not self.runaway_factor > 1.0:
            problems.append(f"runaway_factor: expected > 1, got {self.runaway_factor}")
        if self.collapse_from < 2:
            problems.append(f"collapse_from: expected >= 2, got {self.collapse_from}")
        if problems:
            raise RankbenchError("bad monitor thresholds: " + "; ".join(problems))

    def warmup_for(self, max_steps: int | None) -> int:
        if self.warmup_steps is not None:
            return self.warmup_steps
        return math.ceil(0.1 * max_steps) if max_steps else 100

    def to_dict(self) -> dict:
        return asdict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


@dataclass(frozen=True)
class Alert:
    step: int
    kind: str  # one of KINDS
    modules: tuple[str, ...]
    message: str

    def to_dict(self) -> dict:
        return {"step": self.step, "kind": self.kind, "modules": list(self.modules), "message": self.message}

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def _names(modules) -> str:
    shown = ", ".join(modules[:_LISTED])
    return shown + (f" (+{len(modules) - _LISTED} more)" if len(modules) > _LISTED else "")


class Watch:
    """Running state of the checks over successive samples; :meth:`update` returns the new alerts."""

    def __init__(self, thresholds: MonitorThresholds, warmup: int) -> None:
        self.t = thresholds
        self.warmup = warmup
        self.sigma: dict[str, deque] = {}  # module -> σ₁ of the last runaway_window + 1 samples
        self.peak_rank: dict[str, int] = {}  # module -> largest energy rank (90%) seen after warm-up
        self.fired: dict[str, set[str]] = {kind: set() for kind in KINDS}

    def _new(self, step: int, kind: str, modules: list[str], text: str) -> list[Alert]:
        fresh = [m for m in modules if m not in self.fired[kind]]
        if not fresh:
            return []
        self.fired[kind].update(fresh)
        return [Alert(step, kind, tuple(fresh), text.format(n=len(fresh), names=_names(fresh)))]

    def inert(self, rows) -> list[str]:
        """Modules whose ΔW is zero or below inert_relative × the largest (no warm-up applied)."""
        largest = max((row.frobenius_norm for row in rows), default=0.0)
        cut = self.t.inert_relative * largest
        return [row.key for row in rows if row.zero or row.frobenius_norm < cut or row.frobenius_norm == 0]

    def update(self, step: int, rows, nonfinite: list[str] = ()) -> list[Alert]:
        """``rows``: objects with key, sigma_1, frobenius_norm, energy_rank_90, zero (one per module)."""
        alerts = self._new(step, "nonfinite", list(nonfinite),
                           "{n} module(s) have NaN or Inf in their factors (training diverged): {names}")  # fmt: skip
        if step < self.warmup or not rows:
            return alerts
        inert = self.inert(rows)
        if all(row.zero for row in rows):
            text = "the adapter is inert: ΔW is exactly zero in all {n} module(s) (lora_B frozen or never updated?): {names}"
        else:
            text = f"{{n}} module(s) are inert (ΔW is zero or below {self.t.inert_relative:g} of the largest ‖ΔW‖_F): {{names}}"
        alerts += self._new(step, "inert", inert, text)
        alerts += self._new(step, "runaway", self._runaway(rows),
                            f"σ₁ grew at each of the last {self.t.runaway_window} samples and by more than "
                            f"{self.t.runaway_factor:g}x in {{n}} module(s): {{names}}")  # fmt: skip
        alerts += self._new(step, "collapse", self._collapse(rows),
                            "the 90% energy rank fell to 1 in {n} module(s) that had "
                            f"{self.t.collapse_from} or more: {{names}}")  # fmt: skip
        return alerts

    def _runaway(self, rows) -> list[str]:
        hits = []
        for row in rows:
            hist = self.sigma.setdefault(row.key, deque(maxlen=self.t.runaway_window + 1))
            hist.append(row.sigma_1)
            if len(hist) == hist.maxlen and hist[0] > 0:
                h = list(hist)
                rising = all(b > a for a, b in zip(h[:-1], h[1:], strict=True))
                if rising and hist[-1] > self.t.runaway_factor * hist[0]:
                    hits.append(row.key)
        return hits

    def _collapse(self, rows) -> list[str]:
        hits = []
        for row in rows:
            peak = self.peak_rank.get(row.key, 0)
            if row.energy_rank_90 == 1 and peak >= self.t.collapse_from:
                hits.append(row.key)
            self.peak_rank[row.key] = max(peak, row.energy_rank_90)
        return hits
