"""The seed artifact format, as the facts the tests need: which keys bench.json and bench_aggregate.json
must have, and the JSON type of each. They live in tests/data/seed_format_keys.json, so that every
checkout (a bare clone too) checks the superset contract; that file is the seed examples in
../shared/seed with each value replaced by a blank of its type (0, 0.0, "", false; a list keeps one
element). Where ../shared is present, a test checks that the fixture still matches the examples
(regenerate it with ``python tests/data/make_seed_format_keys.py``).

The contract, from ../shared/seed/bench_artifacts_README.md and its checker: every key of the example
is in ours, with the same JSON type (numbers are one type, int or float), or null where we have nothing
to say (no GPU, say); a list's first element is checked against the example's first element.
"""

from __future__ import annotations

import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SEED = SHARED / "seed"
ABSENT = f"the seed format is not beside this checkout ({SEED}); a bare clone has no ../shared"
KEYS_FILE = Path(__file__).resolve().parents[1] / "data" / "seed_format_keys.json"
EXAMPLES = ("bench.json", "bench_aggregate.json")


def has_seed_format() -> bool:
    return all((SEED / name).is_file() for name in EXAMPLES)


def seed_example(name: str) -> dict:
    """The key-and-type skeleton of the seed's ``name`` (``bench.json`` or ``bench_aggregate.json``)."""
    return json.loads(KEYS_FILE.read_text(encoding="utf-8"))["examples"][name]


def skeleton(value):
    """``value`` with only its keys and JSON types kept: what the fixture stores of an example."""
    if isinstance(value, dict):
        return {k: skeleton(v) for k, v in value.items()}
    if isinstance(value, list):
        return [skeleton(value[0])] if value else []
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, str)):
        return type(value)()
    return None


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object", type(None): "null"}[type(value)]


def superset_misses(example, ours, path: str = "") -> list[str]:
    """Where ``ours`` falls short of ``example``: missing keys and other types, one line each."""
    if ours is None and not isinstance(example, (dict, list)):
        return []  # a leaf we have nothing to say about
    if _kind(example) != _kind(ours):
        return [f"{path or '.'}: expected {_kind(example)}, got {_kind(ours)}"]
    misses: list[str] = []
    if isinstance(example, dict):
        for key, value in example.items():
            if key not in ours:
                misses.append(f"{path}.{key}: missing")
            else:
                misses.extend(superset_misses(value, ours[key], f"{path}.{key}"))
    elif isinstance(example, list) and example and ours:
        misses.extend(superset_misses(example[0], ours[0], f"{path}[0]"))
    return misses


def check_superset(example: str, ours: Path, *skip_keys: str) -> None:
    """Assert that the JSON file ``ours`` has every key of the seed's ``example`` with its type;
    ``skip_keys``: top-level keys whose contents may legitimately differ (other variant names)."""
    expected = {k: v for k, v in seed_example(example).items() if k not in skip_keys}
    doc = json.loads(Path(ours).read_text(encoding="utf-8"))
    misses = superset_misses(expected, {k: v for k, v in doc.items() if k not in skip_keys})
    assert misses == [], f"{ours} is not a superset of the seed's {example}:\n" + "\n".join(misses)
