"""The view of a judged variant that the findings read, from either document: a bench.json
``compressed`` entry, or a variant block of bench_aggregate.json (means over seeds, the decision
interval, discordant items summed over seeds, the policy's verdict)."""

from __future__ import annotations

from dataclasses import dataclass

from rankbench.keys import DECISION_CI, DELTA, PARAM_REDUCTION, POLICY_RESULT, VERDICT


@dataclass(frozen=True)
class Judged:
    """One judged variant, as both documents can state it (a campaign: means, sums and its decision)."""

    key: str
    variant: str
    method: str
    role: str
    passed: bool
    delta: float
    low: float | None
    high: float | None
    accuracy: float | None
    variant_only: int | None
    probe_only: int | None
    n_items: int | None
    rank: int | None
    rank_mean: float | None
    reduction: float | None
    mde: float | None
    se: float | None = None
    df: float | None = None


@dataclass(frozen=True)
class Scope:
    """What the sentences need beyond the variants: the margin, the level, the probe, the seeds."""

    tolerance: float
    confidence: float
    probe_accuracy: float | None
    probe_rank: int | None
    rule: str | None
    n_seeds: int = 1

    @property
    def campaign(self) -> bool:
        return self.n_seeds > 1


def judged_bench(compressed: dict) -> list[Judged]:
    """The view of bench.json's ``compressed`` entries."""
    out = []
    for key, v in compressed.items():
        # older documents keep the discordant counts only in ``paired``
        ci = (v.get("paired") or {}) | {k: x for k, x in (v.get("ci") or {}).items() if x is not None}
        out.append(
            Judged(
                key=key, variant=v["variant"], method=v["method"], role=v["role"],
                passed=v[VERDICT] == "PASS", delta=v[DELTA], low=ci.get("low"), high=ci.get("high"),
                accuracy=v.get("accuracy"), variant_only=ci.get("variant_only_correct"),
                probe_only=ci.get("probe_only_correct"), n_items=ci.get("n"), rank=v.get("rank"),
                rank_mean=v.get("rank_mean"), reduction=v.get(PARAM_REDUCTION), mde=v.get("mde"),
                se=ci.get("se"),
            )
        )  # fmt: skip
    return out


def judged_aggregate(compressed: dict) -> list[Judged]:
    """The view of bench_aggregate.json's variant blocks: means over seeds, the decision interval,
    discordant items summed over seeds, the policy's verdict."""
    out = []
    for key, v in compressed.items():
        ci, disc, power = v.get(DECISION_CI) or {}, v.get("discordant") or {}, v.get("power") or {}
        out.append(
            Judged(
                key=key, variant=v["variant"], method=v["method"], role=v["role"],
                passed=bool(v[POLICY_RESULT]["passed"]), delta=v[DELTA]["mean"], low=ci.get("low"),
                high=ci.get("high"), accuracy=(v.get("accuracy") or {}).get("mean"),
                variant_only=disc.get("variant_only_total"), probe_only=disc.get("probe_only_total"),
                n_items=sum(disc["n_items"]) if disc.get("n_items") else None, rank=v.get("rank"),
                rank_mean=None, reduction=(v.get(PARAM_REDUCTION) or {}).get("mean"),
                mde=power.get("mde"), se=power.get("se"), df=power.get("df"),
            )
        )  # fmt: skip
    return out
