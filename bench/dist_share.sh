#!/usr/bin/env bash
# dist_share.sh: for each built-in model, a short data-parallel training on
# 2 MPI ranks of this machine (`mpirun -np 2 cnnlab train`, one thread per
# rank): the gradient's size, the training steps' time and the share of it
# spent in the sums over the ranks, as the trainer reports them. Prints one
# line per model: model, parameters, gradient MB per step, steps, seconds of
# steps, seconds of sums, share. A benchmark: it measures, it does not
# assert. Then the scaling model of docs/distributed.md from these figures:
# each model's expected efficiency at 2..64 nodes on 10, 25 and 100 Gb/s.
#   [MODELS="models/a.cnn ..."] bench/dist_share.sh [CNNLAB [DATA_DIR [STEPS]]]
# (--conv direct: no timed choice of algorithms while the plans are made)
#   bench/dist_share.sh --from TABLE   (the model again from a saved first table)
set -u

# The scaling model (docs/distributed.md): per step a node computes for
# Tc = (steps_s - sums_s) / steps, then a ring allreduce of S = 4 * parameters
# bytes takes Tar = 2 (N-1)/N * S / B + 2 (N-1) * ALPHA; efficiency
# E = Tc / (Tc + Tar) (synchronous SGD, the per-node batch fixed, no overlap).
# SPEEDUP=K divides Tc by K: nodes K times faster than the measuring one.
ALPHA=25e-6 # seconds per message: TCP over Ethernet
scaling() {
    awk -v alpha=$ALPHA -v speedup="${SPEEDUP:-1}" 'BEGIN { split("2 4 8 16 64", n, " "); split("10 25 100", bw, " ")
        printf "\nexpected efficiency (Tc / %s), nodes x link (Gb/s):\n%-16s %8s", speedup, "model", "Tc_ms"
        for (bi = 1; bi <= 3; bi++) for (ni = 1; ni <= 5; ni++)
            printf " %7s", n[ni] "x" bw[bi]
        printf "\n" }
    NR == 1 || NF < 7 { next }
    { tc = ($5 - $6) / $4 / speedup; S = 4 * $2
      printf "%-16s %8.1f", $1, tc * 1000
      for (bi = 1; bi <= 3; bi++) for (ni = 1; ni <= 5; ni++) {
          N = n[ni]; B = bw[bi] * 1e9 / 8
          tar = 2 * (N - 1) / N * S / B + 2 * (N - 1) * alpha
          printf " %6.0f%%", 100 * tc / (tc + tar) }
      printf "\n"
      row[++rows] = sprintf("%-16s %8.1f", $1, S / 1e6)
      for (bi = 1; bi <= 3; bi++) for (ni = 1; ni <= 5; ni += 4) {
          N = n[ni]; B = bw[bi] * 1e9 / 8
          row[rows] = row[rows] sprintf(" %8.1f", 1000 * (2 * (N - 1) / N * S / B + 2 * (N - 1) * alpha)) } }
    END { printf "\nallreduce time per step (ms), nodes x link (Gb/s):\n%-16s %8s", "model", "grad_MB"
          for (bi = 1; bi <= 3; bi++) for (ni = 1; ni <= 5; ni += 4) printf " %8s", n[ni] "x" bw[bi]
          printf "\n"
          for (i = 1; i <= rows; i++) print row[i] }' "$1"
}
CNNLAB=${1:-build/cnnlab}
DATA=${2:-data/cifar-10-batches-bin}
STEPS=${3:-5}
BATCH=128
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_base_warn_component_unused=0
if [ "${1:-}" = "--from" ]; then
    scaling "$2"
    exit 0
fi
tmp=$(mktemp -d /tmp/cnnlab-dist-share.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
table=$tmp/table.txt
printf '%-16s %11s %9s %5s %9s %9s %6s\n' model parameters grad_MB steps steps_s sums_s share |
    tee "$table"
for f in ${MODELS:-models/*.cnn}; do
    m=$(basename "$f" .cnn)
    mpirun --oversubscribe -np 2 "$CNNLAB" train --model "$m" --subset $((BATCH * STEPS)) \
        --batch-size $BATCH --epochs 1 --val-fraction 0.002 --threads 1 --conv direct \
        --data "$DATA" \
        --out "$tmp/$m" >"$tmp/$m.log" 2>&1 || { echo "$m: failed: $(tail -n 2 "$tmp/$m.log")"; continue; }
    line=$(grep 'data-parallel: the sums' "$tmp/$m.log")
    params=$(sed -E 's/.*gradients of ([0-9]+) floats.*/\1/' <<<"$line")
    sums=$(sed -E 's/.* took ([0-9.]+) s of the.*/\1/' <<<"$line")
    total=$(sed -E 's/.* s of the ([0-9.]+) s of training.*/\1/' <<<"$line")
    share=$(sed -E 's/.*steps \(([0-9.]+) %\).*/\1/' <<<"$line")
    printf '%-16s %11d %9.2f %5d %9.2f %9.2f %5.1f%%\n' "$m" "$params" \
        "$(awk -v p="$params" 'BEGIN { print p * 4 / 1e6 }')" "$STEPS" "$total" "$sums" "$share" |
        tee -a "$table"
done
scaling "$table"
