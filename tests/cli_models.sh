#!/usr/bin/env bash
# cli_models.sh: `cnnlab models` and `cnnlab summary` end to end: every
# built-in's parameter count from `summary --json` (the counts of issue 4, from
# the PyTorch definitions), a model file given by path with variables, and the
# errors a user sees for a broken file; mobilenetv2 trained one epoch on fake
# data. Prints each check; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start models
cd "$(dirname "$0")/.."

# the "params" of one summary --json object
params() { "$CNNLAB" summary "$@" --json | sed -n 's/.*"params": \([0-9]*\),.*/\1/p' | head -n1; }

while read -r name want; do
    got=$(params "$name")
    if [ "$got" = "$want" ]; then pass "$name: $got parameters"; else fail "$name: $got parameters, expected $want"; fi
done <<'TABLE'
lenet5 185806
lenet5-classic 62006
vgg11 9225610
vgg16 14719818
vgg19 20029514
vgg11_bn 9228362
vgg13_bn 9413066
vgg16_bn 14724042
vgg19_bn 20035018
resnet18 11173962
resnet34 21282122
resnet50 23520842
resnet20 269722
resnet32 464154
resnet44 658586
resnet56 853018
resnet110 1727962
nin 966986
googlenet 6166250
airbench94 1972792
mobilenetv2 2236682
TABLE

got=$(params vgg16_bn --head 4096)
[ "$got" = 33642442 ] && pass "vgg16_bn --head 4096: $got parameters" || fail "vgg16_bn --head 4096: $got, expected 33642442"
got=$(params vgg16_bn --norm none)
[ "$got" = 14719818 ] && pass "vgg16_bn --norm none: $got parameters (vgg16's)" || fail "vgg16_bn --norm none: $got"

n=$("$CNNLAB" models | wc -l)
[ "$n" -eq 21 ] && pass "cnnlab models lists $n models" || fail "cnnlab models lists $n models, expected 21"
"$CNNLAB" models | grep -qE '^resnet20 +269,722  He et al' && pass "models: name, parameters, about" \
    || fail "models line for resnet20: $("$CNNLAB" models | grep resnet20)"

out=$("$CNNLAB" summary tests/models/graph.cnn --var "size=16")
grep -qE 'preact2\.short +shortcut /2 <- preact1\.add +8x8x32' <<<"$out" && grep -q '^total: ' <<<"$out" \
    && pass "summary of a file: labels, inputs, shapes, totals" || fail "summary of tests/models/graph.cnn: $out"
json=$("$CNNLAB" summary tests/models/graph.cnn --json)
grep -q '"macs": [0-9]' <<<"$json" && grep -q '"file": "tests/models/graph.cnn"' <<<"$json" \
    && pass "summary --json: params, macs, file" || fail "summary --json: $json"

# errors: status 2 and the file's line and column
printf 'name broken\nconv 8 k=3\nrelu\nadd a, b\n' > "$tmp/broken.cnn"
out=$("$CNNLAB" summary "$tmp/broken.cnn" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && grep -q "broken.cnn:4:5: unknown label 'a'" <<<"$out" \
    && pass "exit $rc: $out" || fail "broken.cnn -> exit $rc: $out"
out=$("$CNNLAB" summary resnet9000 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && grep -q "unknown model 'resnet9000'; expected a built-in" <<<"$out" \
    && pass "exit $rc: $(cut -c1-80 <<<"$out")..." || fail "resnet9000 -> exit $rc: $out"
out=$("$CNNLAB" summary lenet5 --head 4096 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && grep -q "cannot set variable 'head'" <<<"$out" \
    && pass "exit $rc: $out" || fail "lenet5 --head -> exit $rc: $out"
out=$("$CNNLAB" summary googlenet --kernel-size 5 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && grep -q "no kernel-size slots" <<<"$out" \
    && pass "exit $rc: $out" || fail "googlenet --kernel-size -> exit $rc: $out"

# the zoo smoke: mobilenetv2 (depthwise convolutions) trains one epoch on fake data
make_fake_cifar "$tmp/data"
if "$CNNLAB" train --model mobilenetv2 --data "$tmp/data" --out "$tmp/mnv2" --epochs 1 --subset 64 \
        --batch-size 32 --val-fraction 0.002 --threads 2 --conv direct >"$tmp/mnv2.log" 2>&1 &&
        grep -q '^epoch   1 ' "$tmp/mnv2.log" && [ -f "$tmp/mnv2/last.weights" ]; then
    pass "mobilenetv2 trains one epoch: $(grep '^epoch   1 ' "$tmp/mnv2.log" | cut -c1-60)"
else
    fail "mobilenetv2 one epoch: $(tail -n 5 "$tmp/mnv2.log")"
fi

if [ $fails -gt 0 ]; then echo "cli_models.sh: $fails failed"; exit 1; fi
echo "cli_models.sh: all passed"
