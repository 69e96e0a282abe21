"""Variants: which smaller adapters the bench builds from the probe, and how. One row each.

A variant is a *plan* (per-module ranks, from the suggest rules) and a *method*:
``truncate`` (best rank-k of the probe, no training), ``retrain`` (a fresh LoRA at the plan's ranks,
same seed and step budget) or ``truncate+finetune`` (truncate, then more steps).

:data:`VARIANT_TABLE` holds one :class:`VariantRow` per variant: the plan it starts from (a spec in the
syntax of ``compress --plan``), how its own plan derives from that one, how the probe is cut to the
plan, and whether it is a control. The bench protocol reads the row and nothing else, so a new variant
is one new row; :func:`rows_from_plan_specs` builds rows from plan specs a user gives (``rank:8``,
``budget:0.5``), the hook for a ladder of candidate plans.

Two controls answer the questions a careful reviewer asks:
- ``per_layer_shuffled``: the per_layer ranks permuted across modules. Same total budget, but blind to
  which module needs what. If it does as well as per_layer, the per-module allocation carries no signal.
- ``random_subspace``: the probe projected on a random rank-k subspace at uniform_median's ranks. Same
  parameter count as uniform_median but not the best rank-k. If it does as well, the SVD choice is moot.
A variant whose plan keeps every module at the probe's rank is marked a control, not a compression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rankbench.names import BENCH_METHOD_SUFFIX, COMPRESS_METHODS
from rankbench.run_layout import variant_stage

if TYPE_CHECKING:
    from rankbench.suggest.plans import Plan

# how a variant's plan derives from its base plan (see DERIVATIONS); how the probe is cut to it
IDENTITY, SHUFFLED = "identity", "shuffled"
TRUNCATE, RANDOM_SUBSPACE = COMPRESS_METHODS


@dataclass(frozen=True)
class VariantRow:
    name: str  # what a user lists in compression.variants; its key in bench.json
    base_plan: str  # the plan it starts from, in `compress --plan` syntax: "per_layer", "rank:8", ...
    derive: str = IDENTITY  # how its own plan comes from the base plan: a key of DERIVATIONS
    compress: str = TRUNCATE  # how the probe is cut to the plan: "truncate" or "random_subspace"
    control: bool = False  # a question about the method, not a candidate compression
    # a control's question answered: what it means when it passes ({size}: its ranks), for the findings
    meaning: str = ""

    @property
    def plan_name(self) -> str:
        """Its plan's key in plans.json: the base plan's own, unless the plan is derived."""
        return self.base_plan if self.derive == IDENTITY else self.name


def _row_table(*rows: VariantRow) -> dict[str, VariantRow]:
    return {row.name: row for row in rows}


# every variant, in the order a bench builds them (the default compression.variants)
VARIANT_TABLE: dict[str, VariantRow] = _row_table(
    VariantRow("uniform_median", "uniform_median"),
    VariantRow("uniform_p90", "uniform_p90"),
    VariantRow("per_layer", "per_layer"),
    VariantRow(
        "per_layer_shuffled",
        "per_layer",
        derive=SHUFFLED,
        control=True,
        meaning="per_layer's ranks dealt to the wrong modules do as well as the probe. The per-module "
        "allocation carries no signal here: any assignment of the same budget does as well, so which "
        "module gets which rank is not shown to matter",
    ),
    VariantRow(
        "random_subspace",
        "uniform_median",
        compress=RANDOM_SUBSPACE,
        control=True,
        meaning="a random subspace of this adapter's rank at {size} does as well as the probe. The "
        "spectrum's choice of directions is not what keeps quality here; the compression verdicts stand, "
        "but they do not show that the audit chose well",
    ),
)
# the plans every bench builds from the audit, whichever variants it runs (bench.json's probe block
# reads uniform_median and uniform_p90)
DEFAULT_PLANS = ("uniform_median", "uniform_p90", "per_layer")


def variant_names() -> tuple[str, ...]:
    return tuple(VARIANT_TABLE)


def control_names() -> tuple[str, ...]:
    return tuple(name for name, row in VARIANT_TABLE.items() if row.control)


def variant_row(name: str) -> VariantRow:
    return VARIANT_TABLE[name]


def rows_from_plan_specs(specs: Iterable[str], *, compress: str = TRUNCATE) -> tuple[VariantRow, ...]:
    """One candidate row per plan spec (``rank:8`` -> variant ``rank_8`` built from plan ``rank:8``).

    The hook for a ladder of candidate plans given by the user: its rungs become rows, and the
    protocol builds, compresses and evaluates them like any other variant.
    """
    return tuple(VariantRow(spec.replace(":", "_"), spec, compress=compress) for spec in specs)


@dataclass(frozen=True)
class VariantJob:
    key: str  # the key in bench.json's `compressed` block, e.g. "uniform_median_retrain"
    variant: str  # e.g. "uniform_median"
    method: str  # "truncate" | "retrain" | "truncate+finetune"
    rung: VariantRow | None = None  # a ladder rung's own row (rungs are not rows of VARIANT_TABLE)

    @property
    def stage(self) -> str:
        return variant_stage(self.key)

    @property
    def row(self) -> VariantRow:
        return self.rung or variant_row(self.variant)


def variant_jobs(compression_cfg) -> list[VariantJob]:
    """Every (variant, method) pair the config asks for, in a stable order. With a ladder: its rungs
    (largest first, truncations of the probe), then the controls the config lists."""
    jobs = []
    ladder = getattr(compression_cfg, "ladder", None)
    if ladder is not None:
        jobs += [VariantJob(row.name, row.name, TRUNCATE, rung=row) for row in ladder_rows(ladder)]
    for variant in compression_cfg.variants:
        if ladder is not None and not VARIANT_TABLE[variant].control:
            continue  # the rungs take the place of the menu's compressions
        methods = compression_cfg.methods.get(variant, [compression_cfg.default_method])
        for method in methods:
            jobs.append(VariantJob(variant + BENCH_METHOD_SUFFIX[method], variant, method))
    return jobs


def rung_jobs(jobs: Iterable[VariantJob]) -> list[VariantJob]:
    return [job for job in jobs if job.rung is not None]


# --- the ladder ------------------------------------------------------------------------------------

LADDER_KINDS = ("rank", "budget", "budget_params")  # a rung's plan: rank:K, budget:F, budget_params:N


def ladder_rows(specs: Iterable[str]) -> tuple[VariantRow, ...]:
    """The rungs as rows: ``rank:8`` -> variant ``rank_8`` built from plan ``rank:8`` by truncation."""
    return rows_from_plan_specs(specs)


def default_ladder_specs(probe_r: int, allowed_ranks) -> list[str]:
    """The allowed uniform ranks below the probe's, largest first (``rank:8, rank:4, rank:2, rank:1``)."""
    from rankbench.stats.ladder import default_ladder

    if allowed_ranks:
        return default_ladder(probe_r, allowed=sorted(allowed_ranks))
    return default_ladder(probe_r)


def _rung_size(spec: str) -> tuple[str, float]:
    head, _, raw = str(spec).partition(":")
    if head not in LADDER_KINDS or not raw:
        raise ValueError(f"rung {spec!r}: expected rank:K, budget:FRACTION or budget_params:N")
    value = float(raw) if head == "budget" else int(raw)
    return head, value


def ladder_problem(specs: list[str], probe_r: int) -> str | None:
    """What is wrong with a ladder's rungs (None: nothing): unknown forms, mixed kinds, a rank the probe
    does not have, a budget outside (0, 1), or an order other than largest to smallest."""
    from rankbench.errors import RankbenchError
    from rankbench.stats.ladder import check_order

    try:
        sizes = [_rung_size(s) for s in specs]
    except ValueError as exc:
        return f"{exc} (e.g. ladder: [rank:8, rank:4, rank:2, rank:1], or ladder: [default])"
    kinds = {kind for kind, _ in sizes}
    if len(kinds) > 1:
        return f"mixes rung kinds ({', '.join(sorted(kinds))}): give one kind, largest first"
    for spec, (kind, value) in zip(specs, sizes, strict=True):
        if kind == "rank" and not 1 <= value < probe_r:
            return f"rung {spec}: a rank below lora.probe_r={probe_r} and at least 1"
        if kind == "budget" and not 0 < value < 1:
            return f"rung {spec}: a fraction of the probe's parameters in (0, 1)"
        if kind == "budget_params" and value < 1:
            return f"rung {spec}: a positive number of parameters"
    try:
        check_order(list(specs), [value for _, value in sizes])
    except RankbenchError as exc:
        return exc.message
    return None


# --- plans -----------------------------------------------------------------------------------------


def shuffled_ranks(ranks: dict[str, int], seed: int) -> dict[str, int]:
    """The same multiset of ranks assigned to modules in a random order (fixed generator).

    Ranks are clipped to each module's own r by the caller's plan builder, so the permutation is drawn
    among modules; names stay sorted so that the draw does not depend on dict order.
    """
    import numpy as np

    names = sorted(ranks)
    values = np.array([ranks[n] for n in names])
    perm = np.random.default_rng(seed).permutation(len(names))
    return {n: int(v) for n, v in zip(names, values[perm], strict=True)}


def _shuffled(row: VariantRow, base: Plan, audit_result, *, seed: int, alpha_policy: str) -> Plan:
    from rankbench.suggest.plans import plan_from_ranks

    ranks = shuffled_ranks(base.ranks, seed=seed)
    # a module can't take more than its own probe rank; clip (same probe r everywhere in practice)
    ranks = {m: min(k, base.source_ranks[m]) for m, k in ranks.items()}
    return plan_from_ranks(row.name, ranks, audit_result, alpha_policy=alpha_policy)


# derive name -> (row, base plan, audit, seed=, alpha_policy=) -> the variant's plan
DERIVATIONS: dict[str, Callable[..., Plan]] = {SHUFFLED: _shuffled}


def build_plans(
    variants: Iterable[str], audit_result, *, seed: int, rungs: Iterable[VariantRow] = (), **plan_kw
) -> dict[str, Plan]:
    """Every plan the given variants need, keyed as in plans.json: the default plans first, then any
    other base plan, then the derived plans. ``plan_kw`` goes to ``make_plan`` (rule, allowed ranks,
    alpha policy)."""
    from rankbench.suggest.plans import make_plan

    wanted = set(variants)
    rows = [row for name, row in VARIANT_TABLE.items() if name in wanted] + list(rungs)
    plans: dict[str, Plan] = {}
    for spec in DEFAULT_PLANS + tuple(row.base_plan for row in rows):
        if spec not in plans:
            plans[spec] = make_plan(spec, audit_result, **plan_kw)
    for row in rows:
        if row.derive != IDENTITY:
            derive = DERIVATIONS[row.derive]
            plans[row.plan_name] = derive(
                row, plans[row.base_plan], audit_result, seed=seed, alpha_policy=plan_kw["alpha_policy"]
            )
    return plans
