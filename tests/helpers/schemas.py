"""Validate an artifact against its published schema (rankbench schema NAME)."""

from __future__ import annotations

import jsonschema

from rankbench.schemas import load_schema


def assert_valid(doc: dict, name: str) -> None:
    validator = jsonschema.Draft202012Validator(load_schema(name))
    errors = [f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, f"{name}: " + "; ".join(errors[:10])
