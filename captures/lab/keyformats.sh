#!/bin/bash
# Run lab scenarios again, this time keeping the daemons' own key output, so
# that every key format the loader reads has a real sample from a real daemon
# next to the Wireshark tables keys.py derives from the same run.  Run as root:
#   captures/lab/keyformats.sh                      # the default three
#   captures/lab/keyformats.sh healthy_ikev2        # only these
# Writes captures/lab/keyformats/<scenario>/ (see README.md there).  The
# committed pcaps/ and keys/ are not touched: run.sh writes to a scratch
# folder here.
set -euo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
OUT=$LAB/keyformats
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
if [ $# -eq 0 ]; then set -- healthy_ikev2 healthy_ikev1 ikev2_cookie_libreswan; fi

TMP=$(mktemp -d /var/tmp/ike-lab-keyformats.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# plutodebug "private" makes pluto log the IKE SA keys as tcpdump -E lines
# (`| ikev2 I ...`) and "crypt" the ESP keys it hands the kernel
IKE_LAB_PCAPS=$TMP/pcaps IKE_LAB_KEYS=$TMP/keys IKE_LAB_LOGS=$TMP/logs \
    LS_EXTRA_SETUP='    plutodebug="base crypt private"' "$LAB/run.sh" "$@"

for sc in "$@"; do
    d=$OUT/$sc
    rm -rf "${d:?}"
    mkdir -p "$d"
    cp "$TMP/pcaps/$sc.pcap" "$d/capture.pcap"
    for f in ikev2_decryption_table ikev1_decryption_table esp_sa preferences; do
        if [ -f "$TMP/keys/$sc/$f" ]; then cp "$TMP/keys/$sc/$f" "$d/$f"; fi
    done
    for h in left right; do
        if [ -f "$TMP/logs/$sc/$h.charon.log" ]; then
            python3 "$LAB/keyformats_filter.py" charon <"$TMP/logs/$sc/$h.charon.log" >"$d/charon-$h.log"
        fi
        if [ -f "$TMP/logs/$sc/$h.pluto.log" ]; then
            python3 "$LAB/keyformats_filter.py" pluto <"$TMP/logs/$sc/$h.pluto.log" >"$d/pluto-$h.log"
        fi
    done
    echo "wrote $d: $(ls "$d" | tr '\n' ' ')" >&2
done
