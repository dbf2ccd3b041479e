#!/usr/bin/env bash
# Runs every test program in $TESTBIN and every tests/*.sh script; prints a
# summary; exits non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
: "${TESTBIN:=build/tests}" "${CNNLAB:=build/cnnlab}"
# --conv auto keeps its timed choices in a cache folder (conv_cache.c): the
# tests use a fresh one of their own, never the user's
CNNLAB_CACHE_DIR=$(mktemp -d /tmp/cnnlab-test-cache.XXXXXX) || exit 1
export CNNLAB_CACHE_DIR
trap 'rm -rf "$CNNLAB_CACHE_DIR"' EXIT
export CNNLAB
failed=()
times=()
total=0
for t in "$TESTBIN"/test_*; do
    [ -x "$t" ] || continue
    total=$((total + 1))
    echo "=== $(basename "$t")"
    start=$SECONDS
    if ! "$t"; then failed+=("$(basename "$t")"); fi
    times+=("$((SECONDS - start)) s $(basename "$t")")
done
for s in tests/cli_*.sh; do
    [ -f "$s" ] || continue
    total=$((total + 1))
    echo "=== $(basename "$s")"
    start=$SECONDS
    if ! bash "$s"; then failed+=("$(basename "$s")"); fi
    times+=("$((SECONDS - start)) s $(basename "$s")")
done
# where make test's time goes (it is meant to stay under about 10 minutes on
# 2 cores): the slowest five
printf '%s\n' "${times[@]}" | sort -rn | head -n 5 | sed 's/^/slowest: /'
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED ${#failed[@]} of $total: ${failed[*]}"
    exit 1
fi
echo "all $total test programs passed"
