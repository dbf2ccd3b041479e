#!/usr/bin/env bash
# cli_data.sh: train, test and predict on data other than CIFAR-10, all made
# here: an MNIST-style IDX folder (gzipped) and an image folder of PNGs of
# mixed sizes. Checks that the format is detected and recorded, that models
# take the data's shape, that test and predict read the run's data, that
# predict's top-1 agrees with test's evaluation image by image (the same
# counts per true and predicted class), and that the decoded folder is
# cached and mapped the second time. Prints each check; exits non-zero on
# failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start data
cd "$tmp" || exit 1
checks=0
pass() { checks=$((checks + 1)); echo "ok   $*"; }
fail() { checks=$((checks + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
key() { sed -n "s/^$2 = //p" "$1/config.txt"; }
common=(--epochs 2 --batch-size 32 --threads 2 --conv direct --lr 0.05)

# ---- IDX: 12x12x1, 3 classes ----
make_fake_idx idx 600 90 12
if "$CNNLAB" train --model lenet5 --data idx "${common[@]}" --out run-idx >idx.log 2>&1; then
    pass "lenet5 trained on an IDX folder"
else
    fail "training on IDX: $(cat idx.log)"
fi
[ "$(key run-idx dataset)" = idx ] && [ "$(key run-idx input)" = 12x12x1 ] &&
    [ "$(key run-idx classes)" = 3 ] && [ "$(wc -l <run-idx/classes.txt)" = 3 ] &&
    pass "config.txt: dataset = idx, input = 12x12x1, classes = 3; classes.txt has 3 lines" ||
    fail "config.txt: dataset '$(key run-idx dataset)', input '$(key run-idx input)', classes '$(key run-idx classes)'"
if "$CNNLAB" test run-idx --threads 2 >test-idx.log 2>&1 &&
    grep -q '"images": 90' run-idx/test.json && grep -q '"classes": \["0", "1", "2"\]' run-idx/test.json; then
    acc=$(sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p' run-idx/test.json)
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' &&
        pass "test reads the run's t10k files: 90 images, 3 classes, accuracy $acc (>= 0.9)" ||
        fail "test accuracy $acc below 0.9 on learnable IDX data"
else
    fail "test on the IDX run: $(cat test-idx.log)"
fi

# ---- an image folder: PNGs of mixed sizes, resized to 16x16 ----
make_fake_images imgs 40 10
if "$CNNLAB" train --model lenet5 --data imgs --image-size 16x16 "${common[@]}" --out run-img \
    >img.log 2>&1; then
    pass "lenet5 trained on an image folder at --image-size 16x16"
else
    fail "training on an image folder: $(cat img.log)"
fi
[ "$(key run-img dataset)" = folder ] && [ "$(key run-img input)" = 16x16x3 ] &&
    [ "$(sed -n 2p run-img/classes.txt)" = red ] &&
    pass "config.txt: dataset = folder, input = 16x16x3; classes.txt: green, red" ||
    fail "config.txt: dataset '$(key run-img dataset)', input '$(key run-img input)'"
grep -q 'cached the decoded training images' img.log && ls imgs/.cnnlab-cache/train-16x16x3-*.bin >/dev/null 2>&1 &&
    pass "the decoded training images were cached beside the data" ||
    fail "no cache file: $(ls -a imgs imgs/.cnnlab-cache 2>&1 | tr '\n' ' ')"
"$CNNLAB" train --model lenet5 --data imgs --image-size 16x16 "${common[@]}" --out run-img2 >img2.log 2>&1
cmp -s <(cut -d, -f1-6 run-img/metrics.csv) <(cut -d, -f1-6 run-img2/metrics.csv) &&
    ! grep -q 'cached the decoded' img2.log &&
    pass "a second run maps the cache (nothing decoded) and trains to the same metrics" ||
    fail "second run on the cached folder: $(diff run-img/metrics.csv run-img2/metrics.csv)"
# the green test images also under red: test's confusion matrix then has a
# row of both classes, which predict must reproduce file by file
for f in imgs/test/green/*.png; do cp "$f" "imgs/test/red/g-$(basename "$f")"; done
"$CNNLAB" test run-img --threads 2 >test-img.log 2>&1 || fail "test on the image run: $(cat test-img.log)"
if "$CNNLAB" predict run-img imgs/test --json --top 1 --threads 2 >pred.json 2>pred.err; then
    # predicted class per true class (the folder), as a confusion matrix, against test's
    got=$(/usr/bin/python3 -c '
import json, sys
names = [l.strip() for l in open("run-img/classes.txt")]
m = [[0] * len(names) for _ in names]
for r in json.load(open("pred.json")):
    m[names.index(r["file"].split("/")[-2])][r["top"][0]["label"]] += 1
print(json.dumps(m))')
    want=$(/usr/bin/python3 -c 'import json; print(json.dumps(json.load(open("run-img/test.json"))["confusion"]))')
    [ "$got" = "$want" ] && [ "$(grep -c '"file"' pred.json)" -ge 1 ] &&
        pass "predict's top-1 on the 30 test images agrees with test's evaluation: $got" ||
        fail "predict $got against test $want"
else
    fail "predict: $(cat pred.err)"
fi
line=$("$CNNLAB" predict run-img imgs/train/red/000.png --top 2 --threads 1 2>&1)
[[ "$line" =~ ^imgs/train/red/000.png:\ (red|green)\ 0\.[0-9]{4},\ (red|green)\ 0\.[0-9]{4}$ ]] &&
    pass "predict prints names with probabilities: $line" || fail "predict printed: $line"
# the export names the run's classes, not CIFAR-10's
if "$CNNLAB" export run-img --format safetensors -o img.safetensors >/dev/null 2>exp.err &&
    head -c 65536 img.safetensors | grep -aq 'green.*red' &&
    ! head -c 65536 img.safetensors | grep -aq 'airplane'; then
    pass "export names the folder's classes (green, red)"
else
    fail "export: $(cat exp.err); header: $(head -c 300 img.safetensors 2>/dev/null | tr -cd '[:print:]')"
fi

# ---- a read-only data folder: the cache goes to the user's cache folder ----
if [ "$(id -u)" -ne 0 ]; then
    make_fake_images ro 6 2
    chmod -R a-w ro
    CNNLAB_CACHE_DIR="$tmp/usercache" "$CNNLAB" train --model lenet5 --data ro --image-size 16x16 \
        "${common[@]}" --epochs 1 --out run-ro >ro.log 2>&1
    ls usercache/folders/*-train-16x16x3-*.bin >/dev/null 2>&1 && [ ! -e ro/.cnnlab-cache ] &&
        pass "read-only data folder: cached in the user's cache folder" ||
        fail "read-only folder: $(cat ro.log)"
    chmod -R u+w ro
else
    echo "note: running as root, every folder is writable: the read-only case is not tried"
fi
echo "cli_data: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
