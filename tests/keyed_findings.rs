//! With `--keys`, findings that are inferred without them become observed, from the peer's own
//! words inside the encrypted messages, on the lab captures of real daemons (their keys from
//! the daemons' logs in `captures/lab/keys/`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn findings(scenario: &str, keys: bool) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ike-sniff"));
    cmd.args(["-q", "--json", "-r"])
        .arg(root.join(format!("captures/lab/pcaps/{scenario}.pcap")));
    if keys {
        cmd.arg("--keys")
            .arg(root.join(format!("captures/lab/keys/{scenario}")));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{scenario}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The last line of each id is the finding as it stood at the end.
    let mut by_id: Vec<Value> = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "finding" {
            continue;
        }
        match by_id.iter_mut().find(|f| f["id"] == v["id"]) {
            Some(f) => *f = v,
            None => by_id.push(v),
        }
    }
    by_id
}

fn kind<'a>(fs: &'a [Value], k: &str) -> Vec<&'a Value> {
    fs.iter().filter(|f| f["kind"] == k).collect()
}

#[test]
fn psk_mismatch_is_the_peers_authentication_failed() {
    let without = findings("psk_mismatch_ikev2", false);
    assert_eq!(kind(&without, "auth_failed")[0]["confidence"], "inferred");
    let with = findings("psk_mismatch_ikev2", true);
    let f = kind(&with, "auth_failed");
    assert_eq!(f.len(), 1, "{with:?}");
    assert_eq!(f[0]["confidence"], "observed");
    assert!(
        f[0]["summary"]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATION_FAILED"),
        "{}",
        f[0]
    );
    // The identities the initiator used and asked for, from its opened IKE_AUTH request: what
    // the operator compares with leftid/rightid.
    assert!(
        f[0]["summary"].as_str().unwrap().contains(
            "Identities: 192.0.2.10 used ID_FQDN left.example and asked for ID_FQDN right.example"
        ),
        "{}",
        f[0]
    );
    let v1 = findings("ikev1_psk_mismatch", true);
    assert!(
        kind(&v1, "auth_failed")[0]["summary"]
            .as_str()
            .unwrap()
            .ends_with("Identities: 192.0.2.10 used ID_FQDN left.example"),
        "{v1:?}"
    );
}

#[test]
fn traffic_selectors_refused_are_said_once_as_observed() {
    let without = findings("ts_mismatch", false);
    assert_eq!(
        kind(&without, "child_sa_refused")[0]["confidence"],
        "inferred"
    );
    let with = findings("ts_mismatch", true);
    let ts = kind(&with, "ts_unacceptable");
    assert_eq!(ts[0]["confidence"], "observed");
    // What was refused: the initiator's selectors from the decrypted IKE_AUTH request.
    assert!(
        ts[0]["summary"]
            .as_str()
            .unwrap()
            .contains("offered TSi 10.1.0.0/24 and TSr 10.2.0.0/24"),
        "{}",
        ts[0]
    );
    // The inference it replaces is not said beside it.
    assert!(kind(&with, "child_sa_refused").is_empty(), "{with:?}");
}

#[test]
fn child_proposal_refused_names_the_notify() {
    let with = findings("child_proposal_mismatch", true);
    let f = kind(&with, "child_sa_refused");
    assert_eq!(f.len(), 1, "{with:?}");
    assert_eq!(f[0]["confidence"], "observed");
    assert!(
        f[0]["summary"]
            .as_str()
            .unwrap()
            .contains("NO_PROPOSAL_CHOSEN"),
        "{}",
        f[0]
    );
    // What was refused: the ESP proposal of the opened IKE_AUTH request.
    assert!(
        f[0]["summary"].as_str().unwrap().ends_with(
            "; 192.0.2.10 offered #1 ESP: ENCR_AES_CBC-256, AUTH_HMAC_SHA2_256_128, NO_ESN"
        ),
        "{}",
        f[0]
    );
}

#[test]
fn an_mss_the_path_cannot_carry_gets_its_clamp() {
    for scenario in ["esp_df_frag_needed", "pmtu_blackhole", "esp_fragmented"] {
        assert!(kind(&findings(scenario, false), "mss_too_large").is_empty());
        let with = findings(scenario, true);
        let f = kind(&with, "mss_too_large");
        assert_eq!(f.len(), 1, "{scenario}: {with:?}");
        assert!(
            f[0]["remedy"].as_str().unwrap().contains("--set-mss"),
            "{}",
            f[0]
        );
    }
    assert!(kind(&findings("healthy_ikev2", true), "mss_too_large").is_empty());
}

#[test]
fn keys_change_nothing_on_a_healthy_tunnel() {
    for scenario in ["healthy_ikev2", "healthy_ikev1", "nat_t"] {
        let without: Vec<_> = findings(scenario, false)
            .iter()
            .map(|f| f["kind"].clone())
            .collect();
        let with: Vec<_> = findings(scenario, true)
            .iter()
            .map(|f| f["kind"].clone())
            .collect();
        assert_eq!(without, with, "{scenario}");
    }
}

/// The bypassed pings (three echo requests routed around the tunnel) are the leak, whether the
/// capture is on the path (each packet once) or on the gateway itself with `-i any`, where every
/// tunnelled packet also shows in the clear on the TUN device and must not count. Keys are
/// needed: without them the selectors are unknown and nothing is said. And no other lab capture
/// with keys leaks.
#[test]
fn traffic_routed_around_the_tunnel_is_a_leak_and_its_gateway_twins_are_not() {
    for scenario in ["cleartext_leak", "cleartext_leak_gateway_any"] {
        assert!(kind(&findings(scenario, false), "cleartext_leak").is_empty());
        let with = findings(scenario, true);
        let f = kind(&with, "cleartext_leak");
        assert_eq!(f.len(), 1, "{scenario}: {with:?}");
        let summary = f[0]["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("3 packets (252 bytes)")
                && summary.contains("(10.1.0.0/24 <=> 10.2.0.0/24)")
                && summary.contains("10.1.0.1 > 10.2.0.1 ICMP ×3"),
            "{scenario}: {summary}"
        );
        assert_eq!(f[0]["severity"], "error");
        assert_eq!(f[0]["confidence"], "observed");
        assert_eq!(f[0]["frames"].as_array().unwrap().len(), 3, "{}", f[0]);
    }
    for scenario in [
        "healthy_ikev2",
        "healthy_ikev1",
        "healthy_ikev2_ipv6",
        "nat_t",
        "rekey_collision",
        "esp_fragmented",
    ] {
        assert!(
            kind(&findings(scenario, true), "cleartext_leak").is_empty(),
            "{scenario}"
        );
    }
}

/// An unanswered INFORMATIONAL looks like a failed liveness check without keys; with them the
/// lab's frozen responder shows an empty one (DPD) in `dead_peer`, and the operator's Delete of
/// the IKE SA or of the Child SA in `delete_unanswered` / `child_delete_unanswered`.
#[test]
fn keys_tell_a_liveness_check_from_a_delete() {
    let dpd = findings("dead_peer", true);
    let d = kind(&dpd, "dead_peer");
    assert_eq!(d.len(), 1, "{dpd:?}");
    assert_eq!(d[0]["confidence"], "observed");
    assert!(
        d[0]["summary"]
            .as_str()
            .unwrap()
            .contains("decrypted, it is an empty INFORMATIONAL: a liveness check (DPD)"),
        "{}",
        d[0]
    );
    for (scenario, deleted) in [
        ("delete_unanswered", "Delete of the IKE SA "),
        ("child_delete_unanswered", "Delete of Child SA ESP 0x"),
    ] {
        let without = findings(scenario, false);
        assert_eq!(
            kind(&without, "dead_peer")[0]["confidence"],
            "inferred",
            "{scenario}"
        );
        assert!(
            kind(&without, "delete_unacknowledged").is_empty(),
            "{scenario}"
        );
        let with = findings(scenario, true);
        assert!(kind(&with, "dead_peer").is_empty(), "{scenario}: {with:?}");
        let f = kind(&with, "delete_unacknowledged");
        assert_eq!(f.len(), 1, "{scenario}: {with:?}");
        assert_eq!(f[0]["severity"], "warning");
        let text = f[0]["summary"].as_str().unwrap();
        assert!(
            text.contains(&format!("decrypted, it is 192.0.2.10's {deleted}"))
                && text.contains("198.51.100.20 never acknowledged the close"),
            "{scenario}: {text}"
        );
    }
}

/// Which Child SA a Delete ended, and who sent it: the rekeyed-away SA of the healthy lab
/// tunnel is deleted by the initiator in frame 116 (tshark shows the Delete there too); the
/// last one ends with its IKE SA, which no Child SA Delete names.
#[test]
fn keys_say_which_child_sa_a_delete_ended_and_who_sent_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-q", "-r"])
        .arg(root.join("captures/lab/pcaps/healthy_ikev2.pcap"))
        .arg("--keys")
        .arg(root.join("captures/lab/keys/healthy_ikev2"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let children: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Child SA ESP"))
        .collect();
    assert_eq!(children.len(), 2, "{text}");
    assert!(
        children[0].ends_with(", deleted by 192.0.2.10 (frame 116)"),
        "{}",
        children[0]
    );
    assert!(!children[1].contains("deleted"), "{}", children[1]);
    let json = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-q", "--json", "-r"])
        .arg(root.join("captures/lab/pcaps/healthy_ikev2.pcap"))
        .arg("--keys")
        .arg(root.join("captures/lab/keys/healthy_ikev2"))
        .output()
        .unwrap();
    let tunnel: Value = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == "tunnel")
        .unwrap();
    assert_eq!(
        tunnel["child_sas"][0]["deleted"],
        serde_json::json!({"by": "192.0.2.10", "frame": 116})
    );
}
