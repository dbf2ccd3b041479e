#!/usr/bin/env bash
# main.sh: the main job, from a fresh Debian machine to the course's lab:
# installs missing packages, builds, gets CIFAR-10 (downloads it when online),
# then runs `cnnlab lab`: the five course studies (dropout, norm, lr-decay,
# kernel-size, depth) on lenet5 with a quick setting, the best configuration
# chosen on validation and tested once, one report: runs/lab/report.md.
# Running it again continues an interrupted lab (finished runs are kept).
#   scripts/main.sh [--data DIR] [extra `cnnlab lab` flags, e.g. --full]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)"
data_args=()
if [ "${1:-}" = "--data" ]; then
    data_args=(--data "$2")
    shift 2
fi
build/cnnlab lab --out runs/lab "${data_args[@]}" "$@"
