#!/usr/bin/env bash
# cli_study.sh: `cnnlab study` and `cnnlab select` end to end on a small fake
# CIFAR-10 folder (synthetic pixels, official layout): a tiny ablation writes
# summary.csv and report.md; a study killed after its first run and resumed
# gives the same summary as an uninterrupted one; a different study in the same
# folder, an unknown --vary flag and a bad value are refused before anything
# runs; select --combine trains each factor's winner together with the study's
# seeds and reports whether the gains added up; select --retrain tests once and
# a second select is refused. Prints each check; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start study

# The fake dataset of cli_train.sh (tests/lib.sh): class k is bright in
# a band that depends on k.
data=$tmp/cifar-10-batches-bin
make_fake_cifar "$data"

# Three runs: the control (dropout 0 is the control's own), dropout 0.3, batch norm.
base=(--model lenet5 --epochs 1 --subset 256 --batch-size 64 --val-fraction 0.02)
study() { "$CNNLAB" study "$@" --vary dropout=0,0.3 --vary norm=batch "${base[@]}" \
    --threads 1 --data "$data"; }
# summary.csv without its time columns (seconds, images/s: the last two)
untimed() { sed -E 's/,[^,]*,[^,]*$//' "$1"; }

a=$tmp/a
if study --out "$a" >"$tmp/a.log" 2>&1; then
    pass "study ran ($(grep -c '^run .*finished' "$tmp/a.log") runs finished)"
else
    fail "study failed: $(cat "$tmp/a.log")"
fi
rows=$(($(wc -l <"$a/summary.csv") - 1))
[ "$rows" -eq 3 ] && pass "summary.csv has one row per run ($rows)" || fail "summary.csv: $(cat "$a/summary.csv")"
head -n1 "$a/summary.csv" | grep -q '^run,varied,seed,status,best_val_acc,best_epoch,' &&
    pass "summary.csv header" || fail "summary.csv header: $(head -n1 "$a/summary.csv")"
grep -q '^dropout=0.3,dropout=0.3,1,finished,0\.[0-9]*,1,.*,dropout=0.3,' "$a/summary.csv" &&
    pass "the dropout run's row shows its config diff" || fail "row: $(grep dropout=0.3 "$a/summary.csv")"
grep -q '^norm=batch,.*parameters=[0-9]*; norm=batch,' "$a/summary.csv" &&
    pass "the norm run's diff comes from config.txt (parameters change too)" ||
    fail "row: $(grep norm=batch "$a/summary.csv")"
[ -s "$a/runs/control/train.log" ] && grep -q '^epoch   1' "$a/runs/control/train.log" &&
    pass "each run keeps its train.log" || fail "no train.log in $a/runs/control"
for want in '^# Study: dropout, norm on lenet5' '^\*\*Question\.\*\*' '^## Results' \
    '^- dropout: ' '^- norm: '; do
    grep -qE "$want" "$a/report.md" && pass "report.md has /$want/" || fail "report.md lacks /$want/"
done
grep -q 'dropout=0 is the control' "$tmp/a.log" && pass "the control stands for dropout=0" ||
    fail "no note that dropout=0 is the control: $(head -5 "$tmp/a.log")"

# Killed after its first run finished, then resumed: the same summary.
b=$tmp/b
# setsid: the study and its runs form their own process group, killed at once.
setsid "$CNNLAB" study --out "$b" --vary dropout=0,0.3 --vary norm=batch "${base[@]}" \
    --threads 1 --data "$data" >"$tmp/b1.log" 2>&1 &
leader=$!
for _ in $(seq 1 300); do
    [ -s "$b/runs/control/status.txt" ] && break
    sleep 0.1
done
{ kill -KILL -- -"$leader" && wait "$leader"; } 2>/dev/null
[ -s "$b/runs/control/status.txt" ] && [ ! -e "$b/summary.csv" ] &&
    pass "study killed after its first run ($(ls "$b/runs" | tr '\n' ' '))" ||
    fail "kill did not land between runs: $(ls "$b" "$b/runs" 2>&1 | tr '\n' ' ')"
mkdir -p "$b/runs/norm=batch" && echo partial >"$b/runs/norm=batch/metrics.csv" # a killed run
before=$(md5sum "$b/runs/control/metrics.csv")
if study --out "$b" >"$tmp/b2.log" 2>&1; then
    pass "resumed study finished"
else
    fail "resume failed: $(cat "$tmp/b2.log")"
fi
grep -q '^run 1/3: control.*finished earlier, kept' "$tmp/b2.log" && pass "finished run kept" ||
    fail "log: $(cat "$tmp/b2.log")"
[ "$(md5sum "$b/runs/control/metrics.csv")" = "$before" ] && pass "finished run untouched" ||
    fail "the finished run was changed"
if [ "$(untimed "$a/summary.csv")" = "$(untimed "$b/summary.csv")" ]; then
    pass "resumed summary.csv = uninterrupted summary.csv (time columns aside)"
else
    fail "summaries differ: $(diff <(untimed "$a/summary.csv") <(untimed "$b/summary.csv"))"
fi
out=$(study --out "$b" 2>&1) && grep -c 'finished earlier, kept' <<<"$out" | grep -q '^3$' &&
    pass "a finished study rerun trains nothing" || fail "rerun: $out"

# Killed in the middle of a run (after one of its epochs): the rerun continues
# that run with train --resume and ends with the summary an uninterrupted study
# gives. --conv direct: lenet5's second convolution is 3x3, where auto's timing
# could pick Winograd in one process and direct in the other.
long=(--vary dropout=0.3 --model lenet5 --epochs 10 --subset 2048 --batch-size 64
      --val-fraction 0.02 --conv direct --threads 1 --data "$data")
"$CNNLAB" study --out "$tmp/whole" "${long[@]}" >/dev/null 2>&1
setsid "$CNNLAB" study --out "$tmp/cut" "${long[@]}" >/dev/null 2>&1 &
leader=$!
for _ in $(seq 1 3000); do
    [ -e "$tmp/cut/runs/control/resume.state" ] && break
    sleep 0.01
done
{ kill -KILL -- -"$leader" && wait "$leader"; } 2>/dev/null
if [ -e "$tmp/cut/runs/control/resume.state" ] && [ ! -e "$tmp/cut/runs/control/status.txt" ]; then
    pass "study killed in the middle of its first run"
    out=$("$CNNLAB" study --out "$tmp/cut" "${long[@]}" 2>&1)
    grep -q 'control.*resuming after its last finished epoch' <<<"$out" &&
        grep -q 'resuming .*runs/control after epoch' "$tmp/cut/runs/control/train.log" &&
        [ "$(untimed "$tmp/whole/summary.csv")" = "$(untimed "$tmp/cut/summary.csv")" ] &&
        cmp -s "$tmp/whole/runs/control/last.weights" "$tmp/cut/runs/control/last.weights" &&
        pass "the rerun resumed the killed run: the same summary and weights" ||
        fail "resumed run: $out; $(diff <(untimed "$tmp/whole/summary.csv") <(untimed "$tmp/cut/summary.csv"))"
else
    fail "the kill did not land in the middle of a run: $(ls "$tmp/cut/runs/control" 2>&1 | tr '\n' ' ')"
fi

# A grid: the full product, 2 x 2 runs, a sentence per factor and the best combination.
"$CNNLAB" study --out "$tmp/g" --grid --vary dropout=0,0.3 --vary norm=none,batch "${base[@]}" \
    --threads 1 --data "$data" >"$tmp/g.log" 2>&1
[ "$(grep -c ',finished,' "$tmp/g/summary.csv" 2>/dev/null)" = 4 ] &&
    grep -q '^dropout=0.3_norm=batch,dropout=0.3 norm=batch,' "$tmp/g/summary.csv" &&
    grep -q '^- The best combination was ' "$tmp/g/report.md" &&
    pass "grid: 4 runs, the product, the best combination reported" || fail "grid: $(cat "$tmp/g.log")"

# A run whose loss explodes is recorded as diverged, and not retried.
d=$tmp/d
"$CNNLAB" study --out "$d" --vary lr=900 --momentum 0.99 "${base[@]}" --threads 1 \
    --data "$data" >"$tmp/d1.log" 2>&1
grep -q '^lr=900,lr=900,1,diverged,' "$d/summary.csv" && grep -q 'lr=900: diverged' "$tmp/d1.log" &&
    pass "a diverged run is recorded as diverged" || fail "diverged: $(cat "$tmp/d1.log" "$d/summary.csv")"
"$CNNLAB" study --out "$d" --vary lr=900 --momentum 0.99 "${base[@]}" --threads 1 \
    --data "$data" >"$tmp/d2.log" 2>&1
grep -q 'lr=900: diverged earlier, kept' "$tmp/d2.log" && pass "a diverged run is not retried" ||
    fail "rerun: $(cat "$tmp/d2.log")"

# select --combine: a study of two factors with 2 seeds each, then each
# factor's winner (both beat the control by far: batch norm, and lr 0.05
# against the base's 0.005) trained together with the study's seeds, on
# validation only; a second --combine keeps finished runs and trains only what
# is missing.
m=$tmp/m
"$CNNLAB" study --out "$m" --vary norm=batch --vary lr=0.05 --repeats 2 --model lenet5 \
    --epochs 2 --lr 0.005 --subset 256 --batch-size 64 --val-fraction 0.02 --threads 2 --jobs 2 \
    --data "$data" >"$tmp/m.log" 2>&1 || fail "two-factor study: $(tail -3 "$tmp/m.log")"
if "$CNNLAB" select "$m" --combine --threads 2 --jobs 2 --data "$data" >"$tmp/mc.log" 2>&1; then
    pass "select --combine ran: $(grep -o 'The gains [a-z ]*' "$tmp/mc.log")"
else
    fail "select --combine: $(cat "$tmp/mc.log")"
fi
grep -q '^combination = norm=batch lr=0.05$' "$m/combine.txt" 2>/dev/null &&
    pass "combine.txt: norm=batch lr=0.05" || fail "combine.txt: $(cat "$m/combine.txt" 2>&1)"
ok=1
for s in 1 2; do
    c=$m/runs/combined_s$s/config.txt
    grep -q "^seed = $s\$" "$c" && grep -q '^norm = batch$' "$c" && grep -q '^lr = 0.05$' "$c" &&
        grep -q '^status = finished' "$m/runs/combined_s$s/status.txt" || ok=0
done
[ "$ok" = 1 ] && [ ! -e "$m/select.txt" ] && [ ! -e "$m/runs/combined_s1/test.json" ] &&
    pass "combined_s1, combined_s2: the study's seeds, each factor's winner in config.txt, no test set use" ||
    fail "combined runs: $(ls "$m/runs"; cat "$m/runs/combined_s1/config.txt" 2>&1 | head -30)"
sec=$(sed -n '/^## Combining the winners/,/^## Plots/p' "$m/report.md")
grep -qE '^\| the control \| [0-9.]+ ± [0-9.]+ % \(2\)' <<<"$sec" &&
    grep -qE '^\| norm: best norm=batch \| [0-9.]+ ± [0-9.]+ % \(2\) \| \+[0-9.]+ pt' <<<"$sec" &&
    grep -qE '^\| lr: best lr=0.05 \| [0-9.]+ ± [0-9.]+ % \(2\) \| \+[0-9.]+ pt' <<<"$sec" &&
    grep -qE '^\| \*\*combined: norm=batch lr=0.05\*\* \| [0-9.]+ ± [0-9.]+ % \(2\) \| [-+][0-9.]+ pt' <<<"$sec" &&
    grep -qE '^\| the single gains summed \| \| \+[0-9.]+ pt' <<<"$sec" &&
    grep -qE '^The gains (added up|partly added up|did not add up)' <<<"$sec" &&
    pass "report.md: the combination beside the control and each winner, the summed gains, the verdict" ||
    fail "report section: $sec"
[ "$(grep -c '^combined_s[12],combined: norm=batch lr=0.05,[12],finished,' "$m/summary.csv")" = 2 ] &&
    pass "summary.csv has the combination's rows" || fail "summary.csv: $(tail -3 "$m/summary.csv")"
before=$(md5sum "$m/runs/combined_s1/metrics.csv")
rm -rf "$m/runs/combined_s2" # as if it never ran
out=$("$CNNLAB" select "$m" --combine --threads 1 --data "$data" 2>&1)
grep -q 'combined run 1/2 (seed 1): finished earlier, kept' <<<"$out" &&
    grep -q 'combined run 2/2 (seed 2): running' <<<"$out" &&
    [ "$(md5sum "$m/runs/combined_s1/metrics.csv")" = "$before" ] &&
    grep -q '^status = finished' "$m/runs/combined_s2/status.txt" &&
    pass "a second --combine keeps the finished run and trains the missing one" || fail "rerun: $out"
out=$("$CNNLAB" select "$m" --combine --threads 1 --data "$data" 2>&1)
[ "$(grep -c 'finished earlier, kept' <<<"$out")" = 2 ] && ! grep -q ': running' <<<"$out" &&
    pass "a third --combine trains nothing" || fail "third: $out"
# No winner (the only value diverged): nothing to combine, said so; a grid is refused.
out=$("$CNNLAB" select "$d" --combine --data "$data" 2>&1) &&
    grep -q 'no factor beat the control; nothing to train' <<<"$out" &&
    grep -q 'No varied value beat the control' "$d/report.md" && ! ls "$d/runs" | grep -q combined &&
    pass "no winner: nothing trained, the report says so" || fail "no winner: $out"
expect 2 "is a grid: it trained every combination already" -- \
    "$CNNLAB" select "$tmp/g" --combine --data "$data"
expect 2 "--combine trains on validation only; --retrain" -- \
    "$CNNLAB" select "$m" --combine --retrain --data "$data"

# Refusals, each before any run starts.
before=$(md5sum "$a/summary.csv")
expect 2 "holds a different study.*--epochs 1.*versus.*--epochs 2" -- \
    "$CNNLAB" study --out "$a" --vary dropout=0,0.3 --vary norm=batch --model lenet5 --epochs 2 \
    --subset 256 --batch-size 64 --val-fraction 0.02 --data "$data"
[ "$(md5sum "$a/summary.csv")" = "$before" ] && pass "the other study's folder is untouched" ||
    fail "summary.csv changed"
# A study whose base now trains otherwise (here: settings.txt edited, as a
# changed train default would) is not continued.
cp "$a/settings.txt" "$tmp/settings.txt"
sed -i 's/^epochs 1 /epochs 9 /' "$a/settings.txt"
expect 2 "now train differently .*epochs 9 -> 1" -- study --out "$a"
cp "$tmp/settings.txt" "$a/settings.txt"
expect 2 "--vary dropot: .cnnlab train. has no flag --dropot" -- \
    "$CNNLAB" study --out "$tmp/c" --vary dropot=0.1 "${base[@]}" --data "$data"
expect 2 "--vary dropout=1.5: --dropout: expected a number from 0 to 0.99, found '1.5'" -- \
    "$CNNLAB" study --out "$tmp/c" --vary dropout=0.1,1.5 "${base[@]}" --data "$data"
expect 2 "--preset: unknown preset 'droput'" -- "$CNNLAB" study --out "$tmp/c" --preset droput
expect 2 "a study cannot vary --seed: use --repeats" -- "$CNNLAB" study --out "$tmp/c" --vary seed=1,2
expect 2 "base flags: --epochs: expected a number" -- "$CNNLAB" study --out "$tmp/c" --epochs x
expect 2 "--out: expected the study folder" -- "$CNNLAB" study --preset dropout
expect 2 "CIFAR-10 not found in .*nowhere" -- \
    "$CNNLAB" study --out "$tmp/c" --vary dropout=0.1 "${base[@]}" --data "$tmp/nowhere"
[ ! -e "$tmp/c" ] && pass "nothing was created for the refused studies" || fail "$tmp/c exists"
"$CNNLAB" study --help | grep -q '^  dropout      --vary dropout=0,0.1,0.2,0.3,0.5' &&
    pass "study --help prints the presets as --vary lists" || fail "study --help lacks presets"

# Without gnuplot the study still finishes and the report says how to get plots.
if PATH=/nonexistent "$CNNLAB" study --out "$a" --vary dropout=0,0.3 --vary norm=batch \
    "${base[@]}" --threads 1 --data "$data" >"$tmp/np.log" 2>&1 &&
    grep -q 'Plots were skipped: gnuplot was not found.*gnuplot-nox' "$a/report.md"; then
    pass "missing gnuplot: study finishes, report says plots were skipped and how to get them"
else
    fail "missing gnuplot: $(cat "$tmp/np.log")"
fi

# select --retrain: the test set once; a second select is refused.
if "$CNNLAB" select "$a" --retrain --threads 1 --data "$data" >"$tmp/sel.log" 2>&1; then
    pass "select --retrain: $(grep -o 'test accuracy [0-9.]*%' "$tmp/sel.log")"
else
    fail "select: $(cat "$tmp/sel.log")"
fi
grep -q '^train_images = 50000$' "$a/final/config.txt" 2>/dev/null &&
    pass "retrained on all 50000 training images" || fail "final/config.txt: $(grep images "$a/final/config.txt")"
grep -q '^## Test set' "$a/report.md" && grep -q 'test accuracy [0-9.]* %' "$a/report.md" &&
    grep -q 'The test set was used once' "$a/report.md" &&
    pass "report.md has the test section, used once" || fail "report: $(tail -5 "$a/report.md")"
expect 2 "already used the test set" -- "$CNNLAB" select "$a" --retrain --data "$data"
expect 2 "already evaluated" -- "$CNNLAB" test "$a/final" --data "$data"

# The lab in small: the five studies (depth: LeNet-5 with 2 vs 3 fc layers),
# one shared control, the winner tested once, the winners combined, one report.
if "$CNNLAB" lab --out "$tmp/lab" --epochs 3 --subset 128 --repeats 1 --no-retrain --threads 1 \
    --data "$data" >"$tmp/lab.log" 2>&1; then
    pass "lab ran in small ($(grep -c 'copied from' "$tmp/lab.log") controls shared)"
else
    fail "lab: $(tail -5 "$tmp/lab.log")"
fi
for want in '^## Findings' '^- dropout: ' '^- norm: ' '^- lr-decay: ' '^- kernel-size: ' '^- depth: ' \
    'test accuracy [0-9.]+ %' '^## Study 5: depth'; do
    grep -qE "$want" "$tmp/lab/report.md" 2>/dev/null && pass "lab report has /$want/" ||
        fail "lab report lacks /$want/"
done
grep -q '](dropout/plots/dropout-val_acc.png)' "$tmp/lab/report.md" &&
    pass "lab report links the studies' plots" || fail "lab report: no plot links"
# Its last stage: the studies' winners together (validation only), in the report.
grep -q '^combination = ' "$tmp/lab/combined/combine.txt" 2>/dev/null &&
    grep -q '^## Combining the winners' "$tmp/lab/report.md" &&
    grep -qE '^(The gains|Only .* beat the control|No varied value beat)' "$tmp/lab/report.md" &&
    pass "lab report has the combination of the winners: $(grep '^combination' "$tmp/lab/combined/combine.txt")" ||
    fail "lab combination: $(sed -n '/lab: combining/,$p' "$tmp/lab.log")"

if [ "$fails" -gt 0 ]; then
    echo "cli_study.sh: $fails failed"
    exit 1
fi
echo "cli_study.sh: all passed"
