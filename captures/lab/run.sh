#!/bin/bash
# Regenerate the ike-sniff lab captures.  Run as root:
#   captures/lab/run.sh                 # every scenario
#   captures/lab/run.sh healthy_ikev2   # only some
# See README.md.
set -euo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
. "$LAB/lib.sh"
. "$LAB/scenarios.sh"

# keyformats.sh points these elsewhere so that the committed pcaps/ and keys/
# (golden tests depend on them) stay untouched
PCAPS=${IKE_LAB_PCAPS:-$LAB/pcaps}
KEYS=${IKE_LAB_KEYS:-$LAB/keys}
LOGS=${IKE_LAB_LOGS:-}

[ "$(id -u)" = 0 ] || die "run as root"
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

ensure_tools
ensure_chroot
ensure_libreswan
mkdir -p "$WORK" "$PCAPS" "$KEYS"

if [ $# -eq 0 ]; then set -- "${ALL_SCENARIOS[@]}"; fi
for sc in "$@"; do
    declare -F "sc_$sc" >/dev/null || die "unknown scenario $sc (known: ${ALL_SCENARIOS[*]})"
done
for sc in "$@"; do
    log "=== scenario $sc"
    rm -rf "${WORK:?}"/*
    SC=$sc
    "sc_$sc"
    cleanup
    if [ -n "$LOGS" ]; then keep_logs "$LOGS/$sc"; fi
    log "wrote $PCAPS/$sc.pcap ($(stat -c %s "$PCAPS/$sc.pcap") bytes)"
done
