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
