#!/usr/bin/env bash
# deps.sh: installs the Debian packages cnnlab needs to build, test and fetch
# data, when any is missing, then ONNX Runtime for the export tests. Runs
# apt-get as root (or through sudo).
#   build: gcc make libc6-dev libdnnl-dev liblapacke-dev, image files (zlib1g-dev
#          libpng-dev libjpeg62-turbo-dev libstb-dev), MPI (pkg-config
#          libopenmpi-dev openmpi-bin), and for the ONNX
#          export protobuf-c (libprotobuf-c-dev, protobuf-c-compiler) and the
#          onnx.proto it is generated from (python3-onnx)
#   data and plots: perl curl ca-certificates tar gnuplot-nox
#   export checks (tests/cli_export.sh): python3-torch, python3-onnx,
#          python3-opencv, nodejs and npm, and the npm package onnxruntime-node
#          (its own runtime inside) in $CNNLAB_NODE_DIR (~/.cache/cnnlab/node)
set -eu
need=()
# libopenmpi-dev and openmpi-bin: MPI for distributed studies and training
# (docs/distributed.md); pkg-config finds it for the Makefile.
for p in gcc make libc6-dev libdnnl-dev liblapacke-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev \
         libstb-dev perl curl ca-certificates tar gnuplot-nox \
         pkg-config libopenmpi-dev openmpi-bin \
         libprotobuf-c-dev protobuf-c-compiler python3-onnx python3-torch python3-opencv; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
# node and npm: any installation will do (Debian's packages when there is none)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# onnxruntime-node ships its CPU runtime in the package; its install script
# only fetches GPU providers (from outside the npm registry), so it is skipped.
node_dir=${CNNLAB_NODE_DIR:-$HOME/.cache/cnnlab/node}
if [ ! -f "$node_dir/node_modules/onnxruntime-node/package.json" ]; then
    echo "installing onnxruntime-node (npm) into $node_dir"
    mkdir -p "$node_dir"
    (cd "$node_dir" && npm install --no-audit --no-fund --ignore-scripts --silent onnxruntime-node) ||
        echo "deps.sh: warning: npm could not install onnxruntime-node; tests/cli_export.sh will skip the ONNX Runtime check" >&2
fi
