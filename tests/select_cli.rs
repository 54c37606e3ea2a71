//! Issue 14: `--peer`, `--spi` and `--finding` narrow packets, findings and tunnels (and what
//! `-w` writes). The nDPI capture has three peer pairs between one client and three gateways.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

const NDPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/captures/public/ndpi/ipsec_isakmp_esp.pcap"
);

fn ike_sniff() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ike-sniff"));
    c.env("TZ", "UTC");
    c
}

/// The JSON lines of `ike-sniff -r NDPI -v --json ARGS…`.
fn lines(args: &[&str]) -> Vec<Value> {
    let out = ike_sniff()
        .args(["-r", NDPI, "-v", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == t).collect()
}

fn packet_frames(lines: &[Value]) -> BTreeSet<u64> {
    of_type(lines, "packet")
        .iter()
        .filter_map(|v| v["frame"].as_u64())
        .collect()
}

fn tunnel_peers(lines: &[Value]) -> Vec<String> {
    of_type(lines, "tunnel")
        .iter()
        .map(|t| format!("{} {}", t["peers"][0], t["peers"][1]))
        .collect()
}

#[test]
fn peer_narrows_packets_findings_and_tunnels() {
    let all = lines(&[]);
    assert_eq!(of_type(&all, "tunnel").len(), 9);
    let peer = "109.237.187.226";
    let some = lines(&["--peer", peer]);
    assert_eq!(
        tunnel_peers(&some),
        [r#""109.237.187.226" "192.168.2.100""#]
    );
    let packets = of_type(&some, "packet");
    assert!(packets.len() >= 10);
    for p in &packets {
        assert!(p["src"] == peer || p["dst"] == peer, "{p}");
    }
    // Exactly the packets of that peer in the whole run.
    let want: BTreeSet<u64> = of_type(&all, "packet")
        .iter()
        .filter(|p| p["src"] == peer || p["dst"] == peer)
        .filter_map(|p| p["frame"].as_u64())
        .collect();
    assert_eq!(packet_frames(&some), want);
    let findings = of_type(&some, "finding");
    assert!(!findings.is_empty());
    for f in findings {
        let peers = f["peers"].to_string();
        assert!(peers.contains(peer), "{f}");
    }
}

#[test]
fn spi_selects_the_sa_and_its_tunnel() {
    let by_peer = packet_frames(&lines(&["--peer", "109.237.187.226"]));
    // The Child SA's outbound ESP SPI, the IKE SA's initiator SPI: the same tunnel, from its
    // IKE_SA_INIT on, although the ESP SPI appears only after it.
    for spi in ["cbafdd3e", "0xCBAFDD3E", "ab0b305f5a5d5a54"] {
        let got = lines(&["--spi", spi]);
        assert_eq!(packet_frames(&got), by_peer, "--spi {spi}");
        assert_eq!(tunnel_peers(&got).len(), 1, "--spi {spi}");
    }
    // An SPI nobody used selects nothing.
    let none = lines(&["--spi", "deadbeef"]);
    assert!(packet_frames(&none).is_empty());
    assert!(of_type(&none, "tunnel").is_empty());
}

#[test]
fn finding_selects_that_kind_and_its_tunnels() {
    let got = lines(&["--finding", "esp_sequence_anomaly"]);
    let findings = of_type(&got, "finding");
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["kind"] == "esp_sequence_anomaly"));
    assert_eq!(tunnel_peers(&got), [r#""109.237.187.130" "192.168.2.100""#]);
    assert!(packet_frames(&got).len() >= 20);
    // A kind the capture does not have: nothing at all.
    let none = lines(&["--finding", "dead_peer"]);
    assert!(of_type(&none, "finding").is_empty());
    assert!(packet_frames(&none).is_empty());
}

#[test]
fn w_writes_only_the_selection_and_threads_agree() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("select-{}.pcap", std::process::id()));
    let run = ike_sniff()
        .args(["-q", "-r", NDPI, "--spi", "cbafdd3e", "-w"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success());
    let again = ike_sniff()
        .arg("-r")
        .arg(&out)
        .args(["-v", "--json"])
        .output()
        .unwrap();
    let again: Vec<Value> = String::from_utf8_lossy(&again.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        tunnel_peers(&again),
        [r#""109.237.187.226" "192.168.2.100""#]
    );
    let selected = lines(&["--spi", "cbafdd3e"]);
    assert_eq!(
        of_type(&again, "packet").len(),
        of_type(&selected, "packet").len()
    );
    let _ = std::fs::remove_file(&out);
    for args in [["--peer", "109.237.187.130"], ["--finding", "weak_crypto"]] {
        let run = |threads: &str| {
            ike_sniff()
                .args(["-r", NDPI, "--threads", threads])
                .args(args)
                .output()
                .unwrap()
                .stdout
        };
        assert!(run("1") == run("2"), "{args:?}");
    }
}

#[test]
fn selection_usage_errors() {
    for (args, says) in [
        (
            vec!["-r", NDPI, "--finding", "no_such_kind"],
            "no such finding",
        ),
        (vec!["-r", "-", "--spi", "01020304"], "give a file"),
        (vec!["-r", NDPI, "--spi", "xyz"], "not hexadecimal"),
        (vec!["-i", "lo", "--peer", "192.0.2.1"], "only with -r"),
    ] {
        let out = ike_sniff().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
