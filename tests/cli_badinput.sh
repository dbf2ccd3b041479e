#!/usr/bin/env bash
# cli_badinput.sh: the bad-input catalogue. Each case gives cnnlab one bad
# input (a damaged data file, a flag, a model file, a run folder or
# checkpoint, a metrics file) and checks the promise of docs: exit status 2,
# one line on stderr that names the file or flag (a pattern per case), no
# signal, no hang (timeout), no existing file changed (sizes, times and
# checksums of the workspace before and after) and no folder half made.
# Prints each case; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib_fakedata.sh"
CNNLAB=${CNNLAB:-build/cnnlab}
CNNLAB=$(cd "$(dirname "$CNNLAB")" && pwd)/$(basename "$CNNLAB")
tmp=$(mktemp -d /tmp/cnnlab-bad.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
cases=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# The workspace's state: every path with its kind and size, and the checksum
# of every regular file under 1 MB (the 30 MB batch files by size and time).
state() {
    find . -path ./scratch -prune -o -printf '%p %y %s %T@\n' | sort
    find . -path ./scratch -prune -o -type f -size -1M -print0 | sort -z | xargs -0 -r md5sum
}

# bad PATTERN -- command...: exit 2, one stderr line matching PATTERN, nothing changed.
bad() {
    local pattern=$1
    shift 2
    cases=$((cases + 1))
    local before after err rc lines
    before=$(state)
    err=$(timeout 20 "$@" 2>&1 >/dev/null)
    rc=$?
    after=$(state)
    lines=$(printf '%s' "$err" | grep -c '')
    if [ "$rc" -eq 124 ]; then
        fail "$* -> hung (killed after 20 s)"
    elif [ "$rc" -ge 128 ]; then
        fail "$* -> killed by signal $((rc - 128)): $err"
    elif [ "$rc" -ne 2 ]; then
        fail "$* -> exit $rc (want 2): $err"
    elif [ "$lines" -ne 1 ]; then
        fail "$* -> $lines lines on stderr (want 1): $err"
    elif ! grep -qE -- "$pattern" <<<"$err"; then
        fail "$* -> stderr '$err' does not match /$pattern/"
    elif [ "$before" != "$after" ]; then
        fail "$* -> changed the workspace: $(diff <(echo "$before") <(echo "$after") | head -n 4)"
    else
        pass "$(cut -c1-150 <<<"$err")"
    fi
}

mkdir scratch
# ---- a good data folder, one good run ----
make_fake_cifar data
# A folder not named cifar-10-batches-bin: a missing file never starts a download.
damaged() { # damaged NAME: a copy of data (links) in data-NAME, for one file to be damaged
    mkdir "data-$1"
    for f in data/*.bin; do ln -s "../$f" "data-$1/$(basename "$f")"; done
}
train=("$CNNLAB" train --epochs 1 --subset 64 --batch-size 32 --val-fraction 0.02 --threads 2
       --conv direct)
if "${train[@]}" --model lenet5 --data data --out run >scratch/train.log 2>&1; then
    pass "a good run to damage"
else
    fail "the good run failed: $(cat scratch/train.log)"
fi

# ---- data files ----
damaged short && rm data-short/data_batch_2.bin && head -c 3000000 data/data_batch_2.bin >data-short/data_batch_2.bin
bad 'data_batch_2.bin: expected 30730000 bytes' -- "${train[@]}" --model lenet5 --data data-short --out new
damaged dir && rm data-dir/data_batch_3.bin && mkdir data-dir/data_batch_3.bin
bad 'data_batch_3.bin: expected a regular file, found a directory' -- "${train[@]}" --model lenet5 --data data-dir --out new
damaged fifo && rm data-fifo/data_batch_1.bin && mkfifo data-fifo/data_batch_1.bin
bad 'data_batch_1.bin: expected a regular file, found a FIFO' -- "${train[@]}" --model lenet5 --data data-fifo --out new
damaged label && rm data-label/data_batch_4.bin && cp data/data_batch_4.bin data-label/ &&
    printf '\x0b' | dd of=data-label/data_batch_4.bin bs=1 seek=3073 conv=notrunc status=none
bad 'data_batch_4.bin: record 1 .*label 11' -- "${train[@]}" --model lenet5 --data data-label --out new
damaged tfifo && rm data-tfifo/test_batch.bin && mkfifo data-tfifo/test_batch.bin
bad 'test_batch.bin: expected a regular file, found a FIFO' -- "$CNNLAB" test run --data data-tfifo
damaged none && rm data-none/data_batch_5.bin
bad 'data_batch_5.bin' -- "${train[@]}" --model lenet5 --data data-none --out new
: >plainfile
bad 'plainfile' -- "${train[@]}" --model lenet5 --data plainfile --out new

# ---- flags ----
bad '--epochs' -- "${train[@]}" --model lenet5 --data data --out new --epochs 0
bad '--epochs' -- "${train[@]}" --model lenet5 --data data --out new --epochs x
bad '--lr' -- "${train[@]}" --model lenet5 --data data --out new --lr -1
bad '--batch-size' -- "${train[@]}" --model lenet5 --data data --out new --batch-size 0
bad '--no-such-flag' -- "${train[@]}" --model lenet5 --data data --out new --no-such-flag
bad '--milestones' -- "${train[@]}" --model lenet5 --data data --out new --lr-schedule multistep --milestones 0
bad '--milestones' -- "${train[@]}" --model lenet5 --data data --out new --lr-schedule multistep --milestones 2,1
bad '--model' -- "${train[@]}" --model no_such_model --data data --out new
bad '--out: run folder run already exists' -- "${train[@]}" --model lenet5 --data data --out run

# ---- model files ----
model() { # model NAME TEXT...: writes NAME.cnn from printf-style lines
    local name=$1
    shift
    printf '%s\n' "$@" >"$name.cnn"
}
perl -e 'print "block b0\n  conv 8 k=3\nend\n";
         print "block b$_\n  b", $_ - 1, "\nend\n" for 1..3999;
         print "b3999\ngap\nlinear 10\n"' >chain.cnn
bad 'chain.cnn:.*nested at most 64 deep' -- "$CNNLAB" summary chain.cnn
perl -e 'print "block b0\n  b3999\nend\n";
         print "block b$_\n  b", $_ - 1, "\nend\n" for 1..3999;
         print "conv 8 k=3\ngap\nlinear 10\n"' >cycle.cnn
bad 'cycle.cnn:.*recursion: .*b0 -> b3999 .*blocks\) ->' -- "$CNNLAB" summary cycle.cnn
model params "block big $(echo p{0..39}=1)" "  conv 8 k=3" "end" "big p39=2" "gap" "linear 10"
bad 'params.cnn:1:.*block big: expected at most 32 parameters, found 40' -- "$CNNLAB" summary params.cnn
model flat1 "input 46341 46341 1" "flatten" "linear 10"
bad 'model flat1: input 46341x46341x1: expected .*at most 268435456 values' -- "$CNNLAB" summary flat1.cnn
model flat2 "input 65536 65536 1" "flatten" "linear 10"
bad 'model flat2: input 65536x65536x1' -- "$CNNLAB" summary flat2.cnn
model wide "input 1024 1024 3" "conv 1048576 k=1" "gap" "linear 10"
bad 'model wide, layer 1 .*output 1024x1024x1048576: expected' -- "$CNNLAB" summary wide.cnn
model expr "a = 1099511627776 * 1099511627776" "conv 8 k=3" "gap" "linear 10"
bad 'expr.cnn:1:.*within \+-2\^40' -- "$CNNLAB" summary expr.cnn
model longname "name $(printf 'x%.0s' {1..70})" "conv 8 k=3" "gap" "linear 10"
bad "longname.cnn: model name .*at most 63 bytes" -- "$CNNLAB" summary longname.cnn
model vars "w = 8" "conv \$w k=3" "gap" "linear 10"
bad 'vars.cnn: variables set from outside \(--var\): expected at most 127 bytes' -- \
    "${train[@]}" --model vars.cnn --var "w=$(printf '0%.0s' {1..200})8" --data data --out new
bad 'vars.cnn: variables set from outside: .*w=99999999999999999999' -- \
    "$CNNLAB" summary vars.cnn --var w=99999999999999999999
model longkey "conv 8 k=3 $(printf 'k%.0s' {1..70})=1" "gap" "linear 10"
bad "longkey.cnn:1:.*unknown key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'" -- \
    "$CNNLAB" summary longkey.cnn
model unknown "conv 8 k=3" "frobnicate" "gap" "linear 10"
bad "unknown.cnn:2:1: expected a layer kind" -- "$CNNLAB" summary unknown.cnn
mkdir dir.cnn
bad 'dir.cnn: expected a regular file, found a directory' -- "$CNNLAB" summary dir.cnn
mkfifo fifo.cnn
bad 'fifo.cnn: expected a regular file, found a FIFO' -- "$CNNLAB" summary fifo.cnn
printf 'conv 8 k=3\n\0gap\nlinear 10\n' >nul.cnn
bad 'nul.cnn: expected text, found a NUL byte' -- "$CNNLAB" summary nul.cnn
model in16 "input 16 16 3" "conv 8 k=3" "gap" "linear 10"
bad 'model in16 \(in16.cnn\) reads 16x16x3 images .*CIFAR-10 data has 32x32x3' -- \
    "${train[@]}" --model in16.cnn --data data --out new
model cls5 "classes 5" "conv 8 k=3" "gap" "linear \$classes"
bad 'model cls5 \(cls5.cnn\) reads 32x32x3 images into 5 classes' -- \
    "${train[@]}" --model cls5.cnn --data data --out new

# ---- run folders, checkpoints, metrics ----
copy_run() { cp -r run "run-$1"; rm -f "run-$1/test.json"; }
copy_run wdir && rm "run-wdir/best.weights" && mkdir "run-wdir/best.weights"
bad 'best.weights: expected a regular file, found a directory' -- "$CNNLAB" test run-wdir --data data
copy_run wfifo && rm "run-wfifo/best.weights" && mkfifo "run-wfifo/best.weights"
bad 'best.weights: expected a regular file, found a FIFO' -- "$CNNLAB" test run-wfifo --data data
copy_run wshort && truncate -s 100 run-wshort/best.weights
bad 'best.weights: not a cnnlab weights file' -- "$CNNLAB" test run-wshort --data data
copy_run wflip && printf '\x7f' | dd of=run-wflip/best.weights bs=1 seek=600 conv=notrunc status=none
bad 'best.weights: checksum mismatch' -- "$CNNLAB" test run-wflip --data data
copy_run rdir && rm run-rdir/status.txt run-rdir/resume.state && mkdir run-rdir/resume.state
bad 'resume.state: expected a regular file, found a directory' -- "$CNNLAB" train --resume run-rdir
copy_run rshort && rm run-rshort/status.txt && truncate -s 20 run-rshort/resume.state
bad 'resume.state' -- "$CNNLAB" train --resume run-rshort
bad '--resume: run run has ended' -- "$CNNLAB" train --resume run
copy_run mdir && rm run-mdir/metrics.csv && mkdir run-mdir/metrics.csv
bad 'metrics.csv: expected a regular file, found a directory' -- "$CNNLAB" plot run-mdir -o scratch/p

# ---- accepted with a warning: milestones past the end (PyTorch accepts them) ----
cases=$((cases + 1))
err=$(timeout 60 "${train[@]}" --model lenet5 --data data --out scratch/ms --lr-schedule multistep \
    --milestones 1,2 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 0 ] && grep -q -- '--milestones: warning: 1 at or past the end' <<<"$err"; then
    pass "--milestones 1,2 --epochs 1: trained, warned: $(head -n1 <<<"$err")"
else
    fail "--milestones 1,2 --epochs 1 -> exit $rc: $err"
fi

[ -e new ] && fail "a refused command left the folder 'new'"
echo "cli_badinput: $cases cases, $fails failed"
[ "$fails" -eq 0 ]
