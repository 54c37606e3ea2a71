#!/usr/bin/env python3
"""Keep the key-relevant lines of a charon or pluto debug log (stdin -> stdout).

usage: keyformats_filter.py charon|pluto <LOG >SMALLER_LOG

charon (ike=4, chd=4): the dumps a key loader needs (SK_*, the IKEv1 "encryption
key Ka", CHILD_SA keys, the NAT-D chunks that carry the SPIs) with their hex
lines, and the lines that name algorithms, roles and SPIs.  Every other dump
(nonces, DH secrets, AUTH octets) is dropped with its hex lines.
pluto (plutodebug="base crypt private"): the `ikev2 I/R` lines, the ESP key
dumps with the algorithm line before and the SA line after them, and pluto's
own (non-debug) lines about the connection.
"""
import re
import sys

CHARON = re.compile(r'^\S+ (\d+)\[(\w+)\] (?:<[^>]*> )?(.*)$')
WANTED = ('natd_chunk', 'Sk_d secret', 'Sk_ai secret', 'Sk_ar secret', 'Sk_ei secret',
          'Sk_er secret', 'encryption key Ka', 'encryption initiator key',
          'encryption responder key', 'integrity initiator key', 'integrity responder key')
KEEP = re.compile(r'selected proposal:|(generating|parsed) \S+ (request|response)|^\s*SPI 0x'
                  r'|adding (inbound|outbound) ESP SA|established|initiating')


def charon(lines):
    in_dump = {}  # thread -> keep its hex lines?
    for raw in lines:
        m = CHARON.match(raw.rstrip('\n'))
        if not m:
            continue
        thread, _grp, msg = m.groups()
        if re.match(r'^\s*\d+: [0-9A-F]{2}', msg) and thread in in_dump:
            if in_dump[thread]:
                yield raw
            continue
        in_dump.pop(thread, None)
        d = re.match(r'^(.*?) => \d+ bytes @ ', msg)
        if d:
            keep = d.group(1).strip() in WANTED
            in_dump[thread] = keep
            if keep:
                yield raw
            continue
        if KEEP.search(msg):
            yield raw


def pluto(lines):
    dump = False
    for raw in lines:
        line = raw.rstrip('\n')
        at = line.find('| ')
        msg = line[at + 2:] if at >= 0 else None
        if msg is not None and dump and re.match(r'^  ([0-9a-f]{2} ?)+', msg):
            yield raw
            continue
        dump = False
        if msg is None:
            if '"lab"' in line:
                yield raw
            continue
        if re.match(r'ikev[12] [IR] 0x', msg) or 'looking for alg with encrypt' in msg \
                or 'add_sa()' in msg:
            yield raw
        elif msg.strip() in ('ESP enckey:', 'ESP authkey:', 'ESP encrypt key:', 'ESP integrity key:'):
            dump = True
            yield raw


def main():
    kind = sys.argv[1]
    out = charon(sys.stdin) if kind == 'charon' else pluto(sys.stdin)
    sys.stdout.writelines(out)


if __name__ == '__main__':
    main()
