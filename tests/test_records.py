"""The one from_dict rule (rankbench.records.from_record): unknown and missing keys are errors that name
the class and key, tuples and nested records are rebuilt from JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pytest

from rankbench.errors import RankbenchError
from rankbench.records import from_record


@dataclass(frozen=True)
class Leaf:
    name: str
    shape: tuple[int, ...]

    @classmethod
    def from_dict(cls, data: dict) -> Leaf:
        return from_record(cls, data)


@dataclass(frozen=True)
class Tree:
    leaves: list[Leaf]
    best: Leaf | None
    pair: tuple[float, float]
    values: tuple[float, ...] | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)


def _json_round_trip(obj) -> dict:
    return json.loads(json.dumps(asdict(obj)))


def test_nested_records_and_tuples_come_back_equal():
    tree = Tree([Leaf("a", (2, 3)), Leaf("b", ())], Leaf("c", (1,)), (0.5, 1.5), (1.0, 2.0), ["x"], {"k": 1})
    again = from_record(Tree, _json_round_trip(tree))
    assert again == tree
    assert isinstance(again.leaves[0], Leaf) and isinstance(again.leaves[0].shape, tuple)
    assert isinstance(again.best, Leaf) and isinstance(again.pair, tuple)


def test_defaults_fill_what_is_missing_and_none_stays_none():
    tree = from_record(Tree, {"leaves": [], "best": None, "pair": [1.0, 2.0]})
    assert tree == Tree([], None, (1.0, 2.0))


def test_a_missing_key_names_the_class_and_the_key():
    with pytest.raises(RankbenchError, match=r"Tree record lacks key\(s\): best, pair"):
        from_record(Tree, {"leaves": []})


def test_an_unknown_key_names_the_class_and_the_key():
    with pytest.raises(RankbenchError, match=r"Leaf record has unknown key\(s\): colour"):
        from_record(
            Tree, {"leaves": [{"name": "a", "shape": [1], "colour": "red"}], "best": None, "pair": [0, 1]}
        )


def test_a_record_that_is_not_a_mapping_is_refused():
    with pytest.raises(RankbenchError, match=r"Leaf record is not a mapping \(got list\)"):
        from_record(Leaf, ["a", [1]])


def test_the_library_records_follow_the_rule():
    from rankbench.adapters.pairs import OtherTensor
    from rankbench.monitor.checks import Alert, MonitorThresholds
    from rankbench.suggest.compress import CompressionRecord

    tensor = OtherTensor("score.weight", (2, 8), "F32", 16)
    assert OtherTensor.from_dict(json.loads(json.dumps(tensor.to_dict()))) == tensor
    alert = Alert(3, "inert", ("q", "v"), "message")
    assert Alert.from_dict(json.loads(json.dumps(alert.to_dict()))) == alert
    with pytest.raises(RankbenchError, match=r"MonitorThresholds record has unknown key\(s\): warmup"):
        MonitorThresholds.from_dict({"warmup": 3})
    with pytest.raises(RankbenchError, match=r"CompressionRecord record lacks key\(s\): source_path"):
        CompressionRecord.from_dict({})
