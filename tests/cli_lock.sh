#!/usr/bin/env bash
# cli_lock.sh: one process at a time in a run or study folder. While another
# process holds a folder's lock (here flock(1), the same flock(2) lock that
# cnnlab takes on the folder itself), `train --resume`, `train --out` and
# `study --out` on it are refused at once: exit 2, one stderr line naming the
# holder's PID, the folder unchanged. A lock whose process was killed (SIGKILL)
# is taken over: the same command then runs. Also a real `cnnlab train
# --resume` holding a run, refused to a second one. Exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start lock
pids=() # every process this script started in the background, by id
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
if ! command -v flock >/dev/null; then
    echo "cli_lock: flock(1) (util-linux) not found; skipped"
    exit 0
fi

# hold DIR: a live process (flock(1), pid in holder) holding DIR's lock; -o:
# its command (sleep, pid in child) does not inherit it.
hold() {
    flock -o -n "$1" sleep 300 >/dev/null 2>&1 &
    holder=$!
    pids+=("$holder")
    for _ in $(seq 50); do # until flock has taken it
        grep -q "FLOCK.* $holder " /proc/locks 2>/dev/null && break
        sleep 0.1
    done
    child=$(pgrep -P "$holder")
    pids+=($child)
}
# locked_by PID: waits (up to 20 s) until PID holds a lock; 0 if it does.
locked_by() {
    for _ in $(seq 200); do
        grep -q "FLOCK.* $1 " /proc/locks 2>/dev/null && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
state() { find "$1" -printf '%p %y %s %T@\n' | sort; find "$1" -type f -print0 | sort -z | xargs -0 -r md5sum; }
# refused PATTERN DIR -- command...: exit 2, one line matching PATTERN, DIR unchanged.
refused() {
    local pattern=$1 dir=$2 before after err rc
    shift 3
    before=$(state "$dir")
    err=$(timeout 20 "$@" 2>&1 >/dev/null)
    rc=$?
    after=$(state "$dir")
    if [ "$rc" -ne 2 ] || [ "$(printf '%s' "$err" | grep -c '')" -ne 1 ] ||
        ! grep -qE -- "$pattern" <<<"$err"; then
        fail "$* -> exit $rc (want 2), stderr: $err (want one line /$pattern/)"
    elif [ "$before" != "$after" ]; then
        fail "$* -> changed $dir"
    else
        pass "$err"
    fi
}

make_fake_cifar data
train=("$CNNLAB" train --model lenet5 --subset 64 --batch-size 32 --val-fraction 0.02 --threads 1
       --conv direct --data data)

# ---- two real cnnlab processes: a run training, a second --resume refused ----
"${train[@]}" --epochs 400 --out r >r1.log 2>&1 &
first=$!
pids+=("$first")
for _ in $(seq 300); do # until its first epoch is saved
    [ -e r/resume.state ] || ! kill -0 "$first" 2>/dev/null && break
    sleep 0.1
done
# (the running one rewrites r: the check that nothing changed looks at data)
refused "--resume: run folder r is in use by process $first\b" data -- \
    "$CNNLAB" train --resume r
# ---- its lock, once it is killed, is taken over ----
kill -9 "$first"
wait "$first" 2>/dev/null
"$CNNLAB" train --resume r >r2.log 2>&1 &
second=$!
pids+=("$second")
for _ in $(seq 200); do
    grep -q '^resuming r after epoch' r2.log || ! kill -0 "$second" 2>/dev/null && break
    sleep 0.1
done
if locked_by "$second" && grep -q '^resuming r after epoch' r2.log; then
    pass "the lock of a killed train is taken over: train --resume r runs ($(head -n1 r2.log))"
else
    fail "after its holder was killed, train --resume r -> $(cat r2.log)"
fi
kill -9 "$second"
wait "$second" 2>/dev/null

# ---- train --resume while another process holds the run ----
hold r
refused "--resume: run folder r is in use by process $holder\b" r -- "$CNNLAB" train --resume r
kill "$child" "$holder"

# ---- train --out: a second train into a folder being made ----
mkdir new
hold new
refused "--out: run folder new is in use by process $holder\b" new -- "${train[@]}" --epochs 1 --out new
kill "$child" "$holder"

# ---- study --out ----
mkdir st
hold st
refused "--out: study folder st is in use by process $holder\b" st -- \
    "$CNNLAB" study --out st --vary dropout=0,0.3 --model lenet5 --epochs 1 --subset 64 \
    --batch-size 32 --val-fraction 0.02 --threads 1 --data data
kill -9 "$holder"
wait "$holder" 2>/dev/null
kill "$child"
if out=$("$CNNLAB" study --out st --vary dropout=0,0.3 --model lenet5 --epochs 1 --subset 64 \
        --batch-size 32 --val-fraction 0.02 --threads 1 --data data 2>&1); then
    pass "the folder of a killed study's lock is taken over: the study ran"
else
    fail "after its holder was killed, study --out st -> $out"
fi

echo "cli_lock: $fails failed"
[ "$fails" -eq 0 ]
