#!/usr/bin/env bash
# fuzz-deps.sh: what `make fuzz` needs beyond scripts/deps.sh: clang with its
# libFuzzer, sanitizer runtimes and OpenMP (Debian 12: clang-14,
# libclang-rt-14-dev, libomp-14-dev). Installs them only when missing.
set -eu
probe() { printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' |
    clang -fsanitize=fuzzer,address -fopenmp -x c - -o /dev/null 2>/dev/null; }
if command -v clang >/dev/null && probe; then
    echo "fuzz-deps: clang with libFuzzer and OpenMP found"
    exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev libomp-dev
probe || { echo "fuzz-deps: clang still cannot build a libFuzzer target" >&2; exit 1; }
