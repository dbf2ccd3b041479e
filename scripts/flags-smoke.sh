#!/usr/bin/env bash
# flags-smoke.sh: every training technique's flag for one epoch on a small
# subset; prints the final validation loss of each and fails if one is not
# finite. The techniques issue's acceptance runs it on 2,000 real images:
#   scripts/flags-smoke.sh [--data DIR] [--subset N] [--model NAME]
set -u
cd "$(dirname "$0")/.."
data=() subset=2000 model=lenet5
while [ $# -gt 0 ]; do
    case "$1" in
    --data) data=(--data "$2"); shift 2 ;;
    --subset) subset=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "flags-smoke.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
CNNLAB=${CNNLAB:-build/cnnlab}
tmp=$(mktemp -d /tmp/cnnlab-flags.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cases=(
    ""
    "--norm none" "--norm batch" "--norm layer" "--norm instance" "--norm group" "--norm group --groups 4"
    "--dropout 0.3" "--dropconnect 0.3"
    "--activation relu" "--activation leaky_relu" "--activation sigmoid" "--activation tanh"
    "--activation gelu" "--activation elu"
    "--kernel-size 3" "--kernel-size 7"
    "--init kaiming" "--init xavier"
    "--l2 0.0005" "--clip-grad-norm 1" "--clip-grad-value 0.1" "--label-smoothing 0.1"
    "--input-noise 0.1" "--early-stop 1"
    "--augment crop" "--augment flip" "--augment cutout" "--augment crop,flip,cutout --crop-padding 2 --cutout-size 12"
    "--optimizer sgd --nesterov" "--optimizer adam" "--optimizer adamw" "--optimizer rmsprop"
    "--optimizer adam --beta1 0.8 --beta2 0.99 --eps 1e-7"
    "--lr-schedule step --step-size 1" "--lr-schedule multistep --milestones 1 --epochs 2" "--lr-schedule exp --gamma 0.9"
    "--lr-schedule cosine --min-lr 0.001" "--lr-schedule plateau --patience 1" "--lr-schedule onecycle"
    "--warmup-epochs 1" "--lr-schedule cosine --warmup-epochs 1"
)
fails=0
printf "%-62s %10s %9s %8s\n" "flags ($model, 1 epoch, $subset images)" val_loss val_acc img/s
for c in "${cases[@]}"; do
    out=$tmp/run$RANDOM$RANDOM
    # shellcheck disable=SC2086
    if ! "$CNNLAB" train --model "$model" --epochs 1 --subset "$subset" "${data[@]}" --out "$out" $c \
        >"$tmp/log" 2>&1; then
        printf "%-62s FAILED: %s\n" "${c:-(defaults)}" "$(tail -n1 "$tmp/log")"
        fails=$((fails + 1))
        continue
    fi
    row=$(tail -n1 "$out/metrics.csv")
    vl=$(cut -d, -f4 <<<"$row") va=$(cut -d, -f5 <<<"$row") ips=$(cut -d, -f8 <<<"$row")
    if awk -v v="$vl" 'BEGIN { exit !(v == v + 0 && v < 1e30) }'; then
        printf "%-62s %10.4f %8.2f%% %8.0f\n" "${c:-(defaults)}" "$vl" "$(awk -v a="$va" 'BEGIN{print 100*a}')" "$ips"
    else
        printf "%-62s %10s  NOT FINITE\n" "${c:-(defaults)}" "$vl"
        fails=$((fails + 1))
    fi
done
echo "${#cases[@]} flag sets, $fails failed"
[ "$fails" -eq 0 ]
