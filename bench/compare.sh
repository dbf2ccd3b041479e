#!/usr/bin/env bash
# compare.sh: cnnlab against PyTorch on this machine, in the same sitting.
# For each model it alternates cnnlab bench and the PyTorch reference script
# (NCHW and channels-last) for several rounds, then prints the medians and the
# ratio to the faster PyTorch layout, with the hardware it ran on.
#
#   bench/compare.sh --torch PATH/torch_reference.py [--models "lenet5 vgg16_bn"]
#                    [--mode train|infer] [--rounds 3] [--threads 2] [--batch-size 128]
#                    [--seconds 3] [--windows 5] [--precision fp32|bf16]
#                    [--torch-precision fp32|bf16] [--torch-env plain|tuned]
#
# --precision is cnnlab's; PyTorch runs in --torch-precision (default: the same),
# so "cnnlab bf16 against PyTorch fp32" is --precision bf16 --torch-precision fp32.
# --torch-env tuned runs PyTorch with its environment tuned for this VM
# (glibc malloc kept from returning activation memory to the kernel every step,
# MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000; OPENBLAS_NUM_THREADS=1;
# ATEN_CPU_CAPABILITY=avx512 where the CPU has AVX-512), a stronger peer than
# PyTorch as a user runs it (plain, the default).
# --torch may also name tools/torch_bench_airbench.py (--models airbench94).
#
# PyTorch is Debian's python3-torch, run with /usr/bin/python3 and without the
# OPENBLAS_* overrides (as the reference script's own instructions say).
# Peak resident memory of every process is taken by GNU time (Debian's `time`)
# when /usr/bin/time exists; the table gives the medians in MiB.
set -eu
cd "$(dirname "$0")/.."
torch="" models="lenet5 vgg16_bn" mode=train rounds=3 threads=2 batch=128 seconds=3 windows=5
precision=fp32 tprecision="" tenv=plain
while [ $# -gt 0 ]; do
    case "$1" in
    --torch) torch=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --windows) windows=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    --torch-precision) tprecision=$2; shift 2 ;;
    --torch-env) tenv=$2; shift 2 ;;
    *) echo "compare.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
    esac
done
if [ -z "$torch" ] || [ ! -f "$torch" ]; then
    echo "compare.sh: --torch must name the PyTorch reference script (torch_reference.py), found '$torch'" >&2
    exit 2
fi
tprecision=${tprecision:-$precision}
[ -x build/cnnlab ] || make -j"$(nproc)" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
rss_file=$(mktemp /tmp/cnnlab-compare.XXXXXX)
trap 'rm -f "$rss_file"' EXIT
# Runs "$@"; its peak resident memory in MiB goes to $rss_file (0 without GNU time).
measured() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$rss_file" "$@"
        awk '{v = $1} END {printf "%.0f\n", v / 1024}' "$rss_file" >"$rss_file.mib" && mv "$rss_file.mib" "$rss_file"
    else
        "$@"
        echo 0 >"$rss_file"
    fi
}
case "$tenv" in
plain) tuned=() ;;
tuned) tuned=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 OPENBLAS_NUM_THREADS=1)
       grep -q avx512f /proc/cpuinfo && tuned+=(ATEN_CPU_CAPABILITY=avx512) ;;
*) echo "compare.sh: --torch-env: expected plain or tuned, found '$tenv'" >&2; exit 2 ;;
esac
run_torch() {
    measured env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${tuned[@]}" /usr/bin/python3 "$torch" --model "$1" \
        --batch-size "$batch" --mode "$mode" --threads "$threads" --seconds "$seconds" \
        --windows "$windows" --precision "$tprecision" --quiet $2
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
    "AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no)," \
    "AVX512_BF16: $(grep -q avx512_bf16 /proc/cpuinfo && echo yes || echo no)"
echo "$(build/cnnlab --version); $(/usr/bin/python3 -c 'import torch; print("pytorch", torch.__version__)')"
echo "cnnlab $precision against PyTorch $tprecision (environment: $tenv); mode $mode, batch $batch, threads $threads, $rounds rounds of ($windows windows x ${seconds}s) each, alternating"
echo
printf "%-10s %12s %12s %12s %8s %17s\n" model cnnlab torch-nchw torch-cl ratio "peak MiB c/n/cl"
for m in $models; do
    c=() t=() l=() rc=() rt=() rl=()
    for r in $(seq "$rounds"); do
        c+=("$(measured build/cnnlab bench --model "$m" --batch-size "$batch" --mode "$mode" \
            --threads "$threads" --precision "$precision" --seconds "$seconds" --windows "$windows" \
            --json | tail -n1 | sed 's/.*"images_per_second": \([0-9.]*\).*/\1/')")
        rc+=("$(cat "$rss_file")")
        t+=("$(run_torch "$m" "")")
        rt+=("$(cat "$rss_file")")
        l+=("$(run_torch "$m" --channels-last)")
        rl+=("$(cat "$rss_file")")
    done
    mc=$(printf '%s\n' "${c[@]}" | median)
    mt=$(printf '%s\n' "${t[@]}" | median)
    ml=$(printf '%s\n' "${l[@]}" | median)
    mem="$(printf '%s\n' "${rc[@]}" | median)/$(printf '%s\n' "${rt[@]}" | median)/$(printf '%s\n' "${rl[@]}" | median)"
    ratio=$(awk -v c="$mc" -v t="$mt" -v l="$ml" 'BEGIN {b = t > l ? t : l; printf "%.2f", c / b}')
    printf "%-10s %12.1f %12.1f %12.1f %7sx %17s\n" "$m" "$mc" "$mt" "$ml" "$ratio" "$mem"
    echo "           rounds: cnnlab ${c[*]} | nchw ${t[*]} | channels-last ${l[*]}"
done
