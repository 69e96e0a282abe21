"""The bench config that `rankbench run`'s arguments ask for, shared by one run and a campaign.

Both :mod:`rankbench.cli.run` and :mod:`rankbench.cli.campaign` import this module, and it imports
neither, so the two commands do not import each other.
"""

from __future__ import annotations

import argparse


def resolve(args: argparse.Namespace, seed: int | None = None, notes: list | None = None):
    """The config: defaults < file < flags, a user adapter filled in, then --smoke's budgets."""
    from rankbench.bench.protocol import SMOKE_OVERRIDES
    from rankbench.bench.user_adapter import load_bench_config

    overrides: dict = {}
    if seed is not None:
        overrides["train.seed"] = seed
    if getattr(args, "adapter", None) is not None:
        overrides["probe.adapter"] = str(args.adapter)
    if getattr(args, "base_model", None):
        overrides["model.name"] = args.base_model
    if getattr(args, "ladder", None):
        overrides["compression.ladder"] = [r.strip() for r in args.ladder.split(",") if r.strip()]
    if getattr(args, "max_rank", None) is not None:
        overrides["compression.max_rank"] = args.max_rank
    if getattr(args, "evaluate_all", False):
        overrides["compression.evaluate_all"] = True
    cfg, said = load_bench_config(args.config, overrides)
    if args.smoke:
        smoke = dict(SMOKE_OVERRIDES)
        smoke["train.steps"] = min(cfg.train.steps, smoke["train.steps"])
        smoke["task.eval_size"] = min(cfg.task.eval_size, smoke["task.eval_size"])
        smoke["task.train_size"] = min(
            cfg.task.train_size or smoke["task.train_size"], smoke["task.train_size"]
        )
        cfg, said = load_bench_config(args.config, overrides, smoke)
    if notes is not None:
        notes.extend(said)
    return cfg
