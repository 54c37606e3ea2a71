#!/usr/bin/env bash
# Soak benchmark (not CI): `ike-sniff -i` with --metrics on a veth pair for DURATION seconds while
# tcpreplay loops the lab captures into it with --unique-ip (new addresses each loop, so tunnels
# keep appearing and the capped tables fill and evict), sampling ike-sniff's RSS and CPU every
# second and its tracker tables (through /metrics) every 10 s. Prints a summary and leaves the
# samples in a CSV.
#
#   sudo benches/soak.sh [DURATION_S] [PPS] [CSV]
#
# Defaults: 600 s, 2000 packets/s, /tmp/ike-sniff-soak-<pid>.csv. IKE_SNIFF_ARGS adds options.
# Needs root, iproute2, tcpreplay, mergecap/capinfos (wireshark-common) and a release build.
# Traffic stays inside two namespaces made here and deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${IKE_SNIFF:-target/release/ike-sniff}
DURATION=${1:-600}
PPS=${2:-2000}
TAG=$$
CSV=${3:-/tmp/ike-sniff-soak-$TAG.csv}
[ "$(id -u)" = 0 ] || { echo "soak.sh: needs root (namespaces, capture)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "soak.sh: build first: cargo build --release" >&2; exit 2; }

NS_A=isms-a-$TAG NS_B=isms-b-$TAG IF_A=ismsA$TAG IF_B=ismsB$TAG
WORK=$(mktemp -d /tmp/ike-sniff-soak.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

mergecap -a -F pcap -w "$WORK/lab.pcap" captures/lab/pcaps/*.pcap
PKTS=$(capinfos -c -M "$WORK/lab.pcap" | awk '/Number of packets/ {print $NF}')

ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$NS_A" link add "$IF_A" type veth peer name "$IF_B" netns "$NS_B"
ip -n "$NS_A" link set "$IF_A" mtu 9000 up
ip -n "$NS_B" link set "$IF_B" mtu 9000 up
ip -n "$NS_B" link set lo up

HZ=$(getconf CLK_TCK)
ip netns exec "$NS_B" "$BIN" -i "$IF_B" --json -q --stats-interval 60 \
    --metrics 127.0.0.1:9897 ${IKE_SNIFF_ARGS:-} >"$WORK/ike.jsonl" 2>"$WORK/ike.err" &
PID=$!; PIDS+=("$PID")
until grep -q "running as\|capabilities dropped\|keeping root" "$WORK/ike.err" 2>/dev/null; do sleep 0.1; done

scrape() { # the tracker's entries and evictions, one "table=entries/evicted" word per table
    ip netns exec "$NS_B" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9897; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3' 2>/dev/null \
        | awk '/^ike_sniff_tracker_entries\{/ {match($0, /table="[a-z_]*"/); t=substr($0, RSTART+7, RLENGTH-8); e[t]=$2}
               /^ike_sniff_tracker_evictions_total\{/ {match($0, /table="[a-z_]*"/); t=substr($0, RSTART+7, RLENGTH-8); v[t]=$2}
               END {for (t in e) printf "%s=%d/%d ", t, e[t], v[t]}'
}

echo "soak: $PKTS packets per loop (lab captures), $PPS packets/s, --unique-ip, $DURATION s; $(nproc) CPUs; $(uname -r)"
ip netns exec "$NS_A" tcpreplay -q -K --unique-ip --loop=0 --pps="$PPS" --duration="$DURATION" -i "$IF_A" "$WORK/lab.pcap" \
    >"$WORK/replay.out" 2>&1 &
RPID=$!; PIDS+=("$RPID")

echo "t_s,rss_kib,cpu_s,tables" >"$CSV"
START=$(date +%s)
T=0
while kill -0 "$RPID" 2>/dev/null; do
    sleep 1
    T=$(( $(date +%s) - START ))
    RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    CPU=$(awk -v hz="$HZ" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$PID/stat")
    TABLES=""
    if [ $((T % 10)) = 0 ]; then TABLES=$(scrape); fi
    echo "$T,$RSS,$CPU,$TABLES" >>"$CSV"
    if [ $((T % 60)) = 0 ]; then echo "  ${T}s: RSS $RSS KiB, CPU $CPU s, $TABLES"; fi
done
sleep 2
FINAL_TABLES=$(scrape)
kill -INT "$PID"; wait "$PID" || true
CAP=$(grep '"type":"capture"' "$WORK/ike.jsonl" | tail -1)
get() { echo "$CAP" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
awk -F, -v dur="$DURATION" 'NR > 1 {
        if ($1 >= 60 && !w) { w = $2; wt = $1 }
        if ($1 >= 60 && (min == "" || $2 < min)) min = $2
        if ($2 > max) max = $2
        last = $2; cpu = $3; t = $1
    }
    END {
        printf "RSS: %d KiB at %d s (after warm-up), %d KiB at the end (%d s), max %d KiB, min after warm-up %d KiB\n", w, wt, last, t, max, min
        printf "CPU: %.1f s over %d s = %.1f %% of one core\n", cpu, t, 100 * cpu / t
    }' "$CSV"
echo "tables at the end: $FINAL_TABLES"
echo "capture: analysed $(get packets), received $(get received), dropped by kernel $(get dropped_kernel), by interface $(get dropped_interface)"
echo "replay: $(grep -E 'Actual|Rated' "$WORK/replay.out" | tr -s ' ' | paste -sd' ')"
echo "samples: $CSV"
