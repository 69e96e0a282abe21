"""A name that may be a path is taken for one: `my-run/adapter` that does not exist yet is "no such
folder", not a hub id; the hub is mentioned only for names that look like hub ids, HF_HUB_OFFLINE only
when it is set, and a run folder given where an adapter belongs gets "did you mean RUN/probe/adapter?"."""

from __future__ import annotations

import json

import pytest

from rankbench.adapters import open_adapter
from rankbench.bench.config import ModelConfig
from rankbench.bench.sources import is_hub_name, resolve_model
from rankbench.cli import main
from rankbench.errors import RankbenchError
from rankbench.hubid import looks_like_hub_id, offline_note, run_adapter_suggestion


def test_which_names_look_like_hub_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-run").mkdir()
    assert looks_like_hub_id("someone/some-adapter")
    assert not looks_like_hub_id("my-run/adapter")  # its first part is a folder here
    for local in ("./x/y", "/abs/path", "~/x", "a/b/c", "../x", "a\\b"):
        assert not looks_like_hub_id(local), local
    assert is_hub_name("gpt2") and is_hub_name("org/model") and not is_hub_name("my-run/base")


@pytest.mark.parametrize(("value", "said"), [(None, False), ("0", False), ("1", True), ("true", True)])
def test_hf_hub_offline_is_mentioned_only_when_set(monkeypatch, value, said):
    if value is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert ("HF_HUB_OFFLINE" in offline_note()) is said


def test_a_path_not_made_yet_is_no_such_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    (tmp_path / "my-run").mkdir()
    with pytest.raises(RankbenchError, match=r"^error: my-run/adapter: no such folder") as info:
        open_adapter("my-run/adapter")
    assert "hub" not in info.value.render()
    assert main(["audit", "my-run/adapter"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: my-run/adapter: no such folder") and "hub" not in err


def test_run_adapter_that_does_not_exist_says_no_such_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-run").mkdir()
    code = main(["run", "--adapter", "my-run/adapter", "--output", "out"])
    err = capsys.readouterr().err
    assert code == 2 and f"error: {tmp_path / 'my-run' / 'adapter'}: no such folder" in err, err
    assert "hub" not in err and "HF_HUB_OFFLINE" not in err and not (tmp_path / "out").exists()


def test_a_missing_model_folder_is_no_such_folder_not_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-run").mkdir()
    with pytest.raises(RankbenchError, match=r"my-run/base: no such folder") as info:
        resolve_model(ModelConfig(name="my-run/base"))
    assert "download" not in info.value.render()


def _run_folder(root):
    run = root / "run"
    (run / "probe" / "adapter").mkdir(parents=True)
    (run / "run_config.json").write_text(json.dumps({"config_hash": "h", "config": {}}))
    return run


def test_a_run_folder_where_an_adapter_belongs_gets_did_you_mean(tmp_path, capsys):
    run = _run_folder(tmp_path)
    assert run_adapter_suggestion(run / "probe") == run_adapter_suggestion(run)
    assert main(["audit", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"error: {run}: is a rankbench run folder, not an adapter" in err
    assert f"hint: did you mean {run / 'probe' / 'adapter'}?" in err
    code = main(["run", "--adapter", str(run), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and f"did you mean {run / 'probe' / 'adapter'}?" in err
    assert not (tmp_path / "out").exists()


def test_a_missing_path_inside_a_run_folder_gets_did_you_mean(tmp_path):
    run = _run_folder(tmp_path)
    with pytest.raises(RankbenchError) as info:
        open_adapter(run / "adapter")
    assert "no such folder" in info.value.message
    assert info.value.hint.startswith(f"did you mean {run / 'probe' / 'adapter'}?")
