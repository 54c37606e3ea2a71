//! Issue 16: `--json-format ecs`. One ECS document per native JSON line, with the fields a
//! SIEM indexes on; packet and finding documents carry a Community ID, and every packet's is
//! the one Wireshark's Community ID dissector computes for the same frame (where tshark is).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn capture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_line_becomes_an_ecs_document() {
    let file = capture("lab/pcaps/responder_restart.pcap");
    let native = run(&["-r", &file, "--json"]);
    let ecs = run(&["-r", &file, "--json-format", "ecs"]);
    assert_eq!(native.len(), ecs.len());
    for (n, d) in native.iter().zip(&ecs) {
        let t = n["type"].as_str().unwrap();
        assert_eq!(d["event"]["dataset"], format!("ike_sniff.{t}"), "{d}");
        assert_eq!(d["ecs"]["version"], "8.11.0");
        assert!(
            d["@timestamp"].as_str().is_some_and(|s| s.ends_with('Z')),
            "{d}"
        );
        assert!(d["event"]["kind"].as_str().is_some(), "{d}");
        assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
        match t {
            "packet" => {
                assert_eq!(d["source"]["ip"], n["src"]);
                assert_eq!(d["destination"]["ip"], n["dst"]);
                assert!(d["network"]["community_id"].as_str().is_some(), "{d}");
                assert!(d["network"]["transport"].as_str().is_some(), "{d}");
                assert!(d["ike"].is_object() || d["esp"].is_object(), "{d}");
            }
            "finding" | "finding_cleared" => {
                assert_eq!(d["event"]["kind"], "alert");
                assert_eq!(d["rule"]["id"], n["kind"]);
                assert!(d["rule"]["name"].as_str().is_some(), "{d}");
                assert_eq!(d["event"]["id"], n["id"]);
                let want = if t == "finding" { "start" } else { "end" };
                if n["update"] != true {
                    assert_eq!(d["event"]["type"][0], want, "{d}");
                }
            }
            _ => assert!(d["ike_sniff"][t].is_object(), "{d}"),
        }
    }
    let cleared = ecs
        .iter()
        .filter(|d| d["event"]["type"][0] == "end" && d["rule"]["id"] == "dead_peer")
        .count();
    assert_eq!(cleared, 1);
}

/// Community IDs against Wireshark's (tshark's `communityid` dissector, off by default).
#[test]
fn community_ids_match_wiresharks() {
    for rel in [
        "lab/pcaps/dead_peer.pcap",
        "lab/pcaps/nat_t.pcap",
        "lab/pcaps/healthy_ikev2_ipv6.pcap",
        "lab/pcaps/esp_df_frag_needed.pcap",
    ] {
        let file = capture(rel);
        let out = match Command::new("tshark")
            .args([
                "-r",
                &file,
                "--enable-protocol",
                "communityid",
                "-T",
                "fields",
            ])
            .args(["-e", "frame.number", "-e", "communityid"])
            .output()
        {
            Ok(o) if o.status.success() => o,
            _ => {
                eprintln!("SKIPPED: community_ids_match_wiresharks: tshark with communityid");
                return;
            }
        };
        let theirs: HashMap<u64, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (f, id) = l.split_once('\t')?;
                if id.is_empty() {
                    return None;
                }
                Some((f.parse().ok()?, id.to_string()))
            })
            .collect();
        let mut compared = 0;
        for d in run(&["-r", &file, "--json-format", "ecs", "-v"]) {
            if d["event"]["dataset"] != "ike_sniff.packet" {
                continue;
            }
            let frame = d["ike_sniff"]["packet"]["frame"].as_u64().unwrap();
            // An ICMP error's line is about the packet it quotes; tshark hashes the ICMP.
            if d["network"]["transport"] == "icmp" || d["network"]["transport"] == "ipv6-icmp" {
                continue;
            }
            if let Some(want) = theirs.get(&frame) {
                assert_eq!(
                    d["network"]["community_id"],
                    *want.as_str(),
                    "{rel} frame {frame}"
                );
                compared += 1;
            }
        }
        assert!(compared > 0, "{rel}: nothing compared");
    }
}
