"""The bench end to end through the CLI on a tiny random BERT: artifacts, the seed format, jq, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.schemas import assert_valid
from helpers.seed_format import check_superset, seed_example
from helpers.tiny_bench import tiny_bench_config
from rankbench.cli import main

EXPECTED_KEYS = {
    "uniform_median",
    "uniform_median_retrain",
    "uniform_median_finetuned",
    "uniform_p90",
    "per_layer",
    "per_layer_shuffled",
    "random_subspace",
}


def _env(root: Path) -> dict:
    return {
        **os.environ,
        "RANKBENCH_CACHE": str(root / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _cli(args: list[str], root: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rankbench", *args],
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    config = tiny_bench_config(root)
    out = root / "run"
    proc = _cli(["run", "--config", str(config), "--output", str(out)], root)
    assert proc.returncode == 0, proc.stderr
    return {
        "root": root,
        "config": config,
        "out": out,
        "doc": json.loads((out / "bench.json").read_text()),
        "stderr": proc.stderr,
    }


def test_artifacts_and_stage_folders(world):
    out, doc = world["out"], world["doc"]
    assert_valid(doc, "bench")
    assert set(doc["compressed"]) == EXPECTED_KEYS
    for stage in [
        "provenance",
        "probe",
        "probe_eval",
        "audit",
        "plans",
        *(f"variants/{k}" for k in EXPECTED_KEYS),
    ]:
        assert (out / stage / "stage.json").is_file(), stage
    assert (out / "audit" / "audit.json").is_file()
    assert (out / "probe" / "adapter" / "adapter_model.safetensors").is_file()
    n = doc["probe"]["n_eval_items"]
    assert n == 300
    assert doc["probe"]["eval_forward"]["path"] == "first_token"
    assert {v["eval_forward"]["path"] for v in doc["compressed"].values()} == {"first_token"}
    for key in EXPECTED_KEYS:
        rows = (out / "variants" / key / "predictions.jsonl").read_text().splitlines()
        assert len(rows) == n
        assert (out / "variants" / key / "adapter" / "adapter_config.json").is_file()
    assert (out / "bench.md").read_text().startswith("# rankbench bench")
    assert "| uniform_median_retrain | retrain |" in (out / "bench.md").read_text()
    # where and in what precision the probe trained: the resolved train.dtype ("auto" on a CPU is fp32)
    train = doc["probe"]["train"]
    assert (train["device"], train["compute_dtype"]) == ("cpu", "float32")
    assert f"- **Training:** {train['steps']} steps on cpu in float32" in (out / "bench.md").read_text()
    assert "training the probe" in world["stderr"]
    assert (
        f"{out / 'bench.html'} and {out / 'bench.md'}" in world["stderr"]
    )  # the closing line names the page


def test_every_seed_key_is_present_with_its_type(world):
    check_superset("bench.json", world["out"] / "bench.json")


def test_the_seed_readmes_checks_hold(world, tmp_path):
    """The jq commands of ../shared/seed/bench_artifacts_README.md, run with jq when it is installed,
    and the same checks in Python either way."""
    doc, path = world["doc"], world["out"] / "bench.json"
    for field in ["bench_version", "env", "config_metadata", "compressed"]:
        assert field in doc
    assert set(seed_example("bench.json")) <= set(doc)
    assert isinstance(doc["config_metadata"]["primary_metric_key"], str)
    assert 0 < doc["compressed"]["uniform_median"]["param_reduction"] < 1
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed; the checks above are the Python equivalents")

    def jq(*args: str) -> str:
        return subprocess.run(["jq", *args, str(path)], capture_output=True, text=True, check=True).stdout

    assert json.loads(jq("."))["kind"] == "bench"
    assert jq(".config_metadata.primary_metric_key").strip() == '"eval_accuracy"'
    assert jq(".env.git_commit").strip() != ""
    assert (
        float(jq(".compressed.uniform_median.param_reduction"))
        == doc["compressed"]["uniform_median"]["param_reduction"]
    )
    lines = jq("-r", '.compressed | to_entries[] | "\\(.key): \\(.value.param_reduction)"').splitlines()
    assert len(lines) == len(EXPECTED_KEYS)
    env_line = jq(
        "-r",
        '.env | "Python: \\(.python_version), PyTorch: \\(.torch_version), GPU: \\(.gpu_devices[0].name)"',
    ).strip()
    assert env_line.startswith(f"Python: {doc['env']['python_version']}, PyTorch: ")
    example = tmp_path / "seed_bench.json"  # the seed example's keys and types (tests/data)
    example.write_text(json.dumps(seed_example("bench.json")))
    ours, theirs = (
        jq("keys | sort"),
        subprocess.run(
            ["jq", "keys | sort", str(example)], capture_output=True, text=True, check=True
        ).stdout,
    )
    assert set(json.loads(theirs)) <= set(json.loads(ours))


def test_numbers_recheck_from_the_files(world):
    """Δ, the verdict and the reduction in bench.json follow from predictions and plans."""
    import numpy as np

    from rankbench.stats import noninferiority, paired_delta

    out, doc = world["out"], world["doc"]
    probe = [
        json.loads(x)["score"] for x in (out / "probe_eval" / "predictions.jsonl").read_text().splitlines()
    ]
    assert doc["probe"]["accuracy"] == pytest.approx(np.mean(probe))
    for key, v in doc["compressed"].items():
        rows = [
            json.loads(x) for x in (out / "variants" / key / "predictions.jsonl").read_text().splitlines()
        ]
        scores = [r["score"] for r in rows]
        assert v["accuracy"] == pytest.approx(np.mean(scores))
        assert v["delta_vs_probe"] == pytest.approx(np.mean(scores) - np.mean(probe))
        pd = paired_delta(probe, scores, confidence=0.95, tolerance=0.05)  # the verdict's critical value
        assert v["ci"]["low"] == pytest.approx(pd.ci_low)
        assert v["verdict"] == noninferiority(pd, 0.05).verdict
        assert v["param_reduction"] == pytest.approx(1 - v["params"] / doc["probe"]["params"])
    controls = {k for k, v in doc["compressed"].items() if v["role"] == "control"}
    assert {"per_layer_shuffled", "random_subspace"} <= controls
    assert doc["config_metadata"]["config_hash"] == _sha_of_resolved(doc)
    assert doc["env"]["validation_classification"]["level"] in ("underpowered", "resolves_tolerance")
    for v in doc["compressed"].values():  # the interval, its method and the discordant counts, side by side
        assert v["ci"]["method"].startswith("Tango score interval")
        assert v["ci"]["variant_only_correct"] == v["paired"]["variant_only_correct"]
    assert doc["timings"]["probe_train"] > 0
    threads = doc["env"]["threads"]  # the OpenMP wait the CLI chose, and why, travel with the numbers
    assert threads["OMP_NUM_THREADS"] == "1" and threads["openmp_wait"]
    if "kept the user's" not in threads["openmp_wait"]:
        assert threads["OMP_WAIT_POLICY"] == "PASSIVE"
        assert (threads["GOMP_SPINCOUNT"] is not None) == threads["openmp_wait"].endswith("then sleep")


def _sha_of_resolved(doc: dict) -> str:
    import hashlib

    text = json.dumps(doc["config_metadata"]["resolved_config"], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _comparable(doc: dict) -> dict:
    return {k: (v["accuracy"], v["verdict"], v["ci"]["low"]) for k, v in doc["compressed"].items()}


def test_resume_after_a_kill_between_and_inside_stages(world, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(world["out"], out)
    # between stages: the last variants and the report never happened
    shutil.rmtree(out / "variants" / "random_subspace")
    shutil.rmtree(out / "variants" / "per_layer_shuffled")
    (out / "bench.json").unlink()
    # inside a stage: a variant folder with its adapter written but no marker
    (out / "variants" / "uniform_p90" / "stage.json").unlink()
    (out / "variants" / "uniform_p90" / "eval.json").unlink()
    proc = _cli(["run", "--config", str(world["config"]), "--output", str(out)], world["root"])
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr
    assert "training the probe" not in proc.stderr  # finished stages were not redone
    assert _comparable(json.loads((out / "bench.json").read_text())) == _comparable(world["doc"])


def test_sigkill_mid_run_then_rerun_gives_the_same_results(world, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rankbench", "run", "--config", str(world["config"]), "--output", str(out)]
    proc = subprocess.Popen(
        cmd, env=_env(world["root"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while not (out / "audit" / "stage.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert not (out / "bench.json").exists()
    done = _cli(["run", "--config", str(world["config"]), "--output", str(out)], world["root"])
    assert done.returncode == 0, done.stderr
    assert _comparable(json.loads((out / "bench.json").read_text())) == _comparable(world["doc"])


def test_ctrl_c_exits_130_and_the_folder_resumes(world, tmp_path, ctrl_c_delivered):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rankbench", "run", "--config", str(world["config"]), "--output", str(out)]
    proc = subprocess.Popen(
        cmd,
        env=_env(world["root"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_delivered,  # SIGINT as a terminal delivers it, whatever this run inherited
    )
    deadline = time.time() + 300
    while not (out / "probe" / "stage.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    done = _cli(["run", "--config", str(world["config"]), "--output", str(out)], world["root"])
    assert done.returncode == 0, done.stderr


def test_a_ctrl_c_that_a_library_swallows_still_stops_the_run(
    world, tmp_path, monkeypatch, capsys, ctrl_c_delivered
):
    """Ctrl-C inside third-party code with a bare ``except:`` is lost to Python; the run stops at the
    next stage all the same, exits 130 and resumes."""
    from rankbench.bench import protocol

    out = tmp_path / "run"
    shutil.copytree(world["out"], out)
    for stage in ("audit", "plans", "variants", "bench.json"):
        target = out / stage
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    real_audit = protocol.stage_audit

    def audit_in_a_swallowing_library(b):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # the handler runs at the next bytecode boundary
                pass
        except:  # noqa: E722 - what the library does
            pass
        return real_audit(b)

    monkeypatch.setattr(protocol, "stage_audit", audit_in_a_swallowing_library)
    for key, value in _env(world["root"]).items():
        monkeypatch.setenv(key, value)
    args = ["run", "--config", str(world["config"]), "--output", str(out), "--quiet"]
    assert main(args) == 130
    assert "interrupted" in capsys.readouterr().err
    # it stopped at the start of the next stage (the audit's own), before any of its work
    assert (out / "probe_eval" / "stage.json").is_file() and not (out / "audit" / "stage.json").exists()
    assert not (out / "bench.json").exists()
    monkeypatch.setattr(protocol, "stage_audit", real_audit)
    assert main(args) == 0
    assert _comparable(json.loads((out / "bench.json").read_text())) == _comparable(world["doc"])


def test_another_config_on_the_same_folder_is_refused(world, tmp_path):
    import yaml

    data = yaml.safe_load(world["config"].read_text())
    data["train"]["steps"] = 41
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    proc = _cli(["run", "--config", str(other), "--output", str(world["out"])], world["root"])
    assert proc.returncode == 2
    assert "another config (differs in: train.steps)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failed_gate_stops_before_variants(tmp_path, monkeypatch):
    monkeypatch.setenv("RANKBENCH_CACHE", str(tmp_path / "cache"))
    config = tiny_bench_config(tmp_path, task={"probe_gate": {"min_value": 1.01}})
    assert main(["run", "--config", str(config), "--output", str(tmp_path / "run"), "--quiet"]) == 1
    doc = json.loads((tmp_path / "run" / "bench.json").read_text())
    assert doc["probe_quality_gate"]["passed"] is False
    assert doc["probe_quality_gate"]["min_value_source"] == "config: task.probe_gate.min_value"
    assert doc["protocol_invariants"]["probe_quality_gate"]["status"] == "FAILED"
    assert doc["compressed"] == {}
    assert not (tmp_path / "run" / "variants").exists()
    assert_rebuilds_the_same(tmp_path / "run", tmp_path / "rebuilt")


def test_smoke_records_an_undertrained_probe_and_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RANKBENCH_CACHE", str(tmp_path / "cache"))
    config = tiny_bench_config(tmp_path, task={"probe_gate": {"min_value": 1.01}})
    assert (
        main(["run", "--config", str(config), "--output", str(tmp_path / "run"), "--smoke", "--quiet"]) == 0
    )
    doc = json.loads((tmp_path / "run" / "bench.json").read_text())
    assert doc["probe_quality_gate"]["status"] == "UNDERTRAINED"
    assert doc["env"]["validation_classification"]["level"] == "smoke"
    assert doc["config_metadata"]["resolved_config"]["train"]["steps"] == 20
    assert set(doc["compressed"]) == EXPECTED_KEYS
    assert_rebuilds_the_same(tmp_path / "run", tmp_path / "rebuilt")


# --- rankbench report --rebuild: bench.json from the run folder's records alone ---------------------


def assert_rebuilds_the_same(run: Path, out: Path) -> None:
    assert main(["report", str(run), "--rebuild", "--output", str(out)]) == 0
    for name in ("bench.json", "bench.md"):
        assert (out / name).read_bytes() == (run / name).read_bytes(), name
    assert_valid(json.loads((out / "bench.json").read_text()), "bench")


def test_report_rebuild_gives_the_same_bench_json(world, tmp_path):
    assert_rebuilds_the_same(world["out"], tmp_path / "rebuilt")


def test_report_rebuild_gives_the_same_bench_html(world, tmp_path):
    from rankbench.report.svg import matplotlib_available

    if not matplotlib_available():
        pytest.skip("matplotlib is not installed, so neither the bench nor the rebuild writes bench.html")
    page = world["out"] / "bench.html"
    assert page.is_file()
    assert main(["report", str(world["out"]), "--rebuild", "--output", str(tmp_path / "rebuilt")]) == 0
    assert (tmp_path / "rebuilt" / "bench.html").read_bytes() == page.read_bytes()


def test_a_rebuild_without_bench_json_recomputes_every_record_derived_key(world, tmp_path, capsys):
    from rankbench.artifacts.bench import DERIVED_ENV_KEYS

    out = tmp_path / "run"
    shutil.copytree(world["out"], out)
    for name in ("bench.json", "bench.md", "bench.html"):
        (out / name).unlink(missing_ok=True)
    assert main(["report", str(out), "--rebuild"]) == 0
    err = capsys.readouterr().err
    assert f"rebuilt from the records in {out}:" in err
    assert all(f"  {out / name}\n" in err for name in ("bench.json", "bench.md", "bench.html"))
    new, old = json.loads((out / "bench.json").read_text()), world["doc"]
    # the timestamp and the machine facts are this process's; everything from the records is the same
    assert set(new) == set(old) and new["timestamp"] != old["timestamp"]
    assert {k: v for k, v in new.items() if k not in ("timestamp", "env")} == {
        k: v for k, v in old.items() if k not in ("timestamp", "env")
    }
    assert {k: new["env"][k] for k in DERIVED_ENV_KEYS} == {k: old["env"][k] for k in DERIVED_ENV_KEYS}
    assert (out / "bench.md").read_text().startswith("# rankbench bench")


def test_the_rebuild_reads_where_data_and_model_came_from_in_the_provenance_record(world, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(world["out"], out)
    record = json.loads((out / "provenance" / "stage.json").read_text())
    assert record["n_eval_items"] == 300 and record["data"]["split_sizes"] == {"train": 400, "eval": 300}
    record["data"]["revision"], record["model"]["revision"] = "sha256:data-edited", "sha256:model-edited"
    record["data"]["split_sizes"]["train"] = 800
    (out / "provenance" / "stage.json").write_text(json.dumps(record))
    assert main(["report", str(out), "--rebuild"]) == 0
    doc = json.loads((out / "bench.json").read_text())
    assert doc["env"]["dataset_info"]["revision"] == "sha256:data-edited"
    assert doc["env"]["model_info"]["revision"] == "sha256:model-edited"
    assert doc["env"]["dataset_info"]["split_sizes"] == {"train": 800, "eval": 300, "test": 300}
    assert doc["config_metadata"]["embedded_config"]["train"]["train_samples"] == 800


def test_a_folder_older_than_the_provenance_record_is_refused_then_resumed(world, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(world["out"], out)
    shutil.rmtree(out / "provenance")  # as written before the record existed
    assert main(["report", str(out), "--rebuild"]) == 2
    err = capsys.readouterr().err
    assert "this run folder predates the provenance record" in err
    assert "run the same `rankbench run --config ... --output RUN` again" in err
    assert "Traceback" not in err
    proc = _cli(["run", "--config", str(world["config"]), "--output", str(out)], world["root"])
    assert proc.returncode == 0, proc.stderr
    assert "training the probe" not in proc.stderr  # the resume only records where data and model came from
    assert json.loads((out / "provenance" / "stage.json").read_text()) == json.loads(
        (world["out"] / "provenance" / "stage.json").read_text()
    ) | {"seconds": json.loads((out / "provenance" / "stage.json").read_text())["seconds"]}
    assert_rebuilds_the_same(out, tmp_path / "rebuilt")


def test_rebuild_refuses_a_folder_that_holds_no_run(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--rebuild"]) == 2
    err = capsys.readouterr().err
    assert "no run_config.json here: not a rankbench run folder" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "absent"), "--rebuild"]) == 2
    assert "no such run folder" in capsys.readouterr().err
