#!/usr/bin/env bash
# main.sh: the main job, from a fresh Debian machine to a trained, tested model:
# installs missing packages, builds, gets CIFAR-10 (downloads it when online),
# trains the default model (lenet5, 10 epochs) and writes its report.
#   scripts/main.sh [--data DIR] [extra `cnnlab train` flags...]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)"
data_args=()
if [ "${1:-}" = "--data" ]; then
    data_args=(--data "$2")
    shift 2
fi
run=runs/main-$(date +%Y%m%d-%H%M%S)
build/cnnlab train --model lenet5 --epochs 10 --batch-size 128 --lr 0.05 --momentum 0.9 \
    "${data_args[@]}" --out "$run" "$@"
build/cnnlab test "$run" "${data_args[@]}" | tee "$run/test.txt"
{
    echo "# cnnlab run $run"
    echo
    echo "## Configuration"
    echo '```'
    grep -v '^#' "$run/config.txt"
    echo '```'
    echo
    echo "## Validation per epoch"
    echo
    echo "| epoch | train loss | train acc | val loss | val acc | seconds | images/s |"
    echo "|---|---|---|---|---|---|---|"
    tail -n +2 "$run/metrics.csv" | awk -F, '{printf "| %d | %.4f | %.2f %% | %.4f | %.2f %% | %.1f | %.0f |\n", $1, $2, 100*$3, $4, 100*$5, $7, $8}'
    echo
    echo "## Test set (evaluated once, with the best validation epoch's weights)"
    echo '```'
    cat "$run/test.txt"
    echo '```'
} >"$run/report.md"
echo "report: $run/report.md"
