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
    'icmp_frag_needed', 'mss_too_large', 'pmtu_blackhole', 'nat_detected', 'nat_keepalive', 'esp_one_way',
    'dead_peer', 'delete_unacknowledged', 'stale_sa', 'esp_sequence_anomaly', 'rekey_collision',
    'aggressive_mode_psk', 'weak_crypto', 'peer_address_invalid', 'group_traffic', 'ike_reflection', 'esp_null',
    'cleartext_leak',
    'tcp_encap_blocked', 'ike_tcp_fallback', 'tcp_encap_interrupted',
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
        'stays up without a CHILD_SA and is deleted later. With no CHILD_SA the inner ping/TCP to 10.2.0.1 '
        'leaves in cleartext (kernel-libipsec installs routes, not policies) and gets no answer. ' + BG,
        ['child_sa_refused'], []),
    'ts_mismatch': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKE SA authenticates but the responder only accepts 10.9.0.0/24 as the remote subnet: the '
        'encrypted IKE_AUTH response carries TS_UNACCEPTABLE; IKE SA without CHILD_SA, deleted later. The '
        'inner ping/TCP to 10.2.0.1 leaves in cleartext (no CHILD_SA, no policy) and gets no answer. ' + BG,
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
        ['auth_failed'], ['ike_unanswered', 'ike_response_lost', 'weak_crypto']),
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
        ['dead_peer', 'esp_one_way'], ['ike_unanswered']),
    'delete_unanswered': (
        ['left: ' + SW, 'right: ' + SW + ' (stopped with SIGSTOP after establishment, continued 2 s after the left gave up)'],
        [L4, R4], LEFT0,
        'IKEv2 tunnel comes up and carries traffic (no DPD configured); then the responder daemon is frozen and '
        'the left\'s operator closes the IKE SA (swanctl --terminate --ike): the INFORMATIONAL carrying the '
        'Delete is retransmitted with back-off (5 times) and never answered in time; once continued, the right '
        'answers the queued copy 10 s after the left gave up. Without keys this looks like a failed liveness '
        'check (dead_peer); with the keys it is delete_unacknowledged. ' + BG,
        ['dead_peer'], ['ike_unanswered', 'delete_unacknowledged']),
    'child_delete_unanswered': (
        ['left: ' + SW, 'right: ' + SW + ' (stopped with SIGSTOP after establishment, continued 2 s after the left gave up)'],
        [L4, R4], LEFT0,
        'As delete_unanswered, but the left\'s operator closes only the Child SA (swanctl --terminate --child): '
        'the Delete names the left\'s inbound ESP SPI; unanswered, charon gives the whole IKE SA up. With the '
        'keys it is delete_unacknowledged naming the SPI. ' + BG,
        ['dead_peer'], ['ike_unanswered', 'delete_unacknowledged']),
    'esp_fragmented': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0 + '; the right host and the router\'s right-side link use MTU 1200',
        'IKEv2 tunnel; the right host has MTU 1200 and PMTU discovery switched off (no DF), so its large ESP '
        'packets (1468 bytes, the HTTP download through the tunnel) leave as two IP fragments each, which the '
        'router forwards unchanged; all fragments arrive. ' + BG,
        ['esp_fragmented'], []),
    'esp_fragments_dropped': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0 + '; the right host and the router\'s right-side link use MTU 1200',
        'As esp_fragmented, but the router drops non-first IP fragments (iptables FORWARD -f DROP): only the '
        'first fragment of each large ESP packet arrives; the TCP download inside the tunnel stalls while '
        'small ESP packets (pings, ACKs) pass. ' + BG,
        ['esp_fragmented', 'fragments_lost'], []),
    'esp_df_frag_needed': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0 + '; the router\'s right-side link and the right host use MTU 1300',
        'The right host downloads from the left through the tunnel, so the left sends 1482-byte ESP packets '
        'with DF set; the router cannot forward them into its MTU-1300 link and returns ICMP fragmentation '
        'needed (next-hop MTU 1300) quoting the ESP packet; the left then fragments its ESP locally. The '
        'right host\'s own large ESP packets are fragmented by it (link MTU 1300). ' + BG,
        ['icmp_frag_needed', 'esp_fragmented'], []),
    'pmtu_blackhole': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0 + '; the router\'s right-side link and the right host use MTU 1300',
        'As esp_df_frag_needed, but the router suppresses its ICMP fragmentation-needed messages (iptables '
        'OUTPUT DROP): the left\'s 1482-byte DF ESP packets vanish without any error and are retransmitted '
        '(TCP inside the tunnel), a PMTU black hole; small ESP packets pass. The right host\'s large ESP '
        'packets are fragmented by it (link MTU 1300). ' + BG,
        # esp_one_way: the right side's ESP stops while the left retransmits its large
        # packets into the black hole: true, and a symptom of the blackhole.
        ['pmtu_blackhole', 'esp_fragmented'], ['esp_one_way']),
    'healthy_ikev2_ipv6': (
        ['left: ' + SW, 'right: ' + SW], [L6, R6], LEFT0,
        'Healthy IKEv2 PSK tunnel over IPv6 (2001:db8:1::10 <=> 2001:db8:2::20; inner 2001:db8:10:1::/64 <=> '
        '2001:db8:10:2::/64), plain ESP in IPv6, ping and HTTP through it, clean delete. Background traffic '
        'over IPv6 outside the tunnel (ping, HTTP, one UDP datagram drawing an ICMPv6 port unreachable), plus '
        'neighbour discovery. ',
        [], []),
    'ike_auth_rfc7383_fragments': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Certificate authentication with a 4-level RSA-4096 chain (end entity + 3 intermediates sent in '
        'IKE_AUTH, about 2.4 kB). RFC 7383 IKE fragmentation negotiated (IKEV2_FRAGMENTATION_SUPPORTED): each '
        'IKE_AUTH message is sent as 2 encrypted fragments (SKF, fragment_size 1280); no IP fragmentation; '
        'tunnel comes up, traffic, clean delete. ' + BG,
        [], []),
    'ike_auth_ip_fragmented': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Same certificate chain with IKE fragmentation disabled on both ends: the IKE_AUTH request and '
        'response are IP-fragmented (1514 + ~800 byte frames); all fragments arrive and the tunnel comes up. ' + BG,
        ['ike_ip_fragmented'], []),
    'ike_auth_ip_fragments_dropped': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'IKE fragmentation disabled and the router drops non-first IP fragments coming from the right: the '
        'initiator\'s IP-fragmented IKE_AUTH request gets through, but of each IKE_AUTH response only the '
        'first fragment arrives; the initiator retransmits IKE_AUTH (responder resends its response) and gives '
        'up after about 15 s. ' + BG,
        ['ike_ip_fragmented', 'ike_fragments_lost'], ['ike_response_lost', 'ike_unanswered', 'fragments_lost']),
    'ikev2_cookie_libreswan': (
        ['left: ' + SW, 'right: ' + LS + ', config setup ddos-mode=busy'], [L4, R4], LEFT0,
        'Libreswan responder in forced DoS-protection mode answers the first IKE_SA_INIT with a COOKIE notify; '
        'strongSwan repeats IKE_SA_INIT with the cookie and the IKE SA is set up. The encrypted IKE_AUTH '
        'response carries TS_UNACCEPTABLE: Libreswan authenticated the peer but could not install the Child SA '
        '(the lab kernel has no ESP: "netlink response for Add SA ... Protocol not supported"). IKE SA '
        'deleted by the initiator afterwards. Keys from the strongSwan side only. ' + BG,
        ['cookie_challenge', 'child_sa_refused'], []),
    'ikev2_proposal_mismatch_libreswan': (
        ['left: ' + SW, 'right: ' + LS], [L4, R4], LEFT0,
        'strongSwan offers AES-CBC-256/SHA2-256/MODP2048; Libreswan is configured for '
        'ike=aes_gcm256-sha2_512;dh20 only and answers IKE_SA_INIT with a cleartext NO_PROPOSAL_CHOSEN. ' + BG,
        ['ike_proposal_mismatch'], []),
    'ike_tcp_fallback': (
        ['left: ' + LS, 'right: ' + LS], [L4, R4], LEFT0,
        'A firewall on the router drops UDP 500 and 4500. The initiator\'s IKE_SA_INIT goes unanswered over UDP '
        '(4 transmissions, 0.5 s apart, then doubling) until it gives up after 4 s; the peers then carry IKE in '
        'TCP 4500 (RFC 8229): SYN, SYN-ACK, the IKETCP prefix, IKE_SA_INIT and IKE_AUTH each way (PSK), the '
        'IKE SA authenticates, the Child SA is refused with TS_UNACCEPTABLE (no kernel ESP to install it) and an '
        'INFORMATIONAL delete follows. TCP CARRIED BY A RELAY: this kernel has no espintcp, so the plutos speak '
        'UDP and captures/lab/tcpencap_relay.py carries each of their datagrams over a real kernel TCP connection '
        'from 192.0.2.10 to 198.51.100.20:4500, RFC 8229 framing added by the relay (Libreswan without espintcp '
        'writes no length field); the IKE bytes are the daemons\', the TCP stack the kernel\'s. The fall back is '
        'scripted (the relay is switched on after the UDP attempt), not pluto\'s enable-tcp=fallback. The plutos hash port 500 into NAT-D while the wire shows the relay\'s '
        'TCP ports, so a NAT is arguably seen.',
        ['ike_tcp_fallback', 'ike_unanswered', 'child_sa_refused'], ['nat_detected']),
    'ike_tcp_blocked': (
        ['left: ' + LS, 'right: ' + LS], [L4, R4], LEFT0,
        'The router drops UDP 500/4500 and TCP 4500. IKE_SA_INIT goes unanswered over UDP, then the relay '
        '(see ike_tcp_fallback) tries TCP 4500: the kernel resends the SYN with back-off (1 s, 2 s) and never '
        'gets an answer.',
        ['ike_unanswered', 'tcp_encap_blocked'], []),
    'ike_tcp_refused': (
        ['left: ' + LS, 'right: ' + LS], [L4, R4], LEFT0,
        'The router drops UDP 500/4500; nothing listens on TCP 4500 at the responder (no relay there, as a '
        'peer without TCP encapsulation enabled): IKE_SA_INIT goes unanswered over UDP, and the SYN of the '
        'relay\'s TCP attempt (see ike_tcp_fallback) is answered by the responder\'s kernel with a reset.',
        ['ike_unanswered', 'tcp_encap_blocked'], []),
    'rekey_collision': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Both peers start a CHILD_SA rekey (swanctl --rekey on each) while the router drops UDP 4500 for '
        '0.3 s: the left\'s CREATE_CHILD_SA request is lost, the right\'s retransmitted request reaches the '
        'left while the left\'s own rekey is still outstanding (simultaneous rekey, RFC 7296 2.8.1); the left '
        'answers it, the old SA is deleted, and the left\'s retransmitted request is then answered with '
        'CHILD_SA_NOT_FOUND. Traffic continues on the new SPIs; clean delete. ' + BG,
        ['rekey_collision'], ['ike_response_lost', 'ike_unanswered', 'child_sa_refused']),
    'responder_restart': (
        ['left: ' + SW + ', dpd_delay=3s, dpd_action=restart', 'right: ' + SW + ' (killed with SIGKILL and restarted)'],
        [L4, R4], LEFT0,
        'IKEv2 tunnel up, then the responder daemon is killed and restarted, losing all SAs. The left keeps '
        'sending ESP on the old SPI (no answer); its DPD INFORMATIONAL requests on the old IKE SA are ignored '
        'by the new daemon and retransmitted with back-off; the left declares the peer dead and, with '
        'dpd_action=restart, sets up a new IKE SA (INITIAL_CONTACT) and CHILD_SA; traffic on the new SPIs, '
        'regular DPD exchanges while idle, clean delete. ' + BG,
        ['dead_peer', 'esp_one_way'], ['stale_sa', 'ike_unanswered']),
    'weak_crypto': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'A working IKEv2 tunnel that uses deprecated algorithms: IKE 3DES/HMAC-SHA1-96/PRF-SHA1/MODP1024, '
        'ESP 3DES/HMAC-SHA1-96; traffic and a clean delete. ' + BG,
        ['weak_crypto'], []),
    'esp_replayed': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Healthy IKEv2 tunnel; five ESP packets the left host sent (sequence numbers 1-5) are replayed '
        'byte-for-byte about 1.5 s later (tcpreplay on the left host), so the same SPI/sequence numbers appear '
        'twice, out of order with the rest of the stream; the receiver\'s anti-replay window drops them. ' + BG,
        ['esp_sequence_anomaly'], []),
    'cleartext_leak': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4], LEFT0,
        'Healthy IKEv2 tunnel 10.1.0.0/24 <=> 10.2.0.0/24 with ping and HTTP through it; then a '
        'policy-routing rule on the initiator (ip rule priority 100, ahead of the tunnel\'s table 220) sends '
        'three pings from 10.1.0.1 to 10.2.0.1 around the tunnel: the echo requests cross the router in the '
        'clear (the router routes both inner networks) and the replies come back through the tunnel as ESP. '
        'cleartext_leak is only visible with the keys (the selectors are inside IKE_AUTH). ' + BG,
        [], []),
    'cleartext_leak_gateway_any': (
        ['left: ' + SW, 'right: ' + SW], [L4, R4],
        'the left host (initiator) itself, all interfaces (tcpdump -i any, Linux cooked v2): the TUN '
        'device ipsec0 in the clear and eth0 encrypted',
        'The same run as cleartext_leak, captured on the initiator: every tunnelled packet shows twice (in the '
        'clear on ipsec0, as ESP on eth0), the three bypassed echo requests once, on eth0 in the clear. With '
        'the keys only those three are the leak. ' + BG,
        [], []),
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
