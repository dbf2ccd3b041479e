"""export_check.py DIR [--torch] [--onnx] [--opencv]: checks the exports that
`build/tests/test_export --fixtures DIR` wrote (tests/cli_export.sh runs both)
against cnnlab's own logits, model by model (DIR/manifest.txt):

  --torch   NAME.safetensors into its PyTorch module (tools/torch_models.py)
            with load_state_dict(strict=True); eval logits on the images
  --onnx    NAME.onnx through onnx.checker (full check, with shape inference)
  --opencv  NAME.onnx through OpenCV's DNN module: logits on the images

Logits match when max |theirs - cnnlab's| <= 1e-4 * max |cnnlab's| (relative
to the largest logit of the model's images). Prints one line per model and
check; exits 1 if any failed. Run with Debian's python3 (python3-torch,
python3-onnx, python3-opencv) and without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE.
"""
import os
import sys

import numpy as np

RTOL = 1e-4

# What OpenCV 4.6 (Debian 12's) cannot run, by model: checked to fail there,
# so that a later OpenCV that runs it shows up as an unexpected pass.
OPENCV_CANNOT = {
    "se": "OpenCV 4.6's DNN multiplies two computed tensors only when their shapes are equal, "
          "and the gate multiplies (N, C, H, W) by (N, C, 1, 1)",
}


def compare(what, name, got, want):
    err = float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1e-30)
    same = float((got.argmax(1) == want.argmax(1)).mean())
    ok = err <= RTOL
    print("%s %-8s %-16s max error %.2e of the largest logit (tolerance %.0e), "
          "argmax agrees on %.1f%% of %d images"
          % ("ok  " if ok else "FAIL", what, name, err, RTOL, 100 * same, len(want)))
    return ok


def main():
    d = sys.argv[1]
    todo = set(a.lstrip("-") for a in sys.argv[2:]) or {"torch", "onnx", "opencv"}
    models = [l.split() for l in open(os.path.join(d, "manifest.txt")) if l.strip()]
    total = max(int(n) for _, n, _ in models)
    images = np.fromfile(os.path.join(d, "images.bin"), dtype=np.float32)
    images = images.reshape(total, 3, 32, 32)
    failed = 0
    if "torch" in todo:
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from torch_models import model_from_safetensors, normalise
        torch.set_num_threads(2)
    if "onnx" in todo:
        import onnx
    if "opencv" in todo:
        import cv2
    for name, n, classes in models:
        n, classes = int(n), int(classes)
        want = np.fromfile(os.path.join(d, name + ".logits"), dtype=np.float32)
        want = want.reshape(n, classes)
        x = images[:n]
        onnx_path = os.path.join(d, name + ".onnx")
        if "torch" in todo:
            try:
                net = model_from_safetensors(os.path.join(d, name + ".safetensors"))
                with torch.no_grad():
                    got = net(normalise(torch.from_numpy(x), net.mean, net.std)).numpy()
                failed += not compare("pytorch", name, got, want)
            except Exception as e:  # a load_state_dict mismatch names the tensors
                print("FAIL pytorch  %-16s %s" % (name, e))
                failed += 1
        if "onnx" in todo:
            try:
                onnx.checker.check_model(onnx.load(onnx_path), full_check=True)
                print("ok   checker  %-16s onnx.checker (full check) passed" % name)
            except Exception as e:
                print("FAIL checker  %-16s %s" % (name, e))
                failed += 1
        if "opencv" in todo:
            try:
                net = cv2.dnn.readNetFromONNX(onnx_path)
                net.setInput(x)
                got = net.forward()
            except Exception as e:
                if name in OPENCV_CANNOT:
                    print("ok   opencv   %-16s refused, as known: %s" % (name, OPENCV_CANNOT[name]))
                else:
                    print("FAIL opencv   %-16s %s" % (name, str(e).strip().splitlines()[-1]))
                    failed += 1
                continue
            if name in OPENCV_CANNOT:
                print("FAIL opencv   %-16s ran, though listed in OPENCV_CANNOT: update the list"
                      % name)
                failed += 1
            else:
                failed += not compare("opencv", name, got, want)
    print("export_check.py: %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
