"""The run as a whole on stderr: the stage list first, "stage k of N" with the time so far and an
estimate from the timed stages, a warning at the probe when a retrain follows, and the kept stages."""

from __future__ import annotations

import io

from rankbench.bench.config import BenchConfig
from rankbench.bench.progress import (
    Progress,
    StageClock,
    StageWork,
    bench_stage_order,
    bench_stage_work,
    watch_bench,
)
from rankbench.bench.runstate import RunDir

CFG = BenchConfig.from_dict(
    {
        "task": {"eval_size": 100},
        "train": {"steps": 10},
        "compression": {
            "variants": ["uniform_median", "per_layer"],
            "methods": {"uniform_median": ["truncate", "retrain", "truncate+finetune"]},
            "finetune_steps": 4,
        },
    }
)
NAMES = [
    "provenance",
    "probe",
    "probe_eval",
    "audit",
    "plans",
    "variants/uniform_median",
    "variants/uniform_median_retrain",
    "variants/uniform_median_finetuned",
    "variants/per_layer",
]


def clock_on(stream) -> StageClock:
    names = bench_stage_order(CFG)
    return StageClock(Progress(stream=stream), names, bench_stage_work(names, CFG))


def test_the_stage_order_and_the_work_of_each_stage():
    assert bench_stage_order(CFG) == NAMES
    work = bench_stage_work(NAMES, CFG)
    assert work["probe"] == StageWork(train_steps=10, full_training=True)
    assert work["probe_eval"] == StageWork(eval_items=100)
    assert work["variants/uniform_median_retrain"] == StageWork(10, 100, full_training=True)
    assert work["variants/uniform_median_finetuned"] == StageWork(4, 100)
    assert work["variants/per_layer"] == StageWork(eval_items=100)
    assert work["audit"] == work["plans"] == work["provenance"] == StageWork()


def test_the_first_line_lists_the_stages_and_each_stage_is_counted():
    out = io.StringIO()
    clock = clock_on(out)
    clock.announce({})
    clock.started("provenance")
    lines = out.getvalue().splitlines()
    assert lines[0] == f"[rankbench] 9 stages: {', '.join(NAMES)}"
    assert lines[1].startswith("[rankbench] stage 1 of 9: provenance (0:00 so far; an estimate of the rest")


def test_the_probe_warns_that_a_full_retrain_follows():
    out = io.StringIO()
    clock_on(out).started("probe")
    assert (
        "note: 1 more full training of 10 steps follows this one (variants/uniform_median_retrain), "
        "each about as long as the probe's"
    ) in out.getvalue()


def test_no_retrain_no_warning():
    cfg = BenchConfig.from_dict({"compression": {"methods": {"uniform_median": ["truncate"]}}})
    out = io.StringIO()
    names = bench_stage_order(cfg)
    StageClock(Progress(stream=out), names, bench_stage_work(names, cfg)).started("probe")
    assert "stage 2 of" in out.getvalue() and "note:" not in out.getvalue()


def test_the_estimate_is_the_work_left_at_the_timed_rates():
    clock = clock_on(io.StringIO())
    clock.finished("provenance", {"data": {}})
    clock.finished("probe", {"train": {"steps": 10, "seconds": 20.0}})  # 2 s a step
    assert clock.remaining() is None  # no evaluation timed yet
    clock.finished("probe_eval", {"n_items": 100, "eval_seconds": 10.0})  # 0.1 s an item
    # left: 4 variants evaluating 100 items (4 x 10 s), the retrain's 10 steps (20 s), the finetune's 4 (8 s)
    assert clock.remaining() == 40.0 + 20.0 + 8.0
    # a later timing replaces the rate: the retrain ran at 3 s a step
    clock.finished(
        "variants/uniform_median_retrain",
        {"build": {"train": {"steps": 10, "seconds": 30.0}}, "eval": {"n_items": 100, "eval_seconds": 10.0}},
    )
    assert clock.remaining() == 30.0 + 12.0


def test_the_stage_line_gives_the_estimate_and_says_it_is_one():
    out = io.StringIO()
    clock = clock_on(out)
    clock.finished("probe", {"train": {"steps": 10, "seconds": 20.0}})
    clock.finished("probe_eval", {"n_items": 100, "eval_seconds": 10.0})
    clock.started("audit")
    assert "stage 4 of 9: audit (0:00 so far, about 1:08 left: an estimate from the timed stages)" in (
        out.getvalue()
    )


def test_the_estimate_adds_the_time_stages_spend_outside_training_and_evaluation():
    clock = clock_on(io.StringIO())
    clock.finished("probe", {"train": {"steps": 10, "seconds": 20.0}, "seconds": 26.0})  # 6 s loading
    clock.finished("probe_eval", {"n_items": 100, "eval_seconds": 10.0, "seconds": 12.0})  # 2 s
    # 68 s of training and evaluation left (as above), plus the mean 4 s for each of the 4 variants
    assert clock.remaining() == 68.0 + 4 * 4.0


def test_a_resume_says_which_stages_it_keeps_and_estimates_from_their_records(tmp_path):
    run = RunDir(tmp_path)
    run.claim({}, "h")
    for name, record in (
        ("provenance", {}),
        ("probe", {"train": {"steps": 10, "seconds": 20.0}}),
        ("probe_eval", {"n_items": 100, "eval_seconds": 10.0}),
    ):
        with run.stage(name) as st:
            st.record = record
    out = io.StringIO()
    resumed = RunDir(tmp_path)
    clock = watch_bench(Progress(stream=out), resumed, CFG)
    assert "kept from the earlier run (3 of 9): provenance, probe, probe_eval" in out.getvalue()
    assert clock.remaining() == 68.0
    with resumed.stage("audit") as st:  # the run folder tells the clock
        st.record = {}
    assert "stage 4 of 9: audit" in out.getvalue() and "audit" in clock.done


def test_quiet_prints_nothing():
    out = io.StringIO()
    clock = StageClock(Progress(quiet=True, stream=out), NAMES, bench_stage_work(NAMES, CFG))
    clock.announce({})
    clock.started("probe")
    assert out.getvalue() == ""
