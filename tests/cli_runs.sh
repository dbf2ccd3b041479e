#!/usr/bin/env bash
# cli_runs.sh: `cnnlab runs` on a tree it writes itself: 100 run folders,
# 3 studies among them (a folder with study.txt and its runs below), one run
# tested twice; the table, the groups, the settings that differ, --sort and
# --json (read back with python3's json), and the errors. Prints each check;
# exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start runs

# run DIR LR SEED VAL_ACC [TEST_ACC [USES]]: a finished two-epoch run folder
run() {
    mkdir -p "$1"
    printf '# cnnlab run configuration\nmodel = lenet5\nparameters = 185806\nlr = %s\nepochs = 2\nseed = %s\nthreads = 2\ndata = /x\n' \
        "$2" "$3" >"$1/config.txt"
    printf 'status = finished\nepochs_run = 2\n' >"$1/status.txt"
    printf 'epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second\n1,2.0,0.3,2.1,0.25,%s,10.5,100\n2,1.5,0.5,1.6,%s,%s,11.5,100\n' \
        "$2" "$4" "$2" >"$1/metrics.csv"
    if [ $# -ge 5 ]; then
        printf '{"model": "lenet5", "images": 10000, "accuracy": %s, "uses": %s}\n' "$5" "${6:-1}" >"$1/test.json"
    fi
}
root=$tmp/runs
for i in $(seq 1 91); do run "$root/single/r$i" 0.01 "$i" 0.40; done
run "$root/single/best" 0.05 1 0.61 0.5980 2
for s in 1 2 3; do
    mkdir -p "$root/study$s/runs"
    echo "base = --model lenet5" >"$root/study$s/study.txt"
    run "$root/study$s/runs/control_s1" 0.01 1 0.50
    run "$root/study$s/runs/lr0.1_s1" 0.1 1 0.55
    [ "$s" = 3 ] && run "$root/study$s/runs/lr0.05_s1" 0.05 1 0.57
done
"$CNNLAB" runs "$root" >"$tmp/out" 2>"$tmp/err" && pass "runs exits 0" || fail "runs: $(cat "$tmp/err")"
n=$(grep -c 'lenet5' "$tmp/out")
[ "$n" -eq 99 ] && pass "99 run rows (92 + 3 studies of 2, 2 and 3)" || fail "found $n run rows"
grep -q "^study $root/study3 (3 runs)" "$tmp/out" && grep -q "^runs outside studies (92)" "$tmp/out" &&
    pass "studies are groups with their counts" || fail "groups: $(grep -E '^(study|runs)' "$tmp/out")"
grep -E '^  single/best +lenet5 +cifar10 +finished +2 +61.00% +59.80% \(2\) +22.0 s +seed=1 lr=0.05$' "$tmp/out" >/dev/null &&
    pass "a row: best val, test with its uses, time, the differing lr" || fail "row: $(grep 'single/best ' "$tmp/out")"
grep -q 'threads=\|data=\|parameters=' "$tmp/out" && fail "machine settings or parameters listed as differing" ||
    pass "the machine's settings and the parameter count are not listed"
"$CNNLAB" runs "$root" --sort val >"$tmp/sorted"
first=$(grep -A2 "^runs outside" "$tmp/sorted" | tail -n1 | awk '{print $1}')
[ "$first" = "single/best" ] && pass "--sort val: the best first" || fail "--sort val: first is $first"
if "$CNNLAB" runs "$root/study1" "$root/study2" --json >"$tmp/json" &&
    /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert len(r)==4, len(r);
assert all(x['study'] and x['status']=='finished' and x['epochs']==2 for x in r), r
assert {x['flags'] for x in r} == {'lr=0.01', 'lr=0.1'}, r" "$tmp/json" 2>"$tmp/err"; then
    pass "--json over two folders: 4 records, flags that differ among them"
else
    fail "--json: $(cat "$tmp/err")"
fi
out=$("$CNNLAB" runs "$tmp/nothere" 2>&1 >/dev/null)
[ $? -eq 2 ] && grep -q "expected a folder of runs, found nothing" <<<"$out" && pass "exit 2: $out" ||
    fail "missing folder: $out"
out=$("$CNNLAB" runs "$root" --sort speed 2>&1 >/dev/null)
[ $? -eq 2 ] && pass "exit 2: $out" || fail "--sort speed: $out"
echo "cli_runs: $fails failed"
[ "$fails" -eq 0 ]
