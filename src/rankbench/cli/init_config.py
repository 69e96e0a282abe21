"""`rankbench init-config`: write a commented starting config with every key and its default."""

from __future__ import annotations

import sys
from pathlib import Path

from rankbench.errors import RankbenchError


def register(sub) -> None:
    p = sub.add_parser("init-config", help="write a commented config file with every key and its default")
    p.add_argument("path", nargs="?", type=Path, help="file to write (default: print to stdout)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args) -> int:
    from rankbench.bench.config_doc import commented_yaml
    from rankbench.io import atomic_write_text

    text = commented_yaml()
    if args.path is None:
        sys.stdout.write(text)
        return 0
    if args.path.exists() and not args.force:
        raise RankbenchError("file exists", path=args.path, hint="use --force to overwrite it")
    atomic_write_text(args.path, text)
    print(f"wrote {args.path}", file=sys.stderr)
    return 0
