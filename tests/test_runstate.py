"""The run folder: config lock with named differences, stage markers, wiping a killed stage."""

from __future__ import annotations

import time

import pytest

from rankbench.bench.runstate import RunDir, config_diff
from rankbench.errors import RankbenchError


def test_config_diff_names_nested_keys():
    a = {"train": {"steps": 10, "seed": 1}, "lora": {"probe_r": 8}}
    b = {"train": {"steps": 20, "seed": 1}, "lora": {"probe_r": 8, "alpha": 4}}
    assert config_diff(a, b) == ["lora.alpha", "train.steps"]


def test_claim_locks_the_folder_to_one_config(tmp_path):
    run = RunDir(tmp_path / "out")
    assert run.claim({"train": {"steps": 10}}, "h1") is False
    assert run.claim({"train": {"steps": 10}}, "h1") is True  # same config: resume
    run.finish("probe", {}, time.perf_counter())  # the lock binds once a stage has finished
    with pytest.raises(RankbenchError, match=r"another config \(differs in: train.steps\)"):
        run.claim({"train": {"steps": 20}}, "h2")


def test_a_run_that_failed_before_any_stage_finished_does_not_lock_the_folder(tmp_path):
    run = RunDir(tmp_path / "out")
    run.claim({"task": {"dataset": "typo.csv"}}, "bad")
    with pytest.raises(ValueError), run.stage("provenance"):
        raise ValueError("the dataset cannot be read")
    fixed = RunDir(tmp_path / "out")
    assert fixed.claim({"task": {"dataset": "data.csv"}}, "good") is False  # a fresh start, not a resume
    assert fixed.locked_config()["config"] == {"task": {"dataset": "data.csv"}}
    with fixed.stage("provenance") as st:
        assert not st.done  # the failed run's leftovers are wiped, as for any unfinished stage
        st.record = {}
    with pytest.raises(RankbenchError, match=r"another config \(differs in: task.dataset\)"):
        RunDir(tmp_path / "out").claim({"task": {"dataset": "typo.csv"}}, "bad")


def test_a_folder_whose_first_stage_is_running_is_not_taken_over(tmp_path):
    first = RunDir(tmp_path)
    first.claim({"a": 1}, "h1")
    first.begin("provenance")  # running, nothing finished yet
    with pytest.raises(RankbenchError, match="another rankbench process is running in this folder"):
        RunDir(tmp_path).claim({"a": 2}, "h2")
    assert first.locked_config()["config_hash"] == "h1"


def test_claim_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "something.txt").write_text("mine")
    with pytest.raises(RankbenchError, match="not empty and holds no rankbench run"):
        RunDir(tmp_path).claim({}, "h")
    assert (tmp_path / "something.txt").read_text() == "mine"


def test_a_stage_without_marker_is_wiped_and_redone(tmp_path):
    run = RunDir(tmp_path)
    run.claim({}, "h")
    d = run.begin("probe")
    (d / "half-written").write_text("x")
    assert not run.is_done("probe")
    d = run.begin("probe")  # a rerun after a kill
    assert not (d / "half-written").exists()
    rec = run.finish("probe", {"answer": 42}, time.perf_counter())
    assert run.is_done("probe")
    assert run.record("probe")["answer"] == 42 == rec["answer"]


def test_read_only_output_is_a_clear_error(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", read_only)  # root ignores permission bits, so simulate the FS
    with pytest.raises(RankbenchError, match="cannot write here") as info:
        RunDir(tmp_path / "out").claim({}, "h")
    assert str(tmp_path / "out") in info.value.render()


def test_a_stage_being_run_is_refused_to_a_second_process(tmp_path):
    first, second = RunDir(tmp_path), RunDir(tmp_path)  # two openers: flock treats them as two processes
    first.claim({}, "h")
    assert second.claim({}, "h") is True
    d = first.begin("probe")
    (d / "partial").write_text("still training")
    with pytest.raises(RankbenchError, match="another rankbench process is running the stage 'probe'"):
        second.begin("probe")
    assert (d / "partial").read_text() == "still training"  # the refusal wiped nothing
    second.begin("variants/uniform_median")  # another stage of the same run may go on (Ray's variants)
    first.finish("probe", {}, time.perf_counter())
    assert second.is_done("probe")
    second.begin("probe")  # released at finish


def test_a_killed_process_leaves_no_stale_lock(tmp_path):
    import signal
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from rankbench.bench.runstate import RunDir\n"
        "RunDir(sys.argv[1]).begin('probe')\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    RunDir(tmp_path).claim({}, "h")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RankbenchError, match="another rankbench process"):
            RunDir(tmp_path).begin("probe")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    RunDir(tmp_path).begin("probe")  # the kernel dropped the dead process's lock


# --- the stage context ---------------------------------------------------------------------------


def _run_stage(run: RunDir, name: str, calls: list, fail: BaseException | None = None) -> dict:
    """A stage body as the protocol writes one: skipped when done, files in st.dir, a record."""
    with run.stage(name) as st:
        if st.done:
            return st.record
        calls.append(name)
        (st.dir / "out.txt").write_text("x")
        if fail is not None:
            raise fail
        time.sleep(0.02)
        st.record = {"answer": 42}
    return st.record


def test_a_stage_runs_once_and_its_record_holds_the_timing(tmp_path):
    run = RunDir(tmp_path)
    run.claim({}, "h")
    calls: list = []
    t0 = time.perf_counter()
    rec = _run_stage(run, "probe", calls)
    took = time.perf_counter() - t0
    assert calls == ["probe"] and run.is_done("probe")
    assert rec == {"answer": 42, "stage": "probe", "seconds": rec["seconds"]}
    assert 0.02 <= rec["seconds"] <= took
    assert run.record("probe") == rec  # what was returned is what the marker holds
    again = _run_stage(run, "probe", calls)
    assert calls == ["probe"] and again == rec  # done: the body did not run, its record came back
    assert (tmp_path / "probe" / "out.txt").is_file()  # and nothing was wiped


@pytest.mark.parametrize("fail", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_exception_leaves_the_stage_undone_and_it_resumes(tmp_path, fail):
    run = RunDir(tmp_path)
    run.claim({}, "h")
    calls: list = []
    with pytest.raises(type(fail)):
        _run_stage(run, "probe", calls, fail=fail)
    assert not run.is_done("probe") and (tmp_path / "probe" / "out.txt").is_file()
    _assert_unlocked(tmp_path, "probe")
    rec = _run_stage(RunDir(tmp_path), "probe", calls)
    assert calls == ["probe", "probe"] and rec["answer"] == 42
    assert RunDir(tmp_path).is_done("probe")


def test_a_stage_body_that_sets_no_record_is_a_bug_not_a_finished_stage(tmp_path):
    run = RunDir(tmp_path)
    run.claim({}, "h")
    with (
        pytest.raises(RuntimeError, match="stage 'audit' ended without setting its record"),
        run.stage("audit"),
    ):
        pass
    assert not run.is_done("audit")
    _assert_unlocked(tmp_path, "audit")


def _assert_unlocked(root, name: str) -> None:
    """Another RunDir (as another process would) can take the stage: its lock was released."""
    other = RunDir(root)
    other.begin(name)
    other._unlock_stage(name)
