//! The binary's JSON contract for findings and tunnels: `ike-sniff -r FILE --json -q`.
//!
//! Ignored until the pipeline (src/run.rs on main) feeds the analyzer and prints its findings
//! and tunnels; then run with `cargo test --test diagnose_cli -- --ignored`.

#[path = "support/mod.rs"]
mod support;

fn run(rel: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    support::binary_json(&support::capture(rel)).expect("the binary printed finding/tunnel lines")
}

fn kinds(f: &[serde_json::Value]) -> Vec<String> {
    f.iter()
        .map(|v| v["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fragmented_ike_auth_capture() {
    let (f, t) = run("public/zeek-spicy-ipsec/ipsec_client.pcap");
    let k = kinds(&f);
    assert!(k.contains(&"ike_fragments_lost".to_string()), "{k:?}");
    for v in &f {
        for field in [
            "kind",
            "severity",
            "confidence",
            "peers",
            "frames",
            "first_ts",
            "last_ts",
            "summary",
            "remedy",
        ] {
            assert!(!v[field].is_null(), "{field} missing in {v}");
        }
        assert!(v["first_ts"].is_f64());
        assert_eq!(v["peers"].as_array().unwrap().len(), 2);
    }
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["ike_version"][0], 2);
    assert_eq!(t[0]["established"], false);
}

#[test]
fn healthy_ikev1_tunnel_summary() {
    let (f, t) = run("public/zeek-spicy-ipsec/ipsec.cap");
    assert!(kinds(&f).contains(&"ike_proposal_mismatch".to_string()));
    let est: Vec<_> = t.iter().filter(|t| t["established"] == true).collect();
    assert!(!est.is_empty(), "{t:?}");
    let esp = est[0]["esp_packets"].as_array().unwrap();
    assert!(esp[0].as_u64().unwrap() > 0 && esp[1].as_u64().unwrap() > 0);
}

/// Library and binary agree on what they find.
#[test]
fn binary_matches_library() {
    for rel in [
        "public/ukncsc-zeek-plugin-ikev2/ikev2.pcap",
        "public/tcpdump/ikev2four.pcap",
    ] {
        let (f, _) = run(rel);
        let mut a = kinds(&f);
        a.sort();
        a.dedup();
        let lib: Vec<String> = support::analyze(&support::capture(rel))
            .kinds()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(a, lib, "{rel}");
    }
}
