"""Which lm-eval tasks a bench runs, and with which per-item metric and filter: checked before any model loads.

``eval.tasks`` lists registered task names (``arc_easy``, a group such as ``mmlu``) or paths to task
YAML files or folders of them. A path's folder joins lm-eval's ``TaskManager(include_path=...)`` and
stands for the tasks its YAML files define. Bad input exits 2 naming what is there: an unknown name
with the closest registered ones, a metric or filter the task does not have with those it has, a task
whose metrics exist only as aggregates (perplexity, BLEU).

A per-item metric is one that lm-eval aggregates with a plain mean: its per-document values are the
scores. Those are the only metrics a paired test can use.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rankbench.errors import RankbenchError

INSTALL_HINT = "pip install 'rankbench[lmeval]' (lm-evaluation-harness)"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class TaskChoice:
    """One task of the bench with the metric and filter its items are scored by."""

    name: str
    metric: str
    filter: str
    output_type: str


def require_lm_eval():
    """The lm_eval module, or exit 2 with the install command."""
    try:
        import lm_eval
    except ImportError:
        raise RankbenchError(
            "eval.harness lm_eval needs lm-evaluation-harness, which is not installed", hint=INSTALL_HINT
        ) from None
    return lm_eval


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(YAML_SUFFIXES) or "/" in spec or Path(spec).exists()


def _tasks_under(index: dict, place: Path) -> list[str]:
    """The tasks (not groups or tags) whose YAML is ``place`` or lies under the folder ``place``."""
    from lm_eval.tasks._index import Kind  # type: ignore[import-not-found]

    place = place.resolve()
    out = []
    for name, entry in index.items():
        if entry.kind != Kind.TASK or entry.yaml_path is None:
            continue
        path = Path(entry.yaml_path).resolve()
        if path == place or (place.is_dir() and place in path.parents):
            out.append(name)
    return sorted(out)


_MANAGERS: dict[tuple, object] = {}


def _manager(task_manager_cls, include: list[str]):
    """One TaskManager per set of include folders and their YAML files' mtimes, for this process.

    Building one indexes every YAML that lm-eval ships (thousands); a campaign or a test builds several
    evaluators over the same tasks. An edited YAML file (a new mtime) gives a new index.
    """
    stamp = tuple(
        (str(f), f.stat().st_mtime_ns)
        for folder in include
        for f in sorted(Path(folder).rglob("*"))
        if f.suffix in YAML_SUFFIXES
    )
    key = (tuple(include), stamp)
    if key not in _MANAGERS:
        _MANAGERS[key] = task_manager_cls(include_path=include or None)
    return _MANAGERS[key]


def resolve_tasks(specs: list[str]):
    """(TaskManager, task names) for ``eval.tasks``; unknown names and missing paths exit 2."""
    require_lm_eval()
    from lm_eval.tasks import TaskManager

    paths = {s: Path(s) for s in specs if _looks_like_path(s)}
    for path in paths.values():
        if not path.exists():
            raise RankbenchError(
                "no such task file or folder (eval.tasks)",
                path=path,
                hint="give a task YAML, a folder of them, or a registered task name",
            )
    include = sorted({str(p if p.is_dir() else p.parent) for p in paths.values()})
    manager = _manager(TaskManager, include)
    names: list[str] = []
    for spec in specs:
        if spec in paths:
            found = _tasks_under(manager.task_index, paths[spec])
            if not found:
                raise RankbenchError(
                    "no lm-eval task is defined here (a task YAML has a `task:` key)",
                    path=paths[spec],
                    hint="check the file, or name a registered task",
                )
            names += [n for n in found if n not in names]
        elif spec in manager.all_tasks:
            names.append(spec)
        else:
            close = difflib.get_close_matches(spec, manager.all_tasks, n=5, cutoff=0.6)
            raise RankbenchError(
                f"unknown lm-eval task {spec!r} (eval.tasks)"
                + (f"; the closest names: {', '.join(close)}" if close else ""),
                hint="`lm_eval ls tasks` lists the registered tasks; a local task is a path to its YAML",
            )
    return manager, names


def load_tasks(manager, names: list[str]) -> dict:
    """lm-eval's task dict ({"tasks", "groups", "group_map"}); a task that cannot load exits 2."""
    try:
        return manager.load(names)
    except Exception as exc:  # lm-eval raises many kinds (KeyError, ValueError, datasets' errors)
        raise RankbenchError(
            f"lm-eval could not load the tasks {', '.join(names)}: {type(exc).__name__}: {exc}",
            hint="check the task YAML and its data files (relative data_files are read from the folder "
            "you run in)",
        ) from None


def per_item_metrics(task) -> list[str]:
    """The metrics of a loaded task that lm-eval averages over documents (their per-item values are scores)."""
    from lm_eval.api.metrics import mean

    return [m for m, agg in task.aggregation().items() if agg is mean]


def filters_of(task) -> list[str]:
    return [f.name for f in getattr(task, "_filters", [])] or ["none"]


def _pick(task_name: str, kind: str, offered: list[str], asked: str | None, primary: bool) -> str:
    if asked is None or (asked not in offered and not primary):
        return offered[0]
    if asked not in offered:
        raise RankbenchError(
            f"task {task_name!r} has no {kind} {asked!r} (eval.{kind}); it has: {', '.join(offered)}",
            hint=f"set eval.{kind} to one of them",
        )
    return asked


def choose(tasks: dict, metric: str | None, filter: str | None) -> list[TaskChoice]:
    """The metric and filter of each task, the first task being the primary (named ones must exist there)."""
    out = []
    for i, (name, task) in enumerate(tasks.items()):
        metrics = per_item_metrics(task)
        if not metrics:
            all_metrics = ", ".join(task.aggregation()) or "none"
            raise RankbenchError(
                f"task {name!r} has no per-item metric (its metrics, {all_metrics}, exist only as "
                "aggregates over documents)",
                hint="a paired verdict needs a score per document: choose a task scored by acc, "
                "acc_norm, exact_match or another mean-aggregated metric",
            )
        if i == 0 and metric is not None and metric not in metrics and metric in task.aggregation():
            raise RankbenchError(
                f"metric {metric!r} of task {name!r} exists only as an aggregate (eval.metric); "
                f"its per-item metrics: {', '.join(metrics)}",
                hint="set eval.metric to one of them",
            )
        chosen_metric = _pick(name, "metric", metrics, metric, i == 0)
        chosen_filter = _pick(name, "filter", filters_of(task), filter, i == 0)
        out.append(TaskChoice(name, chosen_metric, chosen_filter, str(task.OUTPUT_TYPE)))
    return out


def config_record(task) -> dict:
    """The task's config as lm-eval reports it (``dump_config``), JSON-safe, and the sha256 of that JSON."""
    config = json.loads(json.dumps(task.dump_config(), default=str, sort_keys=True))
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return {"config": config, "config_sha256": digest, "num_fewshot": task.get_config("num_fewshot")}


def documents_digest(doc_hashes: tuple[str, ...]) -> dict:
    """n and the sha256 of the documents' ``doc_hash`` list: equal iff the same documents in the same order."""
    return {"n": len(doc_hashes), "sha256": hashlib.sha256("\n".join(doc_hashes).encode()).hexdigest()}
