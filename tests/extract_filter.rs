//! Issue 14: offline filters and extraction as a tcpdump user expects them. A trailing
//! expression with `-r` keeps exactly the packets `tcpdump -r FILE EXPR` keeps (of those
//! ike-sniff analyses), and `-w OUT` writes the packets analysed with their timestamps and bytes,
//! which tcpdump and ike-sniff then read back as the same packets.
//!
//! Packets are matched between files by timestamp (to the microsecond, what tcpdump's `-w`
//! keeps) and bytes, which turns a written file back into the original's frame numbers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn capture(rel: &str) -> String {
    format!("{}/captures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("extract-{}-{name}", std::process::id()))
}

fn ike_sniff() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ike-sniff"));
    c.env("TZ", "UTC");
    c
}

type Record = (i64, i64, Vec<u8>);

/// Every record of a capture: (seconds, microseconds, bytes).
fn records(path: &Path) -> Vec<Record> {
    let mut cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => out.push((
                p.header.ts.tv_sec,
                p.header.ts.tv_usec / 1000,
                p.data.to_vec(),
            )),
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    out
}

/// The frame numbers (1-based) in `original` of the records of `subset`, which must be a
/// subsequence of it.
fn frames(original: &[Record], subset: &[Record]) -> BTreeSet<usize> {
    let mut frames = BTreeSet::new();
    let mut from = 0;
    for r in subset {
        let i = original[from..]
            .iter()
            .position(|o| o == r)
            .unwrap_or_else(|| {
                panic!(
                    "a written packet ({}.{:06}) is not in the original",
                    r.0, r.1
                )
            })
            + from;
        frames.insert(i + 1);
        from = i + 1;
    }
    frames
}

/// What `ike-sniff -r FILE -w OUT ARGS…` wrote, as frames of FILE.
fn ike_sniff_frames(file: &str, args: &[&str], tag: &str) -> BTreeSet<usize> {
    let out = tmp(tag);
    let run = ike_sniff()
        .args(["-q", "-r", file, "-w"])
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{file} {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = frames(&records(Path::new(file)), &records(&out));
    let _ = std::fs::remove_file(&out);
    got
}

/// What `tcpdump -r FILE -w OUT EXPR` wrote, as frames of FILE.
fn tcpdump_frames(file: &str, expr: &str, tag: &str) -> BTreeSet<usize> {
    let out = tmp(tag);
    let run = Command::new("tcpdump")
        .args(["-r", file, "-w"])
        .arg(&out)
        .arg(expr)
        .output()
        .expect("tcpdump is installed (.ci/run installs it)");
    assert!(
        run.status.success(),
        "tcpdump {file} {expr}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = frames(&records(Path::new(file)), &records(&out));
    let _ = std::fs::remove_file(&out);
    got
}

/// Frames of the packet lines of `ike-sniff -v --json` (every packet gets one).
fn packet_line_frames(file: &str, args: &[&str]) -> BTreeSet<usize> {
    let run = ike_sniff()
        .args(["-v", "--json", "-r", file])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "packet")
        .filter_map(|v| v["frame"].as_u64().map(|f| f as usize))
        .collect()
}

const FILTERED: [(&str, &[&str]); 5] = [
    (
        "lab/pcaps/nat_t.pcap",
        &[
            "udp port 4500",
            "host 198.51.100.20 and udp",
            "esp or udp port 500",
            "greater 200",
        ],
    ),
    (
        "lab/pcaps/healthy_ikev2.pcap",
        &["udp port 500", "esp", "src host 192.0.2.10", "not icmp"],
    ),
    (
        "lab/pcaps/healthy_ikev2_ipv6.pcap",
        &["ip6 and udp port 500", "esp", "ip"],
    ),
    (
        "lab/pcaps/pmtu_blackhole.pcap",
        &["icmp", "esp and less 1000", "udp"],
    ),
    (
        "public/tcpdump/isakmp4500.pcap",
        &["udp port 4500", "src host 192.1.2.23", "udp[8:4] = 0"],
    ),
];

#[test]
fn an_offline_expression_keeps_what_tcpdump_keeps() {
    let mut narrowed = 0;
    for (rel, exprs) in FILTERED {
        let file = capture(rel);
        let analysed = ike_sniff_frames(&file, &[], "all");
        assert!(!analysed.is_empty(), "{rel}");
        for (i, expr) in exprs.iter().enumerate() {
            let theirs = tcpdump_frames(&file, expr, &format!("td{i}"));
            let ours = ike_sniff_frames(&file, &[expr], &format!("is{i}"));
            let want: BTreeSet<usize> = analysed.intersection(&theirs).copied().collect();
            assert_eq!(ours, want, "{rel} '{expr}'");
            // The packet lines come from those very packets (every one with -v).
            assert_eq!(
                packet_line_frames(&file, &[expr]),
                ours,
                "{rel} '{expr}' lines"
            );
            if !ours.is_empty() && ours.len() < analysed.len() {
                narrowed += 1;
            }
        }
    }
    assert!(
        narrowed >= 12,
        "only {narrowed} expressions narrowed anything"
    );
}

#[test]
fn an_extract_reads_back_as_the_same_packets() {
    for rel in [
        "lab/pcaps/healthy_ikev2.pcap",
        "lab/pcaps/nat_t.pcap",
        "lab/pcaps/esp_fragmented.pcap",
        "lab/pcaps/ike_auth_ip_fragmented.pcap",
        "lab/pcaps/healthy_ikev2_ipv6.pcap",
        "public/tcpdump/ikev2four.pcap",
    ] {
        let file = capture(rel);
        let out = tmp("readback.pcap");
        let run = ike_sniff()
            .args(["-r", &file, "-v", "-w"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(run.status.success(), "{rel}");
        let original = records(Path::new(&file));
        let written = records(&out);
        // Only what ike-sniff analysed: the lab captures are mostly other traffic.
        assert!(!written.is_empty(), "{rel}");
        if rel.starts_with("lab/") {
            assert!(written.len() < original.len(), "{rel}");
        }
        // Timestamps and bytes as they were (frames() panics on any difference).
        frames(&original, &written);
        // tcpdump reads it, every packet.
        let td = Command::new("tcpdump")
            .arg("-nr")
            .arg(&out)
            .output()
            .unwrap();
        assert!(td.status.success(), "{rel}");
        assert_eq!(
            String::from_utf8_lossy(&td.stdout).lines().count(),
            written.len(),
            "{rel}"
        );
        // ike-sniff reads the same packets out of it, line for line.
        let again = ike_sniff().arg("-r").arg(&out).arg("-v").output().unwrap();
        let packet_lines = |b: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(b)
                .lines()
                .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
                .map(str::to_string)
                .collect()
        };
        let want = packet_lines(&run.stdout);
        assert!(want.len() >= 10, "{rel}");
        assert_eq!(packet_lines(&again.stdout), want, "{rel}");
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn w_refuses_what_it_cannot_do() {
    let file = capture("public/tcpdump/ikev2four.pcap");
    for (args, says) in [
        (vec!["-w", "-"], "give a file name"),
        (vec!["-w", file.as_str()], "the capture being read"),
        (vec!["-w", "/"], "is a directory"),
    ] {
        let out = ike_sniff()
            .args(["-r", &file])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
    // Nothing passes: still a valid, empty capture of the input's link type.
    let out = tmp("empty.pcap");
    let run = ike_sniff()
        .args(["-q", "-r", &file, "-w"])
        .arg(&out)
        .arg("host 203.0.113.99")
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(records(&out).is_empty());
    let td = Command::new("tcpdump")
        .arg("-nr")
        .arg(&out)
        .output()
        .unwrap();
    assert!(td.status.success());
    let _ = std::fs::remove_file(&out);
}
