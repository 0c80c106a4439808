#!/usr/bin/env bash
# Hostile inputs and interrupted work (issue 21), the long runs: not part of the check, whose
# short fixed-seed versions are tests/fuzz_readers.rs, tests/faults_files.rs and
# tests/faults_kill.rs. This script
#   1. fuzzes every reader (IDX raw and gzip, config.json, state.json, model.bpk,
#      optimizer.bpk) for DDPM_FUZZ_SECONDS seconds each (default 60) and counts executions and
#      crashes (the ignored test fuzz_readers::fuzz_budget);
#   2. kills tiny training runs with SIGKILL at random moments, DDPM_KILL_TRIALS trials
#      (default 20), and checks each resume and the final weights (faults_kill::kill_budget);
#   3. where it may mount a file system (root), fills a small tmpfs with checkpoints
#      (faults_files::a_real_full_disk).
# and writes the figures to chapters/output/faults-run.md, which the book's appendix
# "Hostile inputs and interrupted work" includes. Everything runs under `nice -n 19`.
#
# Usage: bash scripts/faults.sh            (about 10 + 5 minutes on a 2-core machine)
#        DDPM_FUZZ_SECONDS=5 DDPM_KILL_TRIALS=3 bash scripts/faults.sh   (a quick look)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddpm-target}"
export CARGO_PROFILE_RELEASE_INCREMENTAL="${CARGO_PROFILE_RELEASE_INCREMENTAL:-true}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export DDPM_FUZZ_SECONDS="${DDPM_FUZZ_SECONDS:-60}"
export DDPM_KILL_TRIALS="${DDPM_KILL_TRIALS:-20}"
export DDPM_KILL_MAX_PER_TRIAL="${DDPM_KILL_MAX_PER_TRIAL:-4}"
# The check's build flags, so that burn is not compiled a second time.
flags=(--config scripts/check-profile.toml --release --features solutions,wgpu)
out=chapters/output/faults-run.md
log=$(mktemp)
run_test() { # test-file test-name
    nice -n 19 cargo test "${flags[@]}" --test "$1" -- --ignored --exact "$2" --nocapture \
        --test-threads 1 2>&1 | tee -a "$log"
}

nice -n 19 cargo test "${flags[@]}" --no-run --test fuzz_readers --test faults_kill --test faults_files
start=$(date +%s)
run_test fuzz_readers fuzz_budget
run_test faults_kill kill_budget
disk="(not run: mounting a tmpfs needs root)"
if [ "$(id -u)" = 0 ]; then
    mnt=$(mktemp -d)
    # 2 MiB: the config, the loss file and about two checkpoints of the tiny network (a
    # checkpoint, weights, EMA weights and Adam's two moments, is about 0.7 MB).
    if mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
        DDPM_FULL_DISK_DIR="$mnt" run_test faults_files a_real_full_disk
        umount "$mnt"
        disk=$(grep -o 'FULL-DISK .*' "$log" | sed 's/^FULL-DISK //' | paste -sd ' ' -)
    fi
    rmdir "$mnt"
fi
seconds=$(( $(date +%s) - start ))

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
    echo "<!-- Written by scripts/faults.sh; do not edit: run \`bash scripts/faults.sh\`. -->"
    echo
    echo "Measured by \`DDPM_FUZZ_SECONDS=$DDPM_FUZZ_SECONDS DDPM_KILL_TRIALS=$DDPM_KILL_TRIALS bash scripts/faults.sh\`"
    echo "at commit $(git rev-parse --short HEAD) on $cpu ($(nproc) cores, shared with other"
    echo "work, under \`nice -n 19\`), $(date -u +%Y-%m-%d), $seconds s in all."
    echo
    echo "| reader fuzzed | executions | accepted | refused | crashes | most memory, share of its bound |"
    echo "|---|---|---|---|---|---|"
    # (a test's first line of output follows `test NAME ... ` on the same line: match anywhere)
    grep -o 'FUZZ {.*' "$log" | sed 's/^FUZZ //' | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("| {} | {:,} | {:,} | {:,} | {} | {:.2f} |".format(r["target"], r["executions"], r["accepted"], r["refused"], r["crashes"], r["worst_allocation_ratio"]))
'
    echo
    grep -o 'FUZZ-TOTAL.*' "$log" | sed 's/^FUZZ-TOTAL /Fuzzing in all: /' | sed 's/$/./'
    echo
    grep -o 'KILL {.*' "$log" | sed 's/^KILL //' | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("Killed with SIGKILL: {} trials, {} kills at random moments ({} before the first checkpoint), "
      "{} resumes each checked to start at the last complete checkpoint; {} of {} finished runs "
      "identical to the uninterrupted one (largest parameter difference {}, same loss.csv), in {} s."
      .format(r["trials"], r["kills"], r["kills_before_first_checkpoint"], r["resumes_checked"],
              r["identical_runs"], r["trials"], r["worst_max_abs_diff"], r["seconds"]))
'
    echo
    echo "A real full disk (a 2 MiB tmpfs, a checkpoint every step): $disk"
} >"$out"
rm -f "$log"
echo "wrote $out"
cat "$out"
