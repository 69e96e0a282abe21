#!/usr/bin/env bash
# Rebuild the lm-eval fixtures in this folder. Usage: make_fixtures.sh WORK LMEVAL_PY
#   WORK       a scratch folder (models, data and raw lm-eval output go here)
#   LMEVAL_PY  the python of a scratch venv with lm-eval installed (see README.md)
# Run from the repository root with rankbench's environment active (python, PYTHONPATH=src).
set -euo pipefail
WORK=$(realpath -m "$1"); LMEVAL_PY=$2
HERE=$(cd "$(dirname "$0")" && pwd)
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONHASHSEED=0
mkdir -p "$WORK"
python "$HERE/make_fixtures.py" models "$WORK"
python -m rankbench compress "$WORK/adapter_r8" --plan rank:1 --out "$WORK/adapter_r1" --quiet
python -m rankbench compress "$WORK/adapter_r8" --plan rank:2 --out "$WORK/adapter_r2" --quiet
cp -r "$HERE/tasks" "$WORK/"

lm_eval() {  # NAME MODEL_ARGS
  (cd "$WORK" && "$LMEVAL_PY" -m lm_eval --model hf --model_args "$2" --tasks rb_mc,rb_gen \
    --include_path tasks --device cpu --batch_size 8 --seed 0 --log_samples --output_path "out/$1")
}
python "$HERE/make_fixtures.py" data "$WORK"                       # pass 1: placeholder answers
lm_eval pass1 "pretrained=$WORK/base,dtype=float32"
python "$HERE/make_fixtures.py" data "$WORK" --from "$WORK/out/pass1"  # answers from the base model
lm_eval lora_r8 "pretrained=$WORK/base,peft=$WORK/adapter_r8,dtype=float32"
lm_eval lora_r1 "pretrained=$WORK/base,peft=$WORK/adapter_r1,dtype=float32"
lm_eval lora_r2 "pretrained=$WORK/base,peft=$WORK/adapter_r2,dtype=float32"

for name in lora_r8 lora_r2 lora_r1; do   # drop lm-eval's <model name> level, keep its file names
  rm -rf "${HERE:?}/$name"; mkdir -p "$HERE/$name"
  cp "$WORK"/out/$name/*/samples_*.jsonl "$HERE/$name/"
done
cp "$WORK"/out/lora_r8/*/results_*.json "$HERE/lora_r8/"   # one aggregate file is enough (size)
mkdir -p "$HERE/data"; cp "$WORK"/data/*.jsonl "$HERE/data/"   # the task files, as answered
