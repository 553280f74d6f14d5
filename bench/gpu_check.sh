#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (issue 19). From the repository root:
#
#     bash bench/gpu_check.sh                      # on the GPU machine: DEVICE=cuda (default)
#     DEVICE=cpu QUICK=1 bash bench/gpu_check.sh   # rehearsal on a CPU (a few minutes)
#
# 1. the CUDA-marked tests (tests/test_cuda.py; they skip, saying so, without a GPU);
# 2. every example in its quick setting on $DEVICE (python -m emseg run exampleN --quick);
# 3. the speed benchmarks: tiled inference against MONAI and the original-size networks
#    (bench/bench_infer.py) and training speed of the original-size nets and the CPU presets
#    (bench/bench_train.py; --presets: every preset before/after the speed settings, with the
#    share of each step spent waiting for data), with AMP on CUDA.
# Everything is written to $OUT (default build/gpu-check): one log per step and summary.txt
# with each step's exit status and time. Steps run on after a failure; the script exits 1
# if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-build/gpu-check}
QUICK=${QUICK:-0}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
failed=0

step() {  # step NAME COMMAND...: run, log to $OUT/NAME.log, record status and seconds
    local name=$1; shift
    local t0=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    printf '%-24s rc=%d  %5d s  %s\n' "$name" "$rc" "$((SECONDS - t0))" "$*" | tee -a "$summary"
    [ "$rc" -eq 0 ] || failed=1
}

python - > "$OUT/device.txt" 2>&1 <<'PY'
import torch
from emseg.device import describe, pick_device
print("torch", torch.__version__, "| CUDA available:", torch.cuda.is_available())
if torch.cuda.is_available():
    print(describe(pick_device("cuda")), "|", round(torch.cuda.get_device_properties(0).total_memory / 2**30), "GiB")
PY
cat "$OUT/device.txt" | tee -a "$summary"
if [ "$DEVICE" = cuda ] && ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: DEVICE=cuda but PyTorch sees no CUDA GPU here; run with DEVICE=cpu QUICK=1 to rehearse" | tee -a "$summary"
    exit 1
fi

step cuda-tests python -m pytest -q -m cuda tests/test_cuda.py -rs -p no:cacheprovider
out_abs=$(cd "$OUT" && pwd)
for n in 1 2 3 4 5; do
    extra=()  # example 3 compares itself with example 2's run of this script
    [ "$n" = 3 ] && extra=(-p example2_results "$out_abs/example2-quick/results.json")
    step "example$n-quick" python -m emseg run "example$n" --quick --no-html -p device "$DEVICE" \
        "${extra[@]}" --output "$OUT/example$n-quick"
done
infer_args=(--device "$DEVICE"); train_args=(--device "$DEVICE")
if [ "$QUICK" = 1 ]; then infer_args+=(--quick); train_args+=(--quick); fi
step bench-infer python bench/bench_infer.py "${infer_args[@]}"
step bench-train python bench/bench_train.py "${train_args[@]}"
presets_args=(--presets --device "$DEVICE" --iterations 20)
[ "$QUICK" = 1 ] && presets_args=(--presets --device "$DEVICE" --iterations 3)
step bench-train-presets python bench/bench_train.py "${presets_args[@]}"

echo "logs in $OUT; failed steps: $failed" | tee -a "$summary"
exit "$failed"
