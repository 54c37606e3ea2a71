#!/usr/bin/env bash
# Runs fuzz targets: `fuzz/run.sh SECONDS [TARGET...]` (every target when none is named), each
# for SECONDS on its corpus (fuzz/corpus/TARGET, git-ignored, grown by campaigns) and its
# committed seeds (fuzz/seeds/; the pipeline target shares capture_file's). One job at a time,
# a single libFuzzer process (the machine's two CPUs are shared); the libFuzzer summary of each
# run goes to fuzz/logs/TARGET.log. A crash, a timeout or an out-of-memory fails the script.
set -euo pipefail
cd "$(dirname "$0")"
secs=$1
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(packet ike_v1 ike_v2 ip_reassembly skf_reassembly capture_file pipeline keys fortigate_text)
fi
# cargo-fuzz needs nightly flags (-Zsanitizer and friends); the stable toolchain accepts them
# with RUSTC_BOOTSTRAP. No sanitizer: the code under test is safe Rust, and the build keeps
# debug assertions and overflow checks on (cargo fuzz's default), so an overflow is a crash.
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -s none >/dev/null
mkdir -p logs
for t in "${targets[@]}"; do
    seeds=seeds/$t
    max_len=16384
    # Inputs take well under a millisecond; the timeout leaves room for a shared, loaded
    # machine (at 1 s, a campaign under `nice -n 19` on two busy CPUs stopped on an input that
    # runs in 0.25 ms), and `slowest_unit_time_sec` in the log tells a slow input apart.
    timeout=5
    case $t in
    pipeline) seeds=seeds/capture_file; max_len=65536; timeout=9 ;;
    capture_file | fortigate_text) max_len=65536 ;;
    esac
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${secs}s"
    cargo fuzz run -s none "$t" "corpus/$t" "$seeds" -- \
        -dict=ike.dict -max_total_time="$secs" -timeout="$timeout" -max_len="$max_len" \
        -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
        >"logs/$t.log" 2>&1 || { tail -40 "logs/$t.log"; exit 1; }
    grep -E "^stat::(number_of_executed_units|slowest_unit_time_sec|peak_rss_mb)|DONE" "logs/$t.log" |
        sed "s/^/fuzz: $t: /" || true
done
