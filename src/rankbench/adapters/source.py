"""Where an adapter lives: a local folder, or a hub id fetched with huggingface_hub when online.

huggingface_hub is optional and imported only when a path is not a local folder and looks like a hub id
(``owner/name``). Only the adapter's own files are fetched, into the hub cache; nothing is written to
a local adapter folder.
"""

from __future__ import annotations

from pathlib import Path

from rankbench.errors import RankbenchError, warn
from rankbench.hubid import looks_like_hub_id, no_such_folder, offline_note, run_adapter_suggestion

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
_LOCAL_HINT = "pass a folder that holds adapter_config.json and adapter_model.safetensors"


SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
DIFFUSERS_FILES = ("pytorch_lora_weights.safetensors",)


def single_file_of(path) -> Path | None:
    """The weights file when ``path`` is a single-file adapter (kohya, diffusers, LyCORIS), else None.

    A file with a weights suffix that is not one of PEFT's own names, or a folder without
    adapter_config.json that holds diffusers' ``pytorch_lora_weights.safetensors``.
    """
    p = Path(path).expanduser()
    if p.is_file() and p.name not in ADAPTER_FILES and p.suffix in SINGLE_FILE_SUFFIXES:
        return p
    if p.is_dir() and not (p / ADAPTER_FILES[0]).exists():
        for name in DIFFUSERS_FILES:
            if (p / name).is_file():
                return p / name
    return None


def resolve_adapter_dir(path, *, revision: str | None = None) -> Path:
    """A local folder for ``path``: the folder itself, the folder of a file inside it, or a hub download."""
    p = Path(path).expanduser()
    if p.exists():
        if revision is not None:
            warn(f"--revision {revision} is ignored: {p} is a local folder")
        if p.is_file():
            if p.name in ADAPTER_FILES:
                return p.parent
            raise RankbenchError("is a file, not an adapter folder", path=p, hint=_LOCAL_HINT)
        suggestion = run_adapter_suggestion(p)
        if suggestion and not (p / ADAPTER_FILES[0]).exists() and single_file_of(p) is None:
            raise RankbenchError("is a rankbench run folder, not an adapter", path=p, hint=suggestion)
        return p
    if looks_like_hub_id(str(path)):
        return _download(str(path), revision)
    raise no_such_folder(p, "an adapter folder was expected here", _LOCAL_HINT)


def _download(repo_id: str, revision: str | None) -> Path:
    where = f"{repo_id}" + (f"@{revision}" if revision else "")
    try:
        import huggingface_hub as hub
    except ImportError:
        raise RankbenchError(
            f"{where} is not a local folder, and huggingface_hub is not installed to fetch it from the hub",
            hint="pip install 'rankbench[hub]' (huggingface_hub), or download the adapter and pass its folder",
        ) from None
    errors = getattr(hub, "errors", None)
    offline = tuple(
        getattr(errors, name)
        for name in ("OfflineModeIsEnabled", "LocalEntryNotFoundError")
        if errors is not None and hasattr(errors, name)
    )
    missing = tuple(
        getattr(errors, name)
        for name in ("RepositoryNotFoundError", "RevisionNotFoundError", "GatedRepoError")
        if errors is not None and hasattr(errors, name)
    )
    try:
        folder = hub.snapshot_download(repo_id=repo_id, revision=revision, allow_patterns=list(ADAPTER_FILES))
    except missing as exc:
        raise RankbenchError(
            f"{where} is not a local folder, and the hub has no such adapter ({type(exc).__name__})",
            hint="check the id and --revision, or log in with `hf auth login` for a private repo",
        ) from None
    except offline + (OSError,) as exc:
        raise RankbenchError(
            f"{where} is not a local folder, and as a hub id it is not in the hub cache and the hub "
            f"cannot be reached ({type(exc).__name__}){offline_note()}",
            hint="download the adapter on a machine with internet and pass its folder",
        ) from None
    except Exception as exc:  # the hub client raises many types; none of them should become a traceback
        raise RankbenchError(f"{where}: fetching from the hub failed: {exc}", hint=_LOCAL_HINT) from None
    return Path(folder)
