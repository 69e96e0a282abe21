"""Fuzz every reader: mutated adapters and configs through the public entry points (prints a table).

Seeded and resumable: case i of a run draws from ``numpy.random.default_rng([seed, i])``, and each
finished case is appended to ``--log`` (JSONL), so a run that is stopped picks up where it was.

Inputs (built once per run in a temporary folder, from the tests' fixture builders):
- PEFT folders: a numpy-written adapter (float32, 3 modules) and one saved by PEFT itself (a tiny
  Llama with rank_pattern / alpha_pattern, bfloat16);
- single files (tests/helpers/fuzz_sources.py): an SDXL-style kohya file (fp16, LoCon convs, text
  encoders, ss_* metadata), a diffusers file whose alpha is in ``lora_adapter_metadata``, and a
  LyCORIS file (LoHa + LoKr);
- a bench config (the tiny bench's YAML) and an lm-eval samples log.

Mutations (tests/helpers/mutations.py): byte level (flip, overwrite, insert or delete bytes in the
header or the data, truncate, rewrite the 8-byte header length); structure level (edit one tensor's
dtype, shape or offsets, rename or drop a key); header types (``__metadata__``, a whole entry, one of
its fields, or one element of its shape / offsets replaced by a value of every JSON type; a metadata
value replaced by another type or an odd string; an extra or a missing key in an entry; a key repeated
in the header, in an entry or in the metadata); config values of another type, NaN, negative, huge,
or deleted.

Each case runs in-process with a time limit (``--seconds``): ``audit`` always, and when it succeeds
``suggest`` (compute_spectra + make_plan) and ``compress`` into a scratch folder; configs go through
``load_config``. Outcomes:
- ``error``: a RankbenchError (what a user sees: exit 2 with a message);
- ``ok_same``: accepted, same spectra as the unmutated input;
- ``ok_explained``: accepted with other numbers, and the mutation explains it (data bytes changed, a
  dtype relabelled to another of the same width, r / alpha / a pattern edited in the config);
- ``traceback``: any other exception (a defect); ``hang``: past the time limit (a defect);
- ``unnamed``: a RankbenchError that names no file (a defect);
- ``silent``: accepted with other numbers that the mutation does not explain (a defect).

    python benchmarks/fuzz_readers.py [--cases 300] [--seed 0] [--log fuzz.jsonl] [--seconds 10]

The default is a short run; the recorded campaign (docs/results.md) uses ``--cases 10000``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.fuzz_sources import METADATA_KINDS, SINGLE_FILES  # noqa: E402
from helpers.mutations import (  # noqa: E402
    EXPLAINED,
    LOG_EXPLAINED,
    ODD_VALUES,
    mutate_config,
    mutate_samples,
    mutate_weights,
)
from rankbench.errors import RankbenchError  # noqa: E402

DEFECTS = ("traceback", "hang", "silent", "unnamed")
MEMORY_LIMIT = 6 << 30  # a header claiming 2^40 elements must fail cleanly, not allocate


class Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise Hang()


# --- inputs -------------------------------------------------------------------------------------


def build_inputs(root: Path) -> dict[str, Path]:
    from helpers.peft_fixtures import build_llama_rslora, random_pairs, write_adapter
    from helpers.tiny_bench import tiny_bench_config

    inputs = {}
    for name, build in SINGLE_FILES.items():
        (root / name).mkdir(parents=True)
        inputs[name] = build(root / name / "lora.safetensors")
    numpy_adapter = root / "numpy_adapter"
    write_adapter(numpy_adapter, random_pairs(np.random.default_rng(1), n=3))
    peft_adapter = root / "peft_llama"
    build_llama_rslora(peft_adapter)
    config = tiny_bench_config(root / "bench")
    logs = Path(__file__).resolve().parents[1] / "tests" / "data" / "lm_eval"
    return inputs | {
        "numpy_adapter": numpy_adapter,
        "peft_llama": peft_adapter,
        "bench_config": Path(config),
        "lm_eval_samples": next((logs / "lora_r2").glob("samples_rb_mc_*.jsonl")),
        "lm_eval_baseline": next((logs / "lora_r8").glob("samples_rb_mc_*.jsonl")),
    }


def compare_numbers(baseline: Path, candidate: Path) -> tuple:
    from rankbench.compare import Selection, compare_all, load_input

    sel = Selection(metric="acc")
    doc = compare_all(load_input(baseline, sel), [load_input(candidate, sel)])
    c = doc["comparisons"][0]
    json.dumps(doc, allow_nan=False)  # what `compare --json` prints must serialise
    return (c["n"], c["candidate_only"], c["baseline_only"], c["ci"]["low"], c["verdict"])


def spectra_of(folder: Path) -> dict[str, list[float]]:
    from rankbench.auditor import audit

    return {m.name: [float(s) for s in m.singular_values] for m in audit(folder, workers=1).modules}


# --- cases --------------------------------------------------------------------------------------


def run_adapter_case(rng, source: Path, reference: dict, scratch: Path, note: dict) -> dict:
    from rankbench.auditor import audit
    from rankbench.suggest.compress import compress_adapter
    from rankbench.suggest.plans import make_plan
    from rankbench.suggest.spectra import compute_spectra

    folder = scratch / "in"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(source, folder)
    if rng.random() < 0.6:
        path = folder / "adapter_model.safetensors"
        data, kind = mutate_weights(rng, path.read_bytes())
        path.write_bytes(data)
        note["kind"] = kind
    else:
        path = folder / "adapter_config.json"
        text, kind = mutate_config(rng, path.read_text())
        path.write_text(text)
        note["kind"] = kind
    result = audit(folder, workers=1)
    got = {m.name: [float(s) for s in m.singular_values] for m in result.modules}
    json.dumps(result.to_dict(), allow_nan=False)  # what `audit --json` prints must serialise
    spectra = compute_spectra(folder, workers=1)
    plan = make_plan("uniform_median", spectra)
    compress_adapter(folder, plan, scratch / "out", spectra=spectra, workers=1)
    same = got.keys() == reference.keys() and all(
        np.allclose(got[k], reference[k], rtol=1e-6, atol=1e-12) for k in got
    )
    return {
        "kind": kind,
        "outcome": "ok_same" if same else ("ok_explained" if kind in EXPLAINED else "silent"),
    }


def run_file_case(rng, source: Path, reference: dict, scratch: Path, note: dict, explained: set) -> dict:
    from rankbench.auditor import audit
    from rankbench.suggest.compress_file import compress_file
    from rankbench.suggest.plans import make_plan
    from rankbench.suggest.spectra import compute_spectra

    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    path = scratch / source.name
    data, kind = mutate_weights(rng, source.read_bytes())
    note["kind"] = kind
    path.write_bytes(data)
    result = audit(path, workers=1)
    got = {m.name: [float(s) for s in m.singular_values] for m in result.modules}
    json.dumps(result.to_dict(), allow_nan=False)
    spectra = compute_spectra(path, workers=1)
    compress_file(
        path, make_plan("uniform_median", spectra, cap_numerical_rank=True), scratch / "out.safetensors"
    )
    same = got.keys() == reference.keys() and all(
        np.allclose(got[k], reference[k], rtol=1e-6, atol=1e-12) for k in got
    )
    return {
        "kind": kind,
        "outcome": "ok_same" if same else ("ok_explained" if kind in explained else "silent"),
    }


def run_config_case(rng, source: Path) -> dict:
    import yaml

    from rankbench.bench.config import load_config

    data = yaml.safe_load(source.read_text())
    section = str(rng.choice(list(data)))
    value = ODD_VALUES[rng.integers(len(ODD_VALUES))]
    if isinstance(data[section], dict) and data[section] and rng.random() < 0.8:
        keys = list(data[section])
        data[section][keys[rng.integers(len(keys))]] = value if value != "NaN" else float("nan")
        kind = "config_yaml_value"
    else:
        data[section] = value
        kind = "config_yaml_section"
    path = source.parent / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data))
    load_config(path, {})
    return {"kind": kind, "outcome": "ok_explained"}


def run_log_case(rng, inputs: dict, reference: tuple, scratch: Path, note: dict) -> dict:
    scratch.mkdir(parents=True, exist_ok=True)
    source = inputs["lm_eval_samples"]
    text, kind = mutate_samples(rng, source.read_text())
    note["kind"] = kind
    path = scratch / source.name
    path.write_text(text)
    got = compare_numbers(inputs["lm_eval_baseline"], path)
    outcome = "ok_same" if got == reference else ("ok_explained" if kind in LOG_EXPLAINED else "silent")
    return {"kind": kind, "outcome": outcome}


TARGETS = ("numpy_adapter", "peft_llama", *SINGLE_FILES, "bench_config", "lm_eval_samples")
# what may change a file's spectra when it is still accepted: the diffusers file's alpha is in its metadata
FILE_EXPLAINED = {
    name: EXPLAINED | (METADATA_KINDS if name == "diffusers_file" else set()) for name in SINGLE_FILES
}


def one_case(i: int, seed: int, inputs: dict, references: dict, scratch: Path, seconds: int) -> dict:
    rng = np.random.default_rng([seed, i])
    target = TARGETS[i % len(TARGETS)]
    signal.alarm(seconds)
    t0 = time.perf_counter()
    note: dict = {}  # the mutation's kind, known even when the case then raises
    try:
        if target == "bench_config":
            rec = run_config_case(rng, inputs[target])
        elif target in SINGLE_FILES:
            args = (references[target], scratch / "file", note, FILE_EXPLAINED[target])
            rec = run_file_case(rng, inputs[target], *args)
        elif target == "lm_eval_samples":
            rec = run_log_case(rng, inputs, references[target], scratch / "logs", note)
        else:
            rec = run_adapter_case(rng, inputs[target], references[target], scratch, note)
    except RankbenchError as exc:  # what the user sees must say which file it refused
        rec = {"outcome": "error"} if exc.path else {"outcome": "unnamed", "error": exc.message[:300]}
    except Hang:
        rec = {"outcome": "hang"}
    except Exception as exc:  # noqa: BLE001 - every other exception is the defect being counted
        rec = {"outcome": "traceback", "error": f"{type(exc).__name__}: {exc}"[:300],
               "where": traceback.format_exc().splitlines()[-3][:200]}  # fmt: skip
    finally:
        signal.alarm(0)
    rec.setdefault("kind", note.get("kind", ""))
    return {"case": i, "target": target, "seconds": round(time.perf_counter() - t0, 4), **rec}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=300, help="cases to run, across the readers (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", type=Path, default=Path("fuzz_readers.jsonl"))
    ap.add_argument("--seconds", type=int, default=10, help="time limit per case")
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    warnings.simplefilter("ignore")  # the readers' warnings (rank mismatch, casts) are expected here
    signal.signal(signal.SIGALRM, _alarm)
    done = {}
    if args.log.exists():
        for line in args.log.read_text().splitlines():
            rec = json.loads(line)
            done[rec["case"]] = rec
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    t0 = time.perf_counter()
    try:
        inputs = build_inputs(root)
        references = {k: spectra_of(inputs[k]) for k in ("numpy_adapter", "peft_llama", *SINGLE_FILES)}
        references["lm_eval_samples"] = compare_numbers(inputs["lm_eval_baseline"], inputs["lm_eval_samples"])
        with args.log.open("a") as log:
            for i in range(args.cases):
                if i in done:
                    continue
                rec = one_case(i, args.seed, inputs, references, root / "scratch", args.seconds)
                done[i] = rec
                log.write(json.dumps(rec) + "\n")
                log.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report([done[i] for i in range(args.cases) if i in done], time.perf_counter() - t0)


def report(records: list[dict], seconds: float) -> None:
    outcomes = ("error", "ok_same", "ok_explained", *DEFECTS)
    table = collections.defaultdict(collections.Counter)
    for r in records:
        table[r["target"]][r["outcome"]] += 1
    print(f"\n| reader | cases | {' | '.join(outcomes)} |")
    print("|---|---|" + "---|" * len(outcomes))
    for target, counts in sorted(table.items()):
        print(f"| {target} | {sum(counts.values())} | " + " | ".join(str(counts[o]) for o in outcomes) + " |")
    defects = [r for r in records if r["outcome"] in DEFECTS]
    print(f"\n{len(records)} cases in {seconds:.0f} s this run; defects: {len(defects)}")
    for r in defects[:20]:
        print(
            f"  case {r['case']} {r['target']} {r['kind']}: {r['outcome']} {r.get('error', '')} {r.get('where', '')}"
        )


if __name__ == "__main__":
    main()
