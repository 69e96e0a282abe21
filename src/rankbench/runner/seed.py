"""One seed, start to finish: the stages in order (:func:`rankbench.bench.protocol.run_stages`), then
bench.json, bench.md and bench.html from the run folder."""

from __future__ import annotations

from rankbench.bench.protocol import BenchRun, run_stages
from rankbench.errors import CheckFailed
from rankbench.run_layout import BENCH_JSON


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
    gate = run_stages(b, variants=variants)
    if not gate["passed"] and not b.smoke:
        doc = assemble_bench(b.run.root, b.cfg, **_context(b))
        write_bench(b.run.root, doc)
        raise CheckFailed(
            f"probe quality gate failed: {gate['message']}; no variants were built",
            path=b.run.root / BENCH_JSON,
            hint="check that the adapter was trained for this task (task.dataset, task.labels), or lower "
            "task.probe_gate.min_value"
            if b.cfg.probe.adapter
            else "train longer (train.steps), raise train.learning_rate, or lower task.probe_gate.min_value",
        )
    doc = assemble_bench(b.run.root, b.cfg, **_context(b))
    write_bench(b.run.root, doc)
    return doc
