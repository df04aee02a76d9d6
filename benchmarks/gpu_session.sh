#!/usr/bin/env bash
# One prepared run for a lent GPU (a task gets 15 minutes of one, all tries together):
#   throughput: the trainer benchmark on W32k (1.5B shape), TRL's best path against srft's, one
#               process per path under its own time limit (a path that hangs costs only its limit);
#   toy:        the toy experiment at the earlier prototype's scale (20,000 teacher episodes, a
#               1.1M-param student, 16k tokens per step), 2 teachers x 3 seeds x 4 students, one
#               process per (teacher, seed), evaluated every --eval-every steps so a cut-off run
#               still leaves results. Its data are built on the CPU cores during `throughput`.
#
#   bash scripts/gpu_wheels.sh                           # here, first: the wheels to carry (.whl)
#   bash benchmarks/gpu_session.sh                       # on the GPU machine; results in $OUT
#   PARTS=toy BUDGET=500 bash benchmarks/gpu_session.sh  # one part only
#   PY=.venv/bin/python OUT=/tmp/gpu-out QUICK=1 bash benchmarks/gpu_session.sh   # CPU rehearsal
#
# What the first lease (2026-11-26, H200) taught, and this script now does:
# - the toy students train with SDPA, not flex_attention: six processes compiling flex kernels
#   did not finish one optimizer step in 390 s. SDPA on 4,096-token rows needs no compilation;
#   the dense block mask of such a row is cheap on a GPU.
# - each throughput path is its own process with its own limit, and reports its first step's
#   time (compilation included) beside the median.
# Everything kept goes to $OUT (at most 8 files): env.txt, session.log, throughput.log,
# throughput.json, toy-results.jsonl (merge with `toy_experiment.py --summarise`), toy-logs.tar.gz.
set -u
PY=${PY:-python3}
OUT=${OUT:-gpu-out}
BUDGET=${BUDGET:-520}       # seconds from start by which everything must be written
PARTS=${PARTS:-throughput toy}
WORK=${WORK:-/tmp/srft-gpu}
mkdir -p "$OUT" "$WORK"
START=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - START))); }
log() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/session.log"; }
has() { [[ " $PARTS " == *" $1 "* ]]; }

if [ -z "${QUICK:-}" ] && ls .whl/*.whl >/dev/null 2>&1; then  # the GPU image lacks these
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
{
  nvidia-smi -L 2>&1; nproc
  $PY -c "import torch, transformers, trl, datasets, peft, accelerate, pyarrow; print({m.__name__: m.__version__ for m in (torch, transformers, trl, datasets, peft, accelerate, pyarrow)}); print(torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
} >"$OUT/env.txt" 2>&1
log "env: $(tail -2 "$OUT/env.txt" | tr '\n' ' ')"

if [ -n "${QUICK:-}" ]; then  # the CPU rehearsal: same commands, tiny sizes
  EPISODES=300; TOY=(--hidden 32 --layers 1 --batch-tokens 1024 --steps 20 --eval-every 10
    --eval-episodes 8 --probes 4 --rollout-batch 8)
  THROUGHPUT=(--cpu); VARIANTS=("ckpt every layer"); PATH_S=120
else
  EPISODES=20000; TOY=(--hidden 160 --layers 4 --batch-tokens 4096 --grad-accum 4 --steps 2400
    --eval-every 800 --eval-episodes 200 --probes 100 --rollout-batch 200)
  THROUGHPUT=(--shape 1.5b --steps 3 --warmup 1)
  VARIANTS=("ckpt every layer" "ckpt every 2nd layer" "no ckpt"); PATH_S=${PATH_S:-110}
fi
COMMON=(--episodes "$EPISODES" --lr 2e-3 --warmup 50 --threads 2 --attn "${ATTN:-sdpa}" "${TOY[@]}")
read -r -a SETTINGS <<<"${SETTINGS:-default sloppy}"
read -r -a SEEDS <<<"${SEEDS:-0 1 2}"

# --- toy data, on the CPU cores: generate + sft build, then the other three builds at once
prepare() {
  local s=$1
  $PY experiments/toy/toy_experiment.py --out "$WORK/prep-$s-sft" --data-root "$WORK" --settings "$s" \
    --prepare-only --policies sft "${COMMON[@]}" >"$WORK/prep-$s.log" 2>&1 || return 1
  for p in rft srft-true srft-rules; do
    $PY experiments/toy/toy_experiment.py --out "$WORK/prep-$s-$p" --data-root "$WORK" --settings "$s" \
      --prepare-only --policies "$p" "${COMMON[@]}" >>"$WORK/prep-$s.log" 2>&1 &
  done
  wait
}
if has toy; then for s in "${SETTINGS[@]}"; do prepare "$s" & done; fi

# --- throughput, alone on the GPU: one process per path
if has throughput; then
  jsons=()
  run_path() {  # name, then the benchmark's arguments for that path
    local name=$1; shift
    timeout "$PATH_S" $PY benchmarks/train_throughput.py "${THROUGHPUT[@]}" "$@" \
      --json "$WORK/throughput-$name.json" >>"$OUT/throughput.log" 2>&1
    log "throughput $name: rc $?"
    [ -s "$WORK/throughput-$name.json" ] && jsons+=("$WORK/throughput-$name.json")
  }
  run_path b --paths b
  i=0
  for v in "${VARIANTS[@]}"; do run_path "c$i" --paths c --variants "$v"; i=$((i + 1)); done
  if [ ${#jsons[@]} -gt 0 ]; then
    $PY benchmarks/train_throughput.py --summarise "${jsons[@]}" --json "$OUT/throughput.json" \
      | tee -a "$OUT/throughput.log"
  fi
fi

# --- the toy students: one process per (teacher, seed)
if has toy; then
  wait  # the data
  log "toy data ready: $(ls -d "$WORK"/*/data-0/datasets/* 2>/dev/null | wc -l) datasets"
  budget=$(left)
  for s in "${SETTINGS[@]}"; do for k in "${SEEDS[@]}"; do
    timeout "$budget" $PY experiments/toy/toy_experiment.py --out "$WORK/run-$s-$k" \
      --data-root "$WORK" --settings "$s" --seeds "$k" "${COMMON[@]}" \
      --time-limit "$($PY -c "print(($budget - 75) / 60)")" >"$WORK/run-$s-$k.log" 2>&1 &
  done; done
  wait
  log "toy: done"
  cat "$WORK"/run-*/results.jsonl >"$OUT/toy-results.jsonl" 2>/dev/null
  # shellcheck disable=SC2046
  tar -czf "$OUT/toy-logs.tar.gz" -C "$WORK" $(cd "$WORK" && ls -d *.log \
    run-*/*/seed-*/runs/*/metrics.jsonl run-*/*/seed-*/runs/*/train.json \
    */data-0/datasets/*/build.json 2>/dev/null)
  log "kept: $(wc -l <"$OUT/toy-results.jsonl") toy evaluations"
fi
