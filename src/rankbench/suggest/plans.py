"""Plans: a rank for every module, how it was chosen, what it costs and what it discards.

A plan is built from an audit (the exact σ of every module, :mod:`rankbench.auditor`) or anything with
the same ``.modules`` (name, r, alpha, scale, shape (out, in), singular_values):

- ``uniform_median`` / ``uniform_p90``: the median / 90th percentile (numpy's linear interpolation) of
  the per-module ranks a rule picks, rounded up to the allowed set. The default allowed set is the
  powers of two up to the adapter's r plus r itself; rounding never goes down and never above r (a probe
  of r=64 whose rule says 40 gets 64, or 48 if 48 is allowed). A module whose own r (rank_pattern) is
  below the uniform rank keeps its r.
- ``per_layer``: each module's rule rank rounded up to the allowed set (capped at its r). Every module
  is listed; none is left to a default.
- ``budget:F`` / ``budget_params:N``: the ranks that minimise the total discarded energy Σ σ² for a LoRA
  parameter budget (a fraction F of the current one, or N parameters); see :mod:`.allocate`.
- ``rank:K``: K everywhere (a module with r < K keeps r; K above the adapter's r is an error).

Parameter counts cover the LoRA A/B matrices only, r·(in + out) per module. Tensors that are not LoRA
pairs (a classifier head, ``modules_to_save``) are reported separately as ``other_params`` and never
enter ``param_reduction``.

``cap_numerical_rank=True`` (what compression of single-file formats uses) caps every module's rank at
its number of non-zero singular values (:func:`rankbench.spectral.truncate.numerical_rank`, at least 1),
so nothing is padded with zero directions; the plan records ``capped_modules``.

Alpha policy (recorded in the plan): ``keep_scale`` (default) gives each module the alpha that keeps
its effective scale, alpha' = scale·k (scale·√k for rsLoRA); ``keep_alpha`` keeps the source alpha, so
the scale becomes alpha/k. Either way compression writes factors such that PEFT's delta scale'·B'·A' is
exactly the rank-k truncation; the policy only changes how the factors are balanced against the scale
(it matters for further fine-tuning, not for the delta).
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.names import ALPHA_POLICIES, PLAN_MENU, PLAN_PERCENTILES
from rankbench.records import from_record
from rankbench.spectral.truncate import numerical_rank
from rankbench.suggest.allocate import allocate_budget, default_allowed_ranks, minimum_params, round_up
from rankbench.suggest.document import DEFAULT_RULE
from rankbench.suggest.rules import parse_rule

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModuleView:
    """What a plan needs of one module (from an AuditResult's ModuleAudit or a spectra pass)."""

    name: str
    r: int
    alpha: float
    scale: float
    out: int
    n_in: int
    s: np.ndarray  # (r,) σ of scale·B·A, descending

    @property
    def cost(self) -> int:  # LoRA parameters per unit of rank
        return self.out + self.n_in


def pattern_key(module_name: str) -> str:
    """A rank_pattern/alpha_pattern key that PEFT 0.21 matches to exactly this module.

    PEFT (``peft.utils.other.get_pattern_key``) tests ``re.match(rf"(.*\\.)?({key})$", module_path)``:
    the key is a regex, anchored at the end, and may match after any dotted prefix. A bare path like
    ``layers.1.mlp.up_proj`` would also match ``model.layers.1.mlp.up_proj`` and any other module whose
    path ends that way, and its dots match any character. ``^`` + the escaped full path only matches
    when the optional prefix group is empty, i.e. the whole path, character for character.
    """
    return "^" + re.escape(module_name)


def module_views(audit_result) -> list[ModuleView]:
    views = []
    for m in audit_result.modules:
        out, n_in = (int(x) for x in m.shape)
        s = np.sort(np.asarray(m.singular_values, dtype=np.float64))[::-1]
        views.append(ModuleView(m.name, int(m.r), float(m.alpha), float(m.scale), out, n_in, s))
    if not views:
        raise RankbenchError("the adapter has no LoRA modules to plan for")
    return views


def uses_rslora(audit_result, views: list[ModuleView]) -> bool:
    """From the audit when it says; otherwise from the scales (alpha/√r vs alpha/r differ when r > 1)."""
    for holder in (audit_result, getattr(audit_result, "adapter", None)):
        value = getattr(holder, "use_rslora", None)
        if value is not None:
            return bool(value)
    config = getattr(audit_result, "config", None)
    if isinstance(config, dict) and "use_rslora" in config:
        return bool(config["use_rslora"])
    votes = [abs(v.scale - v.alpha / math.sqrt(v.r)) < abs(v.scale - v.alpha / v.r) for v in views if v.r > 1]
    return bool(votes) and all(votes)


def other_params(audit_result) -> int | None:
    """Parameters in saved tensors that are not LoRA pairs (heads, modules_to_save), when known."""
    for holder, attr in ((audit_result, "others"), (getattr(audit_result, "adapter", None), "other_tensors")):
        others = getattr(holder, attr, None)
        if others is not None:
            return int(sum(int(getattr(o, "numel", 0)) for o in others))
    return None


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


@dataclass(frozen=True)
class Plan:
    name: str
    rule: str | None
    ranks: dict[str, int]
    source_ranks: dict[str, int]
    alpha_policy: str
    alphas: dict[str, float]
    source_alphas: dict[str, float]
    use_rslora: bool
    lora_params: int
    source_lora_params: int
    param_reduction: float
    discarded_energy: float
    total_energy: float
    discarded_energy_fraction: float
    module_discarded_energy: dict[str, float]
    uniform_rank: int | None = None
    allowed_ranks: list[int] | None = None
    rule_ranks: dict[str, int] | None = None
    budget_params: int | None = None
    budget_solver: str | None = None
    budget_gap: float | None = None
    other_params: int | None = None
    max_rank: int | None = None  # a deployment cap applied after the plan's own choice (cap_ranks)
    capped_modules: dict[str, int] | None = None  # module → the rank before the numerical-rank cap
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records

    def scale_of(self, module: str) -> float:
        k = self.ranks[module]
        return self.alphas[module] / (math.sqrt(k) if self.use_rslora else k)

    def peft_config_update(self, source_config: dict) -> dict:
        """The new adapter_config.json: ``r``, ``lora_alpha`` and, unless every module has the same rank
        and alpha, ``rank_pattern``/``alpha_pattern`` listing every module by its exact pattern key.
        Everything else of the source config (target_modules, use_rslora, modules_to_save …) is kept."""
        cfg = copy.deepcopy(dict(source_config))
        names = sorted(self.ranks)
        ranks = {self.ranks[n] for n in names}
        alphas = Counter(_num(self.alphas[n]) for n in names)
        uniform = len(ranks) == 1 and len(alphas) == 1
        cfg["r"] = int(max(ranks))
        cfg["lora_alpha"] = alphas.most_common(1)[0][0]
        cfg["rank_pattern"] = {} if uniform else {pattern_key(n): int(self.ranks[n]) for n in names}
        cfg["alpha_pattern"] = {} if uniform else {pattern_key(n): _num(self.alphas[n]) for n in names}
        return cfg


def _alpha(v: ModuleView, k: int, policy: str, rslora: bool) -> float:
    if policy == "keep_alpha" or k == v.r:
        return v.alpha
    return v.alpha * (math.sqrt(k / v.r) if rslora else k / v.r)  # = scale·√k (rsLoRA) or scale·k


def _cap(views, ranks: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Ranks capped at each module's numerical rank (≥ 1), and {module: rank before} for the capped."""
    capped, before = dict(ranks), {}
    for v in views:
        limit = max(1, numerical_rank(v.s))
        if ranks[v.name] > limit:
            before[v.name] = int(ranks[v.name])
            capped[v.name] = limit
    return capped, before


def _build(name, views, ranks, *, rule, alpha_policy, audit_result, cap=False, **extra) -> Plan:
    if alpha_policy not in ALPHA_POLICIES:
        raise RankbenchError(
            f"unknown alpha policy {alpha_policy!r}", hint=f"choose one of: {', '.join(ALPHA_POLICIES)}"
        )
    if cap:
        ranks, extra["capped_modules"] = _cap(views, ranks)
    rslora = uses_rslora(audit_result, views)
    dropped = {v.name: float(np.sum(v.s[ranks[v.name] :] ** 2)) for v in views}
    total = float(sum(np.sum(v.s**2) for v in views))
    params = sum(ranks[v.name] * v.cost for v in views)
    source = sum(v.r * v.cost for v in views)
    return Plan(
        name=name,
        rule=rule,
        ranks={v.name: int(ranks[v.name]) for v in views},
        source_ranks={v.name: v.r for v in views},
        alpha_policy=alpha_policy,
        alphas={v.name: float(_alpha(v, ranks[v.name], alpha_policy, rslora)) for v in views},
        source_alphas={v.name: v.alpha for v in views},
        use_rslora=rslora,
        lora_params=int(params),
        source_lora_params=int(source),
        param_reduction=1.0 - params / source,
        discarded_energy=float(sum(dropped.values())),
        total_energy=total,
        discarded_energy_fraction=float(sum(dropped.values()) / total) if total > 0 else 0.0,
        module_discarded_energy=dropped,
        other_params=other_params(audit_result),
        **extra,
    )


def _allowed(allowed_ranks, r_max: int) -> list[int]:
    if allowed_ranks is None:
        return default_allowed_ranks(r_max)
    values = list(allowed_ranks)
    if not values or any(isinstance(a, bool) or int(a) != a or a < 1 for a in values):
        raise RankbenchError(
            f"allowed ranks must be positive integers, got {values}", hint="for example 4,8,16,32,48,64"
        )
    return sorted({int(a) for a in values})


def _int_param(spec: str, raw: str, what: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise RankbenchError(
            f"plan {spec!r} needs {what} as a positive integer", hint=f"choose one of: {PLAN_MENU}"
        )
    return value


def make_plan(
    spec: str,
    audit_result,
    *,
    rule=DEFAULT_RULE,
    allowed_ranks=None,
    alpha_policy="keep_scale",
    cap_numerical_rank=False,
) -> Plan:
    """Build the plan named by ``spec`` (see the module docs) from an audit."""
    views = module_views(audit_result)
    r_max = max(v.r for v in views)
    head, _, raw = str(spec).partition(":")
    common = {"alpha_policy": alpha_policy, "audit_result": audit_result, "cap": cap_numerical_rank}
    if spec in PLAN_PERCENTILES or spec == "per_layer":
        parsed = parse_rule(rule)
        allowed = _allowed(allowed_ranks, r_max)
        rule_ranks = {v.name: parsed(v.s, (v.out, v.n_in)) for v in views}
        if spec == "per_layer":
            ranks = {v.name: round_up(rule_ranks[v.name], allowed, v.r) for v in views}
            uniform = None
        else:
            q = float(np.percentile(list(rule_ranks.values()), PLAN_PERCENTILES[spec]))
            uniform = round_up(math.ceil(q - 1e-9), allowed, r_max)
            ranks = {v.name: min(uniform, v.r) for v in views}
        return _build(
            spec,
            views,
            ranks,
            rule=parsed.spec,
            uniform_rank=uniform,
            allowed_ranks=allowed,
            rule_ranks=rule_ranks,
            **common,
        )
    if head == "rank" and raw:
        k = _int_param(spec, raw, "K")
        if k > r_max:
            raise RankbenchError(
                f"rank {k} is above the adapter's r = {r_max}",
                hint=f"a plan can only shrink an adapter: choose rank:K with K <= {r_max}",
            )
        return _build(spec, views, {v.name: min(k, v.r) for v in views}, rule=None, uniform_rank=k, **common)
    if head in ("budget", "budget_params") and raw:
        source = sum(v.r * v.cost for v in views)
        if head == "budget":
            try:
                fraction = float(raw)
            except ValueError:
                fraction = math.nan
            if not 0 < fraction <= 1:
                raise RankbenchError(
                    f"plan {spec!r} needs a fraction of the current LoRA parameters in (0, 1]",
                    hint="for example budget:0.5, or budget_params:N for an absolute count",
                )
            budget = int(math.floor(fraction * source))
        else:
            budget = _int_param(spec, raw, "N")
        return _budget_plan(spec, views, budget, **common)
    raise RankbenchError(f"unknown plan {spec!r}", hint=f"choose one of: {PLAN_MENU}")


def _budget_plan(spec, views, budget, **common) -> Plan:
    costs = [v.cost for v in views]
    floor = minimum_params(costs)
    if budget < floor:
        raise RankbenchError(
            f"budget of {budget} LoRA parameters is below the minimum of {floor} "
            f"(rank 1 for each of the {len(views)} modules)",
            hint=f"raise the budget to at least {floor} parameters",
        )
    alloc = allocate_budget([v.s**2 for v in views], costs, budget)
    ranks = {v.name: min(k, v.r) for v, k in zip(views, alloc.ranks, strict=True)}
    return _build(
        spec,
        views,
        ranks,
        rule=None,
        budget_params=int(budget),
        budget_solver=alloc.solver,
        budget_gap=alloc.upper_bound_gap,
        **common,
    )


def cap_ranks(plan: Plan, audit_result, max_rank: int) -> Plan:
    """``plan`` with every module's rank capped at ``max_rank``, whatever the plan chose.

    Serving stacks have such caps (vLLM's ``max_lora_rank``, hosted services at 32). Parameter
    counts, discarded energy and alphas are recomputed for the capped ranks; the plan keeps its name
    and records the cap in ``max_rank``.
    """
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
        raise RankbenchError(
            f"--max-rank must be a positive integer, got {max_rank!r}", hint="e.g. --max-rank 32"
        )
    views = module_views(audit_result)
    extra = {
        k: getattr(plan, k)
        for k in ("allowed_ranks", "rule_ranks", "budget_params", "budget_solver", "budget_gap")
    }
    return _build(
        plan.name,
        views,
        {name: min(k, max_rank) for name, k in plan.ranks.items()},
        rule=plan.rule,
        alpha_policy=plan.alpha_policy,
        audit_result=audit_result,
        uniform_rank=None if plan.uniform_rank is None else min(plan.uniform_rank, max_rank),
        max_rank=max_rank,
        **extra,
    )


def plan_from_ranks(name: str, ranks: dict[str, int], audit_result, *, alpha_policy="keep_scale") -> Plan:
    """A plan with the given rank for every module (e.g. a control); each rank must be in [1, r]."""
    views = module_views(audit_result)
    known = {v.name for v in views}
    unknown = sorted(set(ranks) - known)
    missing = sorted(known - set(ranks))
    if unknown:
        raise RankbenchError(
            f"plan {name!r} names modules the adapter does not have: {', '.join(unknown[:5])}"
        )
    if missing:
        raise RankbenchError(
            f"plan {name!r} leaves modules without a rank: {', '.join(missing[:5])}",
            hint="a plan lists every module explicitly",
        )
    for v in views:
        k = ranks[v.name]
        if isinstance(k, bool) or int(k) != k or not 1 <= k <= v.r:
            raise RankbenchError(
                f"rank {k} for module {v.name} is outside [1, {v.r}] (its r is {v.r})",
                hint="a plan can only shrink an adapter",
            )
    return _build(
        name,
        views,
        {n: int(k) for n, k in ranks.items()},
        rule=None,
        alpha_policy=alpha_policy,
        audit_result=audit_result,
    )
