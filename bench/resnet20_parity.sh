#!/bin/sh
# resnet20_parity.sh: does cnnlab learn as well as PyTorch? (issue 15's training
# dynamics check). For each seed, trains resnet20 with the He recipe for 12
# epochs on 10,000 training images in cnnlab and in PyTorch
# (tools/torch_train_resnet20.py --same-as: the same split, subset, initial
# weights, batch order, crops and flips), then prints each pair's last-epoch
# and best validation accuracy and the mean gap. A benchmark: run by hand.
#
#   bench/resnet20_parity.sh [--seeds "1 2 3 4"] [--out runs/parity] [--cnnlab build/cnnlab]
#
# Needs Debian's python3-torch for /usr/bin/python3 and the CIFAR-10 files in
# data/cifar-10-batches-bin. About 10 minutes per seed on 2 cores.
set -eu
seeds="1 2 3 4"
out=runs/parity
cnnlab=build/cnnlab
while [ $# -gt 0 ]; do
    case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cnnlab) cnnlab="$2"; shift 2 ;;
    *) echo "resnet20_parity.sh: unknown argument '$1' (expected --seeds, --out or --cnnlab)" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
recipe="--epochs 12 --milestones 6,9 --subset 10000"
for s in $seeds; do
    if [ ! -f "$out/cnnlab-$s.log" ]; then
        "$cnnlab" train --model resnet20 --lr 0.1 --momentum 0.9 --weight-decay 1e-4 \
            --augment crop,flip --lr-schedule multistep --init kaiming $recipe \
            --seed "$s" --threads 2 --out "$out/cnnlab-$s" >"$out/cnnlab-$s.log.tmp" 2>&1
        mv "$out/cnnlab-$s.log.tmp" "$out/cnnlab-$s.log"
    fi
    if [ ! -f "$out/torch-$s.log" ]; then
        # glibc's malloc kept from returning activation memory every step (PyTorch's
        # speed on this VM, not its numbers: docs/performance.md, tuned environment)
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_MAX_=0 \
            MALLOC_TRIM_THRESHOLD_=100000000000 /usr/bin/python3 tools/torch_train_resnet20.py \
            --data data $recipe --seed "$s" --threads 2 --same-as "$cnnlab" \
            >"$out/torch-$s.log.tmp" 2>&1
        mv "$out/torch-$s.log.tmp" "$out/torch-$s.log"
    fi
done
# Each log's epoch lines hold "val loss L acc A%"; the last and the best A.
accs() { sed -n 's/.*val loss [0-9.]* acc *\([0-9.]*\)%.*/\1/p' "$1"; }
printf '%-5s %12s %12s %12s %12s\n' seed cnnlab_last torch_last cnnlab_best torch_best
for s in $seeds; do
    printf '%-5s %12s %12s %12s %12s\n' "$s" "$(accs "$out/cnnlab-$s.log" | tail -1)" \
        "$(accs "$out/torch-$s.log" | tail -1)" "$(accs "$out/cnnlab-$s.log" | sort -n | tail -1)" \
        "$(accs "$out/torch-$s.log" | sort -n | tail -1)"
done | tee "$out/table.txt"
awk '{ c += $2; t += $3; cb += $4; tb += $5; n++ }
     END { printf "mean  %12.2f %12.2f %12.2f %12.2f   gap (torch - cnnlab): last %.2f, best %.2f points\n",
           c / n, t / n, cb / n, tb / n, (t - c) / n, (tb - cb) / n }' "$out/table.txt"
