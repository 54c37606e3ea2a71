//! Generated corpora against their ground truth: ike-sniff's summary counters (`--json`, the
//! `{"type":"summary"}` line) must equal what `ike-sniff-corpus` says it wrote.
//!
//! Not timed: the benchmarks (`benches/`, `benches/race.sh`) do that.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const COUNTERS: [&str; 9] = [
    "ike",
    "ike_v1",
    "ike_v2",
    "esp",
    "esp_in_udp",
    "nat_keepalives",
    "icmp_errors",
    "ip_fragments",
    "ip_reassembled",
];

fn generate(kind: &str, size: &str, seed: u64, name: &str) -> (PathBuf, Value) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let status = Command::new(env!("CARGO_BIN_EXE_ike-sniff-corpus"))
        .args([
            "--kind",
            kind,
            "--size",
            size,
            "--seed",
            &seed.to_string(),
            "-o",
        ])
        .arg(&path)
        .status()
        .expect("run ike-sniff-corpus");
    assert!(status.success(), "ike-sniff-corpus failed");
    let truth_path = format!("{}.truth.json", path.display());
    let truth: Value =
        serde_json::from_slice(&std::fs::read(&truth_path).expect("read truth")).expect("json");
    (path, truth)
}

fn summary(path: &PathBuf) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .arg("-r")
        .arg(path)
        .arg("--json")
        .output()
        .expect("run ike-sniff");
    assert!(out.status.success(), "ike-sniff failed: {:?}", out.status);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains(r#""type":"summary""#))
        .expect("a summary line");
    serde_json::from_str(line).expect("summary is JSON")
}

fn check_counters(truth: &Value, summary: &Value) {
    let got = &summary["counters"];
    let want = &truth["counters"];
    let mut diffs = Vec::new();
    for k in COUNTERS {
        if got[k] != want[k] {
            diffs.push(format!("{k}: ike-sniff {} truth {}", got[k], want[k]));
        }
    }
    assert_eq!(got["packets"], truth["packets"], "packets");
    assert_eq!(got["malformed"], 0, "a generated packet was malformed");
    assert!(diffs.is_empty(), "counters differ: {diffs:?}");
    // Every packet that is not IPsec is counted as other IP or not IP.
    let other = got["other_ip"].as_u64().unwrap() + got["not_ip"].as_u64().unwrap();
    assert_eq!(
        other,
        truth["packets_by_class"]["other"].as_u64().unwrap(),
        "other"
    );
}

#[test]
fn mix_counters_match_the_truth() {
    let (path, truth) = generate("mix", "16MiB", 7, "corpus-mix-16m.pcap");
    let by_class = truth["packets_by_class"].as_object().unwrap();
    let sum: u64 = by_class.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(
        sum,
        truth["packets"].as_u64().unwrap(),
        "classes sum to packets"
    );
    // The mix really is a mix: IKE of both versions, every failure kind, NAT-T, fragments.
    for k in COUNTERS {
        assert!(truth["counters"][k].as_u64().unwrap() > 0, "{k} planted");
    }
    assert!(truth["negotiations"].as_object().unwrap().len() >= 8);
    check_counters(&truth, &summary(&path));
}

#[test]
fn ike_heavy_counters_match_the_truth() {
    let (path, truth) = generate("ike-heavy", "2MiB", 3, "corpus-ike-heavy-2m.pcap");
    let ike = truth["counters"]["ike"].as_u64().unwrap();
    assert!(ike * 2 > truth["packets"].as_u64().unwrap(), "mostly IKE");
    check_counters(&truth, &summary(&path));
}

#[test]
fn flood_is_read_to_the_end() {
    let (path, truth) = generate("flood", "2MiB", 5, "corpus-flood-2m.pcap");
    let s = summary(&path);
    assert_eq!(s["counters"]["packets"], truth["packets"]);
    assert_eq!(s["complete"], true);
    // Junk on UDP 4500 is ESP-in-UDP by RFC 3948; every planted ESP is counted as such.
    let esp = s["counters"]["esp"].as_u64().unwrap();
    assert!(esp >= truth["counters"]["esp"].as_u64().unwrap());
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let (a, _) = generate("mix", "1MiB", 11, "corpus-seed-a.pcap");
    let (b, _) = generate("mix", "1MiB", 11, "corpus-seed-b.pcap");
    let (c, _) = generate("mix", "1MiB", 12, "corpus-seed-c.pcap");
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}
