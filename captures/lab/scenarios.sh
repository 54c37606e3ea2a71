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
    esp_one_way dead_peer
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
    sleep 1
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
    sleep 22
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
    sleep 12
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
    sleep 20
    bg_traffic
    finish left right
}
