#!/usr/bin/env python3
"""Write captures/MANIFEST.toml from the table below and the files present.

usage: manifest.py   (run after run.sh; only captures that exist are listed)

`expect` = finding kinds an expert looking only at the packets seen at the
router would report; `forbid` = every other kind except those listed in
`maybe` (kinds that are arguable for that capture and so neither required
nor forbidden).
"""
import os
import subprocess

LAB = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.dirname(LAB)

KINDS = [
    'ike_unanswered', 'ike_response_lost', 'peer_unreachable', 'ike_proposal_mismatch',
    'dh_group_mismatch', 'auth_failed', 'child_sa_refused', 'cookie_challenge',
    'ike_ip_fragmented', 'ike_fragments_lost', 'esp_fragmented', 'fragments_lost',
    'icmp_frag_needed', 'pmtu_blackhole', 'nat_detected', 'nat_keepalive', 'esp_one_way',
    'dead_peer', 'stale_sa', 'esp_sequence_anomaly', 'rekey_collision',
    'aggressive_mode_psk', 'weak_crypto',
]

L4 = '192.0.2.10'
R4 = '198.51.100.20'
NAT4 = '198.51.100.1'
L6 = '2001:db8:1::10'
R6 = '2001:db8:2::20'
LEFT0 = 'router interface left0 (Ethernet), the link between the left host (initiator) and the router'
BG = ('Background traffic outside the tunnel: ping and an HTTP download between the outer '
      'addresses, and one UDP datagram to a closed port that draws an unrelated ICMP port unreachable.')

SW = 'strongSwan {sw}'
LS = 'Libreswan {ls}'

# name: (daemons, peers, capture_point, description, expect, maybe)
SCENARIOS = {
    'healthy_ikev2': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Healthy IKEv2 PSK tunnel 10.1.0.0/24 <=> 10.2.0.0/24 (AES-CBC-256/SHA2-256/MODP2048, plain ESP). '
        'IKE_AUTH moves to UDP 4500 without any NAT (strongSwan does so when MOBIKE is enabled; the NAT-D '
        'hashes match). Ping and HTTP through the tunnel, the initiator rekeys the CHILD_SA after 20 s '
        '(CREATE_CHILD_SA + DELETE of the old SA), more tunnel traffic on the new SPIs, then a clean '
        'INFORMATIONAL delete of the IKE_SA. ' + BG,
        [], []),
    'ike_udp500_blocked': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'A firewall on the router drops UDP 500 and 4500 (iptables FORWARD DROP). The initiator sends '
        'IKE_SA_INIT and retransmits it with exponential back-off (0.5 s, then doubling; 5 packets) and '
        'gives up; no answer and no ICMP error. ' + BG,
        ['ike_unanswered'], []),
    'peer_no_ike': (
        ['left: ' + SW, 'right: none (no IKE daemon running)'], [L4, R4], LEFT0,
        'The responder host runs no IKE daemon: every IKE_SA_INIT (and retransmission) draws an ICMP '
        'port unreachable from 198.51.100.20 quoting the UDP 500 datagram. ' + BG,
        ['peer_unreachable'], ['ike_unanswered']),
    'ike_proposal_mismatch': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'No common IKE proposal: initiator offers AES-CBC-256/SHA2-256/MODP2048, responder accepts only '
        'AES-GCM-128/PRF-SHA384/ECP384; the IKE_SA_INIT response is a cleartext NO_PROPOSAL_CHOSEN notify. ' + BG,
        ['ike_proposal_mismatch'], []),
    'dh_group_mismatch': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'The initiator proposes MODP2048 first and sends a MODP2048 KE; the responder only accepts ECP256 '
        'and answers INVALID_KE_PAYLOAD (group 19); the initiator retries IKE_SA_INIT with an ECP256 KE and '
        'the tunnel comes up; ping/HTTP through the tunnel, then a clean delete. ' + BG,
        ['dh_group_mismatch'], []),
    'psk_mismatch_ikev2': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Pre-shared keys differ. IKE_SA_INIT succeeds; the responder answers the IKE_AUTH request with an '
        'encrypted AUTHENTICATION_FAILED notify (a small IKE_AUTH response; visible with the keys). ' + BG,
        ['auth_failed'], []),
    'child_proposal_mismatch': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKE SA authenticates but the ESP proposals do not match (AES-CBC-256/SHA2-256 vs AES-GCM-128): '
        'the encrypted IKE_AUTH response carries IDr/AUTH and NO_PROPOSAL_CHOSEN and no SA/TS; the IKE SA '
        'stays up without a CHILD_SA (pings into the tunnel go nowhere) and is deleted later. ' + BG,
        ['child_sa_refused'], []),
    'ts_mismatch': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKE SA authenticates but the responder only accepts 10.9.0.0/24 as the remote subnet: the '
        'encrypted IKE_AUTH response carries TS_UNACCEPTABLE; IKE SA without CHILD_SA, deleted later. ' + BG,
        ['child_sa_refused'], []),
    'nat_t': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0 + '; the router masquerades 192.0.2.0/24 behind 198.51.100.1 '
        '(capture is on the inside, before the NAT)',
        'NAT between the peers: the NAT-D hashes do not match, IKE moves to UDP 4500, ESP is UDP-encapsulated '
        '(port 4500), and while the tunnel is idle the initiator sends NAT-T keepalives (0xFF, every 5 s). '
        'Tunnel traffic before and after the idle period, then a clean delete. ' + BG,
        ['nat_detected', 'nat_keepalive'], []),
    'healthy_ikev1': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Healthy IKEv1: Main Mode (6 messages, PSK, AES-CBC-256/SHA2-256/MODP2048) and Quick Mode '
        '(3 messages), ping and HTTP through the tunnel (plain ESP), then INFORMATIONAL deletes. ' + BG,
        [], ['weak_crypto']),
    'ikev1_aggressive_psk': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKEv1 Aggressive Mode with a pre-shared key (3 messages; the responder\'s hash is exposed to '
        'offline PSK cracking), then Quick Mode, tunnel traffic and deletes. ' + BG,
        ['aggressive_mode_psk'], ['weak_crypto']),
    'ikev1_psk_mismatch': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKEv1 Main Mode with different PSKs: messages 1-4 are fine; the responder cannot verify the '
        'encrypted MM5 (keys derived from another PSK) and answers each MM5 retransmission with an '
        'encrypted INFORMATIONAL error that the initiator cannot decrypt either; MM6 never comes. '
        'The key table holds the initiator\'s key (decrypts MM5); the responder\'s notifies are encrypted '
        'under a different key and stay opaque. ' + BG,
        ['auth_failed'], ['ike_unanswered', 'weak_crypto']),
    'ikev1_quick_mode_refused': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKEv1 Main Mode completes; the responder refuses the Quick Mode proposal (it only accepts '
        '10.9.0.0/24 as remote subnet) with an encrypted INFORMATIONAL INVALID_ID_INFORMATION; no ESP. ' + BG,
        ['child_sa_refused'], ['weak_crypto']),
    'ikev1_to_libreswan': (
        ['left: ' + SW, 'right: ' + LS], [L4, R4], LEFT0,
        'strongSwan offers IKEv1 Main Mode to a Libreswan 4.10 responder with its default '
        'ikev1-policy=drop: the MM1 is retransmitted with back-off and silently ignored (no reply, '
        'no ICMP). ' + BG,
        ['ike_unanswered'], ['weak_crypto']),
    'esp_one_way': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKEv2 tunnel established before the capture starts; the router then drops ESP coming from the '
        'right side (iptables FORWARD -i right0 -p esp DROP). The capture shows ESP only from 192.0.2.10 '
        'to 198.51.100.20 (pings and TCP SYN retransmissions through the tunnel), none back. ' + BG,
        ['esp_one_way'], []),
    'dead_peer': (
        ['left: ' + SW, 'right: ' + SW + ' (stopped with SIGSTOP after establishment)'], [L4, R4], LEFT0,
        'IKEv2 tunnel comes up and carries traffic; then the responder daemon (which also runs the userspace '
        'ESP data path) is frozen. Tunnel traffic from the left gets no answer; with dpd_delay=3s the '
        'initiator sends an empty INFORMATIONAL (DPD) request, retransmits it with back-off (5 times) and '
        'gives up; the right host itself still answers plain ping/HTTP. ' + BG,
        ['dead_peer'], ['esp_one_way', 'ike_unanswered']),
}


def version(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return 'unknown'


def toml_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def toml_list(xs):
    return '[' + ', '.join(toml_str(x) for x in xs) + ']'


def main():
    chroot = os.environ.get('IKE_LAB_CHROOT', '/var/tmp/ike-lab-chroot')
    sw = version(f"chroot {chroot} dpkg-query -W -f '${{Version}}' strongswan-charon")
    sw = f'6.0.1 (Debian 13 package {sw}, userspace ESP via kernel-libipsec)' if sw != 'unknown' else 'unknown'
    ls = os.environ.get('IKE_LAB_LIBRESWAN_VERSION', '4.10 (Debian 12 package 4.10-2+deb12u1)')
    out = ['# Lab captures for ike-sniff; generated by captures/lab/manifest.py.',
           '# file and keys paths are relative to captures/.', '']
    for name, (daemons, peers, cap, desc, expect, maybe) in SCENARIOS.items():
        pcap = f'lab/pcaps/{name}.pcap'
        if not os.path.exists(os.path.join(CAPTURES, pcap)):
            continue
        forbid = [k for k in KINDS if k not in expect and k not in maybe]
        out.append('[[capture]]')
        out.append(f'file = {toml_str(pcap)}')
        out.append(f'scenario = {toml_str(name)}')
        out.append(f'daemons = {toml_list([d.format(sw=sw, ls=ls) for d in daemons])}')
        out.append(f'peers = {toml_list(peers)}')
        out.append(f'capture_point = {toml_str(cap)}')
        out.append(f'description = {toml_str(desc)}')
        out.append(f'expect = {toml_list(expect)}')
        out.append(f'forbid = {toml_list(forbid)}')
        kdir = os.path.join(LAB, 'keys', name)
        tables = [t for t in ('ikev2_decryption_table', 'ikev1_decryption_table', 'esp_sa')
                  if os.path.exists(os.path.join(kdir, t))]
        if tables:
            out.append('[capture.keys]')
            out.append(f'wireshark_config_dir = {toml_str(f"lab/keys/{name}")}')
            for t in tables:
                out.append(f'{t} = {toml_str(f"lab/keys/{name}/{t}")}')
        else:
            out.append('# keys: none (no encrypted IKE or ESP in this capture)')
        out.append('')
    with open(os.path.join(CAPTURES, 'MANIFEST.toml'), 'w') as f:
        f.write('\n'.join(out))


if __name__ == '__main__':
    main()
