#!/usr/bin/env bash
# zoo-smoke.sh: every built-in model for one epoch on a small subset of the
# real training images; prints, per model, the loss of the first step, the
# epoch's mean training loss, the validation loss and accuracy and the
# training speed, and fails if a model does not run or its loss does not fall
# (epoch mean not below the first step's loss). The model zoo issue's
# acceptance runs it on 5,000 images. Validation uses 2 % of the training files
# (1,000 images) unless --val-fraction says otherwise: enough for a finite
# loss, and the slow models' epochs stay short.
#   scripts/zoo-smoke.sh [--data DIR] [--subset N] [--threads N] [--val-fraction F]
#                        [--models "a b"]
set -u
cd "$(dirname "$0")/.."
data=() subset=5000 threads=2 models="" valf=0.02
while [ $# -gt 0 ]; do
    case "$1" in
    --data) data=(--data "$2"); shift 2 ;;
    --subset) subset=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --val-fraction) valf=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) echo "zoo-smoke.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
    esac
done
CNNLAB=${CNNLAB:-build/cnnlab}
[ -n "$models" ] || models=$("$CNNLAB" models | awk '{print $1}')
tmp=$(mktemp -d /tmp/cnnlab-zoo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0 n=0
echo "each model: 1 epoch on $subset training images, $threads threads, validation fraction $valf"
printf "%-15s %11s %10s %10s %9s %8s %8s  %s\n" model params first_loss train_loss \
    val_loss val_acc img/s verdict
for m in $models; do
    n=$((n + 1))
    out=$tmp/$m
    if ! "$CNNLAB" train --model "$m" --epochs 1 --subset "$subset" --threads "$threads" \
        --val-fraction "$valf" "${data[@]}" --out "$out" >"$tmp/log" 2>&1; then
        printf "%-15s FAILED: %s\n" "$m" "$(tail -n1 "$tmp/log")"
        fails=$((fails + 1))
        continue
    fi
    params=$(sed -n 's/^model [^:]*: \([0-9]*\) parameters.*/\1/p' "$tmp/log" | head -n1)
    first=$(sed -n 's/^  epoch 1: step 1\/[0-9]*, loss \([0-9.]*\).*/\1/p' "$tmp/log" | head -n1)
    row=$(tail -n1 "$out/metrics.csv")
    tl=$(cut -d, -f2 <<<"$row") vl=$(cut -d, -f4 <<<"$row") va=$(cut -d, -f5 <<<"$row")
    ips=$(cut -d, -f8 <<<"$row")
    verdict=falls
    if ! awk -v f="$first" -v t="$tl" 'BEGIN { exit !(f != "" && t == t + 0 && t < f + 0) }'; then
        verdict="DOES NOT FALL"
        fails=$((fails + 1))
    fi
    printf "%-15s %11s %10s %10.4f %10.4f %8.2f%% %8.0f  %s\n" "$m" "$params" "${first:-?}" "$tl" \
        "$vl" "$(awk -v a="$va" 'BEGIN{print 100*a}')" "$ips" "$verdict"
done
echo "$n models, $fails failed"
[ "$fails" -eq 0 ]
