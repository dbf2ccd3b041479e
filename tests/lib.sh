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
