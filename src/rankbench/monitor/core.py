"""SpectrumMonitor: the rank of every LoRA module while a model trains, framework-free.

    monitor = SpectrumMonitor(model, output_dir="out")
    for step in range(1, steps + 1):
        ...  # forward, backward, optimizer.step()
        monitor.step(step)
    monitor.finish(steps)

Every ``every_n_steps`` it reads the live factors of every module (:mod:`.live`), computes their
exact spectrum (:mod:`rankbench.spectral`, never forming ΔW), appends one line to
``<output_dir>/rankbench_spectra.jsonl`` (:mod:`.sample`) and logs each warning once
(:mod:`.checks`). It never raises into the training loop: a failed or sharded sample is logged,
written as a "skipped" line, and training goes on. On multi-process runs only rank 0 does anything.
It reads parameters without touching any random number generator, so training is unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from pathlib import Path

from rankbench.auditor import ModuleAudit
from rankbench.io import append_jsonl_line
from rankbench.monitor.checks import MonitorThresholds, Watch
from rankbench.monitor.live import ShardedFactors, live_pairs
from rankbench.monitor.sample import TIMELINE_FILE, ModuleRow, Sample, aggregates, skipped_line
from rankbench.spectral import NonFiniteError, factored_spectrum

# Chosen by measurement (benchmarks/monitor_overhead.py, docs/results.md): on the embedded MiniLM
# default one sample of 37 modules costs 12-27 ms on a busy 2-core CPU, 1-2% of a training step there.
# On a GPU the step shrinks and the sample does not; every 50 steps keeps it under 2% for steps down
# to about 13-26 ms.
DEFAULT_EVERY_N_STEPS = 50
log = logging.getLogger("rankbench.monitor")


def is_main_process() -> bool:
    """Rank 0 of an initialised torch.distributed group, else RANK from the launcher (0 if unset)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return os.environ.get("RANK", "0").strip() in ("", "0")


def measure(model) -> tuple[list[ModuleAudit], list[str]]:
    """The exact audit of every live LoRA module, and the modules whose factors are not finite."""
    audits, nonfinite = [], []
    for pair in live_pairs(model):
        try:
            spec = factored_spectrum(pair.B, pair.A, pair.scale)  # B: (out, r)  A: (r, in)
        except NonFiniteError:
            nonfinite.append(pair.name)
            continue
        zero = "zero" in (spec.route_A, spec.route_B)
        audits.append(ModuleAudit.of(pair, spec.singular_values, spec.route, zero))
    return audits, nonfinite


class SpectrumMonitor:
    """Watches the rank of a PEFT model's LoRA modules during training (see the module docs)."""

    def __init__(
        self,
        model,
        *,
        output_dir: str | os.PathLike | None = None,
        every_n_steps: int = DEFAULT_EVERY_N_STEPS,
        thresholds: MonitorThresholds | None = None,
        max_steps: int | None = None,
        keep_singular_values: bool = True,
        main_process: bool | None = None,
    ) -> None:
        if int(every_n_steps) < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.model = model
        self.every_n_steps = int(every_n_steps)
        self.thresholds = thresholds or MonitorThresholds()
        self.keep_singular_values = keep_singular_values
        self.active = is_main_process() if main_process is None else bool(main_process)
        self.output_dir = Path(output_dir) if output_dir is not None and self.active else None
        self.watch = Watch(self.thresholds, self.thresholds.warmup_for(max_steps))
        self.run = uuid.uuid4().hex[:12]  # tells apart runs appended to one file
        self.latest: Sample | None = None
        self.latest_audits: list[ModuleAudit] = []
        self.skipped = 0
        self._noted: set[str] = set()

    @property
    def timeline_path(self) -> Path | None:
        return None if self.output_dir is None else self.output_dir / TIMELINE_FILE

    def step(self, global_step: int, *, last: bool = False) -> Sample | None:
        """Call after each optimizer step; samples every ``every_n_steps`` steps, and when ``last``."""
        due = global_step % self.every_n_steps == 0 or last
        if not self.active or not due or (self.latest and self.latest.step == global_step):
            return None
        return self.sample(global_step)

    def sample(self, global_step: int) -> Sample | None:
        """Take a sample now; None (and a logged note) when it could not be taken."""
        if not self.active:
            return None
        try:
            audits, nonfinite = measure(self.model)
        except ShardedFactors as exc:
            return self._skip(global_step, f"factors are sharded, sample skipped ({exc})", "sharded")
        except Exception as exc:  # never crash the training
            return self._skip(global_step, f"sample failed: {type(exc).__name__}: {exc}", type(exc).__name__)
        rows = [ModuleRow.of(a, self.keep_singular_values) for a in audits]
        alerts = self.watch.update(global_step, rows, nonfinite)
        for alert in alerts:
            log.warning("rankbench: step %d: %s", alert.step, alert.message)
        sample = Sample(self.run, global_step, time.time(), rows, aggregates(rows, self.watch.inert(rows)),
                        nonfinite, alerts)  # fmt: skip
        self.latest, self.latest_audits = sample, audits
        self._write(sample.to_dict())
        return sample

    def _skip(self, step: int, reason: str, tag: str) -> None:
        self.skipped += 1
        if tag not in self._noted:  # once per cause, not once per step
            self._noted.add(tag)
            log.warning("rankbench: step %d: %s; training continues", step, reason)
        self._write(skipped_line(self.run, step, time.time(), reason))
        return None

    def _write(self, line: dict) -> None:
        if self.timeline_path is None:
            return
        try:
            append_jsonl_line(self.timeline_path, line)
        except Exception as exc:  # a full disk must not stop the training either
            log.warning(
                "rankbench: cannot append to %s (%s); the timeline stops here", self.timeline_path, exc
            )
            self.output_dir = None

    def finish(self, global_step: int, checkpoint: str | os.PathLike | None = None):
        """At the end of training: a last sample, audit.json and suggest.json (see :mod:`.final`)."""
        if not self.active:
            return None
        from rankbench.monitor.final import write_final

        if self.latest is None or self.latest.step != global_step:
            self.sample(global_step)
        try:
            return write_final(self, global_step, checkpoint)
        except Exception as exc:
            log.warning("rankbench: could not write the final audit (%s: %s)", type(exc).__name__, exc)
            return None
