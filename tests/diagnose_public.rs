//! What the analyzer says about specific public captures, beyond the manifest's kind lists:
//! the numbers and the words an operator reads. Origins: captures/public/SOURCES.md.

#[path = "support/mod.rs"]
mod support;

use ike_sniff::diagnose::{Confidence, Severity};

fn run(rel: &str) -> support::Run {
    support::analyze(&support::capture(rel))
}

#[test]
fn fragmented_ike_auth_is_lost_with_its_backoff() {
    let r = run("public/zeek-spicy-ipsec/ipsec_client.pcap");
    let f = r.find("ike_fragments_lost").expect("reported");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.confidence, Confidence::Inferred);
    assert!(
        f.summary.contains("3 times") && f.summary.contains("1.0 s, 1.0 s"),
        "{}",
        f.summary
    );
    // Reported while reading, at the third transmission, as live mode needs.
    assert!(r.live.iter().any(|f| f.kind == "ike_fragments_lost"));
    assert!(f.frames.contains(&11), "{:?}", f.frames);
    let t = &r.tunnels[0];
    assert!(!t.established);
    assert_eq!(t.fragmentation.ike_ip_fragmented, 3);
}

#[test]
fn ikev1_rejection_lists_the_offer_then_the_tunnel_comes_up() {
    let r = run("public/zeek-spicy-ipsec/ipsec.cap");
    let f = r.find("ike_proposal_mismatch").expect("reported");
    assert_eq!(f.confidence, Confidence::Observed);
    assert!(
        f.summary.contains("3DES") && f.summary.contains("MODP_1024"),
        "{}",
        f.summary
    );
    let t = r
        .tunnels
        .iter()
        .find(|t| t.established)
        .expect("tunnel up later");
    assert!(
        t.esp_packets[0] > 0 && t.esp_packets[1] > 0,
        "{:?}",
        t.esp_packets
    );
    assert_eq!(t.ike_version, vec![1]);
}

#[test]
fn invalid_ke_retry_succeeds_and_small_auth_response_is_read() {
    let r = run("public/ukncsc-zeek-plugin-ikev2/ikev2.pcap");
    let f = r.find("dh_group_mismatch").expect("reported");
    assert_eq!(f.severity, Severity::Info, "{}", f.summary);
    assert!(
        f.summary.contains("group 15") && f.summary.contains("group 19"),
        "{}",
        f.summary
    );
    // The IKE_AUTH response is 48 bytes of ciphertext: room for a notify, not IDr+AUTH.
    let a = r.find("auth_failed").expect("inferred");
    assert_eq!(a.confidence, Confidence::Inferred);
    let t = &r.tunnels[0];
    assert!(t.fragmentation.ike_fragments_used);
    assert_eq!(t.fragmentation.ike_ip_fragmented, 0);
}

#[test]
fn cookie_round_trip_is_information_only() {
    let r = run("public/tcpdump/ikev2four.pcap");
    let f = r.find("cookie_challenge").expect("reported");
    assert_eq!(f.severity, Severity::Info);
    let t = &r.tunnels[0];
    assert!(t.child_rekeys >= 7, "{}", t.child_rekeys);
    assert!(t.ike_response_time.as_ref().is_some_and(|h| h.samples >= 8));
}

/// nDPI's "Invalid IPSec/ISAKMP Header": frame 207 is an IKE_SA_INIT request with flags 0xff
/// (tshark: "Initiator, A higher version enabled, Response"). The finding names it, and the
/// tracker files it by the SA's roles, so the COOKIE in frame 208 is still a challenge to it and
/// the gateway's later INFORMATIONAL (frame 225) is not a request left unanswered.
#[test]
fn response_flag_on_a_request_does_not_hide_the_cookie_challenge() {
    let r = run("public/ndpi/ipsec_isakmp_esp.pcap");
    let f = r.find("invalid_header").expect("reported");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.frames, [207]);
    assert!(
        f.summary.contains("R flag on the IKE_SA_INIT request"),
        "{}",
        f.summary
    );
    assert!(
        r.all()
            .any(|f| f.kind == "cookie_challenge" && f.frames == [208, 210]),
        "{}",
        r.describe()
    );
    assert!(
        !r.all()
            .any(|f| f.kind == "ike_unanswered" && f.frames.contains(&225)),
        "{}",
        r.describe()
    );
}

/// Frame 192: an IKE_AUTH request whose first payload type is 127 and whose chain announces a
/// payload past the end of the message. A request, so a warning.
#[test]
fn malformed_ike_auth_request_is_a_warning() {
    let r = run("public/ndpi/ipsec_isakmp_esp.pcap");
    let f = r.find("ike_malformed").expect("reported");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.frames, [192]);
}

/// Openswan lp08 frame 2 answers IKE_SA_INIT with an INVALID_KE_PAYLOAD that has no group
/// (tshark: [Malformed Packet]): malformed, and its notify is not read as the responder's.
#[test]
fn invalid_ke_without_group_is_malformed_not_a_notify() {
    let r = run("public/openswan/libpluto/lp08-parentR1/parentR1notify.pcap");
    let f = r.find("ike_malformed").expect("reported");
    assert_eq!(f.frames, [2]);
    assert!(
        !r.all()
            .any(|f| f.frames.contains(&2) && f.kind != "ike_malformed"),
        "{}",
        r.describe()
    );
}

#[test]
fn nat_t_capture_tunnel_summary() {
    let r = run("public/scapy/ikev2_nat_t.pcapng");
    let t = r
        .tunnels
        .iter()
        .find(|t| t.established)
        .expect("established");
    assert!(t.nat.esp_in_udp && t.nat.ike_on_4500);
    assert!(t.esp_packets[0] > 0 && t.esp_packets[1] > 0);
    assert!(
        t.ike_sas.len() >= 2,
        "re-establishments: {}",
        t.ike_sas.len()
    );
    for f in r.all() {
        assert_eq!(f.severity, Severity::Info, "{} {}", f.kind, f.summary);
    }
}

#[test]
fn ikev1_keepalives_on_4500() {
    let r = run("public/tcpdump/isakmp4500.pcap");
    let f = r.find("nat_keepalive").expect("reported");
    assert_eq!(f.severity, Severity::Info);
    assert!(r.tunnels.iter().any(|t| t.nat.keepalives == 4));
}

#[test]
fn esp_sample_has_clean_sequences_and_per_spi_children() {
    let r = run("public/arkime/wireshark-esp.pcap");
    assert!(r.find("esp_sequence_anomaly").is_none(), "{}", r.describe());
    assert_eq!(r.tunnels.len(), 24);
    for t in &r.tunnels {
        assert_eq!(t.state, "esp_only");
        assert_eq!(t.esp_packets, [10, 0]);
    }
}

/// The Wireshark ESP sample's NULL-encrypted SAs, and only those: the four tshark's ESP-NULL
/// heuristic (`esp.enable_null_encryption_decode_heuristic`) decodes — SPI 0x71 and 0xd, a
/// 12-byte ICV — and two it does not try, 0x7b and 0x17, which carry no ICV at all (frame 111
/// ends `… 36 37 01 02 02 01`: pad 1 2, pad length 2, next header ICMP). The other 18 SAs are
/// ciphertext.
#[test]
fn esp_sample_null_encrypted_sas_agree_with_tshark() {
    let r = run("public/arkime/wireshark-esp.pcap");
    let mut null: Vec<String> = r
        .all()
        .filter(|f| f.kind == "esp_null")
        .map(|f| format!("{} {}", f.peers.b, &f.summary[8..18]))
        .collect();
    null.sort();
    assert_eq!(
        null,
        [
            "190.0.0.15 0x00000071",
            "190.0.0.25 0x0000007b",
            "190.0.0.5 0x00000071",
            "3ffe::15 0x0000000d",
            "3ffe::25 0x00000017",
            "3ffe::5 0x0000000d",
        ],
        "{}",
        r.describe()
    );
    let icv0 = r
        .all()
        .filter(|f| f.kind == "esp_null" && f.summary.contains("with a 0-byte ICV"))
        .count();
    assert_eq!(icv0, 2);
}

#[test]
fn healthy_captures_get_no_errors_or_warnings_beyond_weak_crypto() {
    for rel in [
        "public/arkime/IKEv2.pcap",
        "public/ndpi/esp.pcapng",
        "public/ndpi/ah.pcapng",
        "public/zeek-spicy-ipsec/ipsec-ikev1-isakmp-main-mode.pcap",
        "public/tcpdump/ISAKMP_sa_setup.pcap",
    ] {
        let r = run(rel);
        for f in r.all().filter(|f| f.kind != "weak_crypto") {
            assert_eq!(
                f.severity,
                Severity::Info,
                "{rel}: {} {}",
                f.kind,
                f.summary
            );
        }
    }
}

/// Every public capture, fuzzed and broken ones included, goes through without a panic.
#[test]
fn every_public_capture_runs() {
    let mut dirs = vec![support::capture("public")];
    let mut n = 0;
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
            {
                let _ = support::analyze(&p);
                n += 1;
            }
        }
    }
    assert!(n > 50, "{n}");
}

/// nDPI's capture is merged out of order: frame 263 answers IKE_SA_INIT with INVALID_KE_PAYLOAD
/// (group 14), frame 264 retries with a new SPI and frame 267 accepts it, but that SA's IKE_AUTH
/// sits earlier in the file (frames 245-250). The retry succeeded: never "no successful retry".
#[test]
fn invalid_ke_retry_accepted_out_of_file_order_is_a_success() {
    let r = run("public/ndpi/ipsec_isakmp_esp.pcap");
    let dh: Vec<_> = r.all().filter(|f| f.kind == "dh_group_mismatch").collect();
    assert!(!dh.is_empty());
    let f = dh
        .iter()
        .find(|f| f.frames.starts_with(&[260, 263]))
        .expect("the rejection at frame 263");
    assert_eq!(f.severity, Severity::Info, "{}", f.summary);
    assert!(f.summary.contains("succeeded"), "{}", f.summary);
}
