#!/usr/bin/env bash
# cli_export.sh: models out of cnnlab and back in (docs/export.md).
#
# 1. Other tools reproduce cnnlab's logits: test_export --fixtures writes the
#    small built-in models and tests/models/{graph,kinds,se}.cnn (random
#    weights, random norm parameters and running estimates) as safetensors and
#    ONNX with cnnlab's logits on CIFAR-10 test images (random pixels without
#    the data), then PyTorch (load_state_dict strict=True into
#    tools/torch_models.py's modules), onnx.checker, OpenCV's DNN module and
#    ONNX Runtime (onnxruntime-node) must give the same logits within 1e-4 of
#    the largest. A tool that is not installed is skipped with a note
#    (scripts/deps.sh installs them all). CNNLAB_EXPORT_ALL=1
#    CNNLAB_EXPORT_IMAGES=256 checks every built-in model on 256 images
#    (minutes).
# 2. The commands end to end on a fake CIFAR-10 folder: train, export both
#    formats, import the safetensors (also as PyTorch writes them) into a new
#    run folder that `cnnlab test` scores as the original, and the errors.
set -u
. "$(dirname "$0")/lib.sh"
cli_start export
TESTBIN=${TESTBIN:-$(dirname "$CNNLAB")/tests}
note() { echo "note $*"; }

py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$@"; }
has_py() { [ -x /usr/bin/python3 ] && py -c "import $1" >/dev/null 2>&1; }

# ---- 1. PyTorch, onnx.checker, OpenCV and ONNX Runtime against cnnlab ----
fx=$tmp/fixtures
mkdir -p "$fx"
if "$TESTBIN/test_export" --fixtures "$fx" "${CNNLAB_EXPORT_IMAGES:-64}" >"$tmp/fx.log" 2>&1; then
    pass "fixtures: $(head -n1 "$tmp/fx.log"), $(wc -l <"$fx/manifest.txt") models"
else
    fail "test_export --fixtures: $(cat "$tmp/fx.log")"
fi
checks=()
for m in torch onnx; do
    if has_py "$m"; then checks+=("--$m"); else note "python3-$m missing: its check skipped"; fi
done
if has_py cv2; then checks+=(--opencv); else note "python3-opencv missing: its check skipped"; fi
if [ ${#checks[@]} -gt 0 ]; then
    if py tools/export_check.py "$fx" "${checks[@]}" >"$tmp/py.log" 2>&1; then
        pass "export_check.py ${checks[*]}: $(grep -c '^ok' "$tmp/py.log") checks passed"
    else
        fail "export_check.py: $(grep -v '^ok' "$tmp/py.log" | grep -v '^\[ERROR')"
    fi
    grep '^ok' "$tmp/py.log" | sed 's/^/     /'
fi
node_dir=${CNNLAB_NODE_DIR:-$HOME/.cache/cnnlab/node}
if command -v node >/dev/null && [ -f "$node_dir/node_modules/onnxruntime-node/package.json" ]; then
    if CNNLAB_NODE_DIR=$node_dir node tools/export_check_ort.js "$fx" >"$tmp/ort.log" 2>&1; then
        pass "export_check_ort.js: $(grep -c '^ok' "$tmp/ort.log") models in ONNX Runtime"
    else
        fail "export_check_ort.js: $(grep -v '^ok' "$tmp/ort.log")"
    fi
    grep '^ok' "$tmp/ort.log" | sed 's/^/     /'
else
    note "onnxruntime-node not in $node_dir (scripts/deps.sh installs it): its check skipped"
fi

# ---- 2. the commands ----
data=$tmp/cifar-10-batches-bin
make_fake_cifar "$data"
run=$tmp/run
# --norm batch: a model option, which the export records and the import applies
if "$CNNLAB" train --model lenet5 --norm batch --epochs 1 --subset 512 --batch-size 64 --lr 0.05 \
    --val-fraction 0.02 --threads 2 --conv direct --data "$data" --out "$run" >"$tmp/train.log" 2>&1; then
    pass "train lenet5 --norm batch on the fake folder"
else
    fail "train failed: $(cat "$tmp/train.log")"
fi
"$CNNLAB" export "$run" --format safetensors >/dev/null 2>"$tmp/err" &&
    [ -s "$run/model.safetensors" ] && pass "export --format safetensors writes RUN_DIR/model.safetensors" ||
    fail "export safetensors: $(cat "$tmp/err")"
"$CNNLAB" export "$run" --format onnx -o "$tmp/lenet5.onnx" --weights last >/dev/null 2>"$tmp/err" &&
    [ -s "$tmp/lenet5.onnx" ] && pass "export --format onnx -o FILE --weights last" ||
    fail "export onnx: $(cat "$tmp/err")"
if has_py onnx; then
    py -c "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True);
meta = {p.key: p.value for p in m.metadata_props}; assert 'airplane' in meta['classes'], meta
i = m.graph.input[0].type.tensor_type.shape.dim; assert m.graph.input[0].name == 'input' and i[0].dim_param == 'batch'
assert m.graph.output[0].name == 'logits' and m.opset_import[0].version >= 13" "$tmp/lenet5.onnx" 2>"$tmp/err" &&
        pass "ONNX from the command: checker, input, dynamic batch, logits, class names" ||
        fail "ONNX from the command: $(cat "$tmp/err")"
fi
cp "$run/model.safetensors" "$tmp/keep.safetensors"
expect 2 'model.safetensors exists: expected a new file' -- "$CNNLAB" export "$run" --format safetensors
cmp -s "$run/model.safetensors" "$tmp/keep.safetensors" && pass "the existing export is left as it was" ||
    fail "export overwrote model.safetensors"
"$CNNLAB" export "$run" --format safetensors --force >/dev/null 2>&1 && pass "export --force replaces it" ||
    fail "export --force"
expect 2 'expected --format' -- "$CNNLAB" export "$run"
expect 2 'format' -- "$CNNLAB" export "$run" --format tflite
expect 2 "$tmp/nothere/best.weights" -- "$CNNLAB" export "$tmp/nothere" --format onnx

# import: the same weights in a new run folder score the same on the test set
"$CNNLAB" test "$run" --data "$data" --threads 2 >"$tmp/test1.log" 2>&1
if "$CNNLAB" import "$run/model.safetensors" --model lenet5 --out "$tmp/imported" >/dev/null 2>"$tmp/err"; then
    pass "import into a new run folder"
else
    fail "import: $(cat "$tmp/err")"
fi
"$CNNLAB" test "$tmp/imported" --data "$data" --threads 2 >"$tmp/test2.log" 2>&1
a=$(head -n1 "$tmp/test1.log") b=$(head -n1 "$tmp/test2.log")
[ -n "$a" ] && [ "$a" = "$b" ] && pass "test of the imported run: $b" ||
    fail "test differs: original '$a', imported '$b'"
cmp -s "$run/best.weights" "$tmp/imported/best.weights" && pass "imported best.weights equals the run's" ||
    note "imported best.weights differs from the run's in bytes (checksum or header fields)"
if has_py torch; then
    # as PyTorch writes it: tools/torch_models.py's writer, no metadata but the
    # model options and the normalisation
    py - "$run/model.safetensors" "$tmp/torch.safetensors" <<'PYEOF' 2>"$tmp/err"
import sys
sys.path.insert(0, "tools")
from torch_models import load_safetensors, model_from_safetensors, save_safetensors
net = model_from_safetensors(sys.argv[1])
_, meta = load_safetensors(sys.argv[1])
save_safetensors(sys.argv[2], net.state_dict(),
                 {"options": meta["options"], "mean": meta["mean"], "std": meta["std"]})
PYEOF
    "$CNNLAB" import "$tmp/torch.safetensors" --model lenet5 --out "$tmp/from-torch" >/dev/null 2>>"$tmp/err" &&
        "$CNNLAB" test "$tmp/from-torch" --data "$data" --threads 2 >"$tmp/test3.log" 2>>"$tmp/err"
    c=$(head -n1 "$tmp/test3.log" 2>/dev/null)
    [ "$a" = "$c" ] && pass "a state_dict saved from PyTorch imports and tests the same" ||
        fail "PyTorch-written import: '$c' vs '$a': $(cat "$tmp/err")"
fi
# the test set's uses: counted in test.json, shown by `cnnlab runs`
grep -q '"uses": 1,' "$run/test.json" && pass "test.json counts the first use" ||
    fail "test.json: $(head -c 300 "$run/test.json")"
"$CNNLAB" test "$run" --data "$data" --threads 2 --force >/dev/null 2>&1
grep -q '"uses": 2,' "$run/test.json" && pass "test --force counts a second use" ||
    fail "test.json after --force: $(head -c 300 "$run/test.json")"
"$CNNLAB" runs "$tmp" | grep -E '^  run +lenet5 .*% \(2\)' >/dev/null &&
    pass "runs shows the run's test accuracy and its 2 uses" || fail "runs: $("$CNNLAB" runs "$tmp")"
expect 2 'expected a new or empty folder' -- "$CNNLAB" import "$run/model.safetensors" --model lenet5 --out "$run"
expect 2 'layers.0.weight: expected shape \[16, 3, 3, 3\] for resnet20, found \[16, 3, 5, 5\]' -- \
    "$CNNLAB" import "$run/model.safetensors" --model resnet20 --out "$tmp/wrong"
[ ! -e "$tmp/wrong" ] && pass "a refused import makes no folder" || fail "refused import left $tmp/wrong"
head -c 100 "$run/model.safetensors" >"$tmp/short.safetensors"
expect 2 'header size [0-9]+: expected 2 to 92' -- "$CNNLAB" import "$tmp/short.safetensors" --model lenet5 --out "$tmp/x"
expect 2 'expected --model and --out' -- "$CNNLAB" import "$run/model.safetensors" --model lenet5
if has_py torch; then
    py - "$tmp/torch.safetensors" "$tmp/nonorm.safetensors" <<'PYEOF'
import sys
sys.path.insert(0, "tools")
from torch_models import load_safetensors, save_safetensors
t, meta = load_safetensors(sys.argv[1])
save_safetensors(sys.argv[2], t, {"options": meta["options"]})
PYEOF
    expect 2 'expected the input normalisation in the metadata' -- \
        "$CNNLAB" import "$tmp/nonorm.safetensors" --model lenet5 --out "$tmp/x"
    "$CNNLAB" import "$tmp/nonorm.safetensors" --model lenet5 --out "$tmp/norm-flags" \
        --mean 0.49,0.48,0.45 --std 0.25,0.24,0.26 >/dev/null 2>&1 &&
        pass "import --mean/--std for a file without normalisation" || fail "import --mean/--std"
fi

echo "cli_export: $fails failed"
[ "$fails" -eq 0 ]
