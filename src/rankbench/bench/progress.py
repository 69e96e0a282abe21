"""Progress on stderr: the stage, a step bar with ETA, and the running loss. Quiet with --quiet.

:class:`StageClock` adds the run as a whole: the list of stages first, then "stage 4 of 11" with the
time so far and an estimate of what is left, and, on resume, which stages were kept.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from rankbench import interrupt


def _fmt_seconds(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    def __init__(self, *, quiet: bool = False, stream=None, width: int = 24) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty() and not os.environ.get("CI")
        self._stage = None
        self._t0 = 0.0
        self._last_print = 0.0

    def stage(self, message: str) -> None:
        if not self.quiet:
            self._end_line()
            print(f"[rankbench] {message}", file=self.stream, flush=True)

    def __call__(self, stage: str, done: int, total: int, info: dict | None = None) -> None:
        """The ``progress(stage, done, total, info)`` callback that profiles call."""
        interrupt.check()  # a Ctrl-C that a library swallowed stops the work here
        if self.quiet:
            return
        now = time.perf_counter()
        if stage != self._stage:
            self._end_line()
            self._stage, self._t0, self._last_print = stage, now, 0.0
        finished = done >= total
        if not finished and now - self._last_print < (0.2 if self.tty else 15.0):
            return
        self._last_print = now
        elapsed = now - self._t0
        eta = elapsed / done * (total - done) if done else 0.0
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        extra = ""
        if info and info.get("loss") is not None:
            extra = f" loss {info['loss']:.4f}"
        line = f"  {stage} [{bar}] {done}/{total} {_fmt_seconds(elapsed)}<{_fmt_seconds(eta)}{extra}"
        if self.tty:
            print("\r" + line, end="\n" if finished else "", file=self.stream, flush=True)
            if finished:
                self._stage = None
        else:
            print(line, file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self.tty and self._stage is not None:
            print(file=self.stream, flush=True)
        self._stage = None


# --- the run as a whole: which stages, which one now, and about how long is left ----------------


def bench_stage_order(cfg) -> list[str]:
    """The stages of one bench, in the order they run (:func:`rankbench.run_layout.seed_stages`)."""
    from rankbench.bench.variants import variant_jobs
    from rankbench.run_layout import seed_stages

    return list(seed_stages(j.key for j in variant_jobs(cfg.compression)))


@dataclass(frozen=True)
class StageWork:
    """What a stage costs, in the units the clock times: training steps and evaluated items."""

    train_steps: int = 0
    eval_items: int = 0
    full_training: bool = False  # a training as long as the probe's (a retrain)


def bench_stage_work(names: list[str], cfg) -> dict[str, StageWork]:
    """The work of each named stage: the probe and retrains train train.steps, finetunes
    compression.finetune_steps; the probe and every variant evaluate task.eval_size items."""
    from rankbench.bench.variants import variant_jobs
    from rankbench.run_layout import PROBE, PROBE_EVAL

    jobs = {j.stage: j for j in variant_jobs(cfg.compression)}
    items, steps = cfg.task.eval_size, cfg.train.steps
    work = {}
    for name in names:
        job = jobs.get(name)
        if name == PROBE:
            work[name] = StageWork(train_steps=0 if cfg.probe.adapter else steps, full_training=True)
        elif name == PROBE_EVAL:
            work[name] = StageWork(eval_items=items)
        elif job is not None and job.method == "retrain":
            work[name] = StageWork(steps, items, full_training=True)
        elif job is not None and job.method == "truncate+finetune":
            work[name] = StageWork(cfg.compression.finetune_steps, items)
        else:
            work[name] = StageWork(eval_items=items if job is not None else 0)
    return work


class StageClock:
    """Says which stage of how many runs now, with the time so far and an estimate of what is left.

    The estimate multiplies the work left (training steps, evaluated items) by the rates timed in this
    run folder: seconds per training step and per evaluated item, read from the stages' records as they
    finish (so a resumed run has them from the start), and adds to each stage with work the mean time
    the timed stages spent outside training and evaluation (loading the model, building the adapter). Until a training and an evaluation have been
    timed there is no estimate, and the line says so.
    """

    def __init__(self, progress: Progress, names: list[str], work: dict[str, StageWork]) -> None:
        self.progress, self.names, self.work = progress, list(names), work
        self.done: set[str] = set()
        self.rates: dict[str, float] = {}  # "train": s/step, "eval": s/item
        self.overheads: list[float] = []  # seconds of each timed stage outside training and evaluation
        self.t0 = time.perf_counter()

    def announce(self, kept: dict[str, dict]) -> None:
        """The first lines: every stage in order, and on resume the finished ones kept (their records)."""
        self.progress.stage(f"{len(self.names)} stages: {', '.join(self.names)}")
        for name, record in kept.items():
            self.finished(name, record)
        if kept:
            self.progress.stage(
                f"kept from the earlier run ({len(kept)} of {len(self.names)}): {', '.join(kept)}"
            )

    def started(self, name: str) -> None:
        if name not in self.names:
            return
        k = self.names.index(name) + 1
        self.progress.stage(f"stage {k} of {len(self.names)}: {name} ({self._time_text(name)})")
        if name == "probe" and self.work[name].train_steps:
            retrains = [n for n in self.names[k:] if self.work[n].full_training]
            if retrains:
                self.progress.stage(
                    f"note: {len(retrains)} more full training{'s' if len(retrains) > 1 else ''} of "
                    f"{self.work[name].train_steps} steps follow{'' if len(retrains) > 1 else 's'} this one "
                    f"({', '.join(retrains)}), each about as long as the probe's"
                )

    def finished(self, name: str, record: dict) -> None:
        self.done.add(name)
        timed = 0.0
        train = record.get("train") or (record.get("build") or {}).get("train")
        if isinstance(train, dict) and train.get("steps") and train.get("seconds"):
            self.rates["train"] = train["seconds"] / train["steps"]
            timed += train["seconds"]
        ev = record.get("eval") if isinstance(record.get("eval"), dict) else record
        if ev.get("n_items") and ev.get("eval_seconds"):
            self.rates["eval"] = ev["eval_seconds"] / ev["n_items"]
            timed += ev["eval_seconds"]
        if timed and record.get("seconds"):  # loading models, building adapters: what the rates miss
            self.overheads.append(max(0.0, record["seconds"] - timed))

    def remaining(self) -> float | None:
        """Estimated seconds for the stages not finished (the one starting included); None without rates."""
        left = [self.work[n] for n in self.names if n not in self.done]
        need_train = any(w.train_steps for w in left)
        if "eval" not in self.rates or (need_train and "train" not in self.rates):
            return None
        train, ev = self.rates.get("train", 0.0), self.rates["eval"]
        overhead = sum(self.overheads) / len(self.overheads) if self.overheads else 0.0
        return sum(w.train_steps * train + w.eval_items * ev + overhead for w in left if w != StageWork())

    def _time_text(self, name: str) -> str:
        elapsed = _fmt_seconds(time.perf_counter() - self.t0)
        left = self.remaining()
        if left is None:
            return (
                f"{elapsed} so far; an estimate of the rest comes once a training and an evaluation are timed"
            )
        return f"{elapsed} so far, about {_fmt_seconds(left)} left: an estimate from the timed stages"


def watch_bench(progress: Progress, run, cfg) -> StageClock:
    """Announce the bench's stages (and those a resumed run keeps), then count them as the run folder
    starts and finishes each one."""
    names = bench_stage_order(cfg)
    clock = StageClock(progress, names, bench_stage_work(names, cfg))
    clock.announce({n: run.record(n) for n in names if run.is_done(n)})
    run.watch = clock
    return clock
