"""What a task profile is: the one place that knows a task family's data, model head, loss and metric.

The protocol (``rankbench.bench.protocol``) is task-agnostic: it asks a profile (a :class:`TaskProfile`)
to prepare data, train an adapter (a :class:`TrainJob`), and evaluate an adapter folder into per-item
records. The training loop itself is shared: a profile builds its model and batches and hands them to
:func:`rankbench.bench.train.train_adapter`. Adding a task family means adding one
module under ``profiles/`` and one line in :data:`rankbench.names.PROFILES`.

Per-item records are dicts with at least ``item_id`` (str, stable across variants and seeds of the
same data) and ``score`` (float in [0, 1]; 1/0 correctness for accuracy and exact match). The paired
statistics join variant and probe records on ``item_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rankbench.bench.config import BenchConfig

# progress(stage, done, total, info) -- the protocol turns this into a bar on stderr
ProgressFn = Callable[[str, int, int, dict], None]


@dataclass
class PreparedData:
    """Tokenised, split data. ``train``/``eval`` are profile-specific; ``eval_ids`` fixes the eval items."""

    train: Any
    eval: Any
    eval_ids: list[str]
    provenance: dict  # dataset_id, revision, split_sizes {"train": n, "eval": n}, requested_split
    extra: dict = field(default_factory=dict)  # e.g. num_labels, label names


@dataclass
class TrainResult:
    adapter_dir: Path
    steps: int
    final_loss: float
    losses: list[float]  # running loss every few steps, for the report
    seconds: float
    examples_per_second: float
    device: str = "cpu"  # where it trained: "cpu", "cuda:0", ...
    compute_dtype: str = "float32"  # the resolved train.dtype: "float32", or "bfloat16" under autocast


@dataclass
class EvalResult:
    metric_key: str  # e.g. "eval_accuracy", "eval_exact_match"
    value: float  # the primary metric over all eval items
    records: list[dict]  # one per eval item: item_id, score, and profile-specific fields
    seconds: float
    forward: dict | None = None  # how the logits were computed, where a profile has a choice


@dataclass
class LoraSpec:
    """What to train: PEFT LoraConfig fields. ``rank_pattern``/``alpha_pattern`` come from a Plan."""

    r: int
    alpha: float
    target_modules: list[str]
    dropout: float = 0.0
    use_rslora: bool = False
    rank_pattern: dict[str, int] = field(default_factory=dict)
    alpha_pattern: dict[str, float] = field(default_factory=dict)

    def to_peft_config(self, task_type: str, *, modules_to_save: list[str] | None = None):
        """The PEFT ``LoraConfig`` for a fresh adapter (``task_type``: PEFT's, e.g. ``"SEQ_CLS"``)."""
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type,
            r=self.r,
            lora_alpha=self.alpha,
            target_modules=list(self.target_modules),
            lora_dropout=self.dropout,
            use_rslora=self.use_rslora,
            rank_pattern=dict(self.rank_pattern),
            alpha_pattern=dict(self.alpha_pattern),
            modules_to_save=modules_to_save or None,
        )


@dataclass(frozen=True)
class TrainJob:
    """One training run: a fresh LoRA at ``lora`` (or ``init_adapter`` continued), saved to ``out_dir``.

    The recipe (learning rate, schedule, batch size, device) comes from the config's ``train`` section.
    """

    lora: LoraSpec
    steps: int
    seed: int
    out_dir: Path
    init_adapter: Path | None = None  # truncate+finetune: the truncated probe to start from
    progress: ProgressFn | None = None


class TaskProfile(Protocol):
    """What the bench calls on a task profile (``BenchRun.profile``, the stages, ``adapter_fit``)."""

    name: str
    primary_metric_key: str
    model_type: str  # what the seed format's config calls the model: "seq_cls" or "causal_lm"
    peft_task_type: str  # PEFT's task_type for the adapters it trains: "SEQ_CLS" or "CAUSAL_LM"

    def prepare(self, cfg: BenchConfig, *, seed: int, cache_dir: Path) -> PreparedData:
        """Load, split (deterministic from seed; train and eval disjoint) and tokenise (cached)."""
        ...

    def model_provenance(self, cfg: BenchConfig) -> dict:
        """model_id, revision (hub commit or sha256 of the files), source path."""
        ...

    def default_target_modules(self, cfg: BenchConfig) -> list[str]:
        """LoRA targets when the config names none."""
        ...

    def meta_model(self, cfg: BenchConfig, data: PreparedData) -> Any:
        """The model the adapters go on (with the task's head) on the meta device: names and shapes only."""
        ...

    def train(self, cfg: BenchConfig, data: PreparedData, job: TrainJob) -> TrainResult:
        """Train the LoRA that ``job`` describes and save it to ``job.out_dir``."""
        ...

    def evaluate(
        self, cfg: BenchConfig, data: PreparedData, adapter_dir: Path, *, progress: ProgressFn | None = None
    ) -> EvalResult:
        """Evaluate the adapter on exactly ``data.eval`` (in ``data.eval_ids`` order)."""
        ...
