#!/bin/sh
# peak_stability.sh: does `cnnlab bench` read the same machine peak run after
# run? (issue 21). Runs `cnnlab bench` N times (a small model, the peak is
# measured at its start) and prints each run's fp32 and bf16 peak, whether its
# windows agreed (src/core/peak.c), and the spread (largest / smallest - 1).
# A benchmark: run it by hand on a quiet machine.
#
#   bench/peak_stability.sh [--runs 5] [--cnnlab build/cnnlab] [--threads 2]
set -eu
runs=5 cnnlab=build/cnnlab threads=2
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --cnnlab) cnnlab=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "peak_stability.sh: unknown argument '$1' (expected --runs, --cnnlab or --threads)" >&2; exit 2 ;;
    esac
done
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $threads threads"
i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    "$cnnlab" bench --model lenet5 --precision bf16 --batch-size 32 --seconds 0.2 --windows 1 \
        --threads "$threads" | sed -n 's/.*measured peak, [0-9]* threads: fp32 FMA \([0-9]*\) GFLOP\/s, bf16 dot products \([0-9]*\) GFLOP\/s (\(.*\))/\1 \2 \3/p'
done | awk -v runs="$runs" '
    { f[NR] = $1; b[NR] = $2; $1 = $2 = ""; printf "run %d: fp32 %d, bf16 %d GFLOP/s,%s\n", NR, f[NR], b[NR], $0 }
    END { fl = fh = f[1]; bl = bh = b[1]
          for (i = 2; i <= NR; i++) { if (f[i] < fl) fl = f[i]; if (f[i] > fh) fh = f[i]
                                      if (b[i] < bl) bl = b[i]; if (b[i] > bh) bh = b[i] }
          printf "spread over %d runs: fp32 %.1f %%, bf16 %.1f %%\n", NR, 100 * (fh / fl - 1), 100 * (bh / bl - 1) }'
