#!/bin/bash
# show.sh SCENARIO: the IKE/ICMP-error summary of one capture, decrypted
# with its keys when there are any (a quick check after regenerating)
LAB=$(cd "$(dirname "$0")" && pwd)
f=$1
K=$LAB/keys/$f; [ -d "$K" ] || K=/nonexistent
WIRESHARK_CONFIG_DIR=$K tshark -r "$LAB/pcaps/$f.pcap" -Y "${2:-isakmp or icmp.type==3 or icmpv6.type<=2}" \
    -T fields -E occurrence=a -E aggregator=/ -e frame.number -e frame.time_relative -e ip.src -e ipv6.src -e udp.dstport \
    -e isakmp.exchangetype -e isakmp.notify.msgtype -e isakmp.enc.decrypted -e icmp.type -e icmp.code 2>/dev/null
