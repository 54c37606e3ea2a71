#!/usr/bin/env bash
# Peak resident memory under a flood, at 1x, 4x and 16x the input size: the tables are capped,
# so once they are full the peak must stay flat (issue 13 asks within 10 %).
#
#   benches/flood_rss.sh [BASE_MiB] [SEED] [KIND]   (default 64 MiB, seed 1, flood: 64, 256
#                                                    and 1024 MiB)
#
# Writes the floods to target/corpus/ (`ike-sniff-corpus --kind flood`: distinct ESP SPIs,
# distinct peers, IKE_SA_INIT with fresh SPIs, junk on UDP 500 and 4500; `fragment-flood`: IP
# fragment sets and RFC 7383 fragment sets that never complete) and prints one line
# per size and mode with the packets, the peak RSS (GNU time's %M), the ratio to the 1x peak
# and how many tables said they evicted.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-64}
seed=${2:-1}
kind=${3:-flood}
cargo build --release --locked --bins >/dev/null 2>&1
mkdir -p target/corpus
declare -A first
for mult in 1 4 16; do
    size=$((base * mult))
    f=target/corpus/${kind}-${size}m-s${seed}.pcap
    [ -f "$f" ] || ./target/release/ike-sniff-corpus --kind "$kind" --size "${size}MiB" \
        --seed "$seed" -o "$f" >/dev/null
    for mode in -q --json; do
        /usr/bin/time -o target/corpus/rss.time -f '%M' ./target/release/ike-sniff "$mode" \
            -r "$f" >target/corpus/rss.out 2>target/corpus/rss.err
        rss=$(cat target/corpus/rss.time)
        # The summary's packet count: the text line, or the first "packets" of the JSON
        # summary line (its counters come before the per-SA lists).
        packets=$(grep -E '^packets read|"type":"summary"' target/corpus/rss.out |
            grep -oE '"packets":[0-9]+|packets read [0-9]+' | sed -n 1p | grep -oE '[0-9]+')
        evicted=$(grep -c 'analysis degraded' target/corpus/rss.err || true)
        [ -n "${first[$mode]:-}" ] || first[$mode]=$rss
        ratio=$(awk -v a="$rss" -v b="${first[$mode]}" 'BEGIN { printf "%.3f", a / b }')
        printf '%5d MiB %-6s packets %9s  peak RSS %7d KiB  x%s of 1x  tables that evicted: %s\n' \
            "$size" "$mode" "${packets:-?}" "$rss" "$ratio" "$evicted"
    done
done
