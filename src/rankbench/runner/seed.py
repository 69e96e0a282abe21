"""One seed, start to finish: the stages in order (:func:`rankbench.bench.protocol.run_stages`), then
bench.json, bench.md and bench.html from the run folder."""

from __future__ import annotations

from rankbench.bench.protocol import BenchRun, run_stages
from rankbench.errors import CheckFailed
from rankbench.run_layout import BENCH_JSON


def run_bench(b: BenchRun, *, variants: bool = True) -> dict:
    """Run (or resume) every stage of one seed and write bench.json + bench.md. Returns bench.json."""
    from rankbench.artifacts.bench import assemble_bench, assembled_now, write_bench

    gate = run_stages(b, variants=variants)
    if not gate["passed"] and not b.smoke:
        doc = assemble_bench(b.run.root, b.cfg, **assembled_now())
        write_bench(b.run.root, doc)
        raise CheckFailed(
            f"probe quality gate failed: {gate['message']}; no variants were built",
            path=b.run.root / BENCH_JSON,
            hint="check that the adapter was trained for this task (task.dataset, task.labels), or lower "
            "task.probe_gate.min_value"
            if b.cfg.probe.adapter
            else "train longer (train.steps), raise train.learning_rate, or lower task.probe_gate.min_value",
        )
    doc = assemble_bench(b.run.root, b.cfg, **assembled_now())
    write_bench(b.run.root, doc)
    return doc
