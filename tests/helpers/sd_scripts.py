"""Run kohya-ss sd-scripts' own ``networks/resize_lora.py`` from a snapshot outside the package.

The reference for the kohya rules is sd-scripts' code itself, not a transcription of it. Get a
snapshot and point ``RANKBENCH_SD_SCRIPTS`` (or ``--sd-scripts``) at it::

    git clone https://github.com/kohya-ss/sd-scripts /tmp/sd-scripts     # or, from a bare mirror:
    git --git-dir=MIRROR archive HEAD networks library | tar -x -C /tmp/sd-scripts

``resize_lora.py`` runs unchanged. Its module-level imports pull in ``library.train_util``,
``library.model_util`` and ``library.utils``, which need diffusers, accelerate, torchvision, OpenCV and
toml, none of which plays a part in the resize. Those three modules are replaced by stand-ins holding
only the names resize_lora.py uses, none of them in the math:

- ``model_util.is_safetensors(path)``: the extension test, as sd-scripts defines it;
- ``train_util.precalculate_safetensors_hashes``: serializes the state dict and hashes it with sha256,
  the same work as sd-scripts' (whose two hashes only go into the header metadata), but the values are
  not the addnet hash format;
- ``utils.setup_logging``: ``logging.basicConfig``.

Everything else (torch, safetensors, tqdm, numpy) is the real package. ``python sd_scripts.py ROOT
ARGS...`` runs resize_lora.py's own command line (``setup_parser`` + ``resize``) and prints the seconds
``resize`` took as the last line of stdout.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import time
import types
from pathlib import Path

ENV = "RANKBENCH_SD_SCRIPTS"
HINT = (
    f"set {ENV} to a checkout of https://github.com/kohya-ss/sd-scripts (only networks/ and library/ "
    "are needed: git archive HEAD networks library | tar -x -C DIR)"
)


def sd_scripts_root(path: str | os.PathLike | None = None) -> Path | None:
    """The snapshot's folder (argument, else $RANKBENCH_SD_SCRIPTS) if it holds resize_lora.py, else None."""
    raw = path if path is not None else os.environ.get(ENV)
    if not raw:
        return None
    root = Path(raw).expanduser()
    return root if (root / "networks" / "resize_lora.py").is_file() else None


def _stand_ins() -> dict[str, types.ModuleType]:
    library = types.ModuleType("library")
    library.__path__ = []  # a package, so that ``from library import x`` resolves to the entries below
    model_util = types.ModuleType("library.model_util")
    model_util.is_safetensors = lambda p: os.path.splitext(p)[1].lower() == ".safetensors"
    train_util = types.ModuleType("library.train_util")

    def precalculate_safetensors_hashes(tensors, metadata):
        import safetensors.torch

        blob = safetensors.torch.save(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
        digest = hashlib.sha256(blob).hexdigest()
        return "0x" + digest, digest[:8]

    train_util.precalculate_safetensors_hashes = precalculate_safetensors_hashes
    utils = types.ModuleType("library.utils")
    utils.setup_logging = lambda *a, **k: logging.basicConfig(level=logging.WARNING)
    for name, mod in (("model_util", model_util), ("train_util", train_util), ("utils", utils)):
        setattr(library, name, mod)
    return {"library": library, "library.model_util": model_util, "library.train_util": train_util,
            "library.utils": utils}  # fmt: skip


def load_resize_lora(root: Path) -> types.ModuleType:
    """sd-scripts' networks/resize_lora.py as a module, its three ``library`` imports stood in for."""
    saved = {name: sys.modules.get(name) for name in ("library", "library.model_util",
                                                       "library.train_util", "library.utils")}  # fmt: skip
    sys.modules.update(_stand_ins())
    try:
        spec = importlib.util.spec_from_file_location(
            "sd_scripts_resize_lora", root / "networks" / "resize_lora.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
    return module


def main(argv: list[str]) -> None:
    root = sd_scripts_root(argv[0])
    if root is None:
        sys.exit(f"error: {argv[0]} holds no networks/resize_lora.py\nhint: {HINT}")
    module = load_resize_lora(root)
    args = module.setup_parser().parse_args(argv[1:])
    t0 = time.perf_counter()
    module.resize(args)
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    main(sys.argv[1:])
