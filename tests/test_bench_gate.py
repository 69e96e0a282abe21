"""The probe quality gate: the configured minimum, or a default from the eval items' majority class."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from rankbench.bench.config import load_config
from rankbench.bench.gate import default_gate
from rankbench.bench.protocol import check_gate
from rankbench.errors import RankbenchError


def _predictions(tmp_path, labels):
    folder = tmp_path / "probe_eval"
    folder.mkdir(exist_ok=True)
    rows = [
        {"item_id": str(i), "score": 1.0} | ({} if y is None else {"label": y}) for i, y in enumerate(labels)
    ]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "predictions.jsonl"


@pytest.mark.parametrize(
    "labels, expected",
    [
        ([0, 1] * 5, 0.6),  # balanced: 0.5 + 0.2·0.5
        ([0] * 6 + [1] * 4, 0.68),  # 0.6 + 0.2·0.4
        ([2] * 9 + [0], 0.92),  # 0.9 + 0.2·0.1
        (["pos", "neg", "neu", "pos"], 0.6),  # 0.5 + 0.2·0.5, string labels count too
    ],
)
def test_default_gate_is_a_fifth_of_the_way_from_the_majority_class_to_perfect(tmp_path, labels, expected):
    value, source = default_gate(_predictions(tmp_path, labels))
    assert value == pytest.approx(expected)
    assert source.startswith("default: majority-class share")


def test_items_without_labels_have_no_chance_baseline(tmp_path):
    value, source = default_gate(_predictions(tmp_path, [None, None, None]))
    assert value == 0.0 and "no class labels" in source


def _bench(tmp_path, min_value, smoke=False):
    overrides = {} if min_value is None else {"task.probe_gate.min_value": min_value}
    cfg = load_config(None, overrides)
    return SimpleNamespace(cfg=cfg, smoke=smoke, run=SimpleNamespace(stage_dir=lambda name: tmp_path / name))


def test_check_gate_uses_the_default_when_the_config_sets_none(tmp_path):
    _predictions(tmp_path, [0, 1] * 10)
    probe = {"metric_key": "eval_accuracy", "value": 0.55}
    gate = check_gate(_bench(tmp_path, None), probe)
    assert (gate["min_value"], gate["passed"], gate["status"]) == (0.6, False, "FAILED")
    assert gate["min_value_source"].startswith("default")
    smoke = check_gate(_bench(tmp_path, None, smoke=True), probe)
    assert smoke["status"] == "UNDERTRAINED" and "smoke run" in smoke["message"]


def test_a_configured_minimum_wins(tmp_path):
    _predictions(tmp_path, [0, 1] * 10)
    gate = check_gate(_bench(tmp_path, 0.5), {"metric_key": "eval_accuracy", "value": 0.55})
    assert (gate["min_value"], gate["passed"], gate["status"]) == (0.5, True, "PASSED")
    assert gate["min_value_source"] == "config: task.probe_gate.min_value"


def test_a_minimum_that_is_not_a_number_is_refused():
    with pytest.raises(RankbenchError, match="task.probe_gate.min_value"):
        load_config(None, {"task.probe_gate.min_value": "high"})
