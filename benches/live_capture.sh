#!/usr/bin/env bash
# Live-capture benchmark: replays a capture at top speed through a veth pair between two
# network namespaces while `ike-sniff -i` (full analysis, --json) and then `tcpdump -w /dev/null`
# capture the other end, and reports packets received and dropped and CPU time per packet.
#
#   sudo benches/live_capture.sh [FILE] [LOOPS]
#
# FILE: any Ethernet pcap/pcapng (default: every capture in captures/lab/pcaps, concatenated);
# LOOPS: how many times tcpreplay sends it (default: enough for about 1 M packets).
# IKE_SNIFF_ARGS: extra ike-sniff options (e.g. -q: no per-packet lines).
# Needs root, iproute2, tcpreplay, tcpdump, mergecap (wireshark-common) and a release build
# (`cargo build --release`). Everything happens inside two namespaces created here and deleted
# on exit; nothing is sent anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${IKE_SNIFF:-target/release/ike-sniff}
[ "$(id -u)" = 0 ] || { echo "live_capture.sh: needs root (namespaces, capture)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "live_capture.sh: build first: cargo build --release" >&2; exit 2; }

TAG=$$
NS_A=iksb-a-$TAG NS_B=iksb-b-$TAG IF_A=ikbA$TAG IF_B=ikbB$TAG
WORK=$(mktemp -d /tmp/ike-sniff-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

FILE=${1:-}
if [ -z "$FILE" ]; then
    FILE=$WORK/lab.pcap
    mergecap -a -F pcap -w "$FILE" captures/lab/pcaps/*.pcap
fi
PKTS=$(capinfos -c -M "$FILE" | awk '/Number of packets/ {print $NF}')
LOOPS=${2:-$(( (1000000 + PKTS - 1) / PKTS ))}
# Both capture with ike-sniff's kernel filter, so both see the same packets.
FILTER=$("$BIN" --print-filter)
KEPT=$(tcpdump -nn -q -r "$FILE" "$FILTER" 2>/dev/null | wc -l)
TOTAL=$(( PKTS * LOOPS ))
KEPT_TOTAL=$(( KEPT * LOOPS ))

ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$NS_A" link add "$IF_A" type veth peer name "$IF_B" netns "$NS_B"
ip -n "$NS_A" link set "$IF_A" mtu 9000 up
ip -n "$NS_B" link set "$IF_B" mtu 9000 up

HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

replay() {
    ip netns exec "$NS_A" tcpreplay --topspeed -K --loop="$LOOPS" -i "$IF_A" "$FILE" 2>&1 \
        | awk '/Actual:/ {print "in " $(NF-1) " s"} /Rated:/ {print "at " $(NF-1) " pps"}' | paste -sd' '
}

report() { # name pid received dropped_kernel dropped_if analysed rate
    local ticks=$2
    printf '%-10s replay %-28s received %9s  dropped by kernel %7s  by interface %s  analysed/written %9s  CPU %6.2f s  %6.0f ns/packet\n' \
        "$1" "$7" "$3" "$4" "$5" "$6" "$(echo "$ticks / $HZ" | bc -l)" "$(echo "$ticks / $HZ * 1000000000 / $KEPT_TOTAL" | bc -l)"
}

echo "file $FILE: $PKTS packets ($KEPT kept by the filter) x $LOOPS loops = $TOTAL sent, $KEPT_TOTAL to capture; $(nproc) CPUs; $(uname -r)"

# ike-sniff: full analysis, JSON Lines (to a file: the last lines hold the counters).
ip netns exec "$NS_B" "$BIN" -i "$IF_B" --json --stats-interval 0 ${IKE_SNIFF_ARGS:-} >"$WORK/ike.jsonl" 2>"$WORK/ike.err" &
PID=$!; PIDS+=("$PID")
until grep -q "running as\|capabilities dropped\|keeping root" "$WORK/ike.err" 2>/dev/null; do sleep 0.1; done
RATE=$(replay)
sleep 2
TICKS=$(cpu_ticks "$PID")
kill -INT "$PID"; wait "$PID" || true
CAP=$(grep '"type":"capture"' "$WORK/ike.jsonl" | tail -1)
get() { echo "$CAP" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
report ike-sniff "$TICKS" "$(get received)" "$(get dropped_kernel)" "$(get dropped_interface)" "$(get packets)" "$RATE"

# tcpdump: same filter, buffer and snap length, writing to /dev/null.
ip netns exec "$NS_B" tcpdump -i "$IF_B" -B 65536 -s 262144 -w /dev/null "$FILTER" 2>"$WORK/td.err" &
PID=$!; PIDS+=("$PID")
until grep -q "listening on" "$WORK/td.err" 2>/dev/null; do sleep 0.1; done
RATE=$(replay)
sleep 2
TICKS=$(cpu_ticks "$PID")
kill -INT "$PID"; wait "$PID" || true
td() { awk -v k="$1" '$0 ~ k {print $1}' "$WORK/td.err"; }
report tcpdump "$TICKS" "$(td 'received by filter')" "$(td 'dropped by kernel')" "$(td 'dropped by interface' || true)" "$(td 'packets captured')" "$RATE"
