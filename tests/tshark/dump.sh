#!/bin/sh
# Regenerates tshark's view of every outer IKE message in captures/, the reference that
# tests/tshark_differential.rs compares ike-sniff against. Needs tshark (Debian's package).
# Usage: tests/tshark/dump.sh   (from the repository root)
set -eu
cd "$(dirname "$0")/../.."
out=tests/tshark/dumps
rm -rf "$out"
mkdir -p "$out"
tshark -v | head -n 1 > tests/tshark/TSHARK_VERSION
find captures -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | LC_ALL=C sort |
while read -r f; do
    dump="$out/$(echo "$f" | sed 's|^captures/||; s|/|__|g').tsv"
    # -o isakmp... none: tshark's defaults; -2 would reassemble differently, so one pass.
    tshark -n -r "$f" -Y 'isakmp && !icmp && !icmpv6' -T fields -E separator=/t -E occurrence=a -E aggregator=, \
        -e frame.number -e isakmp.ispi -e isakmp.rspi -e isakmp.exchangetype \
        -e isakmp.messageid -e isakmp.length -e isakmp.notify.msgtype \
        > "$dump" 2>/dev/null || true
    [ -s "$dump" ] || rm -f "$dump"
done
echo "wrote $(ls "$out" | wc -l) dumps to $out"

# ESP (plain and UDP-encapsulated): SPI and sequence number per frame.
esp_out=tests/tshark/esp-dumps
rm -rf "$esp_out"
mkdir -p "$esp_out"
find captures -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | LC_ALL=C sort |
while read -r f; do
    dump="$esp_out/$(echo "$f" | sed 's|^captures/||; s|/|__|g').tsv"
    tshark -n -r "$f" -Y 'esp && !icmp && !icmpv6' -T fields -E separator=/t -E occurrence=f \
        -e frame.number -e esp.spi -e esp.sequence > "$dump" 2>/dev/null || true
    [ -s "$dump" ] || rm -f "$dump"
done
echo "wrote $(ls "$esp_out" | wc -l) ESP dumps to $esp_out"

# ICMP and ICMPv6 errors that quote an IPsec packet: type, code, MTU.
icmp_out=tests/tshark/icmp-dumps
rm -rf "$icmp_out"
mkdir -p "$icmp_out"
find captures -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | LC_ALL=C sort |
while read -r f; do
    dump="$icmp_out/$(echo "$f" | sed 's|^captures/||; s|/|__|g').tsv"
    tshark -n -r "$f" -Y '((icmp.type in {3, 4, 11, 12}) || (icmpv6.type in {1, 2, 3, 4})) && (udp.port in {500, 4500} || esp || ah)' \
        -T fields -E separator=/t -E occurrence=f \
        -e frame.number -e icmp.type -e icmp.code -e icmp.mtu -e icmpv6.type -e icmpv6.code -e icmpv6.mtu \
        > "$dump" 2>/dev/null || true
    [ -s "$dump" ] || rm -f "$dump"
done
echo "wrote $(ls "$icmp_out" | wc -l) ICMP dumps to $icmp_out"

# TCP on port 4500 (RFC 8229 streams): tshark 4.0's "tcpencap" dissector is Cisco's and
# NetScreen's IPsec-over-TCP (a 16-byte trailer), not RFC 8229, so the reference is its TCP
# layer: every segment's ports, flags, raw sequence number, length and payload bytes.
tcp_out=tests/tshark/tcp-dumps
rm -rf "$tcp_out"
mkdir -p "$tcp_out"
find captures -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | LC_ALL=C sort |
while read -r f; do
    dump="$tcp_out/$(echo "$f" | sed 's|^captures/||; s|/|__|g').tsv"
    tshark -n -r "$f" -Y 'tcp.port == 4500' -T fields -E separator=/t -E occurrence=f \
        -e frame.number -e tcp.srcport -e tcp.dstport -e tcp.flags -e tcp.seq_raw -e tcp.len -e tcp.payload \
        > "$dump" 2>/dev/null || true
    [ -s "$dump" ] || rm -f "$dump"
done
echo "wrote $(ls "$tcp_out" | wc -l) TCP dumps to $tcp_out"

# With keys (tests/tshark/keyed.tsv): tshark's decryption of every IKE message and ESP packet.
# IKE: frame, SPIs, message ID, every payload type (inner ones included; IKEv1/IKEv2 proposal
# and transform substructures show as 2 and 3), every notify type. ESP: frame, SPI, sequence,
# next header, whether the ICV checked, and the inner packet's addresses, protocol and ports.
# ICMP errors are left out by type: they quote ESP, and an ICMP echo inside the tunnel is kept.
dec_out=tests/tshark/decrypted
rm -rf "$dec_out"
mkdir -p "$dec_out"
grep -v '^#' tests/tshark/keyed.tsv | while IFS="$(printf '\t')" read -r cap uat _; do
    conf=$(mktemp -d)
    for u in $(echo "$uat" | tr ',' ' '); do
        src="captures/$u"
        if [ -d "$src" ]; then cp "$src"/* "$conf"/; continue; fi
        case "$src" in
            *ikev2_decryption_table) cp "$src" "$conf/ikev2_decryption_table" ;;
            *ikev1_decryption_table) cp "$src" "$conf/ikev1_decryption_table" ;;
            *esp_sa*) cp "$src" "$conf/esp_sa" ;;
        esac
    done
    printf 'esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n' >> "$conf/preferences"
    base="$dec_out/$(echo "$cap" | sed 's|/|__|g')"
    WIRESHARK_CONFIG_DIR="$conf" tshark -n -r "captures/$cap" -Y 'isakmp && !icmp && !icmpv6' -T fields \
        -E separator=/t -E occurrence=a -E aggregator=, \
        -e frame.number -e isakmp.ispi -e isakmp.rspi -e isakmp.messageid -e isakmp.typepayload \
        -e isakmp.notify.msgtype > "$base.ike.tsv" 2>/dev/null || true
    WIRESHARK_CONFIG_DIR="$conf" tshark -n -r "captures/$cap" -Y 'esp && !(icmp.type in {3, 4, 5, 11, 12}) && !(icmpv6.type in {1, 2, 3, 4})' -T fields \
        -E separator=/t -E occurrence=a -E aggregator=, \
        -e frame.number -e esp.spi -e esp.sequence -e esp.protocol -e esp.icv_good \
        -e ip.src -e ip.dst -e ip.proto -e ipv6.src -e ipv6.dst -e ipv6.nxt -e tcp.srcport -e tcp.dstport \
        -e udp.srcport -e udp.dstport > "$base.esp.tsv" 2>/dev/null || true
    for f in "$base.ike.tsv" "$base.esp.tsv"; do [ -s "$f" ] || rm -f "$f"; done
    rm -rf "$conf"
done
echo "wrote $(ls "$dec_out" | wc -l) decrypted dumps to $dec_out"
