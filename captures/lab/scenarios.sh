# shellcheck shell=bash
# Scenario definitions for run.sh.  Each sc_NAME builds a fresh topology,
# starts the daemons, records $PCAPS/NAME.pcap on the router's left-side
# interface and writes the keys into $KEYS/NAME/ (a folder usable as
# WIRESHARK_CONFIG_DIR for tshark/Wireshark).
. "$LAB/swconf.sh"

ALL_SCENARIOS=(
    healthy_ikev2 ike_udp500_blocked peer_no_ike ike_proposal_mismatch
    dh_group_mismatch psk_mismatch_ikev2 child_proposal_mismatch ts_mismatch
    nat_t
    healthy_ikev1 ikev1_aggressive_psk ikev1_psk_mismatch ikev1_quick_mode_refused
    ikev1_to_libreswan
    esp_one_way dead_peer delete_unanswered child_delete_unanswered
    esp_fragmented esp_fragments_dropped esp_df_frag_needed pmtu_blackhole
    healthy_ikev2_ipv6
    ike_auth_rfc7383_fragments ike_auth_ip_fragmented ike_auth_ip_fragments_dropped
    ikev2_cookie_libreswan ikev2_proposal_mismatch_libreswan rekey_collision responder_restart
    weak_crypto esp_replayed cleartext_leak
    ike_tcp_fallback ike_tcp_blocked ike_tcp_refused
)

# short retransmission timers so failing negotiations fit in a short capture
# (0.5 s, then doubling: 0.5 1 2 4 8 -> gives up after about 15 s)
FAST='    retransmit_timeout = 0.5
    retransmit_base = 2
    retransmit_tries = 4'

CHILD_REKEY20='                rekey_time = 20s
                life_time = 60s
                rand_time = 0'

sw_keys() {
    # sw_keys HOST...: key tables from the charon logs of these hosts
    local logs=() h out
    for h in "$@"; do logs+=("$WORK/$h/run/charon.log"); done
    rm -rf "${KEYS:?}/$SC"
    out=$(python3 "$LAB/keys.py" "$KEYS/$SC" "${logs[@]}")
    if [ "$out" = "no keys found" ]; then
        rm -rf "${KEYS:?}/$SC"
    fi
    log "keys: $out"
    if [ -d "$KEYS/$SC" ]; then
        log "decrypted with tshark: IKE $(WIRESHARK_CONFIG_DIR="$KEYS/$SC" tshark -r "$PCAPS/$SC.pcap" -Y 'isakmp.enc.decrypted' 2>/dev/null | wc -l)" \
            "ESP $(WIRESHARK_CONFIG_DIR="$KEYS/$SC" tshark -r "$PCAPS/$SC.pcap" -Y 'esp.decrypted_data' 2>/dev/null | wc -l)"
    fi
}

# sw_both LEFT_CONF RIGHT_CONF [EXTRA_LEFT [EXTRA_RIGHT]]
sw_both() {
    sw_prepare left "$1" "${3:-$FAST}"
    sw_prepare right "$2" "${4:-$FAST}"
    sw_start right
    sw_start left
}

# initiate from the left and wait for the outcome (failure is expected in
# most scenarios)
attempt() {
    swanctl_on left --initiate --child net --timeout "${1:-30}" >"$WORK/initiate.out" 2>&1 || true
    grep -E 'initiate|failed|established' "$WORK/initiate.out" | tail -n 2 | sed 's/^/    left: /' >&2 || true
}

finish() {
    nap 1
    cap_stop
    if [ "$#" -gt 0 ]; then sw_keys "$@"; fi
}

# 1. healthy IKEv2, CHILD_SA rekey after 20 s, clean delete
sc_healthy_ikev2() {
    topo_up v4
    sw_both "$(CHILD_EXTRA=$CHILD_REKEY20 swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    nap 22
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 2. a firewall on the router drops UDP 500 (and 4500): the initiator's
#    IKE_SA_INIT is retransmitted with back-off and never answered
sc_ike_udp500_blocked() {
    topo_up v4
    nsx router iptables -A FORWARD -p udp -m multiport --ports 500,4500 -j DROP
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish
}

# 3. the responder host runs no IKE daemon: ICMP port unreachable quoting
#    the IKE_SA_INIT (UDP 500)
sc_peer_no_ike() {
    topo_up v4
    sw_prepare left "$(swconf left)" "$FAST"
    sw_start left
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish
}

# 4. no common IKE proposal: cleartext NO_PROPOSAL_CHOSEN in IKE_SA_INIT
sc_ike_proposal_mismatch() {
    topo_up v4
    sw_both "$(swconf left)" "$(PROP=aes128gcm16-prfsha384-ecp384 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish
}

# 5. initiator guesses the wrong DH group: INVALID_KE_PAYLOAD (wants ECP-256),
#    the retry with ECP-256 succeeds
sc_dh_group_mismatch() {
    topo_up v4
    sw_both "$(PROP=aes256-sha256-modp2048,aes256-sha256-ecp256 swconf left)" \
        "$(PROP=aes256-sha256-ecp256 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 6. pre-shared keys differ: the responder answers IKE_AUTH with an
#    (encrypted) AUTHENTICATION_FAILED
sc_psk_mismatch_ikev2() {
    topo_up v4
    sw_both "$(swconf left)" "$(PSK=not-the-same-secret swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish left right
}

# 7a. IKE SA comes up but no common ESP proposal: NO_PROPOSAL_CHOSEN inside
#     the encrypted IKE_AUTH response
sc_child_proposal_mismatch() {
    topo_up v4
    sw_both "$(swconf left)" "$(ESP=aes128gcm16-ecp256 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic 2
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    bg_traffic
    finish left right
}

# 7b. traffic selectors do not match: TS_UNACCEPTABLE inside IKE_AUTH
sc_ts_mismatch() {
    topo_up v4
    sw_both "$(swconf left)" "$(RTS=10.9.0.0/24 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic 2
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    bg_traffic
    finish left right
}

# 8. the router masquerades the left side: NAT detected, IKE floats to
#    4500, ESP in UDP, NAT-T keepalives every 5 s while idle
sc_nat_t() {
    topo_up nat
    sw_both "$(swconf left)" "$(RADDR=%any swconf right)" "$FAST
    keep_alive = 5s"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    nap 12
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# IKEv1 needs this on strongSwan to allow Aggressive Mode with PSK
AGGR_OK='    i_dont_care_about_security_and_use_aggressive_mode_psk = yes'

# 9a. healthy IKEv1: Main Mode (6 messages) + Quick Mode, traffic, delete
sc_healthy_ikev1() {
    topo_up v4
    sw_both "$(VER=1 swconf left)" "$(VER=1 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 9b. IKEv1 Aggressive Mode with PSK (3 messages, hash of the PSK exposed
#     to offline cracking), then Quick Mode and traffic
sc_ikev1_aggressive_psk() {
    topo_up v4
    sw_both "$(VER=1 CONN_EXTRA='        aggressive = yes' swconf left)" "$(VER=1 CONN_EXTRA='        aggressive = yes' swconf right)" \
        "$FAST
$AGGR_OK" "$FAST
$AGGR_OK"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 9c. IKEv1 Main Mode with different PSKs: MM5 (encrypted with a key derived
#     from the wrong PSK) cannot be verified by the responder
sc_ikev1_psk_mismatch() {
    topo_up v4
    sw_both "$(VER=1 swconf left)" "$(VER=1 PSK=not-the-same-secret swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish left right
}

# 9d. IKEv1 Main Mode succeeds, Quick Mode refused (responder does not
#     accept the proposed remote subnet)
sc_ikev1_quick_mode_refused() {
    topo_up v4
    sw_both "$(VER=1 swconf left)" "$(VER=1 RTS=10.9.0.0/24 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 9e. IKEv1 Main Mode offered to Libreswan 4.10, whose default
#     ikev1-policy=drop silently ignores IKEv1: retransmissions, no answer
sc_ikev1_to_libreswan() {
    topo_up v4
    sw_prepare left "$(VER=1 swconf left)" "$FAST"
    sw_start left
    ls_start right "config setup
    logfile=$WORK/right/libreswan/pluto.log
conn lab
    left=198.51.100.20
    leftid=@right.example
    leftsubnet=10.2.0.0/24
    right=192.0.2.10
    rightid=@left.example
    rightsubnet=10.1.0.0/24
    authby=secret
    auto=add" "@right.example @left.example : PSK \"lab-shared-secret-1\""
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish
}

# 10a. ESP flows one way only: the router drops ESP from the right side
#      (IKE still works); pings and TCP through the tunnel get no answer
sc_esp_one_way() {
    topo_up v4
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    attempt
    nsx router iptables -A FORWARD -i right0 -p esp -j DROP
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    tunnel_traffic 5
    bg_traffic
    finish left right
}

# 10b. the responder dies after establishment (charon stopped with SIGSTOP):
#      tunnel traffic goes unanswered and the initiator's DPD INFORMATIONAL
#      requests are retransmitted until it gives up
sc_dead_peer() {
    topo_up v4
    sw_both "$(CONN_EXTRA='        dpd_delay = 3s' swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    kill -STOP "$CHARON_PID_right"
    tunnel_traffic 3
    nap 20
    bg_traffic
    finish left right
}

# 10b. the responder daemon freezes and the initiator's operator then closes
#      the IKE SA (swanctl --terminate --ike): the Delete is retransmitted
#      with back-off and never answered (no DPD configured, so this is the
#      only INFORMATIONAL: keys tell it from a liveness check)
sc_delete_unanswered() {
    topo_up v4
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    kill -STOP "$CHARON_PID_right"
    swanctl_on left --terminate --ike lab --timeout 30 >/dev/null 2>&1 || true
    nap 2
    kill -CONT "$CHARON_PID_right"
    bg_traffic
    finish left right
}

# 10c. as 10b, but the operator closes only the Child SA (swanctl
#      --terminate --child): the Delete names the ESP SPI; when it goes
#      unanswered charon gives the whole IKE SA up
sc_child_delete_unanswered() {
    topo_up v4
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    kill -STOP "$CHARON_PID_right"
    swanctl_on left --terminate --child net --timeout 30 >/dev/null 2>&1 || true
    nap 2
    kill -CONT "$CHARON_PID_right"
    bg_traffic
    finish left right
}

# 11a. the right host's link has MTU 1200 and PMTU discovery is off there
#      (no DF): its large ESP packets (the HTTP download through the tunnel)
#      leave as IP fragments and reach the left side fragmented
sc_esp_fragmented() {
    topo_up v4
    nsx right ip link set eth0 mtu 1200
    nsx router ip link set right0 mtu 1200
    nsx right sysctl -qw net.ipv4.ip_no_pmtu_disc=1
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 11b. as 11a, and the router drops non-first fragments (iptables -f): only
#      first fragments of the large ESP packets arrive, TCP in the tunnel stalls
sc_esp_fragments_dropped() {
    topo_up v4
    nsx right ip link set eth0 mtu 1200
    nsx router ip link set right0 mtu 1200
    nsx right sysctl -qw net.ipv4.ip_no_pmtu_disc=1
    nsx router iptables -A FORWARD -f -j DROP
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    nap 3
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 11c. the router's right-side link has MTU 1300; the left host sends large
#      ESP packets with DF set (right downloads from left through the
#      tunnel): the router answers ICMP fragmentation needed (MTU 1300)
sc_esp_df_frag_needed() {
    topo_up v4
    nsx right ip link set eth0 mtu 1300
    nsx router ip link set right0 mtu 1300
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic 2
    tunnel_upload 6
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 11d. as 11c but the router does not send (drops) the ICMP fragmentation
#      needed: a PMTU black hole, the large DF ESP packets vanish and the
#      TCP sender inside the tunnel retransmits them
sc_pmtu_blackhole() {
    topo_up v4
    nsx right ip link set eth0 mtu 1300
    nsx router ip link set right0 mtu 1300
    nsx router iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic 2
    tunnel_upload 10
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 13. healthy IKEv2 over IPv6 (2001:db8:1::10 <=> 2001:db8:2::20, inner
#     2001:db8:10:1::/64 <=> 2001:db8:10:2::/64)
sc_healthy_ikev2_ipv6() {
    topo_up v6
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 12. certificate authentication with a 4-level RSA-4096 chain (end entity
#     plus three intermediates sent in IKE_AUTH)
sw_certs_pair() {
    # sw_certs_pair FRAGMENTATION(yes|no)
    local frag=$1
    pki_make "$WORK/pki"
    sw_prepare left "$(AUTH=pubkey LOCAL_EXTRA='            certs = left.crt' CONN_EXTRA="        fragmentation = $frag
        send_certreq = yes" swconf left)" "$FAST"
    sw_prepare right "$(AUTH=pubkey LOCAL_EXTRA='            certs = right.crt' CONN_EXTRA="        fragmentation = $frag" swconf right)" "$FAST"
    pki_install left "$WORK/pki"
    pki_install right "$WORK/pki"
    sw_start right
    sw_start left
}

# 12a. RFC 7383 IKE fragmentation on (strongSwan default, fragment_size
#      1280): IKE_AUTH travels as encrypted fragments (SKF), no IP fragments
sc_ike_auth_rfc7383_fragments() {
    topo_up v4
    sw_certs_pair yes
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 12b. IKE fragmentation off: the large IKE_AUTH messages are IP-fragmented
sc_ike_auth_ip_fragmented() {
    topo_up v4
    sw_certs_pair no
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 12c. IKE fragmentation off and the router drops non-first IP fragments
#      coming from the right: only the first fragment of each IKE_AUTH
#      response arrives; the initiator retransmits IKE_AUTH and gives up
sc_ike_auth_ip_fragments_dropped() {
    topo_up v4
    nsx router iptables -A FORWARD -i right0 -f -j DROP
    sw_certs_pair no
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish left right
}

# Libreswan IKEv2 responder config (conn "lab", PSK); $1 = extra "config
# setup" lines, $2 = extra conn lines
ls_ikev2_conf() {
    cat <<CONF
config setup
    logfile=$WORK/right/libreswan/pluto.log
${LS_EXTRA_SETUP:-}
$1
conn lab
    ikev2=insist
    left=198.51.100.20
    leftid=@right.example
    leftsubnet=10.2.0.0/24
    right=192.0.2.10
    rightid=@left.example
    rightsubnet=10.1.0.0/24
    authby=secret
    auto=add
$2
CONF
}
LS_SECRETS='@right.example @left.example : PSK "lab-shared-secret-1"'

# 14a. Libreswan 4.10 responder under (forced) DoS protection
#      (ddos-mode=busy): it answers IKE_SA_INIT with a COOKIE notify, the
#      initiator repeats IKE_SA_INIT with the cookie and continues
sc_ikev2_cookie_libreswan() {
    topo_up v4
    sw_prepare left "$(swconf left)" "$FAST"
    sw_start left
    ls_start right "$(ls_ikev2_conf '    ddos-mode=busy' '    ike=aes256-sha2_256;modp2048
    esp=aes256-sha2_256')" "$LS_SECRETS"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left
}

# 14b. IKEv2 proposal mismatch against Libreswan 4.10 (it only accepts
#      AES-GCM-256/SHA2-512/ECP-384... here: aes_gcm256;dh20)
sc_ikev2_proposal_mismatch_libreswan() {
    topo_up v4
    sw_prepare left "$(swconf left)" "$FAST"
    sw_start left
    ls_start right "$(ls_ikev2_conf '' '    ike=aes_gcm256-sha2_512;dh20
    esp=aes_gcm256')" "$LS_SECRETS"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    bg_traffic
    finish left
}

# 15. CHILD_SA rekey collision: both ends start a CHILD_SA rekey while the
#     router briefly drops UDP 4500, so the retransmitted CREATE_CHILD_SA
#     requests cross (RFC 7296 2.8.1: the lower nonce's SA is deleted)
sc_rekey_collision() {
    topo_up v4
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    nsx router iptables -A FORWARD -p udp --dport 4500 -j DROP
    swanctl_on left --rekey --child net >/dev/null 2>&1 &
    local p1=$!
    swanctl_on right --rekey --child net >/dev/null 2>&1 &
    local p2=$!
    nap 0.3
    nsx router iptables -D FORWARD -p udp --dport 4500 -j DROP
    wait $p1 $p2 || true
    nap 3
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 16. the responder restarts (charon killed and started again, all SAs
#     lost): the initiator keeps sending ESP on the old SPI, its DPD is
#     ignored by the new daemon (unknown IKE SPI), it gives up and, with
#     dpd_action=restart, sets up a new IKE/CHILD SA
sc_responder_restart() {
    topo_up v4
    sw_both "$(CONN_EXTRA='        dpd_delay = 3s' CHILD_EXTRA='                dpd_action = restart' swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    kill -9 "$CHARON_PID_right"
    wait "$CHARON_PID_right" 2>/dev/null || true
    cp "$WORK/right/run/charon.log" "$WORK/right/charon.log.1"
    rm -f "$WORK/right/run/charon.pid" "$WORK/right/run/charon.vici"
    sw_start right
    tunnel_traffic 2
    nap 20
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    cp "$WORK/right/run/charon.log" "$WORK/right/charon.log.2"
    finish left right
}

# 17. a tunnel that works but uses deprecated algorithms: IKE
#     3DES/SHA1/MODP1024, ESP 3DES/SHA1
sc_weak_crypto() {
    topo_up v4
    sw_both "$(PROP=3des-sha1-modp1024 ESP=3des-sha1 swconf left)" "$(PROP=3des-sha1-modp1024 ESP=3des-sha1 swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    tunnel_traffic
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 18. ESP packets replayed: five ESP packets the left host sent (same SPI
#     and sequence numbers) are sent again about 2 s later (tcpdump + tcpreplay
#     in the left namespace); the receiver's anti-replay check drops them
sc_esp_replayed() {
    topo_up v4
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    bg_traffic
    attempt
    nsx left timeout 15 tcpdump -q -i eth0 -c 5 -Z root -w "$WORK/replay.pcap" 'ip proto 50 and src 192.0.2.10' 2>/dev/null &
    local rp=$!
    nap 0.5
    tunnel_traffic 5
    wait $rp || true
    nap 1
    nsx left tcpreplay -q -i eth0 "$WORK/replay.pcap" >/dev/null 2>&1 || log "tcpreplay failed"
    tunnel_traffic 2
    bg_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    finish left right
}

# 31. traffic the tunnel should carry leaves in the clear: a policy-routing
#     rule on the initiator (priority 100, ahead of the tunnel's table 220)
#     sends its ICMP to the remote network around the tunnel. The router
#     knows both inner networks, so the echo request reaches the responder in
#     the clear and its reply goes back through the tunnel as ESP. A second
#     capture on the initiator itself (-i any: the TUN device in the clear,
#     eth0 encrypted) shows each tunnelled packet twice, and only the bypassed
#     requests once: <name>_gateway_any.pcap.
sc_cleartext_leak() {
    topo_up v4
    nsx router ip route add 10.2.0.0/24 via 198.51.100.20
    nsx router ip route add 10.1.0.0/24 via 192.0.2.10
    sw_both "$(swconf left)" "$(swconf right)"
    www_start
    cap_start "$PCAPS/$SC.pcap"
    rm -f "$PCAPS/${SC}_gateway_any.pcap"
    (EXEC=exec nsx left tcpdump -q -i any -s 0 -U -Z root -w "$PCAPS/${SC}_gateway_any.pcap" 2>"$WORK/tcpdump-any.err") &
    local any=$!
    PIDS+=("$any")
    nap 1
    bg_traffic
    attempt
    tunnel_traffic
    nsx left ip rule add to 10.2.0.0/24 ipproto icmp priority 100 lookup main
    nsx left ping -q -c 3 -i 0.3 -W 1 -I 10.1.0.1 10.2.0.1 >/dev/null 2>&1 || true
    nsx left ip rule del priority 100
    tunnel_traffic
    swanctl_on left --terminate --ike lab >/dev/null 2>&1 || true
    nap 1
    kill -INT "$any" 2>/dev/null || true
    wait "$any" 2>/dev/null || true
    finish left right
    if [ -d "$KEYS/$SC" ]; then
        rm -rf "${KEYS:?}/${SC}_gateway_any"
        cp -r "$KEYS/$SC" "$KEYS/${SC}_gateway_any"
    fi
}

# ---- TCP encapsulation (RFC 8229), two Libreswan 4.10 plutos ----
# ls_tcp_conf HOST SETUP CONN: one pluto's ipsec.conf, HOST's view of the lab
# conn; short retransmission (0.5 s, given up after 4 s) so the fall back to
# TCP comes within seconds
ls_tcp_conf() {
    local h=$1 me=192.0.2.10 them=198.51.100.20 myid=@left.example theirid=@right.example
    local mynet=10.1.0.0/24 theirnet=10.2.0.0/24
    if [ "$h" = right ]; then
        me=198.51.100.20 them=192.0.2.10 myid=@right.example theirid=@left.example
        mynet=10.2.0.0/24 theirnet=10.1.0.0/24
    fi
    cat <<CONF
config setup
    logfile=$WORK/$h/libreswan/pluto.log
$2
conn lab
    ikev2=insist
    left=$me
    leftid=$myid
    leftsubnet=$mynet
    right=$them
    rightid=$theirid
    rightsubnet=$theirnet
    authby=secret
    auto=add
    retransmit-interval=500
    retransmit-timeout=4s
$3
CONF
}

# whack HOST ARGS...: talk to HOST's pluto
ls_whack() {
    local h=$1; shift
    nsx "$h" "$LSWAN/root/usr/libexec/ipsec/whack" --ctlsocket "$WORK/$h/libreswan/run/pluto.ctl" "$@"
}

# This kernel has no espintcp (TCP_ULP "espintcp"), which Libreswan needs for
# TCP encapsulation: without it pluto refuses the TCP socket, and told to skip
# that step (the impairment tcp-skip-setsockopt-espintcp) it writes messages
# into the stream without RFC 8229's length field, which the kernel module
# would have added. So the TCP here is carried by tcpencap_relay.py: the
# plutos speak UDP, and the relay carries their datagrams over a real kernel
# TCP connection from the left host to the right host, framed as RFC 8229
# says. IKE bytes and the TCP stack are real; ESP cannot be installed (no
# kernel ESP), so only IKE is carried.
ls_udp_pair() {
    ls_start right "$(ls_tcp_conf right '' '')" "$LS_SECRETS"
    ls_start left "$(ls_tcp_conf left '' '')" "$LS_SECRETS"
}

# the left host's datagrams to the right pluto go to the relay client from
# now on (new conntrack entries: the earlier ones were not tracked)
relay_left() {
    nsx left iptables -t raw -D OUTPUT -p udp -j CT --notrack
    nsx left iptables -t nat -A OUTPUT -p udp -d 198.51.100.20 --dport 500 -j DNAT --to-destination 192.0.2.10:5500
    nsx left iptables -t nat -A OUTPUT -p udp -d 198.51.100.20 --dport 4500 -j DNAT --to-destination 192.0.2.10:5501
    (EXEC=exec nsx left python3 "$LAB/tcpencap_relay.py" client 192.0.2.10 198.51.100.20 2>"$WORK/relay-left.err") &
    PIDS+=($!)
    sleep 0.3
}

relay_right() {
    nsx right iptables -t nat -A POSTROUTING -p udp -s 198.51.100.20 --sport 5600 -j SNAT --to-source 192.0.2.10:500
    (EXEC=exec nsx right python3 "$LAB/tcpencap_relay.py" server 198.51.100.20 2>"$WORK/relay-right.err") &
    PIDS+=($!)
    sleep 0.3
}

# tcp_fallback_run WAIT: IKE_SA_INIT over UDP, dropped by the router, until
# pluto gives up (4 s); then the same peers again, over TCP 4500
tcp_fallback_run() {
    nsx router iptables -A FORWARD -p udp -m multiport --ports 500,4500 -j DROP
    nsx left iptables -t raw -A OUTPUT -p udp -j CT --notrack
    ls_udp_pair
    cap_start "$PCAPS/$SC.pcap"
    ls_whack left --name lab --initiate --asynchronous >/dev/null 2>&1 || true
    nap 4.5
    ls_whack left --name lab --terminate >/dev/null 2>&1 || true
    relay_left
    ls_whack left --name lab --initiate --asynchronous >/dev/null 2>&1 || true
    nap "$1"
    grep -E 'established|IKE_SA_INIT|timeout|TS_UNACCEPTABLE' "$WORK/left/libreswan/pluto.log" | tail -n 3 | sed 's/^/    left: /' >&2 || true
}

# 16a. a firewall drops UDP 500/4500: IKE_SA_INIT goes unanswered over UDP,
#      then the peers carry IKE in TCP 4500 and authenticate (the Child SA
#      cannot be installed: no kernel ESP)
sc_ike_tcp_fallback() {
    topo_up v4
    relay_right
    tcp_fallback_run 3
    ls_whack left --name lab --terminate >/dev/null 2>&1 || true
    nap 0.5
    finish
}

# 16b. UDP 500/4500 and TCP 4500 dropped: the fallback's SYNs go unanswered
sc_ike_tcp_blocked() {
    topo_up v4
    nsx router iptables -A FORWARD -p tcp --dport 4500 -j DROP
    relay_right
    tcp_fallback_run 8
    finish
}

# 16c. UDP 500/4500 dropped and nothing listens on TCP 4500 at the responder:
#      its kernel answers the SYN with a reset
sc_ike_tcp_refused() {
    topo_up v4
    tcp_fallback_run 2
    finish
}
