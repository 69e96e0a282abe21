"""The layout of a bench's run folder: its stage names, its file names and the order of its stages.

One seed's run folder (``rankbench run --output RUN``, or a campaign's ``seed_N``)::

    run_config.json   the resolved config the folder is locked to
    provenance/       where the data and the model came from (stage.json)
    probe/            adapter/ (the probe, or the user's adapter imported), train.json
    probe_eval/       eval.json, predictions.jsonl (the quality gate reads them)
    audit/            audit.json (the exact spectral audit of the probe)
    plans/            plans.json (every plan the variants are built from)
    variants/<key>/   adapter/ (truncated/ before a finetune), build.json, eval.json, predictions.jsonl
    bench.json, bench.md, bench.html

Every stage folder holds a ``stage.json`` marker once it has finished (see
:mod:`rankbench.bench.runstate`). A campaign's folder holds ``bench_aggregate.{json,md,html}`` beside
its ``seed_N`` folders.

A leaf module: it imports nothing of ours, so the stages that write these files, the builders that read
them and the command line all take the names from here. :func:`seed_stages` is the one order in which a
seed's stages run; the quality gate is judged on :data:`GATE_STAGE` before any stage after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# --- stages: one folder each ---------------------------------------------------------------------
PROVENANCE = "provenance"
PROBE = "probe"
PROBE_EVAL = "probe_eval"
AUDIT = "audit"
PLANS = "plans"
VARIANTS = "variants"  # the folder that holds one stage folder per variant key

# the stages of a seed before its variants, in the order they run
PREFIX_STAGES = (PROVENANCE, PROBE, PROBE_EVAL, AUDIT, PLANS)
# the stage whose result the probe's quality gate judges: nothing after it runs when the gate fails
GATE_STAGE = PROBE_EVAL

# --- files inside a stage folder -----------------------------------------------------------------
MARKER = "stage.json"  # written last: the stage has finished
PREDICTIONS = "predictions.jsonl"  # one line per eval item: its id, prediction and score
EVAL = "eval.json"
TRAIN = "train.json"
BUILD = "build.json"
AUDIT_FILE = "audit.json"
PLANS_FILE = "plans.json"
ADAPTER_DIR = "adapter"  # the stage's adapter (the probe, or a variant)
TRUNCATED_DIR = "truncated"  # a finetuned variant's starting point

# --- files at the top of a run folder ------------------------------------------------------------
LOCK = "run_config.json"
STAGE_LOCKS = ".locks"
BENCH_JSON = "bench.json"
BENCH_MD = "bench.md"
BENCH_HTML = "bench.html"

# --- files at the top of a campaign folder -------------------------------------------------------
AGGREGATE_JSON = "bench_aggregate.json"
AGGREGATE_MD = "bench_aggregate.md"
AGGREGATE_HTML = "bench_aggregate.html"


def variant_stage(key: str) -> str:
    """The stage (and folder, relative to the run folder) of one variant: ``variants/<key>``."""
    return f"{VARIANTS}/{key}"


def seed_stages(variant_keys: Iterable[str]) -> tuple[str, ...]:
    """Every stage of one seed, in the order they run: the prefix, then one stage per variant key."""
    return PREFIX_STAGES + tuple(variant_stage(k) for k in variant_keys)


def stage_path(root: str | Path, stage: str) -> Path:
    return Path(root) / stage


def predictions_path(root: str | Path, stage: str) -> Path:
    """A stage's per-item predictions, e.g. ``predictions_path(run, PROBE_EVAL)``."""
    return stage_path(root, stage) / PREDICTIONS


def audit_path(root: str | Path) -> Path:
    return stage_path(root, AUDIT) / AUDIT_FILE


def plans_path(root: str | Path) -> Path:
    return stage_path(root, PLANS) / PLANS_FILE
