#!/usr/bin/env python3
"""Builds reflection.pcap: what a host sees when IKE requests forged with its address reach many
responders. The IKE payloads are the real responses in ike-scan's test vectors (pkt-*.dat, from
royhills/ike-scan, GPL-3.0-or-later; see ../SOURCES.md); they all answer the initiator cookie
deadbeefdeadbeef, as ike-scan's --cookie sets it. Only the framing is made here: Ethernet, IPv4
and UDP from 12 responders (documentation addresses) to the victim 192.0.2.99, IKEv1 answers
sent three times 2 s apart (responders resend Main/Aggressive Mode answers while the initiator
stays silent), IKEv2 answers once. Run it from this folder; the output is deterministic."""
import struct

VICTIM = bytes([192, 0, 2, 99])
RESPONSES = [
    ("pkt-main-mode-response.dat", 500, 3),
    ("pkt-aggr-mode-response.dat", 500, 3),
    ("pkt-v2-sainit-response.dat", 500, 1),
    ("pkt-aggr-cert-response.dat", 500, 3),
    ("pkt-main-natt-response.dat", 4500, 3),
    ("pkt-notify-response.dat", 500, 1),
]
REFLECTORS = [bytes([198, 51, 100, 10 + i]) for i in range(6)] + [bytes([203, 0, 113, 20 + i]) for i in range(6)]
START = 1700000000


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, port, payload, ident):
    udp_len = 8 + len(payload)
    pseudo = src + VICTIM + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", port, port, udp_len, 0) + payload
    udp = udp[:6] + struct.pack("!H", csum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident, 0, 57, 17, 0, src, VICTIM)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000099") + bytes.fromhex("0200000000fe") + b"\x08\x00"
    return eth + ip + udp


packets = []
for i, src in enumerate(REFLECTORS):
    name, port, copies = RESPONSES[i % len(RESPONSES)]
    payload = open(name, "rb").read()
    for k in range(copies):
        t = START + i * 0.037 + k * 2.0
        packets.append((t, frame(src, port, payload, 0x1000 + i * 8 + k)))
packets.sort(key=lambda p: p[0])

with open("reflection.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for t, data in packets:
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
        f.write(data)
