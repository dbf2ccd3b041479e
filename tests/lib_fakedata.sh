# lib_fakedata.sh: shared by the cli_*.sh scripts (source it; not run on its own).
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
