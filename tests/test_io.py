"""Atomic writes and the errors for full disks and read-only folders."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from rankbench.errors import RankbenchError
from rankbench.io import atomic_write_json, friendly_os_errors, read_json, to_jsonable


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert read_json(tmp_path / "a.json") == {"x": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


@pytest.mark.parametrize(
    "code, message",
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "no permission"),
    ],
)
def test_os_errors_become_clear_messages(tmp_path, code, message):
    with pytest.raises(RankbenchError, match=message) as info, friendly_os_errors(tmp_path / "x"):
        raise OSError(code, "boom")
    assert str(tmp_path / "x") in info.value.render()


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"x": 1})

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "full")

    monkeypatch.setattr("os.replace", full)
    with pytest.raises(RankbenchError, match="no space left"):
        atomic_write_json(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_to_jsonable_turns_non_finite_into_null():
    import numpy as np

    assert to_jsonable({"a": np.float64(1.5), "b": float("nan"), "c": np.arange(2)}) == {
        "a": 1.5,
        "b": None,
        "c": [0, 1],
    }


def test_one_cache_root_and_an_empty_variable_counts_as_unset(monkeypatch, tmp_path):
    from rankbench.bench import gguf_cache, sources
    from rankbench.io import default_cache_root

    monkeypatch.setenv("RANKBENCH_CACHE", str(tmp_path))
    assert default_cache_root() == tmp_path
    assert sources.default_cache_root is gguf_cache.default_cache_root is default_cache_root
    monkeypatch.setenv("RANKBENCH_CACHE", "")
    assert default_cache_root() == Path.home() / ".cache" / "rankbench"


def test_sha256_file_names_an_unreadable_file(tmp_path):
    from rankbench.io import sha256_file

    (tmp_path / "x").write_bytes(b"abc")
    assert sha256_file(tmp_path / "x") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(RankbenchError, match=r"cannot be read"):
        sha256_file(tmp_path)
