"""The seed format's keys and types (tests/data/seed_format_keys.json) and the superset check built on
them: the fixture matches the examples where they are present, and the check can fail."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from helpers.seed_format import (
    ABSENT,
    EXAMPLES,
    KEYS_FILE,
    SEED,
    check_superset,
    has_seed_format,
    seed_example,
    superset_misses,
)


def _builder():
    path = Path(__file__).parent / "data" / "make_seed_format_keys.py"
    spec = importlib.util.spec_from_file_location("make_seed_format_keys", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fixture_matches_the_seed_examples():
    if not has_seed_format():
        pytest.skip(ABSENT)
    stored = json.loads(KEYS_FILE.read_text(encoding="utf-8"))
    assert stored == _builder().build(SEED), "regenerate: python tests/data/make_seed_format_keys.py"


def test_the_fixture_holds_both_documents_with_their_nested_keys():
    bench, aggregate = (seed_example(name) for name in EXAMPLES)
    assert len(bench) == 12 and len(aggregate) > 8
    assert bench["compressed"]["uniform_median"]["param_reduction"] == 0.0  # a float, as in the example
    assert bench["env"]["gpu_devices"] == [bench["env"]["gpu_devices"][0]]  # a list keeps one element
    assert aggregate["seeds"] == [0] and aggregate["n_seeds"] == 0


def test_a_document_with_every_key_passes_and_null_leaves_are_allowed(tmp_path):
    doc = copy.deepcopy(seed_example("bench.json"))
    doc["env"]["git_tag"] = None
    doc["extra"] = {"ours": 1}  # a superset may add keys
    (tmp_path / "ours.json").write_text(json.dumps(doc))
    check_superset("bench.json", tmp_path / "ours.json")


def test_missing_keys_and_other_types_are_each_named(tmp_path):
    doc = copy.deepcopy(seed_example("bench.json"))
    del doc["env"]["python_version"]
    doc["compressed"]["uniform_median"]["rank"] = "8"
    doc["env"]["gpu_devices"][0]["name"] = 3
    assert superset_misses(seed_example("bench.json"), doc) == [
        ".env.python_version: missing",
        ".env.gpu_devices[0].name: expected string, got number",
        ".compressed.uniform_median.rank: expected number, got string",
    ]
    (tmp_path / "ours.json").write_text(json.dumps(doc))
    with pytest.raises(AssertionError, match=r"\.env\.python_version: missing"):
        check_superset("bench.json", tmp_path / "ours.json")
    del doc["env"]  # a skipped top-level key is not checked, however different
    (tmp_path / "ours.json").write_text(json.dumps(doc))
    check_superset("bench.json", tmp_path / "ours.json", "env", "compressed")
