#!/usr/bin/env python3
"""RFC 8229 relay for the lab: carries a real IKE daemon's UDP datagrams over a
real kernel TCP connection, framed as RFC 8229 says.

Why: this kernel has no espintcp (TCP_ULP "espintcp"), so Libreswan cannot do
TCP encapsulation itself; told to skip the espintcp step it writes its
messages into the socket without the 2-byte length RFC 8229 requires (the
kernel module adds it). This relay adds the framing instead.

  client LISTEN_ADDR PEER  (initiator's namespace) UDP datagrams the daemon
      sends to PEER:500 / PEER:4500 arrive here by DNAT (to LISTEN_ADDR:5500 /
      :5501); on the first one a TCP connection to PEER:4500 is opened and
      `IKETCP` sent (RFC 8229 section 3.1), then every datagram goes as
      length(2) + non-ESP marker(4, added for port 500 where UDP has none) +
      IKE, or length + ESP. Frames coming back are returned as datagrams
      from the socket the daemon last used.
  server ADDR  (responder's namespace) accepts TCP on ADDR:4500, reads the
      prefix and the frames, and sends each IKE message as a UDP datagram to
      the daemon at ADDR:500 from ADDR:5600, which the lab SNATs to the
      initiator's address and port 500, so the daemon sees its peer; answers
      go back over the TCP connection.
"""
import select
import socket
import struct
import sys

PREFIX = b"IKETCP"
MARKER = b"\0\0\0\0"


def frames(buf):
    """Whole frames at the front of buf, and what is left."""
    out = []
    while len(buf) >= 2:
        n = struct.unpack("!H", buf[:2])[0]
        if n < 2 or len(buf) < n:
            break
        out.append(buf[2:n])
        buf = buf[n:]
    return out, buf


def frame(msg):
    return struct.pack("!H", len(msg) + 2) + msg


def client(listen, peer):
    u500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u500.bind((listen, 5500))
    u4500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u4500.bind((listen, 5501))
    tcp = None
    last = None  # (socket, daemon address) the daemon last sent from
    buf = b""
    while True:
        socks = [u500, u4500] + ([tcp] if tcp else [])
        for s in select.select(socks, [], [])[0]:
            if s is tcp:
                data = tcp.recv(65536)
                if not data:
                    return
                buf += data
                msgs, buf = frames(buf)
                for m in msgs:
                    if last is None:
                        continue
                    sock, addr = last
                    if sock is u500 and m.startswith(MARKER):
                        m = m[4:]
                    sock.sendto(m, addr)
                continue
            data, addr = s.recvfrom(65536)
            last = (s, addr)
            if tcp is None:
                tcp = socket.create_connection((peer, 4500))
                tcp.sendall(PREFIX)
            if s is u500:
                data = MARKER + data
            tcp.sendall(frame(data))


def server(addr):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((addr, 4500))
    lsock.listen(4)
    conn, _ = lsock.accept()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, 5600))
    buf = b""
    prefix = False
    while True:
        for s in select.select([conn, udp], [], [])[0]:
            if s is udp:
                data, _ = udp.recvfrom(65536)
                conn.sendall(frame(MARKER + data if not data.startswith(MARKER) else data))
                continue
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            if not prefix:
                if len(buf) < len(PREFIX):
                    continue
                if buf.startswith(PREFIX):
                    buf = buf[len(PREFIX):]
                prefix = True
            msgs, buf = frames(buf)
            for m in msgs:
                if m.startswith(MARKER):
                    m = m[4:]
                udp.sendto(m, (addr, 500))


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        server(sys.argv[2])
