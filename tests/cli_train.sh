#!/usr/bin/env bash
# cli_train.sh: the tool end to end on a small fake CIFAR-10 folder the test
# writes itself (official layout, synthetic pixels): train, test, bench, plot, and the
# errors a user can make. Prints each check; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start cli

# A fake dataset (tests/lib.sh): each record is a label byte and 3072
# pixels; class k images are bright in a band that depends on k, so a model can
# learn them.
data=$tmp/cifar-10-batches-bin
make_fake_cifar "$data"

run=$tmp/run1
if "$CNNLAB" train --model lenet5 --epochs 2 --subset 512 --batch-size 64 --lr 0.05 \
    --val-fraction 0.02 --threads 2 --conv direct --data "$data" --out "$run" >"$tmp/train.log" 2>&1; then
    pass "train lenet5 on the fake folder"
else
    fail "train failed: $(cat "$tmp/train.log")"
fi
for f in config.txt metrics.csv best.weights last.weights; do
    [ -s "$run/$f" ] && pass "run folder has $f" || fail "run folder lacks $f"
done
header=$(head -n1 "$run/metrics.csv")
[ "$header" = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second" ] &&
    pass "metrics.csv header" || fail "metrics.csv header is '$header'"
[ "$(wc -l <"$run/metrics.csv")" -eq 3 ] && pass "metrics.csv has one row per epoch" ||
    fail "metrics.csv: $(cat "$run/metrics.csv")"
grep -q '^seed = 1$' "$run/config.txt" && grep -q '^threads = 2$' "$run/config.txt" &&
    pass "config.txt records seed and threads" || fail "config.txt: $(cat "$run/config.txt")"
grep -q '^epoch   2 ' "$tmp/train.log" && pass "one line per epoch" || fail "log: $(cat "$tmp/train.log")"

# The same seed, threads and convolution algorithms give bit-identical metrics
# (times aside); --conv direct, since auto's timing may choose differently.
"$CNNLAB" train --model lenet5 --epochs 2 --subset 512 --batch-size 64 --lr 0.05 \
    --val-fraction 0.02 --threads 2 --conv direct --data "$data" --out "$tmp/run2" >/dev/null 2>&1
if [ "$(cut -d, -f1-6 "$run/metrics.csv")" = "$(cut -d, -f1-6 "$tmp/run2/metrics.csv")" ]; then
    pass "same seed, same metrics"
else
    fail "metrics differ between identical runs"
fi

# Resume: a run killed (SIGKILL) during an epoch continues with --resume to the
# very end an uninterrupted run reaches: the same metrics (times aside) and
# byte-identical weights. --conv direct: auto's timing could pick differently.
rflags=(--model lenet5 --epochs 12 --subset 4096 --batch-size 64 --lr 0.05 --lr-schedule cosine
        --augment crop,flip --dropout 0.1 --val-fraction 0.02 --threads 2 --conv direct
        --data "$data")
"$CNNLAB" train "${rflags[@]}" --out "$tmp/whole" >/dev/null 2>&1
kill_at_checkpoint "$tmp/cut" "$CNNLAB" train "${rflags[@]}" --out "$tmp/cut"
cut_at=$(($(wc -l <"$tmp/cut/metrics.csv") - 1))
if [ -e "$tmp/cut/status.txt" ]; then
    fail "resume: the run ended before it could be killed (the machine stalled this script)"
elif "$CNNLAB" train --resume "$tmp/cut" >"$tmp/resume.log" 2>&1 &&
    grep -q "^resuming $tmp/cut after epoch" "$tmp/resume.log" &&
    [ "$(cut -d, -f1-6 "$tmp/whole/metrics.csv")" = "$(cut -d, -f1-6 "$tmp/cut/metrics.csv")" ] &&
    cmp -s "$tmp/whole/last.weights" "$tmp/cut/last.weights" &&
    cmp -s "$tmp/whole/best.weights" "$tmp/cut/best.weights" &&
    diff -q "$tmp/whole/status.txt" "$tmp/cut/status.txt" >/dev/null; then
    pass "resume after a kill (metrics.csv had $cut_at epochs): the same metrics and weights as an uninterrupted run"
else
    fail "resume: $(cat "$tmp/resume.log"; diff "$tmp/whole/metrics.csv" "$tmp/cut/metrics.csv")"
fi
expect 2 "has ended" -- "$CNNLAB" train --resume "$tmp/cut"
expect 2 "takes no other flags" -- "$CNNLAB" train --resume "$tmp/cut" --epochs 20
expect 2 "comes alone" -- "$CNNLAB" train --epochs 20 --resume "$tmp/cut"
mkdir -p "$tmp/noresume" && cp "$tmp/whole/config.txt" "$tmp/noresume/"
expect 2 "resume.state not found" -- "$CNNLAB" train --resume "$tmp/noresume"
head -c 1000 "$tmp/whole/resume.state" >"$tmp/noresume/resume.state"
expect 2 "resume.state: expected [0-9]+ bytes .* found 1000 \(file truncated\?\)" -- \
    "$CNNLAB" train --resume "$tmp/noresume"
# Killed after its last checkpoint, before status.txt: --resume only finishes it.
cp "$tmp/whole/resume.state" "$tmp/whole/metrics.csv" "$tmp/noresume/"
if "$CNNLAB" train --resume "$tmp/noresume" >"$tmp/last.log" 2>&1 &&
    grep -q "after epoch 12 of 12" "$tmp/last.log" &&
    diff -q "$tmp/whole/status.txt" "$tmp/noresume/status.txt" >/dev/null &&
    cmp -s "$tmp/whole/metrics.csv" "$tmp/noresume/metrics.csv"; then
    pass "resume after the last epoch's checkpoint writes status.txt and trains nothing"
else
    fail "resume at the last epoch: $(cat "$tmp/last.log"; diff "$tmp/whole/status.txt" "$tmp/noresume/status.txt")"
fi
# Killed after the checkpoint of the epoch that stopped it early (lr 1e-6: the
# validation accuracy never improves after epoch 1): --resume stops it there.
"$CNNLAB" train --model lenet5 --epochs 5 --subset 256 --batch-size 64 --lr 0.000001 --early-stop 1 \
    --val-fraction 0.01 --threads 2 --conv direct --data "$data" --out "$tmp/es" >/dev/null 2>&1
mkdir -p "$tmp/es-cut" && cp "$tmp/es"/{config.txt,model.cnn,resume.state,metrics.csv} "$tmp/es-cut/"
if grep -q '^status = stopped early' "$tmp/es/status.txt" &&
    "$CNNLAB" train --resume "$tmp/es-cut" >"$tmp/es.log" 2>&1 && grep -q '^early stop' "$tmp/es.log" &&
    diff -q "$tmp/es/status.txt" "$tmp/es-cut/status.txt" >/dev/null &&
    cmp -s "$tmp/es/metrics.csv" "$tmp/es-cut/metrics.csv"; then
    pass "resume after the checkpoint of an early stop stops there too"
else
    fail "resume after an early stop: $(cat "$tmp/es.log" "$tmp/es/status.txt" "$tmp/es-cut/status.txt" 2>&1)"
fi

if "$CNNLAB" test "$run" --data "$data" >"$tmp/test.log" 2>&1 && [ -s "$run/test.json" ]; then
    pass "test writes test.json ($(grep -o '"accuracy": [0-9.]*' "$run/test.json"))"
else
    fail "test: $(cat "$tmp/test.log")"
fi
grep -q '"per_class": \[' "$run/test.json" && pass "test.json has per_class" || fail "test.json lacks per_class"
expect 2 "already evaluated" -- "$CNNLAB" test "$run" --data "$data"
[ "$(head -n1 "$run/confusion.csv" 2>/dev/null)" = \
  "true/predicted,airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck" ] &&
    [ "$(wc -l <"$run/confusion.csv")" -eq 11 ] && pass "test writes confusion.csv" ||
    fail "confusion.csv: $(cat "$run/confusion.csv" 2>&1)"

# Plots: with gnuplot the pictures, without it one line saying how to get it.
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
    [ -s "$run/confusion.png" ] && [ -s "$run/confusion.svg" ] && pass "test draws confusion.png" ||
        fail "no confusion.png: $(cat "$tmp/test.log")"
    missing=""
    if "$CNNLAB" plot "$run" >"$tmp/plot.log" 2>&1; then
        for k in val_loss val_acc lr train_val; do
            for e in png svg gp; do [ -s "$run/plot-$k.$e" ] || missing="$missing plot-$k.$e"; done
        done
        [ -z "$missing" ] && grep -q "wrote $run/plot-val_loss.png" "$tmp/plot.log" &&
            pass "plot RUN_DIR writes RUN_DIR/plot-{val_loss,val_acc,lr,train_val}.{png,svg,gp}" ||
            fail "plot: missing$missing; $(cat "$tmp/plot.log")"
    else
        fail "plot: $(cat "$tmp/plot.log")"
    fi
    if (cd "$tmp" && "$CNNLAB" plot "$run" "$tmp/run2" --labels first,second --title "cli test" \
        >"$tmp/plot2.log" 2>&1) && [ -s "$tmp/plot-val_acc.png" ] && [ ! -e "$tmp/plot-train_val.png" ] &&
        grep -q "'second'" "$tmp/plot-val_acc.gp"; then
        pass "plot of two runs writes ./plot-*.png with the labels"
    else
        fail "plot of two runs: $(cat "$tmp/plot2.log")"
    fi
    mkdir -p "$tmp/emptyrun" && : >"$tmp/emptyrun/metrics.csv"
    expect 2 "emptyrun/metrics.csv: empty file" -- "$CNNLAB" plot "$tmp/emptyrun"
else
    echo "skip picture checks: gnuplot with pngcairo not installed (apt-get install gnuplot-nox)"
fi
expect 1 "apt-get install gnuplot-nox" -- env PATH=/nonexistent-cnnlab "$CNNLAB" plot "$run"
expect 2 "--labels: expected 2 names" -- "$CNNLAB" plot "$run" "$tmp/run2" --labels one

out=$("$CNNLAB" bench --model lenet5 --batch-size 16 --seconds 0.05 --windows 3 --threads 2 --json 2>&1)
tail -n1 <<<"$out" | grep -q '"images_per_second": [0-9]' && pass "bench --json ends with images_per_second" ||
    fail "bench: $out"
out=$("$CNNLAB" bench --model lenet5 --var fc=2 --batch-size 16 --seconds 0.05 --windows 1 --threads 2 --verbose 2>&1)
[ "$(grep -c ' linear ' <<<"$out")" = 2 ] && pass "bench --var fc=2: lenet5 with two fully connected layers" ||
    fail "bench --var fc=2: $out"

# Bad input: one clear line, exit status 2, nothing overwritten.
before=$(md5sum "$run/metrics.csv")
expect 2 "not empty" -- "$CNNLAB" train --model lenet5 --data "$data" --out "$run"
[ "$(md5sum "$run/metrics.csv")" = "$before" ] && pass "existing run folder untouched" || fail "run folder changed"
expect 2 "unknown flag '--epoch'" -- "$CNNLAB" train --epoch 3
expect 2 "--epochs: expected a number from 0.01 to .*found 'abc'" -- "$CNNLAB" train --epochs abc
expect 2 "--lr: expected a number .*found '-1'" -- "$CNNLAB" train --lr -1
expect 2 "--val-fraction: expected a number" -- "$CNNLAB" train --val-fraction 1.5
expect 2 "unknown model 'resnet9000'" -- "$CNNLAB" train --model resnet9000
expect 2 "expected a value after it" -- "$CNNLAB" train --model
expect 2 "unknown command 'trian'" -- "$CNNLAB" trian
expect 2 "--precision: expected one of fp32" -- "$CNNLAB" bench --precision fp64
expect 2 "cannot set variable 'head'" -- "$CNNLAB" bench --model lenet5 --head 4096
expect 2 "CIFAR-10 not found in .*nowhere" -- "$CNNLAB" train --data "$tmp/nowhere" --out "$tmp/run3"
[ ! -e "$tmp/run3" ] && pass "no run folder made when the data is missing" || fail "run3 was created"

# Truncated data file and bad label: named in the error.
bad=$tmp/bad/cifar-10-batches-bin
mkdir -p "$bad" && cp "$data"/*.bin "$bad"/
head -c 1000000 "$data/data_batch_3.bin" >"$bad/data_batch_3.bin"
expect 2 "data_batch_3.bin.*(expected|truncated)" -- "$CNNLAB" train --data "$bad" --out "$tmp/run4"
cp "$data/data_batch_3.bin" "$bad/data_batch_3.bin"
printf '\x0c' | dd of="$bad/data_batch_2.bin" bs=1 seek=$((3073 * 5)) conv=notrunc status=none
expect 2 "data_batch_2.bin.*label 12" -- "$CNNLAB" train --data "$bad" --out "$tmp/run5"

# A learning rate that makes the loss explode stops with a clear message.
expect 3 "NaN|infinite" -- "$CNNLAB" train --model lenet5 --epochs 1 --subset 512 --lr 900 \
    --momentum 0.99 --data "$data" --out "$tmp/run6"

# Gradient clipping counts only what is trained (PyTorch: a frozen parameter
# has no gradient): one SGD step (no momentum, no decay) with the clip under
# the gradient's norm moves the trainable parameters by exactly lr * MAX. The
# model's first convolution is frozen (freeze=weight): its weight gradient,
# computed beside the others', must not count. Runs from the same seed with
# lr 0 give the starting weights.
cat >"$tmp/frozen.cnn" <<'EOF'
name  frozen_clip
input 32 32 3
conv 16 k=3 pad=1 freeze=weight
relu
conv 8 k=3 pad=1
relu
gap
linear 10
EOF
clip_run() { # OUT LR [flags]
    local out=$1 lr=$2
    shift 2
    "$CNNLAB" train --model "$tmp/frozen.cnn" --epochs 1 --subset 64 --batch-size 64 \
        --val-fraction 0 --lr "$lr" --momentum 0 --weight-decay 0 --threads 2 --seed 5 \
        --data "$data" --out "$tmp/$out" "$@" >"$tmp/$out.log" 2>&1 &&
        "$CNNLAB" export "$tmp/$out" --format safetensors >/dev/null 2>>"$tmp/$out.log"
}
if [ ! -x /usr/bin/python3 ]; then
    echo "note /usr/bin/python3 missing: the clipping check skipped"
elif clip_run clip0 0 && clip_run clip1 5 --clip-grad-norm 0.001; then
    moved=$(/usr/bin/python3 - "$tmp/clip0/model.safetensors" "$tmp/clip1/model.safetensors" <<'EOF'
import json, math, struct, sys
def tensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k != '__metadata__' and v['dtype'] == 'F32':
            s, e = v['data_offsets']
            out[k] = struct.unpack('<%df' % ((e - s) // 4), b[8 + n + s:8 + n + e])
    return out
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
print('%.6g' % math.sqrt(sum((p - q) ** 2 for k in a for p, q in zip(a[k], b[k]))))
EOF
)
    awk -v m="$moved" 'BEGIN { exit !(m > 0.005 * 0.9999 && m < 0.005 * 1.0001) }' &&
        pass "clip-grad-norm 0.001, lr 5, a frozen first convolution: the step moved the weights by $moved (lr * MAX = 0.005)" ||
        fail "clip-grad-norm with a frozen layer: the step moved the weights by $moved, expected lr * MAX = 0.005 (the frozen layer's gradient counted?)"
else
    fail "clip-grad-norm with a frozen layer: $(cat "$tmp"/clip*.log)"
fi

"$CNNLAB" --version | grep -qE '^cnnlab [0-9]+\.[0-9]+' && pass "--version" || fail "--version"
for c in train test bench plot; do
    "$CNNLAB" $c --help | grep -q "usage: cnnlab $c" && pass "$c --help" || fail "$c --help"
done

if [ "$fails" -gt 0 ]; then
    echo "cli_train.sh: $fails failed"
    exit 1
fi
echo "cli_train.sh: all passed"
