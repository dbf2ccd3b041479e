# lib.sh: shared by the cli_*.sh scripts (source it; not run on its own).
#
# cli_start NAME: the start of every script: CNNLAB (the binary, default
# build/cnnlab) made absolute, $tmp a fresh folder /tmp/cnnlab-NAME.XXXXXX
# removed on exit (a script with background work sets its own trap after),
# fails=0, and pass/fail, which print each check and count the failures.
cli_start() {
    CNNLAB=${CNNLAB:-build/cnnlab}
    CNNLAB=$(cd "$(dirname "$CNNLAB")" && pwd)/$(basename "$CNNLAB")
    tmp=$(mktemp -d "/tmp/cnnlab-$1.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT
    fails=0
}
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# expect STATUS PATTERN -- command...: the command's exit status is STATUS and
# a line of its stderr matches PATTERN (extended regex).
expect() {
    local want=$1 pattern=$2
    shift 3
    local out rc
    out=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
        pass "exit $rc: $(head -n1 <<<"$out")"
    else
        fail "$* -> exit $rc (want $want), stderr: $out (want /$pattern/)"
    fi
}

# kill_at_checkpoint DIR CMD...: runs CMD in the background and SIGKILLs it as
# soon as DIR/resume.state exists (its first epoch is on disk), or lets it
# end; returns once it has gone. The caller checks DIR/status.txt to tell
# whether it was cut.
kill_at_checkpoint() {
    local dir=$1 pid
    shift
    "$@" >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [ ! -e "$dir/resume.state" ]; do
        sleep 0.01
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
#
# make_fake_cifar DIR: writes a fake CIFAR-10 folder in the official binary
# layout (data_batch_1..5.bin, test_batch.bin, 10000 records each) into DIR,
# creating it. Each record is a label byte and 3072 pixels; class k images are
# bright in a band that depends on k, so a model can learn them.
make_fake_cifar() {
    local dir=$1
    mkdir -p "$dir"
    perl -e '
  for my $f (1..5, "test") {
    my $name = $f eq "test" ? "test_batch.bin" : "data_batch_$f.bin";
    open(my $o, ">", "'"$dir"'/$name") or die;
    binmode $o;
    for my $i (0..9999) {
      my $k = ($i * 7 + (($f eq "test") ? 3 : $f)) % 10;
      my $row = chr(40) x (3 * $k) . chr(220) x 3 . chr(40) x (29 - 3 * $k);
      my $plane = substr($row x 32, 0, 1024);
      print $o chr($k), $plane x 3;
    }
    close $o;
  }'
}

# make_fake_idx DIR N_TRAIN N_TEST SIDE: an MNIST-style folder in DIR
# (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz and the t10k pair),
# SIDE x SIDE images of 3 classes; class k is bright in a band of rows that
# depends on k, so a model can learn them.
make_fake_idx() {
    mkdir -p "$1"
    /usr/bin/python3 - "$@" <<'PY'
import gzip, struct, sys
d, ntr, nte, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for name, n in (("train", ntr), ("t10k", nte)):
    labels = bytes((i * 7 + (name == "t10k")) % 3 for i in range(n))
    px = bytearray()
    for i, k in enumerate(labels):
        for y in range(side):
            on = y * 3 // side == k
            px += bytes((200 if on else 30) + (i + x) % 7 for x in range(side))
    with gzip.open(f"{d}/{name}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, side, side) + bytes(px))
    with gzip.open(f"{d}/{name}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)
PY
}

# make_fake_images DIR N_TRAIN N_TEST: an image folder in torchvision's
# layout, DIR/train/{red,green}/NNN.png and DIR/test/..., RGB PNGs of mixed
# sizes (12x12 to 20x17) whose colour says the class.
make_fake_images() {
    /usr/bin/python3 - "$@" <<'PY'
import os, struct, sys, zlib
d, ntr, nte = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def png(path, w, h, rgb):
    raw = b"".join(b"\0" + b"".join(bytes(rgb(x, y)) for x in range(w)) for y in range(h))
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for split, n in (("train", ntr), ("test", nte)):
    for k, cls in enumerate(("red", "green")):
        os.makedirs(f"{d}/{split}/{cls}", exist_ok=True)
        for i in range(n):
            w, h = 12 + (i * 5) % 9, 12 + (i * 3) % 6
            c = lambda x, y: (200 - (x + y + i) % 40, 40 + (x * y) % 30, 60) if k == 0 else (40 + (x * y) % 30, 200 - (x + y + i) % 40, 60)
            png(f"{d}/{split}/{cls}/{i:03d}.png", w, h, c)
PY
}
