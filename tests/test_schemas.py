"""The published JSON Schemas: printed by `rankbench schema`, well-formed, a superset of the seed format."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest

from helpers.schemas import assert_valid
from helpers.seed_format import seed_example
from rankbench.cli import main
from rankbench.schemas import SCHEMA_NAMES, load_schema


def test_schema_command_lists_and_prints(capsys):
    assert main(["schema"]) == 0
    assert capsys.readouterr().out.split() == list(SCHEMA_NAMES)
    for name in SCHEMA_NAMES:
        assert main(["schema", name]) == 0
        out = capsys.readouterr().out
        assert out == (files("rankbench") / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
        jsonschema.Draft202012Validator.check_schema(json.loads(out))


def test_an_unknown_schema_is_exit_2_with_the_names(capsys):
    assert main(["schema", "bench.json"]) == 2
    err = capsys.readouterr().err
    assert "no schema named 'bench.json'; the schemas are: bench, bench_aggregate, audit, compression" in err


def _kinds(json_value) -> set[str]:
    if isinstance(json_value, bool):
        return {"boolean"}
    if isinstance(json_value, (int, float)):
        return {"number", "integer"} if isinstance(json_value, int) else {"number"}
    return {{str: "string", list: "array", dict: "object"}[type(json_value)]}


def _declared(schema: dict, root: dict) -> dict:
    return root["$defs"][schema["$ref"].split("/")[-1]] if "$ref" in schema else schema


def _walk(example, schema: dict, root: dict, path: str, misses: list[str]) -> None:
    schema = _declared(schema, root)
    types = schema.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    if "const" in schema or "enum" in schema:
        types = {"string", "number", "integer", "boolean"}
    if types and not (_kinds(example) & types):
        misses.append(f"{path}: the seed has {_kinds(example)}, the schema allows {sorted(types)}")
    if isinstance(example, dict):
        props = schema.get("properties", {})
        for key, value in example.items():
            if key in props:
                if key not in schema.get("required", []):
                    misses.append(f"{path}.{key}: declared but not required")
                _walk(value, props[key], root, f"{path}.{key}", misses)
            elif isinstance(schema.get("additionalProperties"), dict):
                _walk(value, schema["additionalProperties"], root, f"{path}.{key}", misses)
            else:
                misses.append(f"{path}.{key}: not declared")
    elif isinstance(example, list) and example and "items" in schema:
        _walk(example[0], schema["items"], root, f"{path}[0]", misses)


@pytest.mark.parametrize("name", ["bench", "bench_aggregate"])
def test_the_schema_declares_every_seed_key_with_its_type(name):
    example = seed_example(f"{name}.json")  # the seed's keys and types (tests/data/seed_format_keys.json)
    schema, misses = load_schema(name), []
    _walk(example, schema, schema, "", misses)
    assert misses == []
    assert len(example) > 8  # the walk saw a real document


def test_validation_can_fail():
    doc = {
        "schema_version": 1,
        "kind": "audit",
        "method": "exact",
        "adapter": {},
        "modules": [{}],
        "summary": {},
    }
    with pytest.raises(AssertionError, match=r"modules/0: 'name' is a required property"):
        assert_valid(doc, "audit")
