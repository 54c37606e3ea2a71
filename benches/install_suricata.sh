#!/usr/bin/env bash
# install_suricata.sh: installs Suricata 7 from Debian's bookworm-backports, for benches/race.sh.
#
# bookworm itself carries Suricata 6, whose IKE parser logs IKEv2 only; 7.0 (backports) logs IKEv1
# and IKEv2. The backports suite is added as a copy of the stanza in
# /etc/apt/sources.list.d/debian.sources that lists `bookworm`, so the mirror URI already
# configured on the machine is reused rather than named here. Idempotent; needs root.
set -euo pipefail

SRC=/etc/apt/sources.list.d/debian.sources
BP=/etc/apt/sources.list.d/debian-backports.sources
if ! grep -qs 'bookworm-backports' "$SRC" "$BP"; then
    # The first stanza whose Suites list holds `bookworm` (the main archive, not -security):
    # print it with its Suites replaced, as a stanza of its own.
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
        /\nSuites:[^\n]*(^| )bookworm( |\n|$)/ && !done {
            sub(/\nSuites:[^\n]*/, "\nSuites: bookworm-backports"); print; done = 1 }' "$SRC" |
        sed '/^#/d' >"$BP"
    grep -q 'Suites: bookworm-backports' "$BP" || { echo "install_suricata.sh: no bookworm stanza in $SRC" >&2; rm -f "$BP"; exit 2; }
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports suricata >/dev/null
suricata -V
