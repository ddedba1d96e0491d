#!/usr/bin/env bash
# The GPU checks of the neural models, in one run on a CUDA machine:
#
#   A  every CUDA-marked test (GRU4Rec, NARM, SR-GNN, GCE-GNN, STAMP/SASRec/CORE, saving, evaluator);
#   B  speed of STAMP, SASRec, CORE-trm and CORE-ave against RecBole 1.2 on the GPU (DIGINETICA
#      one-day split, 3 epochs, the sides alternating in fresh processes; attn_vs_recbole.py);
#   C  accuracy of float32 against bfloat16 mixed-precision training (amp=True), same split,
#      3 seeds x 5 epochs, epoch chosen on validation (ours only);
#   D  s/epoch, evaluation cases/s and CUDA peak memory on a synthetic log of DIGINETICA size,
#      float32 and mixed precision (bench_attn.py).
#
# A and C only check results and run side by side; B and D are timed and run alone.
#
#   tests/perf/gpu_checks.sh OUTDIR
#
# Environment: PY (default python3, with sessrec and sessrec-baselines importable), RECBOLE_PYTHON
# (a Python with RecBole 1.2, see attn_vs_recbole.py; without it B is skipped), SESSREC_SHARED (the
# folder holding data/diginetica/train-item-views_combined.csv), DEVICE (default cuda), QUICK=1
# (tiny settings, to rehearse the script on a CPU), D_AMP=0 (D without the mixed-precision pass), PHASES (default "A C B D": the parts to run).
set -u
OUT=${1:?usage: gpu_checks.sh OUTDIR}
mkdir -p "$OUT"
PY=${PY:-python3}
DEV=${DEVICE:-cuda}
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1
if [ "${QUICK:-0}" = 1 ]; then
  SEEDS=0; EPOCHS_ACC=1; EPOCHS_SPEED=1; FRACTION=0.002; EVAL=200; MODELS="stamp coreave"
else
  SEEDS=0,1,2; EPOCHS_ACC=5; EPOCHS_SPEED=3; FRACTION=0.05; EVAL=3000; MODELS="stamp sasrec coretrm coreave"
fi
lr_of() { case $1 in stamp | sasrec) echo "--lr 0.005" ;; *) echo "" ;; esac; }
stamp() { echo "## $1 $(date -u +%H:%M:%S)"; }
PHASES=${PHASES:-A C B D}
on() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

{
  stamp "machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || true
  "$PY" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__, 'gpu', torch.cuda.is_available())"
  nproc; uptime
} >"$OUT/machine.txt" 2>&1

# the one-day split as RecBole benchmark files, once (the drivers below would otherwise race to write it)
"$PY" -c "import sys; sys.path.insert(0, '$HERE'); import attn_vs_recbole as a; a.export_split()" >"$OUT/export.txt" 2>&1

# ---- A and C, side by side
pids=""
if on A; then
  (
    stamp "A: CUDA-marked tests"
    files="baselines/tests/test_attn_cuda.py baselines/tests/test_narm.py baselines/tests/test_gru4rec.py
           baselines/tests/test_srgnn.py baselines/tests/test_gcegnn.py tests/test_saving.py tests/test_evaluation_evaluator.py"
    # shellcheck disable=SC2086
    if ! timeout 240 "$PY" -m pytest -q -p no:cacheprovider -m cuda -rA $files >"$OUT/A_pytest.txt" 2>&1; then
      echo "failed; again with warnings shown rather than raised:"
      # shellcheck disable=SC2086
      timeout 240 "$PY" -m pytest -q -p no:cacheprovider -m cuda -rA -W default $files >"$OUT/A_pytest_W.txt" 2>&1
      tail -15 "$OUT/A_pytest_W.txt"
    fi
    grep -E "^(PASSED|FAILED|ERROR)|passed|failed" "$OUT/A_pytest.txt" | tail -30
    stamp "A: done"
  ) >"$OUT/A_tests.txt" 2>&1 &
  pids=$!
fi
if on C; then
  for model in $MODELS; do
    for amp in false true; do
      # shellcheck disable=SC2046
      timeout 240 "$PY" "$HERE/attn_vs_recbole.py" --model "$model" --seeds "$SEEDS" --epochs "$EPOCHS_ACC" \
        --batch-size 512 $(lr_of "$model") --threads 1 --sides ours --device "$DEV" --ours "{\"amp\": $amp}" \
        >"$OUT/C_${model}_amp_${amp}.txt" 2>&1 &
      pids="$pids $!"
    done
  done
fi
# shellcheck disable=SC2086
wait $pids
if on C; then
  {
    stamp "C: float32 against mixed precision"
    for f in "$OUT"/C_*_amp_*.txt; do
      label=$(basename "$f" .txt)
      grep -h "mean ± sd\|^| ours" "$f" | sed "s/^/${label#C_} /"
      grep -h "Error\|error" "$f" | tail -3 | sed "s/^/${label#C_} /"
    done
  } >"$OUT/C_summary.txt" 2>&1
fi

# ---- B, alone
on B && {
  stamp "B: ours against RecBole on $DEV"
  if [ -n "${RECBOLE_PYTHON:-}" ]; then
    for model in $MODELS; do
      # shellcheck disable=SC2046
      timeout 100 "$PY" "$HERE/attn_vs_recbole.py" --model "$model" --seeds 0 --epochs "$EPOCHS_SPEED" \
        --batch-size 512 $(lr_of "$model") --threads 1 --device "$DEV" 2>&1 | grep -v "^# .* valid R@20 per epoch"
    done
  else
    echo "RECBOLE_PYTHON not set: skipped"
  fi
  stamp "B: done"
} >"$OUT/B_speed.txt" 2>&1

# ---- D, alone
on D && {
  stamp "D: synthetic, DIGINETICA size"
  models=$(echo "$MODELS" | tr ' ' ',')
  timeout 120 "$PY" "$HERE/bench_attn.py" --models "$models" --device "$DEV" --fraction "$FRACTION" --epochs 2 \
    --eval-cases "$EVAL" --threads 1
  if [ "$DEV" != cpu ] && [ "${D_AMP:-1}" = 1 ]; then
    timeout 120 "$PY" "$HERE/bench_attn.py" --models "$models" --device "$DEV" --fraction "$FRACTION" --epochs 2 \
      --eval-cases "$EVAL" --threads 1 --amp
  fi
  stamp "D: done"
} >"$OUT/D_synthetic.txt" 2>&1
for f in machine A_tests C_summary B_speed D_synthetic; do [ -f "$OUT/$f.txt" ] && cat "$OUT/$f.txt"; done
