"""The claim policy: which clauses a multi-seed result must satisfy, loaded from YAML and evaluated.

The shipped policy is ``rankbench/data/policy_default.yaml``; a user file replaces it whole. Clauses
(each may be null = switched off):

    min_seeds              n_seeds ≥ value
    min_pass_rate          pass_rate ≥ value, or "majority": more than half of the seeds PASS alone
                           (off in the shipped policy since v3: it made the claim harder to reach
                           with every seed added, P(pass | Δ = 0) 0.21 at 5 seeds → 0.10 at 10)
    decision_ci_lower_gt   decision_ci.low > value               (value: number or "-tolerance")
    min_power              power of the decision interval ≥ value (see rankbench.stats.power)

Two older clauses are still read, so that existing policy files keep working, but the shipped policy
leaves them out: ``worst_seed_delta_min`` (the worst seed's Δ; a minimum, so it gets harder to meet
with every seed added) and ``pooled_ci_lower_gt`` (the hierarchical bootstrap interval, which
under-covers with few seeds). They are optional keys; the four above are required.

The tolerance in force is the policy's ``tolerance`` when it is a number, else the bench's. The same
tolerance decides the per-seed verdicts, the decision interval's clause and the power. "≥" comparisons
allow 1e-12 of floating-point rounding.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankbench.errors import RankbenchError
from rankbench.keys import DECISION_CI, PASS_RATE
from rankbench.stats._validate import to_dict
from rankbench.stats.power import statistical_power

USE_TOLERANCE = "-tolerance"
MAJORITY = "majority"
ROUNDING_SLACK = 1e-12
TOP_KEYS = ("name", "version", "description", "tolerance", "clauses")
REQUIRED_TOP_KEYS = ("name", "version", "clauses")
# clause key -> (observed quantity, comparison)
CLAUSES = {
    "min_seeds": ("n_seeds", "≥"),
    "min_pass_rate": (PASS_RATE, "≥"),
    "decision_ci_lower_gt": (f"{DECISION_CI}.low", ">"),
    "min_power": ("power", "≥"),
    "worst_seed_delta_min": ("worst_seed_delta", "≥"),
    "pooled_ci_lower_gt": ("delta_ci_pooled.ci_low", ">"),
}
OPTIONAL_CLAUSES = ("worst_seed_delta_min", "pooled_ci_lower_gt")


@dataclass(frozen=True)
class Policy:
    """A validated claim policy; ``clauses`` maps each clause key to its threshold (None = off)."""

    name: str
    version: str
    description: str
    tolerance: float | None
    clauses: dict[str, float | str | None]
    source: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tolerance": self.tolerance,
            "clauses": dict(self.clauses),
            "source": self.source,
            "sha256": self.sha256,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _unknown(key: str, where: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    guess = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{where}{key}'{guess}"


def _check_clause(key: str, value: Any) -> str | None:
    """An error message for clause ``key`` holding ``value``, or None if it is valid."""
    if value is None:
        return None
    if key == "min_seeds":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if ok else f"clauses.min_seeds must be an integer ≥ 1 or null, got {value!r}"
    if key == "min_pass_rate" and value == MAJORITY:
        return None
    if key in ("min_pass_rate", "min_power"):
        ok = _is_number(value) and 0.0 <= value <= 1.0
        also = f", '{MAJORITY}'" if key == "min_pass_rate" and isinstance(value, str) else ""
        return None if ok else f"clauses.{key} must be a number in [0, 1]{also} or null, got {value!r}"
    ok = value == USE_TOLERANCE or _is_number(value)
    return None if ok else f"clauses.{key} must be a number, '{USE_TOLERANCE}' or null, got {value!r}"


def _validate(data: Any) -> list[str]:
    """Every problem with a parsed policy mapping, so that all of them are reported at once."""
    if not isinstance(data, dict):
        return [f"a policy must be a YAML mapping of keys, got {type(data).__name__}"]
    errors = [_unknown(k, "", TOP_KEYS) for k in data if k not in TOP_KEYS]
    errors += [f"missing key '{k}'" for k in REQUIRED_TOP_KEYS if k not in data]
    if "name" in data and not (isinstance(data["name"], str) and data["name"].strip()):
        errors.append(f"'name' must be a non-empty string, got {data['name']!r}")
    version = data.get("version", "")
    if isinstance(version, bool) or not isinstance(version, (str, int)):
        errors.append(f"'version' must be a string or an integer, got {data['version']!r}")
    if not isinstance(data.get("description", ""), str):
        errors.append("'description' must be a string")
    tol = data.get("tolerance")
    if tol is not None and not (_is_number(tol) and tol >= 0):
        errors.append(f"'tolerance' must be a number ≥ 0 or null (use the bench's), got {tol!r}")
    clauses = data.get("clauses", {})
    if not isinstance(clauses, dict):
        return [*errors, f"'clauses' must be a mapping of clause keys, got {type(clauses).__name__}"]
    errors += [_unknown(k, "clauses.", list(CLAUSES)) for k in clauses if k not in CLAUSES]
    for key in CLAUSES:
        if key not in clauses and key in OPTIONAL_CLAUSES:
            continue
        if key not in clauses:
            errors.append(f"missing key 'clauses.{key}' (write null to switch the clause off)")
        else:
            errors += [e for e in [_check_clause(key, clauses[key])] if e]
    return errors


def parse_policy(data: Any, *, source: str, sha256: str = "") -> Policy:
    """A :class:`Policy` from a parsed YAML mapping; RankbenchError naming ``source`` and every problem."""
    errors = _validate(data)
    if errors:
        raise RankbenchError(
            "invalid policy: " + "; ".join(errors),
            path=source,
            hint="start from the shipped policy: rankbench/data/policy_default.yaml",
        )
    tol = data.get("tolerance")
    return Policy(
        name=data["name"],
        version=str(data["version"]),
        description=data.get("description", "") or "",
        tolerance=None if tol is None else float(tol),
        clauses={k: data["clauses"].get(k) for k in CLAUSES},
        source=source,
        sha256=sha256,
    )


def load_policy(path: str | Path | None = None) -> Policy:
    """Read a policy YAML file (None: the shipped ``rankbench/data/policy_default.yaml``) and validate it.

    A missing or unreadable file, invalid YAML, a missing or unknown key or a bad value raises
    RankbenchError naming the file and the key. The Policy records the file's path and sha256.
    """
    if path is None:
        from importlib.resources import files

        resource = files("rankbench") / "data" / "policy_default.yaml"
        source, raw = str(resource), resource.read_bytes()
    else:
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise RankbenchError(
                "policy file not found", path=source, hint="check the path, or omit it to use the default"
            ) from None
        except OSError as exc:
            raise RankbenchError(f"cannot read the policy file: {exc.strerror}", path=source) from None
    try:
        import yaml
    except ModuleNotFoundError:  # pragma: no cover - pyyaml comes with the bench extra
        raise RankbenchError("reading a policy needs PyYAML", hint="pip install 'rankbench[bench]'") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        from rankbench.errors import yaml_error

        raise yaml_error(exc, source, raw.decode("utf-8", "replace"), "policy is not valid YAML") from None
    return parse_policy(data, source=source, sha256=hashlib.sha256(raw).hexdigest())


@dataclass(frozen=True)
class ClauseResult:
    """One clause: ``observed op threshold`` and whether it held (False when observed is None)."""

    clause: str
    quantity: str
    op: str
    threshold: float
    observed: float | None
    held: bool
    text: str


@dataclass(frozen=True)
class PolicyResult:
    """Whether every active clause held, which failed, and each clause's observed value."""

    passed: bool
    policy: str
    tolerance: float
    tolerance_source: str
    clauses: tuple[ClauseResult, ...]
    failed: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)  # clauses become a list of dicts


def _lookup(stats: dict[str, Any], dotted: str) -> Any:
    value: Any = stats
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise RankbenchError(f"variant statistics lack '{dotted}'", hint="use aggregate_variant()")
        value = value[part]
    return value


def _observed(stats: dict[str, Any], clause: str, tolerance: float) -> float | None:
    if clause == "min_power":  # recomputed: the policy may set a tolerance other than the block's
        ci = _lookup(stats, DECISION_CI)
        conf = ci.get("confidence", 0.95)
        n_seeds = _lookup(stats, "n_seeds")
        return statistical_power(
            ci.get("se"), tolerance, n_seeds=n_seeds, confidence=conf, df=ci.get("df")
        ).power
    value = _lookup(stats, CLAUSES[clause][0])
    return None if value is None else float(value)


def clause_test(clause: str, threshold: float | str, tolerance: float) -> tuple[str, float]:
    """(op, limit) of an active clause: "-tolerance" becomes −tolerance, "majority" becomes > 0.5."""
    if clause == "min_pass_rate" and threshold == MAJORITY:
        return ">", 0.5
    limit = -tolerance if threshold == USE_TOLERANCE else float(threshold)
    return CLAUSES[clause][1], limit


def holds(observed: Any, op: str, limit: float) -> Any:
    """observed op limit, with 1e-12 of rounding slack for ≥ (works on numpy arrays too)."""
    return observed > limit if op == ">" else observed >= limit - ROUNDING_SLACK


def evaluate_policy(policy: Policy, variant_stats: dict[str, Any]) -> PolicyResult:
    """Check each active clause of ``policy`` against one variant block from :func:`aggregate_variant`.

    passed = every active clause held. A clause holds iff ``observed ≥ threshold − 1e-12`` (or
    ``observed > threshold`` for the interval clauses and the majority rule); an unavailable
    observation (None) does not hold.
    """
    if policy.tolerance is not None:
        tolerance, tol_source = policy.tolerance, "policy"
    else:
        tolerance, tol_source = float(_lookup(variant_stats, "tolerance")), "bench"
    results = []
    for clause, threshold in policy.clauses.items():
        if threshold is None:
            continue
        quantity = CLAUSES[clause][0]
        op, limit = clause_test(clause, threshold, tolerance)
        observed = _observed(variant_stats, clause, tolerance)
        held = False if observed is None else bool(holds(observed, op, limit))
        shown = "unavailable" if observed is None else f"{observed:.6g}"
        text = f"{quantity} = {shown} {op} {limit:.6g}: {'held' if held else 'FAILED'}"
        results.append(ClauseResult(clause, quantity, op, limit, observed, held, text))
    failed = tuple(r.clause for r in results if not r.held)
    return PolicyResult(
        passed=not failed,
        policy=f"{policy.name} v{policy.version}",
        tolerance=tolerance,
        tolerance_source=tol_source,
        clauses=tuple(results),
        failed=failed,
    )
