#!/usr/bin/env bash
# race.sh FILE: ike-sniff against tcpdump and tshark on the same capture, in one run.
#
# Contenders (stdout to /dev/null):
#   ike-sniff        ike-sniff -r FILE --json                      (full analysis, JSON Lines)
#   tcpdump-filter   tcpdump -r FILE -w /dev/null '<IPsec filter>' (BPF filter pass, no decoding)
#   tcpdump-ike      tcpdump -nr FILE 'udp port 500 or udp port 4500' (decodes IKE)
#   tshark-isakmp    tshark -r SMALL -Y isakmp                     (full dissection)
#   ike-sniff-1t     ike-sniff -r FILE --json --threads 1          (the same, one thread)
#   suricata-ike     suricata -r FILE --runmode single, benches/suricata-ike.yaml: the IKE parser
#                    alone on UDP 500/4500, EVE ike records to a file, no rules (one thread)
#   suricata-autofp  the same in Suricata's default runmode (autofp: a thread per CPU)
# The Suricata contenders run only where `suricata` is installed (benches/install_suricata.sh);
# SURICATA=0 leaves them out.
# tshark is slow, so it reads SMALL: the first 1/TSHARK_DIV of FILE's packets (editcap -r), and
# its time is scaled up by packets (FILE's packets / SMALL's packets). ike-sniff is also timed on
# SMALL, so the tshark ratio is given both ways: scaled to FILE and head to head on SMALL.
#
# After one warm-up run of each (which also fills the page cache), RUNS rounds run the contenders
# alternately, one after another, so drift in the machine hits them all alike. Wall time comes
# from `date +%s%N` around each run; peak memory from `/usr/bin/time -f %M` (maximum RSS, KiB).
# Prints medians (min..max) of wall time, median CPU time, packets/s, MB/s, peak RSS and ratios
# to ike-sniff (of wall time), and the paired ratio: the median over rounds of each contender's
# wall time over ike-sniff's in the same round, which the machine's drift between rounds does
# not touch. Then how many IKE messages ike-sniff and Suricata logged, by UDP port and version.
#
# Environment: RUNS (default 5), TSHARK_DIV (default 50), IKE_SNIFF (default
# target/release/ike-sniff, built if missing), KEEP_SMALL=1 keeps the cut file.
set -euo pipefail

FILE=${1:?usage: benches/race.sh FILE}
RUNS=${RUNS:-5}
TSHARK_DIV=${TSHARK_DIV:-50}
cd "$(dirname "$0")/.."
IKE_SNIFF=${IKE_SNIFF:-target/release/ike-sniff}
if [[ ! -x $IKE_SNIFF ]]; then
    cargo build --release --quiet
fi
for tool in tcpdump tshark editcap /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "race.sh: $tool is missing" >&2; exit 2; }
done

FILTER='udp port 500 or udp port 4500 or esp or icmp or icmp6 or (ip[6:2] & 0x1fff != 0)'
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

packets_of() {
    "$IKE_SNIFF" -q --json -r "$1" | tail -n 1 | grep -o '"counters":{[^}]*}' | grep -o '"packets":[0-9]*' | cut -d: -f2
}

BYTES=$(stat -c %s "$FILE")
PACKETS=$(packets_of "$FILE")
SMALL="$TMP/small.pcap"
[[ -n ${KEEP_SMALL:-} ]] && SMALL="$FILE.head$TSHARK_DIV.pcap"
SMALL_N=$(( (PACKETS + TSHARK_DIV - 1) / TSHARK_DIV ))
editcap -r "$FILE" "$SMALL" "1-$SMALL_N" 2>/dev/null
SMALL_BYTES=$(stat -c %s "$SMALL")

ONE="$TMP/one.pcap"
editcap -r "$FILE" "$ONE" 1 2>/dev/null

names=(ike-sniff tcpdump-filter tcpdump-ike tshark-isakmp ike-sniff-small tshark-startup ike-sniff-1t)
SURICATA_YAML=$PWD/benches/suricata-ike.yaml
if [[ ${SURICATA:-1} != 0 ]] && command -v suricata >/dev/null; then
    names+=(suricata-ike suricata-autofp)
    mkdir -p "$TMP/eve-suricata-ike" "$TMP/eve-suricata-autofp"
fi
run_one() {
    case $1 in
        ike-sniff) "$IKE_SNIFF" -r "$FILE" --json >/dev/null 2>&1 ;;
        tcpdump-filter) tcpdump -r "$FILE" -w /dev/null "$FILTER" 2>/dev/null ;;
        tcpdump-ike) tcpdump -nr "$FILE" 'udp port 500 or udp port 4500' >/dev/null 2>&1 ;;
        tshark-isakmp) tshark -r "$SMALL" -Y isakmp >/dev/null 2>&1 ;;
        ike-sniff-small) "$IKE_SNIFF" -r "$SMALL" --json >/dev/null 2>&1 ;;
        tshark-startup) tshark -r "$ONE" -Y isakmp >/dev/null 2>&1 ;;
        ike-sniff-1t) "$IKE_SNIFF" -r "$FILE" --json --threads 1 >/dev/null 2>&1 ;;
        # -k none: no checksum checks (the corpus has valid ones; ike-sniff checks none either).
        suricata-ike | suricata-autofp)
            local mode=single
            [[ $1 == suricata-autofp ]] && mode=autofp
            rm -f "$TMP/eve-$1/eve.json"
            suricata -c "$SURICATA_YAML" -S /dev/null -k none --runmode "$mode" -l "$TMP/eve-$1" -r "$FILE" >/dev/null 2>&1 ;;
    esac
}
export -f run_one
export IKE_SNIFF FILE FILTER SMALL ONE TMP SURICATA_YAML

# Times one run: appends "wall_seconds rss_kib cpu_seconds" to $TMP/<name>.
measure() {
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$TMP/rss" bash -c "run_one $1"
    t1=$(date +%s%N)
    read -r rss user sys < <(tail -n 1 "$TMP/rss")
    echo "$(( (t1 - t0) / 1000 ))e-6 $rss $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" >>"$TMP/$1"
}

for n in "${names[@]}"; do
    run_one "$n" # warm-up: page cache, binaries
done
for ((r = 1; r <= RUNS; r++)); do
    for n in "${names[@]}"; do
        measure "$n"
    done
done

# Median, min, max of the wall times; max of the RSS (the `bash -c` wrapper's own RSS is a few
# MiB and below every contender's, so the maximum is the contender's); median CPU time (user +
# system, the wrapper's included: about 1 ms), which other load on the machine disturbs less.
stats() {
    local cpu
    cpu=$(awk '{ print $3 }' "$TMP/$1" | sort -n | awk '{ c[NR] = $1 } END { print (NR % 2) ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2 }')
    awk '{ printf "%.6f %d\n", $1, $2 }' "$TMP/$1" | sort -n | awk -v cpu="$cpu" '
        { t[NR] = $1; if ($2 > rss) rss = $2 }
        END {
            med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%.4f %.4f %.4f %d %.3f\n", med, t[1], t[NR], rss, cpu
        }'
}

echo "race.sh: $FILE: $BYTES bytes, $PACKETS packets; $RUNS alternating rounds after a warm-up"
echo "tshark reads the first $SMALL_N packets ($SMALL_BYTES bytes, 1/$TSHARK_DIV) and is scaled by packets"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/ { print $2 }') GiB; $(date -u +%FT%TZ)"
echo "ike-sniff: $($IKE_SNIFF --version); $(tcpdump --version 2>&1 | head -n 1); $(tshark --version 2>/dev/null | head -n 1)"
[[ -d $TMP/eve-suricata-ike ]] && echo "$(suricata -V)"
echo
read -r IKE_MED _ _ IKE_RSS IKE_CPU < <(stats ike-sniff)
read -r SMALL_MED _ _ _ < <(stats ike-sniff-small)
# Paired: round r of each contender over round r of ike-sniff (ike-sniff-small for tshark).
paired() {
    local base=ike-sniff
    [[ $1 == tshark-isakmp ]] && base=ike-sniff-small
    paste -d ' ' "$TMP/$1" "$TMP/$base" | awk '{ printf "%.6f\n", $1 / $4 }' | sort -n |
        awk '{ r[NR] = $1 } END { printf "%.2f\n", (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'
}
printf '%-16s %9s %19s %7s %11s %8s %9s %11s %8s\n' contender median_s "min..max_s" cpu_s packets/s MB/s peak_MiB "x ike-sniff" paired
for n in "${names[@]}"; do
    read -r med lo hi rss cpu < <(stats "$n")
    case $n in
        ike-sniff-small | tshark-startup) pr=- ;;
        *) pr=$(paired "$n") ;;
    esac
    case $n in
        tshark-isakmp | ike-sniff-small) pk=$SMALL_N; by=$SMALL_BYTES ;;
        tshark-startup) pk=1; by=0 ;;
        *) pk=$PACKETS; by=$BYTES ;;
    esac
    case $n in
        tshark-isakmp) ratio=$(awk -v a="$med" -v b="$SMALL_MED" 'BEGIN { printf "%.1f", a / b }') ;;
        ike-sniff-small | tshark-startup) ratio=- ;;
        *) ratio=$(awk -v a="$med" -v b="$IKE_MED" 'BEGIN { printf "%.2f", a / b }') ;;
    esac
    awk -v n="$n" -v med="$med" -v lo="$lo" -v hi="$hi" -v pk="$pk" -v by="$by" -v rss="$rss" -v ratio="$ratio" -v cpu="$cpu" -v pr="$pr" 'BEGIN {
        printf "%-16s %9.3f %9.3f..%-8.3f %7.3f %11.0f %8.1f %9.1f %11s %8s\n", n, med, lo, hi, cpu, pk / med, by / med / 1e6, rss / 1024, ratio, pr
    }'
done
read -r TS_MED _ _ _ _ < <(stats tshark-isakmp)
read -r T0_MED _ _ _ _ < <(stats tshark-startup)
awk -v ts="$TS_MED" -v t0="$T0_MED" -v sn="$SMALL_N" -v pk="$PACKETS" -v ike="$IKE_MED" 'BEGIN {
    if (ts <= t0 * 1.2) {
        printf "\ntshark: the cut file is too small to scale (%.3f s, startup %.3f s); use a bigger FILE or a smaller TSHARK_DIV\n", ts, t0
        exit
    }
    full = t0 + (ts - t0) * pk / sn
    printf "\ntshark scaled to the whole file: %.1f s = startup %.3f s (one-packet file) + (%.3f - %.3f) s x %d / %d packets = %.0f x ike-sniff\n", full, t0, ts, t0, pk, sn, full / ike
}'
read -r TF_MED _ _ _ TF_CPU < <(stats tcpdump-filter)
read -r TI_MED _ _ _ TI_CPU < <(stats tcpdump-ike)
awk -v ike="$IKE_MED" -v tf="$TF_MED" -v ti="$TI_MED" -v rss="$IKE_RSS" -v ic="$IKE_CPU" -v tfc="$TF_CPU" -v tic="$TI_CPU" 'BEGIN {
    printf "ike-sniff / tcpdump filter pass: %.2f wall, %.2f CPU (target <= 0.67)\n", ike / tf, (tfc > 0) ? ic / tfc : 0
    printf "tcpdump -nr IKE decode / ike-sniff: %.2f wall, %.2f CPU (target >= 3)\n", ti / ike, (ic > 0) ? tic / ic : 0
    printf "ike-sniff peak RSS: %.1f MiB (target <= 64 on the 1 GiB mix)\n", rss / 1024
}'

# IKE messages logged, by UDP port (4500 if either end is 4500) and major version: ike-sniff's
# packet lines with an `ike` object, Suricata's EVE `ike` records from its last run.
if [[ -d $TMP/eve-suricata-ike ]]; then
    echo
    echo "IKE messages logged (port version count):"
    "$IKE_SNIFF" -r "$FILE" --json 2>/dev/null | grep '^{"type":"packet"' | grep '"ike":{' |
        sed -E 's/.*"dport":([0-9]+).*"ike":\{.*"version":([0-9]+)\}.*"sport":([0-9]+).*/\1 \3 \2/' |
        awk '{ p = ($1 == 4500 || $2 == 4500) ? 4500 : 500; c[p " v" $3]++; t++ }
             END { for (k in c) print "  ike-sniff", k, c[k]; print "  ike-sniff total", t + 0 }' | sort
    grep '"event_type":"ike"' "$TMP/eve-suricata-ike/eve.json" |
        sed -E 's/.*"src_port":([0-9]+).*"dest_port":([0-9]+).*"version_major":([0-9]+).*/\1 \2 \3/' |
        awk '{ p = ($1 == 4500 || $2 == 4500) ? 4500 : 500; c[p " v" $3]++; t++ }
             END { for (k in c) print "  suricata", k, c[k]; print "  suricata total", t + 0 }' | sort
fi
