#!/usr/bin/env bash
# recipe.sh: time to accuracy of a training recipe, against PyTorch's
# re-implementation of the same recipe, on this machine in one sitting.
#
#   bench/recipe.sh [--recipe airbench94] [--seeds "1 2 3"] [--data DIR] [--out DIR]
#                   [--torch PATH/torch_airbench_cpu.py] [--torch-precision fp32|bf16]
#                   [--torch-seeds "0"] [--torch-max-steps N] [--torch-env plain|tuned]
#                   [--threads 2] [-- extra train flags]
#
# For each seed: `cnnlab train --recipe R --seed S` timed as a whole (wall
# seconds of the command: data loading, whitening, plan set-up and every
# epoch), then `cnnlab test` (the recipe's TTA accuracy and the plain one from
# test.json). With --torch, the PyTorch recipe script runs after them with
# --json, and its own training time (train_s: whitening and every step, per-
# epoch evaluations excluded) and TTA test accuracy are read back;
# --torch-max-steps N stops it early and its time is extrapolated to the full
# step count, --torch-full-steps (airbench94's 476 by default; said in the table).
# --torch-env tuned: PyTorch's environment tuned as in bench/compare.sh. Prints one row per run and the medians.
set -eu
cd "$(dirname "$0")/.."
recipe=airbench94 seeds="1 2 3" data="" out="" torch="" tprec=bf16 tseeds="0" tmax=0 threads=2 tfull=476 tenv=plain
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --recipe) recipe=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --torch) torch=$2; shift 2 ;;
    --torch-precision) tprec=$2; shift 2 ;;
    --torch-seeds) tseeds=$2; shift 2 ;;
    --torch-max-steps) tmax=$2; shift 2 ;;
    --torch-full-steps) tfull=$2; shift 2 ;;
    --torch-env) tenv=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "recipe.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
    esac
done
[ -x build/cnnlab ] || make -j"$(nproc)" >/dev/null
out=${out:-runs/bench-$recipe-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
dataflag=()
[ -n "$data" ] && dataflag=(--data "$data")
echo "# $(date -Iseconds) $(lscpu | sed -n 's/^Model name: *//p') $(nproc) cores; recipe $recipe; threads $threads"
printf '%-8s %-6s %10s %10s %10s\n' side seed wall_s test_tta test_plain
json_field() { sed -n "s/.*\"$2\": \([0-9.eE+-]*\).*/\1/p" "$1" | tail -n1; } # the last: top-level keys follow per-epoch lists
for s in $seeds; do
    run=$out/$recipe-s$s
    t0=$(date +%s.%N)
    build/cnnlab train --recipe "$recipe" --seed "$s" --threads "$threads" "${dataflag[@]}" \
        "${extra[@]}" --out "$run" >"$run.log" 2>&1
    t1=$(date +%s.%N)
    build/cnnlab test "$run" --threads "$threads" "${dataflag[@]}" >"$run.test.log" 2>&1
    printf '%-8s %-6s %10.1f %10s %10s\n' cnnlab "$s" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
        "$(json_field "$run/test.json" accuracy)" "$(json_field "$run/test.json" accuracy_plain)"
done
if [ -n "$torch" ]; then
    for s in $tseeds; do
        j=$out/torch-$tprec-s$s.json
        args=(--precision "$tprec" --seed "$s" --threads "$threads" --json "$j")
        [ -n "$data" ] && args+=(--data "$data") || args+=(--data data/cifar-10-batches-bin)
        [ "$tmax" -gt 0 ] && args+=(--max-steps "$tmax")
        tuned=()
        [ "$tenv" = tuned ] && tuned=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 OPENBLAS_NUM_THREADS=1)
        [ "$tenv" = tuned ] && grep -q avx512f /proc/cpuinfo && tuned+=(ATEN_CPU_CAPABILITY=avx512)
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${tuned[@]}" /usr/bin/python3 "$torch" "${args[@]}" \
            >"$out/torch-$tprec-s$s.log" 2>&1
        train_s=$(json_field "$j" train_s)
        steps=$(json_field "$j" total_steps)
        if [ "$tmax" -gt 0 ]; then
            full=$tfull
            printf '%-8s %-6s %10.1f %10s %10s  (%s of %s steps, time extrapolated)\n' \
                "torch-$tprec" "$s" "$(awk -v t="$train_s" -v f="$full" -v n="$steps" 'BEGIN {print t * f / n}')" "-" "-" "$steps" "$full"
        else
            printf '%-8s %-6s %10.1f %10s %10s\n' "torch-$tprec" "$s" "$train_s" \
                "$(json_field "$j" tta_test_acc)" "$(json_field "$j" final_test_acc)"
        fi
    done
fi
