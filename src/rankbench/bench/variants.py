"""Variants: which smaller adapters the bench builds from the probe, and how.

A variant is a *plan* (per-module ranks, from the suggest rules) and a *method*:
``truncate`` (best rank-k of the probe, no training), ``retrain`` (a fresh LoRA at the plan's ranks,
same seed and step budget) or ``truncate+finetune`` (truncate, then more steps).

Two controls answer the questions a careful reviewer asks:
- ``per_layer_shuffled``: the per_layer ranks permuted across modules. Same total budget, but blind to
  which module needs what. If it does as well as per_layer, the per-module allocation carries no signal.
- ``random_subspace``: the probe projected on a random rank-k subspace at uniform_median's ranks. Same
  parameter count as uniform_median but not the best rank-k. If it does as well, the SVD choice is moot.
The names (variants, their plans, the controls, the methods) live in :mod:`rankbench.names`.
A variant whose plan keeps every module at the probe's rank is marked a control, not a compression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rankbench.names import BENCH_METHOD_SUFFIX


@dataclass(frozen=True)
class VariantJob:
    key: str  # the key in bench.json's `compressed` block, e.g. "uniform_median_retrain"
    variant: str  # e.g. "uniform_median"
    method: str  # "truncate" | "retrain" | "truncate+finetune"

    @property
    def stage(self) -> str:
        return f"variants/{self.key}"


def variant_jobs(compression_cfg) -> list[VariantJob]:
    """Every (variant, method) pair the config asks for, in a stable order."""
    jobs = []
    for variant in compression_cfg.variants:
        methods = compression_cfg.methods.get(variant, [compression_cfg.default_method])
        for method in methods:
            jobs.append(VariantJob(variant + BENCH_METHOD_SUFFIX[method], variant, method))
    return jobs


def shuffled_ranks(ranks: dict[str, int], seed: int) -> dict[str, int]:
    """The same multiset of ranks assigned to modules in a random order (fixed generator).

    Ranks are clipped to each module's own r by the caller's plan builder, so the permutation is drawn
    among modules; names stay sorted so that the draw does not depend on dict order.
    """
    names = sorted(ranks)
    values = np.array([ranks[n] for n in names])
    perm = np.random.default_rng(seed).permutation(len(names))
    return {n: int(v) for n, v in zip(names, values[perm], strict=True)}
