#!/usr/bin/env bash
# One prepared run for a lent GPU (a task gets 15 minutes of one, all tries together):
#   1. the trainer throughput benchmark on W32k (1.5B shape): TRL's best path against srft's;
#   2. the toy experiment at the earlier prototype's scale (20,000 teacher episodes, a 1.1M-param
#      student, ~16k tokens per step), 2 teachers x 3 seeds x 4 students, one process per
#      (teacher, seed), evaluated every --eval-every steps so a cut-off run still leaves results.
# The toy data are generated and built on the CPU cores while the GPU runs step 1.
#
#   bash benchmarks/gpu_session.sh                 # on the GPU machine; results in $OUT
#   PY=.venv/bin/python OUT=/tmp/gpu-out QUICK=1 bash benchmarks/gpu_session.sh   # CPU rehearsal
#
# Everything it keeps goes to $OUT (at most 8 files): env.txt, throughput.log, throughput.json,
# toy-results.jsonl (merge with `toy_experiment.py --summarise`), toy-logs.tar.gz, session.log.
set -u
PY=${PY:-python3}
OUT=${OUT:-gpu-out}
BUDGET=${BUDGET:-520}       # seconds from start by which everything must be written
WORK=${WORK:-/tmp/srft-gpu}
mkdir -p "$OUT" "$WORK"
START=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - START))); }
log() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/session.log"; }

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
  ATTN=${ATTN:-sdpa}
  THROUGHPUT=(--cpu --paths bc --variants "ckpt every layer")
else
  EPISODES=20000; TOY=(--hidden 160 --layers 4 --batch-tokens 16384 --steps 2400 --eval-every 800
    --eval-episodes 200 --probes 100 --rollout-batch 200)
  ATTN=${ATTN:-flex_attention}
  THROUGHPUT=(--shape 1.5b --paths bc --steps 3 --warmup 1
    --variants "ckpt every layer,ckpt every 2nd layer,no ckpt")
fi
COMMON=(--episodes "$EPISODES" --lr 2e-3 --warmup 50 --threads 2 "${TOY[@]}")
read -r -a SETTINGS <<<"${SETTINGS:-default sloppy}"
read -r -a SEEDS <<<"${SEEDS:-0 1 2}"

# --- toy data, on the CPU cores: generate + sft build, then the other three builds at once
prepare() {
  local s=$1
  $PY benchmarks/toy_experiment.py --out "$WORK/prep-$s-sft" --data-root "$WORK" --settings "$s" \
    --prepare-only --policies sft "${COMMON[@]}" >"$WORK/prep-$s.log" 2>&1 || return 1
  for p in rft srft-true srft-rules; do
    $PY benchmarks/toy_experiment.py --out "$WORK/prep-$s-$p" --data-root "$WORK" --settings "$s" \
      --prepare-only --policies "$p" "${COMMON[@]}" >>"$WORK/prep-$s.log" 2>&1 &
  done
  wait
}
for s in "${SETTINGS[@]}"; do prepare "$s" & done

# --- 1. throughput, alone on the GPU
log "throughput: start"
timeout 230 $PY benchmarks/train_throughput.py "${THROUGHPUT[@]}" --json "$OUT/throughput.json" \
  >"$OUT/throughput.log" 2>&1
log "throughput: rc $?"
wait  # the data
log "toy data ready: $(ls -d "$WORK"/*/data-0/datasets/* 2>/dev/null | wc -l) datasets"

# --- 2. the toy students: one process per (teacher, seed); retried on sdpa if flex fails
toy() {
  local s=$1 k=$2 attn=$3 budget extra=()
  # SDPA runs a packed row's block-diagonal mask densely: shorter rows, more of them per step
  [ "$attn" = sdpa ] && [ -z "${QUICK:-}" ] && extra=(--batch-tokens 4096 --grad-accum 4)
  budget=$(left)
  [ "$budget" -gt 60 ] || return 0
  timeout "$budget" $PY benchmarks/toy_experiment.py --out "$WORK/run-$s-$k" --data-root "$WORK" \
    --settings "$s" --seeds "$k" "${COMMON[@]}" --attn "$attn" "${extra[@]}" \
    --time-limit "$($PY -c "print(($budget - 75) / 60)")" >>"$WORK/run-$s-$k.log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$attn" != sdpa ]; then
    echo "rc $rc with $attn; again with sdpa" >>"$WORK/run-$s-$k.log"
    toy "$s" "$k" sdpa
  fi
}
for s in "${SETTINGS[@]}"; do for k in "${SEEDS[@]}"; do
  toy "$s" "$k" "$ATTN" &
done; done
wait
log "toy: done"

cat "$WORK"/run-*/results.jsonl >"$OUT/toy-results.jsonl" 2>/dev/null
tar -czf "$OUT/toy-logs.tar.gz" -C "$WORK" $(cd "$WORK" && ls -d *.log run-*/*/seed-*/runs/*/metrics.jsonl \
  run-*/*/seed-*/runs/*/train.json */data-0/datasets/*/build.json 2>/dev/null)
log "kept: $(wc -l <"$OUT/toy-results.jsonl") toy evaluations; $(grep -c '"path"' "$OUT/throughput.log") throughput paths"
