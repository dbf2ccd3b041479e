#!/usr/bin/env bash
# cli_recipes.sh: training recipes end to end on a small fake CIFAR-10 folder:
# every built-in recipe parses (train's own parser, through --help after it),
# `cnnlab recipes` lists them, a flag given after --recipe wins, and a short
# run of the airbench94 recipe's machinery (whitening, lookahead, groups,
# linear schedule, summed loss, translate/altflip, TTA) trains, resumes and
# tests with TTA. Prints each check; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start recipes

list=$("$CNNLAB" recipes)
for r in airbench94 quick airbench94-muon; do
    if grep -q "^$r " <<<"$list"; then pass "recipes lists $r"; else fail "recipes lacks $r: $list"; fi
    if "$CNNLAB" recipes "$r" | grep -q -- "--model airbench94"; then
        pass "recipes $r prints the file"
    else
        fail "recipes $r"
    fi
done
out=$("$CNNLAB" train --recipe nosuch 2>&1 >/dev/null)
if [ $? -eq 2 ] && grep -q "unknown recipe 'nosuch'.*airbench94" <<<"$out"; then
    pass "unknown recipe refused: $out"
else
    fail "unknown recipe: $out"
fi

data=$tmp/cifar-10-batches-bin
make_fake_cifar "$data"
# The recipe at toy scale: every flag after --recipe overrides the recipe's.
# A 1 % validation split keeps the final TTA evaluation short (2,500 images
# took 11.5 s of each run).
run=$tmp/air
args=(--recipe airbench94 --epochs 2.5 --batch-size 64 --subset 512 --val-fraction 0.01
      --whiten-images 100 --threads 2 --conv direct --precision fp32 --data "$data")
if "$CNNLAB" train "${args[@]}" --out "$run" >"$tmp/air.log" 2>&1; then
    pass "train --recipe airbench94 (toy scale)"
else
    fail "train --recipe airbench94: $(cat "$tmp/air.log")"
fi
cfg=$run/config.txt
for kv in "model = airbench94" "batch_size = 64" "epochs = 3" "epochs_fraction = 2.5" \
          "drop_last = 1" "loss_reduction = sum" "lookahead_every = 5" "tta = 2" \
          "lr_schedule = linear" "precision = fp32"; do
    if grep -qx "$kv" "$cfg"; then pass "config.txt: $kv"; else fail "config.txt lacks '$kv'"; fi
done
if grep -q "lr_mult = .*norm_bias=64" "$cfg"; then pass "config.txt: lr_mult norm_bias=64"; else fail "lr_mult"; fi
# 512 images at 64 with drop_last: 8 steps an epoch; 2.5 epochs: 20 steps, 3 rows
rows=$(($(wc -l <"$run/metrics.csv") - 1))
if [ "$rows" -eq 3 ]; then pass "metrics.csv has 3 epochs"; else fail "metrics.csv rows: $rows"; fi
if grep -q "final_val_acc_tta" "$run/status.txt"; then pass "status.txt has the TTA validation"; else fail "status: $(cat "$run/status.txt")"; fi
if [ -f "$run/lookahead.weights" ]; then pass "lookahead.weights kept for resume"; else fail "no lookahead.weights"; fi
if "$CNNLAB" test "$run" --data "$data" --threads 2 >"$tmp/test.log" 2>&1 &&
    grep -q '"tta": 2' "$run/test.json" && grep -q '"accuracy_plain"' "$run/test.json"; then
    pass "test uses the run's TTA: $(head -n1 "$tmp/test.log")"
else
    fail "test with TTA: $(cat "$tmp/test.log") $(cat "$run/test.json" 2>/dev/null)"
fi

# Killed (SIGKILL) after an epoch, the run resumes to the same metrics and
# byte-identical weights as an uninterrupted one (the lookahead shadow and the
# whitened bias's freezing included).
rargs=("${args[@]}" --epochs 6.5 --whiten-bias-epochs 2)
"$CNNLAB" train "${rargs[@]}" --out "$tmp/whole" >/dev/null 2>&1
kill_at_checkpoint "$tmp/cut" "$CNNLAB" train "${rargs[@]}" --out "$tmp/cut"
if [ -e "$tmp/cut/status.txt" ]; then
    fail "resume: the run ended before it could be killed (the machine stalled this script)"
elif "$CNNLAB" train --resume "$tmp/cut" >"$tmp/resume.log" 2>&1 &&
    [ "$(cut -d, -f1-6 "$tmp/whole/metrics.csv")" = "$(cut -d, -f1-6 "$tmp/cut/metrics.csv")" ] &&
    cmp -s "$tmp/whole/last.weights" "$tmp/cut/last.weights" &&
    diff -q "$tmp/whole/status.txt" "$tmp/cut/status.txt" >/dev/null; then
    pass "recipe run resumed after a kill: the same metrics and weights as an uninterrupted run"
else
    fail "recipe resume: $(cat "$tmp/resume.log"; diff "$tmp/whole/metrics.csv" "$tmp/cut/metrics.csv")"
fi
# Muon (airbench94-muon at toy scale): its momentum lives in the base
# optimizer's block, so a killed run resumes to the uninterrupted one's
# weights; it needs that block to exist. (At a 1 % split this toy subset
# diverges by step 3 on the fake images, so it keeps 5 %, without TTA.)
margs=(--recipe airbench94-muon --epochs 5 --batch-size 64 --subset 512 --val-fraction 0.05
       --whiten-images 100 --tta 0 --threads 2 --conv direct --precision fp32 --data "$data")
"$CNNLAB" train "${margs[@]}" --out "$tmp/mwhole" >"$tmp/mwhole.log" 2>&1
kill_at_checkpoint "$tmp/mcut" "$CNNLAB" train "${margs[@]}" --out "$tmp/mcut"
if ! grep -qx "muon_lr = 0.24" "$tmp/mwhole/config.txt" 2>/dev/null; then
    fail "airbench94-muon: $(tail -n 3 "$tmp/mwhole.log")"
elif [ -e "$tmp/mcut/status.txt" ]; then
    fail "muon resume: the run ended before it could be killed (the machine stalled this script)"
elif "$CNNLAB" train --resume "$tmp/mcut" >"$tmp/mresume.log" 2>&1 &&
    [ "$(cut -d, -f1-6 "$tmp/mwhole/metrics.csv")" = "$(cut -d, -f1-6 "$tmp/mcut/metrics.csv")" ] &&
    cmp -s "$tmp/mwhole/last.weights" "$tmp/mcut/last.weights"; then
    pass "airbench94-muon (toy scale) resumed after a kill: the same metrics and weights as an uninterrupted run"
else
    fail "muon resume: $(cat "$tmp/mresume.log"; diff "$tmp/mwhole/metrics.csv" "$tmp/mcut/metrics.csv")"
fi
expect 2 "momentum block" -- "$CNNLAB" train --model lenet5 --muon-lr 0.1 --momentum 0 \
    --epochs 1 --subset 64 --data "$data" --out "$tmp/nomom"
# A study takes a recipe as its base: every run trains the recipe's settings
# with the varied flag on top (the airbench network has a dropout slot).
st=$tmp/study
"$CNNLAB" study --out "$st" --recipe quick --val-fraction 0.1 --vary dropout=0.1 --epochs 1 \
    --batch-size 64 --subset 128 --whiten-images 50 --conv direct --data "$data" --threads 2 \
    >"$tmp/study.log" 2>&1
if grep -qx "model = airbench94" "$st/runs/control/config.txt" 2>/dev/null &&
    grep -qx "lookahead_every = 5" "$st/runs/dropout=0.1/config.txt" 2>/dev/null &&
    grep -qx "dropout = 0.1" "$st/runs/dropout=0.1/config.txt" 2>/dev/null; then
    pass "study --recipe quick: runs train the recipe with the varied flag on top"
else
    fail "study --recipe: $(tail -n 5 "$tmp/study.log")"
fi
if [ "$fails" -eq 0 ]; then
    echo "cli_recipes: all passed"
else
    echo "cli_recipes: $fails failed"
    exit 1
fi
