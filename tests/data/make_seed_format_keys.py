"""Write tests/data/seed_format_keys.json from the seed examples in ../shared/seed, or in the folder
given: ``python tests/data/make_seed_format_keys.py [SEED_DIR]``. Only keys and JSON types are kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers.seed_format import EXAMPLES, KEYS_FILE, SEED, skeleton  # noqa: E402

ORIGIN = (
    "The required keys and JSON types of the seed artifact format: ../shared/seed/bench.json and "
    "bench_aggregate.json (described in ../shared/seed/bench_artifacts_README.md), each value replaced by "
    "a blank of its type (0 int, 0.0 float, empty string, false; a list keeps its first element). Written "
    "by tests/data/make_seed_format_keys.py; tests/test_seed_format.py checks it against the examples "
    "where ../shared is present."
)


def build(seed: Path = SEED) -> dict:
    examples = {name: skeleton(json.loads((seed / name).read_text(encoding="utf-8"))) for name in EXAMPLES}
    return {"origin": ORIGIN, "examples": examples}


if __name__ == "__main__":
    seed = Path(sys.argv[1]) if len(sys.argv) > 1 else SEED
    if not all((seed / name).is_file() for name in EXAMPLES):
        sys.exit(f"no seed examples ({', '.join(EXAMPLES)}) in {seed}")
    KEYS_FILE.write_text(json.dumps(build(seed), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {KEYS_FILE}")
