#!/usr/bin/env bash
# cli_crash.sh: crash safety. `cnnlab train` is killed (SIGKILL) at 20 moments
# drawn from a seeded generator: during start-up, in the middle of the run
# (after its first checkpoint) and while a checkpoint is being written (the
# moment a temporary file NAME.tmp.PID.N appears). After each kill the run is
# continued with `train --resume` (or, killed before its first checkpoint,
# refused by --resume and trained again) and must end as the uninterrupted run
# ends: status.txt, metrics.csv (every epoch once; times aside), last.weights,
# best.weights and resume.state byte for byte, no temporary file left, and no
# epoch lost that the killed run had reported finished. Then a study is killed
# a few times at drawn moments, rerun each time, and must end with the
# summary.csv (times aside) and weights of an uninterrupted study. --conv
# direct pins the convolution algorithms; two kills run at a time (one thread
# each). A full disk (ulimit -f) while a checkpoint is written stops the run
# with one line naming the file and keeps the previous checkpoint, from which
# --resume goes on. Prints each check; exits non-zero on failure.
set -u
. "$(dirname "$0")/lib.sh"
cli_start crash

data=$tmp/cifar-10-batches-bin
make_fake_cifar "$data"
flags=(--model lenet5 --epochs 3 --subset 512 --batch-size 64 --lr 0.05 --lr-schedule cosine
       --augment crop,flip --dropout 0.1 --val-fraction 0.01 --threads 1 --conv direct
       --data "$data")
now() { echo "${EPOCHREALTIME/./}"; } # microseconds

# The uninterrupted run, timed: whole_us from start to end, span_us from its
# first checkpoint (resume.state appears) to the end. The kills are drawn in
# these spans, so they land in each phase on a machine of any speed.
t0=$(now)
"$CNNLAB" train "${flags[@]}" --out "$tmp/whole" >"$tmp/whole.log" 2>&1 &
whole_pid=$!
while kill -0 "$whole_pid" 2>/dev/null && [ ! -e "$tmp/whole/resume.state" ]; do
    sleep 0.01
done
t_ck=$(now)
wait "$whole_pid" || fail "the uninterrupted run failed: $(cat "$tmp/whole.log")"
whole_us=$(($(now) - t0))
span_us=$(($(now) - t_ck))

# killer PID DIR MODE VALUE: SIGKILL to PID, when MODE is
#   t: VALUE seconds after the start;
#   r: VALUE seconds after DIR/resume.state first exists;
#   w: the VALUE-th temporary file seen in DIR appears (polled every 0.1 ms).
# Returns without killing if PID ends first (a zombie counts as ended).
killer() {
    perl -MTime::HiRes=time,usleep -e '
        my ($pid, $dir, $mode, $value) = @ARGV;
        my ($t0, %seen, $n) = (time, (), 0);
        sub alive { open(my $f, "<", "/proc/$pid/stat") or return 0; my $s = <$f>;
                    return $s !~ /^\d+ \(.*\) [ZX] /; }
        while (alive()) {
            if ($mode eq "w") {
                if (opendir(my $d, $dir)) {
                    for (readdir $d) { $n++ if /\.tmp\.\d+\.\d+$/ && !$seen{$_}++; }
                    closedir $d;
                }
                if ($n >= $value) { kill "KILL", $pid; exit; }
                usleep(100);
            } else {
                if ($mode eq "r" && !-e "$dir/resume.state") { $t0 = time; usleep(100); next; }
                if (time - $t0 >= $value) { kill "KILL", $pid; exit; }
                usleep(1000);
            }
        }' "$@"
}

# cycle I MODE VALUE: one kill, the recovery, the checks; results in $tmp/res.I
cycle() {
    local i=$1 mode=$2 value=$3 dir=$tmp/k$1 where after last out when
    case $mode in
        t) when="at $value s" ;;
        r) when="$value s after the first checkpoint" ;;
        *) when="at temporary file $value" ;;
    esac
    {
        "$CNNLAB" train "${flags[@]}" --out "$dir" >"$tmp/k$i.log" 2>&1 &
        local pid=$!
        killer "$pid" "$dir" "$mode" "$value"
        wait "$pid" 2>/dev/null
        # What the run had reported finished (train prints and flushes an
        # epoch's line after its checkpoint), and where the kill landed.
        last=$(grep -oE '^epoch +[0-9]+' "$tmp/k$i.log" | tail -n1 | grep -oE '[0-9]+$')
        last=${last:-0}
        if [ -e "$dir/status.txt" ]; then
            where=uncut
        elif ls "$dir" 2>/dev/null | grep -qE '\.tmp\.[0-9]+\.[0-9]+$'; then
            where="write of $(ls "$dir" | grep -E '\.tmp\.' | sed -E 's/\.tmp\..*//' | paste -sd' ')"
        elif [ -e "$dir/resume.state" ]; then
            where=mid
        else
            where=startup
        fi
        echo "where $where"
        if [ ! -e "$dir/resume.state" ] && [ "$where" != uncut ]; then
            # No checkpoint yet: --resume refuses, the run is trained again.
            out=$("$CNNLAB" train --resume "$dir" 2>&1 >/dev/null)
            if [ -d "$dir" ] && ! grep -q 'finished no epoch' <<<"$out"; then
                echo "FAIL kill $i ($when, $where, no checkpoint yet): --resume said: $out"
            elif [ "$last" -ne 0 ]; then
                echo "FAIL kill $i ($when): epoch $last was reported but has no checkpoint"
            fi
            rm -rf "$dir"
            "$CNNLAB" train "${flags[@]}" --out "$dir" >>"$tmp/k$i.log" 2>&1
        elif [ "$where" != uncut ]; then
            "$CNNLAB" train --resume "$dir" >>"$tmp/k$i.log" 2>&1 ||
                echo "FAIL kill $i ($when, $where): --resume failed: $(tail -n 3 "$tmp/k$i.log")"
            after=$(grep -oE 'after epoch [0-9]+' "$tmp/k$i.log" | tail -n1 | grep -oE '[0-9]+$')
            [ "${after:-0}" -ge "$last" ] ||
                echo "FAIL kill $i ($when, $where): epoch $last was reported finished, but --resume went on after epoch ${after:-none}"
        fi
        local bad=""
        diff -q "$tmp/whole/status.txt" "$dir/status.txt" >/dev/null 2>&1 || bad="$bad status.txt"
        [ "$(cut -d, -f1-6 "$tmp/whole/metrics.csv")" = "$(cut -d, -f1-6 "$dir/metrics.csv" 2>/dev/null)" ] ||
            bad="$bad metrics.csv"
        for f in last.weights best.weights resume.state; do
            cmp -s "$tmp/whole/$f" "$dir/$f" || bad="$bad $f"
        done
        local left
        left=$(ls -A "$dir" 2>/dev/null | grep -E '\.tmp\.' | tr '\n' ' ')
        [ -z "$left" ] || bad="$bad temporary files left: $left"
        if [ -n "$bad" ]; then
            echo "FAIL kill $i ($when, $where, resumed after epoch ${after:-0}): differs from the uninterrupted run:$bad"
        else
            echo "ok   kill $i ($when) landed: $where${after:+, resumed after epoch $after}: the run ends as the uninterrupted one"
        fi
    } >"$tmp/res.$i" 2>&1
}

# The 20 moments, drawn once from seed 19: start-up (t: 0 to 60 % of the
# uninterrupted run's time, most of it reading the data), mid-run (r: after the
# first checkpoint, 0 to 60 % of the uninterrupted run's time from there to its
# end), checkpoint writes (w: the k-th temporary file seen, 2 to 6; config.txt
# and model.cnn come first, then up to 4 an epoch, of which the poll sees most).
RANDOM=19
modes=() values=()
for i in $(seq 0 19); do
    case $((i % 5)) in
        0) modes+=(t) values+=("$(awk -v r=$RANDOM -v d="$whole_us" 'BEGIN { printf "%.3f", r / 32768 * 0.6 * d / 1e6 }')") ;;
        1 | 2) modes+=(r) values+=("$(awk -v r=$RANDOM -v d="$span_us" 'BEGIN { printf "%.3f", r / 32768 * 0.6 * d / 1e6 }')") ;;
        *) modes+=(w) values+=($((RANDOM % 5 + 2))) ;;
    esac
done
for i in $(seq 0 2 19); do
    # (stderr: only the shell's notes on killed jobs; the rest goes to res.I)
    cycle "$i" "${modes[$i]}" "${values[$i]}" 2>/dev/null &
    cycle $((i + 1)) "${modes[$((i + 1))]}" "${values[$((i + 1))]}" 2>/dev/null &
    wait
done
declare -A landed=([startup]=0 [mid]=0 [write]=0 [uncut]=0)
for i in $(seq 0 19); do
    grep -v '^where ' "$tmp/res.$i"
    fails=$((fails + $(grep -c '^FAIL' "$tmp/res.$i")))
    w=$(grep -oE '^where [a-z]+' "$tmp/res.$i" | cut -d' ' -f2)
    landed[${w:-uncut}]=$((landed[${w:-uncut}] + 1))
done
summary="start-up ${landed[startup]}, mid-run ${landed[mid]}, checkpoint write ${landed[write]}, after the end ${landed[uncut]}"
if [ "${landed[startup]}" -ge 1 ] && [ "${landed[mid]}" -ge 1 ] && [ "${landed[write]}" -ge 1 ]; then
    pass "20 kills landed: $summary"
else
    fail "the kills did not reach every phase: $summary"
fi

# ---- a full disk during a checkpoint ----
# A run killed right after its first checkpoint is resumed under a file-size
# limit (ulimit -f, in KiB) that epoch 2's checkpoint exceeds: at 700 KiB the
# 726 KiB last.weights fails first, at 1000 KiB the 1.4 MiB resume.state (the
# weights before it are written). Each must stop with one line naming the file,
# exit 2, leave no temporary file and keep the previous checkpoint, which a
# --resume with the limit lifted takes to the uninterrupted run's end.
for limit in 700 1000; do
    dir=$tmp/full$limit
    "$CNNLAB" train "${flags[@]}" --out "$dir" >/dev/null 2>&1 &
    pid=$!
    killer "$pid" "$dir" r 0
    wait "$pid" 2>/dev/null # (stderr: the shell's note on the killed job)
    [ "$limit" = 700 ] && kept="best.weights last.weights resume.state" || kept="resume.state"
    file=$([ "$limit" = 700 ] && echo last.weights || echo resume.state)
    before=$(cd "$dir" && md5sum $kept)
    rows=$(head -n 2 "$dir/metrics.csv")
    err=$( (ulimit -f "$limit"; "$CNNLAB" train --resume "$dir" 2>&1 >/dev/null) )
    rc=$?
    lines=$(grep -c '^cnnlab' <<<"$err")
    left=$(ls -A "$dir" | grep -E '\.tmp\.' | tr '\n' ' ')
    if [ ! -e "$dir/resume.state" ] || [ -e "$dir/status.txt" ]; then
        fail "ulimit -f $limit: the run to fill was not cut after its first checkpoint"
    elif [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] ||
        ! grep -qE "^cnnlab train: $dir/$file: cannot write it \(File too large after [0-9]+ of [0-9]+ bytes\); the previous one is kept$" <<<"$err"; then
        fail "ulimit -f $limit: exit $rc (want 2), stderr: $err"
    elif [ -n "$left" ]; then
        fail "ulimit -f $limit: temporary files left: $left"
    elif [ "$(cd "$dir" && md5sum $kept)" != "$before" ] ||
        [ "$(head -n 2 "$dir/metrics.csv")" != "$rows" ]; then
        fail "ulimit -f $limit: the previous checkpoint changed"
    else
        pass "ulimit -f $limit: '${err#cnnlab train: "$tmp"/}', exit 2, $kept as before"
    fi
    if "$CNNLAB" train --resume "$dir" >"$tmp/full$limit.log" 2>&1 &&
        grep -q 'after epoch 1 of 3' "$tmp/full$limit.log" &&
        [ "$(cut -d, -f1-6 "$tmp/whole/metrics.csv")" = "$(cut -d, -f1-6 "$dir/metrics.csv")" ] &&
        cmp -s "$tmp/whole/best.weights" "$dir/best.weights" &&
        cmp -s "$tmp/whole/resume.state" "$dir/resume.state" &&
        diff -q "$tmp/whole/status.txt" "$dir/status.txt" >/dev/null; then
        pass "ulimit -f $limit, then --resume with room again: the uninterrupted run's end"
    else
        fail "ulimit -f $limit, then --resume: $(tail -n 3 "$tmp/full$limit.log")"
    fi
done

# ---- a study, killed at drawn moments, rerun until it completes ----
sflags=(--vary dropout=0,0.3 --vary norm=batch --model lenet5 --epochs 2 --subset 256
        --batch-size 64 --val-fraction 0.01 --conv direct --threads 1 --data "$data")
untimed() { sed -E 's/,[^,]*,[^,]*$//' "$1"; } # summary.csv without its time columns
t0=$(now)
"$CNNLAB" study --out "$tmp/swhole" "${sflags[@]}" >"$tmp/swhole.log" 2>&1 ||
    fail "the uninterrupted study failed: $(cat "$tmp/swhole.log")"
study_us=$(($(now) - t0))
kills=""
for k in 1 2 3 4; do # (stderr: the shell's notes on killed jobs)
    delay=$(awk -v r=$RANDOM -v d="$study_us" 'BEGIN { printf "%.3f", r / 32768 * 0.7 * d / 1e6 }')
    # setsid: the study and its runs are one process group, killed at once.
    setsid "$CNNLAB" study --out "$tmp/scut" "${sflags[@]}" >>"$tmp/scut.log" 2>&1 &
    leader=$!
    killer "$leader" "$tmp/scut" t "$delay"
    { kill -KILL -- -"$leader"; wait "$leader"; } 2>/dev/null
    kills="$kills $delay s ($(ls "$tmp/scut/runs" 2>/dev/null | grep -vc '\.log$') runs begun)"
done 2>/dev/null
if "$CNNLAB" study --out "$tmp/scut" "${sflags[@]}" >>"$tmp/scut.log" 2>&1; then
    pass "study killed after$kills; the rerun completed"
else
    fail "the study rerun after$kills failed: $(tail -n 5 "$tmp/scut.log")"
fi
bad=""
[ "$(untimed "$tmp/swhole/summary.csv")" = "$(untimed "$tmp/scut/summary.csv" 2>/dev/null)" ] ||
    bad="$bad summary.csv"
for r in "$tmp"/swhole/runs/*/; do
    r=$(basename "$r")
    for f in last.weights best.weights status.txt; do
        cmp -s "$tmp/swhole/runs/$r/$f" "$tmp/scut/runs/$r/$f" || bad="$bad $r/$f"
    done
done
left=$(find "$tmp/scut" -name '*.tmp.*' | tr '\n' ' ')
[ -z "$left" ] || bad="$bad temporary files left: $left"
if [ -z "$bad" ]; then
    pass "the killed study ends with the uninterrupted study's summary.csv (times aside) and weights"
else
    fail "the killed study differs:$bad; $(diff <(untimed "$tmp/swhole/summary.csv") <(untimed "$tmp/scut/summary.csv") 2>&1 | head -n 6)"
fi

echo "cli_crash: $fails failed"
[ "$fails" -eq 0 ]
