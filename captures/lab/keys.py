#!/usr/bin/env python3
"""Turn strongSwan charon logs (filelog with ike=4, chd=4) into Wireshark
decryption tables: ikev2_decryption_table, ikev1_decryption_table, esp_sa,
plus a `preferences` file, all in one folder usable as WIRESHARK_CONFIG_DIR.

usage: keys.py OUTDIR CHARON_LOG [CHARON_LOG...]

Pass the logs of both peers: each SA is written once (deduplicated by SPI).
IKEv2 SPIs are read from the NAT-D hash input (natd_chunk = SPIi|SPIr|IP|port)
dumped at level 4 once the responder SPI is known.  IKEv1 keys come from
the "encryption key Ka" / "initial IV" dumps and the ISAKMP cookies from the
NAT-D chunks as well.
"""
import os
import re
import sys

LINE = re.compile(r'^\S+ (\d+)\[(\w+)\] (?:<([^>]*)> )?(.*)$')
HEX = re.compile(r'^\s*\d+: ((?:[0-9A-F]{2} ?)+)')
DUMP = re.compile(r'^(.*?) => (\d+) bytes @ ')

IKEV2_ENCR = {
    'AES_CBC_128': 'AES-CBC-128 [RFC3602]',
    'AES_CBC_192': 'AES-CBC-192 [RFC3602]',
    'AES_CBC_256': 'AES-CBC-256 [RFC3602]',
    '3DES_CBC': '3DES [RFC2451]',
    'AES_GCM_16_128': 'AES-GCM-128 with 16 octet ICV [RFC5282]',
    'AES_GCM_16_256': 'AES-GCM-256 with 16 octet ICV [RFC5282]',
}
IKEV2_INTEG = {
    'HMAC_SHA2_256_128': 'HMAC_SHA2_256_128 [RFC4868]',
    'HMAC_SHA2_384_192': 'HMAC_SHA2_384_192 [RFC4868]',
    'HMAC_SHA2_512_256': 'HMAC_SHA2_512_256 [RFC4868]',
    'HMAC_SHA1_96': 'HMAC_SHA1_96 [RFC2404]',
    'HMAC_MD5_96': 'HMAC_MD5_96 [RFC2403]',
    None: 'NONE [RFC4306]',
}
ESP_ENCR = {
    'AES_CBC': 'AES-CBC [RFC3602]',
    '3DES_CBC': 'TripleDES-CBC [RFC2451]',
    'AES_GCM_16': 'AES-GCM with 16 octet ICV [RFC4106]',
    'NULL': 'NULL',
}
ESP_INTEG = {
    'HMAC_SHA2_256_128': 'HMAC-SHA-256-128 [RFC4868]',
    'HMAC_SHA2_384_192': 'HMAC-SHA-384-192 [RFC4868]',
    'HMAC_SHA2_512_256': 'HMAC-SHA-512-256 [RFC4868]',
    'HMAC_SHA1_96': 'HMAC-SHA-1-96 [RFC2404]',
    'HMAC_MD5_96': 'HMAC-MD5-96 [RFC2403]',
    None: 'NULL',
}


class SA:
    def __init__(self):
        self.dumps = {}        # name -> bytes (last value)
        self.natd = []         # natd chunks seen
        self.ike_prop = None
        self.esp_prop = None
        self.role = None       # initiator/responder of the current exchange
        self.version = 2
        self.child_keys = None
        self.spi_addr = {}     # spi hex -> (src, dst)
        self.ikev1_keys = []   # (cookie_i, key)


def parse(path, ikev2, ikev1, esp):
    sas = {}
    pending = {}  # thread -> (sa, name, nbytes, bytearray)
    for raw in open(path, errors='replace'):
        raw = raw.rstrip('\n')
        m = LINE.match(raw)
        if not m:
            continue
        thread, _grp, tag, msg = m.groups()
        if tag is None:
            continue
        sa = sas.setdefault(tag, SA())
        h = HEX.match(msg)
        if h and thread in pending:
            p = pending[thread]
            p[3].extend(bytes.fromhex(h.group(1).replace(' ', '')))
            if len(p[3]) >= p[2]:
                finish(p)
                del pending[thread]
            continue
        if thread in pending:
            finish(pending.pop(thread))
        d = DUMP.match(msg)
        if d:
            n = int(d.group(2))
            if n > 0:
                pending[thread] = (sa, d.group(1).strip(), n, bytearray())
            continue
        g = re.match(r'(generating|parsed) (\w+) (request|response)', msg)
        if g:
            if g.group(3) == 'request':
                sa.role = 'initiator' if g.group(1) == 'generating' else 'responder'
            if g.group(2) in ('ID_PROT', 'AGGRESSIVE', 'QUICK_MODE', 'INFORMATIONAL_V1', 'TRANSACTION'):
                sa.version = 1
            continue
        g = re.match(r'selected proposal: (IKE|ESP):(\S+)', msg)
        if g:
            if g.group(1) == 'IKE':
                sa.ike_prop = g.group(2).split('/')
            else:
                sa.esp_prop = g.group(2).split('/')
            continue
        g = re.match(r'\s*SPI 0x([0-9a-f]{8}), src (\S+) dst (\S+)', msg)
        if g:
            sa.spi_addr[g.group(1)] = (g.group(2), g.group(3))
            continue
        g = re.search(r'CHILD_SA \S+ established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o', msg)
        if g and sa.child_keys and sa.esp_prop:
            spi_in, spi_out = g.groups()
            k = sa.child_keys
            if sa.role == 'initiator' or sa.version == 1:
                out_k, in_k = k['i'], k['r']
            else:
                out_k, in_k = k['r'], k['i']
            if sa.version == 1:
                # IKEv1 keymat is per SPI; logged in the order inbound, outbound
                pass
            for spi, keys in ((spi_out, out_k), (spi_in, in_k)):
                if spi in sa.spi_addr and keys[0] and spi not in esp:
                    src, dst = sa.spi_addr[spi]
                    esp[spi] = (src, dst, spi, esp_encr(sa.esp_prop), keys[0],
                                esp_integ(sa.esp_prop), keys[1])
            continue
    for p in pending.values():
        finish(p)
    for tag, sa in sas.items():
        emit_ike(sa, ikev2, ikev1)


def finish(p):
    sa, name, n, data = p
    data = bytes(data[:n])
    if name == 'natd_chunk':
        sa.natd.append(data)
        return
    sa.dumps[name] = data
    low = name.lower()
    if low.startswith('encryption initiator key'):
        sa.child_keys = {'i': [data, None], 'r': [None, None]}
    elif low.startswith('encryption responder key') and sa.child_keys:
        sa.child_keys['r'][0] = data
    elif low.startswith('integrity initiator key') and sa.child_keys:
        sa.child_keys['i'][1] = data
    elif low.startswith('integrity responder key') and sa.child_keys:
        sa.child_keys['r'][1] = data
    elif name.startswith('Sk_er secret'):
        # IKEv2 key set complete (Sk_ai, Sk_ar, Sk_ei, Sk_er logged in order)
        spis = [c[:16] for c in sa.natd if len(c) >= 16 and c[8:16] != bytes(8)]
        if spis:
            sa.ikev2_entry = (spis[-1][:8], spis[-1][8:16], dict(sa.dumps))
    elif name.startswith('encryption key Ka'):
        # the initiator cookie is resolved at the end (NAT-D may come later)
        sa.ikev1_keys.append(data)


def alg(prop, table, idx_pred):
    for p in prop:
        if idx_pred(p):
            return table.get(p)
    return table.get(None)


def esp_encr(prop):
    e = prop[0]
    base = re.sub(r'_\d+$', '', e) if e.startswith('AES_CBC') else e
    if e.startswith('AES_GCM_16'):
        base = 'AES_GCM_16'
    return ESP_ENCR.get(base, e)


def esp_integ(prop):
    for p in prop[1:]:
        if p.startswith('HMAC') or p.startswith('AES_XCBC'):
            return ESP_INTEG.get(p, p)
    return ESP_INTEG[None]


def emit_ike(sa, ikev2, ikev1):
    e = getattr(sa, 'ikev2_entry', None)
    if e and sa.ike_prop:
        ispi, rspi, d = e
        encr = IKEV2_ENCR.get(sa.ike_prop[0], sa.ike_prop[0])
        integ = None
        for p in sa.ike_prop[1:]:
            if p.startswith('HMAC'):
                integ = p
        ikev2.setdefault((ispi, rspi), None)
        ikev2[(ispi, rspi)] = ikev2[(ispi, rspi)] or (ispi.hex(), rspi.hex(), d['Sk_ei secret'].hex(), d['Sk_er secret'].hex(),
                              encr, d.get('Sk_ai secret', b'').hex() if integ else '',
                              d.get('Sk_ar secret', b'').hex() if integ else '', IKEV2_INTEG.get(integ, integ))
    cookies = [c[:8] for c in sa.natd if len(c) >= 16]
    if cookies and sa.ikev1_keys:
        ikev1.setdefault(cookies[0], (cookies[0].hex(), sa.ikev1_keys[-1].hex()))


def q(s):
    return '"%s"' % s


def main():
    out = sys.argv[1]
    ikev2, ikev1, esp = {}, {}, {}
    for path in sys.argv[2:]:
        parse(path, ikev2, ikev1, esp)
    os.makedirs(out, exist_ok=True)
    written = []
    if ikev2:
        with open(os.path.join(out, 'ikev2_decryption_table'), 'w') as f:
            f.write('# This file is automatically generated, DO NOT MODIFY.\n')
            for ispi, rspi, ei, er, encr, ai, ar, integ in ikev2.values():
                f.write(f'{ispi},{rspi},{ei},{er},{q(encr)},{ai},{ar},{q(integ)}\n')
        written.append('ikev2_decryption_table')
    if ikev1:
        with open(os.path.join(out, 'ikev1_decryption_table'), 'w') as f:
            f.write('# This file is automatically generated, DO NOT MODIFY.\n')
            for cookie, key in ikev1.values():
                f.write(f'{cookie},{key}\n')
        written.append('ikev1_decryption_table')
    if esp:
        with open(os.path.join(out, 'esp_sa'), 'w') as f:
            f.write('# This file is automatically generated, DO NOT MODIFY.\n')
            for src, dst, spi, encr, ek, integ, ik in esp.values():
                proto = 'IPv6' if ':' in src else 'IPv4'
                f.write(f'{q(proto)},{q(src)},{q(dst)},{q("0x" + spi)},{q(encr)},{q("0x" + ek.hex())},'
                        f'{q(integ)},{q("0x" + (ik or b"").hex())}\n')
        written.append('esp_sa')
    with open(os.path.join(out, 'preferences'), 'w') as f:
        f.write('# Wireshark preferences for decrypting this capture\n')
        f.write('esp.enable_encryption_decode: TRUE\n')
        f.write('esp.enable_authentication_check: TRUE\n')
    print(' '.join(written) if written else 'no keys found')


if __name__ == '__main__':
    main()
