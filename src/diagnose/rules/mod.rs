//! The rules, one file each, and the one list of them. Adding a finding is a new file here and
//! one line in [`rules!`]: the catalogue, `--list-findings`, `docs/findings.md` and the test
//! that every rule is registered all come from this list. The order is the order rules run in
//! (and so the order of findings raised by one packet).

use super::rule::RuleDef;

macro_rules! rules {
    ($($rule:ident,)*) => {
        $(mod $rule;)*

        /// Every rule, in the order they run.
        pub static RULES: &[RuleDef] = &[$($rule::RULE,)*];

        /// The rule files, by name, for the test that each file is in the list.
        #[cfg(test)]
        pub const NAMES: &[&str] = &[$(stringify!($rule),)*];
    };
}

rules! {
    peer_address_invalid,
    peer_unreachable,
    ike_unanswered,
    tcp_encap_blocked,
    ike_tcp_fallback,
    tcp_encap_interrupted,
    ike_reflection,
    ike_response_lost,
    ike_proposal_mismatch,
    dh_group_mismatch,
    auth_failed,
    child_sa_refused,
    cookie_challenge,
    ike_redirect,
    error_notify,
    invalid_header,
    ike_malformed,
    ike_ip_fragmented,
    ike_fragments_lost,
    esp_fragmented,
    esp_null,
    fragments_lost,
    icmp_frag_needed,
    mss_too_large,
    cleartext_leak,
    pmtu_blackhole,
    nat_detected,
    nat_keepalive,
    group_traffic,
    esp_one_way,
    dead_peer,
    stale_sa,
    peer_restarted,
    esp_sequence_anomaly,
    rekey_collision,
    aggressive_mode_psk,
    weak_crypto,
}
