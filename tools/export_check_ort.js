// export_check_ort.js DIR: runs each NAME.onnx that `test_export --fixtures DIR`
// wrote (DIR/manifest.txt) in ONNX Runtime (the npm package onnxruntime-node,
// which scripts/deps.sh installs into $CNNLAB_NODE_DIR, by default
// ~/.cache/cnnlab/node) on DIR/images.bin, in two batches (so that the dynamic
// batch dimension is exercised), and compares the logits with cnnlab's
// NAME.logits: max |ort - cnnlab| <= 1e-4 * max |cnnlab|. Exits 1 on failure.
"use strict";
const fs = require("fs");
const path = require("path");
const os = require("os");
const nodeDir = process.env.CNNLAB_NODE_DIR || path.join(os.homedir(), ".cache", "cnnlab", "node");
const ort = require(path.join(nodeDir, "node_modules", "onnxruntime-node"));
const RTOL = 1e-4;

function floats(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const dir = process.argv[2];
  const models = fs.readFileSync(path.join(dir, "manifest.txt"), "utf8").trim().split("\n")
    .map((l) => l.split(" "));
  const images = floats(path.join(dir, "images.bin"));
  const per = images.length / Math.max(...models.map((m) => Number(m[1])));
  let failed = 0;
  for (const [name, nText, classesText] of models) {
    const n = Number(nText), classes = Number(classesText);
    const want = floats(path.join(dir, name + ".logits"));
    const session = await ort.InferenceSession.create(path.join(dir, name + ".onnx"),
      { intraOpNumThreads: 2, interOpNumThreads: 1 });
    const got = new Float32Array(n * classes);
    const half = Math.ceil(n / 2);
    for (const [at, rows] of [[0, half], [half, n - half]]) {
      if (rows === 0) continue;
      const x = new ort.Tensor("float32", images.slice(at * per, (at + rows) * per),
        [rows, 3, Math.round(Math.sqrt(per / 3)), Math.round(Math.sqrt(per / 3))]);
      const out = await session.run({ input: x });
      got.set(out.logits.data, at * classes);
    }
    let diff = 0, big = 1e-30, agree = 0;
    for (let i = 0; i < n * classes; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      big = Math.max(big, Math.abs(want[i]));
    }
    for (let i = 0; i < n; i++) {
      const row = (a) => Array.from(a.slice(i * classes, (i + 1) * classes));
      const am = (r) => r.indexOf(Math.max(...r));
      agree += am(row(got)) === am(row(want));
    }
    const err = diff / big, ok = err <= RTOL;
    failed += !ok;
    console.log(`${ok ? "ok  " : "FAIL"} ort      ${name.padEnd(16)} max error ${err.toExponential(2)} ` +
      `of the largest logit (tolerance 1e-04), argmax agrees on ${(100 * agree / n).toFixed(1)}% ` +
      `of ${n} images`);
  }
  console.log(`export_check_ort.js: ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log("FAIL ort: " + e.message); process.exit(1); });
