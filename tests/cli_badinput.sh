#!/usr/bin/env bash
# cli_badinput.sh: the bad-input catalogue. Each case gives cnnlab one bad
# input (a damaged data file, a flag, a model file, a run folder or
# checkpoint, a metrics file, a study spec) and checks the promise of docs: exit status 2,
# one line on stderr that names the file or flag (a pattern per case), no
# signal, no hang (timeout), no existing file changed (sizes, times and
# checksums of the workspace before and after) and no folder half made.
# Prints each case; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start bad
cd "$tmp" || exit 1
cases=0

# The workspace's state: every path with its kind and size, and the checksum
# of every regular file under 1 MB (the 30 MB batch files by size and time).
state() {
    find . -path ./scratch -prune -o -printf '%p %y %s %T@\n' | sort
    find . -path ./scratch -prune -o -type f -size -1M -print0 | sort -z | xargs -0 -r md5sum
}

# bad PATTERN -- command...: exit 2, one stderr line matching PATTERN, nothing changed.
bad() {
    local pattern=$1
    shift 2
    cases=$((cases + 1))
    local before after err rc lines
    before=$(state)
    err=$(timeout 20 "$@" 2>&1 >/dev/null)
    rc=$?
    after=$(state)
    lines=$(printf '%s' "$err" | grep -c '')
    if [ "$rc" -eq 124 ]; then
        fail "$* -> hung (killed after 20 s)"
    elif [ "$rc" -ge 128 ]; then
        fail "$* -> killed by signal $((rc - 128)): $err"
    elif [ "$rc" -ne 2 ]; then
        fail "$* -> exit $rc (want 2): $err"
    elif [ "$lines" -ne 1 ]; then
        fail "$* -> $lines lines on stderr (want 1): $err"
    elif ! grep -qE -- "$pattern" <<<"$err"; then
        fail "$* -> stderr '$err' does not match /$pattern/"
    elif [ "$before" != "$after" ]; then
        fail "$* -> changed the workspace: $(diff <(echo "$before") <(echo "$after") | head -n 4)"
    else
        pass "$(cut -c1-150 <<<"$err")"
    fi
}

mkdir scratch
# ---- a good data folder, one good run ----
make_fake_cifar data
# A folder not named cifar-10-batches-bin: a missing file never starts a download.
damaged() { # damaged NAME: a copy of data (links) in data-NAME, for one file to be damaged
    mkdir "data-$1"
    for f in data/*.bin; do ln -s "../$f" "data-$1/$(basename "$f")"; done
}
train=("$CNNLAB" train --epochs 1 --subset 64 --batch-size 32 --val-fraction 0.02 --threads 2
       --conv direct)
if "${train[@]}" --model lenet5 --data data --out run >scratch/train.log 2>&1; then
    pass "a good run to damage"
else
    fail "the good run failed: $(cat scratch/train.log)"
fi

# ---- data files ----
damaged short && rm data-short/data_batch_2.bin && head -c 3000000 data/data_batch_2.bin >data-short/data_batch_2.bin
bad 'data_batch_2.bin: expected 30730000 bytes' -- "${train[@]}" --model lenet5 --data data-short --out new
damaged dir && rm data-dir/data_batch_3.bin && mkdir data-dir/data_batch_3.bin
bad 'data_batch_3.bin: expected a regular file, found a directory' -- "${train[@]}" --model lenet5 --data data-dir --out new
damaged fifo && rm data-fifo/data_batch_1.bin && mkfifo data-fifo/data_batch_1.bin
bad 'data_batch_1.bin: expected a regular file, found a FIFO' -- "${train[@]}" --model lenet5 --data data-fifo --out new
damaged label && rm data-label/data_batch_4.bin && cp data/data_batch_4.bin data-label/ &&
    printf '\x0b' | dd of=data-label/data_batch_4.bin bs=1 seek=3073 conv=notrunc status=none
bad 'data_batch_4.bin: record 1 .*label 11' -- "${train[@]}" --model lenet5 --data data-label --out new
damaged tfifo && rm data-tfifo/test_batch.bin && mkfifo data-tfifo/test_batch.bin
bad 'test_batch.bin: expected a regular file, found a FIFO' -- "$CNNLAB" test run --data data-tfifo
damaged none && rm data-none/data_batch_5.bin
bad 'data_batch_5.bin' -- "${train[@]}" --model lenet5 --data data-none --out new
: >plainfile
bad 'plainfile' -- "${train[@]}" --model lenet5 --data plainfile --out new

# ---- other data: IDX, image folders (issue 16) ----
make_fake_idx idx 64 16 12
make_fake_images imgs 4 2
printf 'input 32 32 3\nconv 8 k=3\ngap\nlinear $classes\n' >fixed.cnn
bad 'fixed.cnn\) reads 32x32x3 images .*IDX data has 12x12x1' -- "${train[@]}" --model fixed.cnn --data idx --out new
bad "layer .*vgg11|vgg11.*layer" -- "${train[@]}" --model vgg11 --data idx --out new
: >imgs/train/red/zero.png
bad 'red/zero.png: empty file' -- "${train[@]}" --model lenet5 --data imgs --out new
rm imgs/train/red/zero.png && echo 'not an image' >imgs/train/green/note.jpg
bad 'green/note.jpg: not a PNG or JPEG image' -- "${train[@]}" --model lenet5 --data imgs --out new
head -c 100 imgs/train/red/001.png >imgs/train/red/cut.png && rm imgs/train/green/note.jpg
bad 'red/cut.png: .*PNG' -- "${train[@]}" --model lenet5 --data imgs --out new
rm imgs/train/red/cut.png
bad '--image-size' -- "${train[@]}" --model lenet5 --data imgs --image-size 0x3 --out new
bad '--dataset' -- "${train[@]}" --model lenet5 --data imgs --dataset png --out new
bad 'IDX training set.*train-images-idx3-ubyte' -- "${train[@]}" --model lenet5 --data data --dataset idx --out new
echo 'not an image' >notimage.png
bad 'notimage.png: not a PNG or JPEG image' -- "$CNNLAB" predict run notimage.png
bad 'nothere.png: no such file' -- "$CNNLAB" predict run nothere.png

# ---- flags ----
bad '--epochs' -- "${train[@]}" --model lenet5 --data data --out new --epochs 0
bad '--epochs' -- "${train[@]}" --model lenet5 --data data --out new --epochs x
bad '--lr' -- "${train[@]}" --model lenet5 --data data --out new --lr -1
bad '--batch-size' -- "${train[@]}" --model lenet5 --data data --out new --batch-size 0
bad '--no-such-flag' -- "${train[@]}" --model lenet5 --data data --out new --no-such-flag
bad '--milestones' -- "${train[@]}" --model lenet5 --data data --out new --lr-schedule multistep --milestones 0
bad '--milestones' -- "${train[@]}" --model lenet5 --data data --out new --lr-schedule multistep --milestones 2,1
bad '--model' -- "${train[@]}" --model no_such_model --data data --out new
bad '--out: run folder run already exists' -- "${train[@]}" --model lenet5 --data data --out run

# ---- model files ----
model() { # model NAME TEXT...: writes NAME.cnn from printf-style lines
    local name=$1
    shift
    printf '%s\n' "$@" >"$name.cnn"
}
perl -e 'print "block b0\n  conv 8 k=3\nend\n";
         print "block b$_\n  b", $_ - 1, "\nend\n" for 1..3999;
         print "b3999\ngap\nlinear 10\n"' >chain.cnn
bad 'chain.cnn:.*nested at most 64 deep' -- "$CNNLAB" summary chain.cnn
perl -e 'print "block b0\n  b3999\nend\n";
         print "block b$_\n  b", $_ - 1, "\nend\n" for 1..3999;
         print "conv 8 k=3\ngap\nlinear 10\n"' >cycle.cnn
bad 'cycle.cnn:.*recursion: .*b0 -> b3999 .*blocks\) ->' -- "$CNNLAB" summary cycle.cnn
model params "block big $(echo p{0..39}=1)" "  conv 8 k=3" "end" "big p39=2" "gap" "linear 10"
bad 'params.cnn:1:.*block big: expected at most 32 parameters, found 40' -- "$CNNLAB" summary params.cnn
model flat1 "input 46341 46341 1" "flatten" "linear 10"
bad 'model flat1: input 46341x46341x1: expected .*at most 268435456 values' -- "$CNNLAB" summary flat1.cnn
model flat2 "input 65536 65536 1" "flatten" "linear 10"
bad 'model flat2: input 65536x65536x1' -- "$CNNLAB" summary flat2.cnn
model wide "input 1024 1024 3" "conv 1048576 k=1" "gap" "linear 10"
bad 'model wide, layer 1 .*output 1024x1024x1048576: expected' -- "$CNNLAB" summary wide.cnn
model expr "a = 1099511627776 * 1099511627776" "conv 8 k=3" "gap" "linear 10"
bad 'expr.cnn:1:.*within \+-2\^40' -- "$CNNLAB" summary expr.cnn
model longname "name $(printf 'x%.0s' {1..70})" "conv 8 k=3" "gap" "linear 10"
bad "longname.cnn: model name .*at most 63 bytes" -- "$CNNLAB" summary longname.cnn
model vars "w = 8" "conv \$w k=3" "gap" "linear 10"
bad 'vars.cnn: variables set from outside \(--var\): expected at most 127 bytes' -- \
    "${train[@]}" --model vars.cnn --var "w=$(printf '0%.0s' {1..200})8" --data data --out new
bad 'vars.cnn: variables set from outside: .*w=99999999999999999999' -- \
    "$CNNLAB" summary vars.cnn --var w=99999999999999999999
model longkey "conv 8 k=3 $(printf 'k%.0s' {1..70})=1" "gap" "linear 10"
bad "longkey.cnn:1:.*unknown key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'" -- \
    "$CNNLAB" summary longkey.cnn
model unknown "conv 8 k=3" "frobnicate" "gap" "linear 10"
bad "unknown.cnn:2:1: expected a layer kind" -- "$CNNLAB" summary unknown.cnn
model k0 "conv 8 k=0" "gap" "linear 10"
bad 'k0.cnn:1:10: conv k: expected 1 to 64, found 0' -- "$CNNLAB" summary k0.cnn
model cneg "conv -1 k=3" "gap" "linear 10"
bad 'cneg.cnn:1:6: conv channels: expected 1 to 1048576, found -1' -- "$CNNLAB" summary cneg.cnn
model lin0 "conv 8 k=3" "gap" "linear 0"
bad 'lin0.cnn:3:8: linear features: expected 1 to 1048576, found 0' -- "$CNNLAB" summary lin0.cnn
model in0 "input 0 32 3" "conv 8 k=3" "gap" "linear 10"
bad 'in0.cnn:1:7: input H: expected 1 to 65536, found 0' -- "$CNNLAB" summary in0.cnn
model div0 "a = 4 / 0" "conv \$a k=3" "gap" "linear 10"
bad 'div0.cnn:1:7: expected a non-zero divisor' -- "$CNNLAB" summary div0.cnn
model undef "conv \$nope k=3" "gap" "linear 10"
bad "undef.cnn:1:6: expected a variable set before this line .*'\\\$nope'" -- "$CNNLAB" summary undef.cnn
model noend "block b" "  conv 8 k=3" "gap" "linear 10"
bad "noend.cnn:1:1: expected 'end' closing this 'block'" -- "$CNNLAB" summary noend.cnn
model dupblock "block b" "conv 8 k=3" "end" "block b" "conv 8 k=3" "end" "b" "gap" "linear 10"
bad "dupblock.cnn:4:7: duplicate block 'b'" -- "$CNNLAB" summary dupblock.cnn
: >empty.cnn
bad 'empty.cnn: expected at least one layer, found none' -- "$CNNLAB" summary empty.cnn
model stride "conv 8 k=3 stride=0" "gap" "linear 10"
bad 'stride.cnn:1:19: conv stride: expected 1 to 64, found 0' -- "$CNNLAB" summary stride.cnn
model dupkey "conv 8 k=3 k=5" "gap" "linear 10"
bad "dupkey.cnn:1:12: duplicate key 'k'" -- "$CNNLAB" summary dupkey.cnn
mkdir dir.cnn
bad 'dir.cnn: expected a regular file, found a directory' -- "$CNNLAB" summary dir.cnn
mkfifo fifo.cnn
bad 'fifo.cnn: expected a regular file, found a FIFO' -- "$CNNLAB" summary fifo.cnn
printf 'conv 8 k=3\n\0gap\nlinear 10\n' >nul.cnn
bad 'nul.cnn line 2: expected text, found a NUL byte' -- "$CNNLAB" summary nul.cnn
model in16 "input 16 16 3" "conv 8 k=3" "gap" "linear 10"
bad 'model in16 \(in16.cnn\) reads 16x16x3 images .*CIFAR-10 data has 32x32x3' -- \
    "${train[@]}" --model in16.cnn --data data --out new
model cls5 "classes 5" "conv 8 k=3" "gap" "linear \$classes"
bad 'model cls5 \(cls5.cnn\) reads 32x32x3 images into 5 classes' -- \
    "${train[@]}" --model cls5.cnn --data data --out new

# ---- run folders, checkpoints, metrics ----
copy_run() { cp -r run "run-$1"; rm -f "run-$1/test.json"; }
copy_run wdir && rm "run-wdir/best.weights" && mkdir "run-wdir/best.weights"
bad 'best.weights: expected a regular file, found a directory' -- "$CNNLAB" test run-wdir --data data
copy_run wfifo && rm "run-wfifo/best.weights" && mkfifo "run-wfifo/best.weights"
bad 'best.weights: expected a regular file, found a FIFO' -- "$CNNLAB" test run-wfifo --data data
copy_run wshort && truncate -s 100 run-wshort/best.weights
bad 'best.weights: not a cnnlab weights file' -- "$CNNLAB" test run-wshort --data data
copy_run wflip && printf '\x7f' | dd of=run-wflip/best.weights bs=1 seek=600 conv=notrunc status=none
bad 'best.weights: checksum mismatch' -- "$CNNLAB" test run-wflip --data data
copy_run rdir && rm run-rdir/status.txt run-rdir/resume.state && mkdir run-rdir/resume.state
bad 'resume.state: expected a regular file, found a directory' -- "$CNNLAB" train --resume run-rdir
copy_run rshort && rm run-rshort/status.txt && truncate -s 20 run-rshort/resume.state
bad 'resume.state' -- "$CNNLAB" train --resume run-rshort
bad '--resume: run run has ended' -- "$CNNLAB" train --resume run
copy_run mdir && rm run-mdir/metrics.csv && mkdir run-mdir/metrics.csv
bad 'metrics.csv: expected a regular file, found a directory' -- "$CNNLAB" plot run-mdir -o scratch/p

# ---- checkpoints: stored values checked as the flags they came from ----
# setw FILE OFFSET TEXT: writes TEXT NUL-padded into a weights or resume file's
# fixed field at OFFSET (0 bytes: none), then its FNV-1a checksum again.
setw() {
    perl -e 'use integer;
        my ($f, $off, $text, $len) = @ARGV;
        open(my $h, "+<", $f) or die; binmode $h; local $/; my $d = <$h>;
        substr($d, $off, $len) = pack("a$len", $text) if $len > 0;
        my $b = substr($d, 0, length($d) - 8); my $s = -3750763034362895579;
        for my $c (unpack("C*", $b)) { $s ^= $c; $s *= 1099511628211; }
        substr($d, -8) = pack("q<", $s);
        seek($h, 0, 0); print $h $d; close $h' "$@"
}
# weights: magic 8, version 4, model 64 at 12, options 192 at 76, vars 128 at 268
for opt in dropout=nan dropout=2 dropconnect=-1 kernel_size=0 kernel_size=3.5 groups=abc groups=99999; do
    copy_run "o-$opt" && setw "run-o-$opt/best.weights" 76 "$opt" 192
    bad "best.weights: stored model option ${opt%%=*}=.*expected .* \(as --" -- \
        "$CNNLAB" test "run-o-$opt" --data data
done
copy_run mpath && rm run-mpath/model.cnn && setw run-mpath/best.weights 12 ../evil.cnn 64
bad "best.weights: holds model '../evil.cnn', which is not a built-in" -- "$CNNLAB" test run-mpath --data data
copy_run ver && printf '\x04' | dd of=run-ver/best.weights bs=1 seek=8 conv=notrunc status=none &&
    setw run-ver/best.weights 0 '' 0
bad 'best.weights: weights format version 4, expected 3' -- "$CNNLAB" test run-ver --data data
copy_run wlong && head -c 2000 /dev/zero >>run-wlong/best.weights && setw run-wlong/best.weights 0 '' 0
bad 'best.weights: expected [0-9]+ bytes for' -- "$CNNLAB" test run-wlong --data data
copy_run wnone && rm run-wnone/best.weights
bad 'best.weights' -- "$CNNLAB" test run-wnone --data data
copy_run mnul && printf 'conv 8 k=3\n\0' >run-mnul/model.cnn
bad 'model.cnn line 2: expected text, found a NUL byte' -- "$CNNLAB" test run-mnul --data data
bad 'no-such-run' -- "$CNNLAB" test no-such-run --data data
# A run of a model that reads CIFAR-10, its model.cnn then edited to read
# 16x16 images (same parameters: gap): refused before the test set is read.
model g32 "name g32" "conv 8 k=3" "gap" "linear \$classes"
if "${train[@]}" --model g32.cnn --data data --out run-g32 >scratch/g32.log 2>&1; then
    pass "a good run of a model whose parameters do not depend on the image size"
else
    fail "the g32 run failed: $(cat scratch/g32.log)"
fi
rm -f run-g32/test.json && sed -i '1a input 16 16 3' run-g32/model.cnn
bad 'model g32 \(run-g32/model.cnn\) reads 16x16x3 images .*CIFAR-10 data has 32x32x3' -- \
    "$CNNLAB" test run-g32 --data data
copy_run sflip && rm run-sflip/status.txt && printf '\x55' |
    dd of=run-sflip/resume.state bs=1 seek=40 conv=notrunc status=none
bad 'resume.state: .*checksum' -- "$CNNLAB" train --resume run-sflip
copy_run sfifo && rm run-sfifo/status.txt run-sfifo/resume.state && mkfifo run-sfifo/resume.state
bad 'resume.state: expected a regular file, found a FIFO' -- "$CNNLAB" train --resume run-sfifo
bad '--resume' -- "$CNNLAB" train --resume no-such-run
copy_run cnul && rm run-cnul/status.txt && perl -pi -e 's/^# cnnlab (.*)$/# cnnlab \0$1/' run-cnul/config.txt
bad 'config.txt line 1: expected text, found a NUL byte' -- "$CNNLAB" train --resume run-cnul
copy_run cnul2 && perl -pi -e 's/^tta = 0$/tta = 0\0/' run-cnul2/config.txt
bad 'config.txt line [0-9]+: expected text, found a NUL byte' -- "$CNNLAB" test run-cnul2 --data data

# ---- flags ----
bad '--dropout' -- "${train[@]}" --model lenet5 --data data --out new --dropout nan
bad '--dropout' -- "${train[@]}" --model lenet5 --data data --out new --dropout 1
bad '--lr' -- "${train[@]}" --model lenet5 --data data --out new --lr nan
bad '--lr' -- "${train[@]}" --model lenet5 --data data --out new --lr inf
bad '--val-fraction' -- "${train[@]}" --model lenet5 --data data --out new --val-fraction 1
bad '--label-smoothing' -- "${train[@]}" --model lenet5 --data data --out new --label-smoothing 1
bad '--threads' -- "${train[@]}" --model lenet5 --data data --out new --threads 0
bad '--seed' -- "${train[@]}" --model lenet5 --data data --out new --seed -1
bad '--kernel-size' -- "${train[@]}" --model lenet5 --data data --out new --kernel-size 0
bad '--groups' -- "${train[@]}" --model lenet5 --data data --out new --groups 0
bad '--epochs' -- "${train[@]}" --model lenet5 --data data --out new --epochs 1e99
bad '--batch-size' -- "${train[@]}" --model lenet5 --data data --out new --batch-size 99999999999
bad '--subset' -- "${train[@]}" --model lenet5 --data data --out new --subset 999999
bad 'plainfile: exists and is not a directory' -- "${train[@]}" --model lenet5 --data data --out plainfile
bad '--lr-schedule' -- "${train[@]}" --model lenet5 --data data --out new --lr-schedule sometimes
bad '--model' -- "${train[@]}" --model '' --data data --out new
bad 'no-such.cnn' -- "$CNNLAB" summary no-such.cnn
bad "vars.cnn: variables set from outside: expected NAME=INTEGER .*found 'novalue'" -- \
    "$CNNLAB" summary vars.cnn --var novalue
bad "vars.cnn: cannot set variable 'nodecl': expected one the file declares" -- \
    "$CNNLAB" summary vars.cnn --var nodecl=1

# ---- metrics files and plots ----
plotrun() { # plotrun NAME TEXT: a copy of run whose metrics.csv is TEXT (printf format)
    copy_run "$1" && printf "$2" >"run-$1/metrics.csv"
}
H='epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second'
plotrun mnul2 "$H\n1,2.3,0.1,2.3,0.1,0.01,1,100\n\0002,2.2,0.2,2.2,0.2,0.01,1,100\n"
bad 'metrics.csv line 3: expected text, found a NUL byte' -- "$CNNLAB" plot run-mnul2 -o scratch/p
plotrun mwide "$(printf 'c%d,' {1..70})$H\n"
bad 'metrics.csv line 1: the header has 78 columns; expected at most 64' -- "$CNNLAB" plot run-mwide -o scratch/p
plotrun mempty ''
bad 'metrics.csv: empty file' -- "$CNNLAB" plot run-mempty -o scratch/p
plotrun mhead "$H\n"
bad 'metrics.csv: no epochs recorded' -- "$CNNLAB" plot run-mhead -o scratch/p
plotrun mcol 'epoch,train_loss,train_acc,val_loss,val_acc\n1,2,0.1,2,0.1\n'
bad "metrics.csv line 1: the header lacks the column 'lr'" -- "$CNNLAB" plot run-mcol -o scratch/p
plotrun mnum "$H\n1,2.3,0.1,abc,0.1,0.01,1,100\n"
bad "metrics.csv line 2: val_loss: expected a number, found 'abc'" -- "$CNNLAB" plot run-mnum -o scratch/p
plotrun mshort "$H\n1,2.3,0.1\n"
bad 'metrics.csv line 2: expected at least 6 fields, found 3' -- "$CNNLAB" plot run-mshort -o scratch/p
copy_run mnone && rm run-mnone/metrics.csv
bad 'metrics.csv: not found' -- "$CNNLAB" plot run-mnone -o scratch/p
copy_run mfifo && rm run-mfifo/metrics.csv && mkfifo run-mfifo/metrics.csv
bad 'metrics.csv: expected a regular file, found a FIFO' -- "$CNNLAB" plot run-mfifo -o scratch/p
bad 'no-such-run' -- "$CNNLAB" plot no-such-run -o scratch/p
bad '--no-such-flag' -- "$CNNLAB" plot run --no-such-flag -o scratch/p

# ---- study specs (study.txt), read by `cnnlab select` and `cnnlab study` ----
study_base=(--model lenet5 --epochs 1 --subset 64 --batch-size 32 --val-fraction 0.02 --threads 2
            --data data)
if "$CNNLAB" study --out study --vary dropout=0,0.3 "${study_base[@]}" >scratch/study.log 2>&1; then
    pass "a good study to damage"
else
    fail "the good study failed: $(cat scratch/study.log)"
fi
spec() { # spec NAME SED: a copy of the study whose study.txt is edited by SED
    cp -r study "study-$1" && sed -i -e "$2" "study-$1/study.txt"
}
spec long "s/^seed = 1\$/seed = 1\\n$(printf 'x%.0s' {1..3000}) = 1/"
bad 'study.txt:[0-9]+: expected a line of at most 2047 bytes, found 3004' -- "$CNNLAB" select study-long
spec rx 's/^repeats = 1$/repeats = x/'
bad "study.txt:[0-9]+: repeats: expected an integer in \[1, 2048\], found 'x'" -- "$CNNLAB" select study-rx
spec r0 's/^repeats = 1$/repeats = 0/'
bad 'study.txt:[0-9]+: repeats: expected an integer' -- "$CNNLAB" select study-r0
spec rbig 's/^repeats = 1$/repeats = 99999999999/'
bad 'study.txt:[0-9]+: repeats: expected an integer' -- "$CNNLAB" select study-rbig
spec g2 's/^grid = 0$/grid = 2/'
bad "study.txt:[0-9]+: grid: expected an integer in \[0, 1\], found '2'" -- "$CNNLAB" select study-g2
spec sneg 's/^seed = 1$/seed = -1/'
bad "study.txt:[0-9]+: seed: expected an integer .*found '-1'" -- "$CNNLAB" select study-sneg
spec sx 's/^seed = 1$/seed = 1x/'
bad "study.txt:[0-9]+: seed: expected an integer .*found '1x'" -- "$CNNLAB" select study-sx
spec nokv 's/^seed = 1$/seed 1/'
bad "study.txt:[0-9]+: expected 'key = value', found 'seed 1'" -- "$CNNLAB" select study-nokv
spec preset "s/^seed = 1\$/seed = 1\\npreset = $(printf 'p%.0s' {1..200})/"
bad 'study.txt:[0-9]+: preset: expected at most 127 bytes, found 200' -- "$CNNLAB" select study-preset
spec base "s/^seed = 1\$/seed = 1\\nbase = --model $(printf 'm%.0s' {1..300})/"
bad 'study.txt:[0-9]+: base: expected a flag and a value of at most 255 bytes each' -- "$CNNLAB" select study-base
cp -r study study-nul && perl -pi -e 's/^seed = 1$/seed = 1\0/' study-nul/study.txt
bad 'study-nul/study.txt line [0-9]+: expected text, found a NUL byte' -- "$CNNLAB" select study-nul
cp -r study study-sdir && rm study-sdir/study.txt && mkdir study-sdir/study.txt
bad 'study.txt: expected a regular file, found a directory' -- "$CNNLAB" select study-sdir
cp -r study study-sfifo && rm study-sfifo/study.txt && mkfifo study-sfifo/study.txt
bad 'study.txt: expected a regular file, found a FIFO' -- "$CNNLAB" select study-sfifo
cp -r study study-snone && rm study-snone/study.txt
bad 'study-snone is not a study folder' -- "$CNNLAB" select study-snone
bad '--out study holds a different study' -- "$CNNLAB" study --out study --vary dropout=0,0.5 "${study_base[@]}"
bad '--out data exists and is not a study folder' -- "$CNNLAB" study --out data --vary dropout=0,0.5 "${study_base[@]}"
bad 'plainfile' -- "$CNNLAB" study --out plainfile --vary dropout=0,0.5 "${study_base[@]}"
bad '--vary' -- "$CNNLAB" study --out new --vary no-such-flag=1,2 "${study_base[@]}"
bad '--vary' -- "$CNNLAB" study --out new --vary dropout= "${study_base[@]}"
bad '--repeats' -- "$CNNLAB" study --out new --vary dropout=0,0.5 --repeats 0 "${study_base[@]}"
bad '--jobs' -- "$CNNLAB" study --out new --vary dropout=0,0.5 --jobs 0 "${study_base[@]}"
bad '--preset' -- "$CNNLAB" study --out new --preset no-such-preset "${study_base[@]}"
bad '--out' -- "$CNNLAB" study --vary dropout=0,0.5 "${study_base[@]}"
bad '--dropout|dropout' -- "$CNNLAB" study --out new --vary dropout=0,nan "${study_base[@]}"
v32=$(seq -s, 1 32)
bad 'more than 2048 runs \(--grid of 32 x 32 x 32 x 32 values' -- "$CNNLAB" study --out new --grid \
    --vary batch-size="$v32" --vary epochs="$v32" --vary cutout-size="$v32" --vary step-size="$v32" \
    "${study_base[@]}"

# ---- accepted with a warning: milestones past the end (PyTorch accepts them) ----
cases=$((cases + 1))
err=$(timeout 60 "${train[@]}" --model lenet5 --data data --out scratch/ms --lr-schedule multistep \
    --milestones 1,2 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 0 ] && grep -q -- '--milestones: warning: 1 at or past the end' <<<"$err"; then
    pass "--milestones 1,2 --epochs 1: trained, warned: $(head -n1 <<<"$err")"
else
    fail "--milestones 1,2 --epochs 1 -> exit $rc: $err"
fi

[ -e new ] && fail "a refused command left the folder 'new'"
echo "cli_badinput: $cases cases, $fails failed"
[ "$fails" -eq 0 ]
