//! Issue 16: `--syslog`. Findings as RFC 5424 messages on a Unix datagram socket the test
//! binds (standing in for /dev/log): one per finding line, severity mapped, cleared ones as
//! notices, the same with one thread or two; a socket that is not there is a clear error.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ism-syslog-{}-{name}", std::process::id()))
}

fn capture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// Runs ike-sniff with `--syslog=SOCKET`; returns its JSON lines and the messages received.
fn run(threads: &str, tag: &str) -> (Vec<Value>, Vec<String>) {
    let path = tmp(tag);
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-r", &capture("lab/pcaps/responder_restart.pcap"), "--json"])
        .args(["--threads", threads])
        .arg(format!("--syslog={}", path.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sock.set_nonblocking(true).unwrap();
    let mut msgs = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        msgs.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    let _ = std::fs::remove_file(&path);
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, msgs)
}

#[test]
fn findings_go_to_syslog_as_rfc5424() {
    let (lines, msgs) = run("1", "one");
    let findings: Vec<&Value> = lines
        .iter()
        .filter(|v| v["type"] == "finding" || v["type"] == "finding_cleared")
        .collect();
    assert_eq!(msgs.len(), findings.len(), "{msgs:#?}");
    for (f, m) in findings.iter().zip(&msgs) {
        let id = f["id"].as_str().unwrap();
        let kind = f["kind"].as_str().unwrap();
        let (pri, msgid) = match (f["type"].as_str().unwrap(), f["severity"].as_str().unwrap()) {
            ("finding_cleared", _) => (29, "cleared"),
            (_, "error") => (
                27,
                if f["update"] == true {
                    "update"
                } else {
                    "finding"
                },
            ),
            (_, "warning") => (
                28,
                if f["update"] == true {
                    "update"
                } else {
                    "finding"
                },
            ),
            _ => (
                30,
                if f["update"] == true {
                    "update"
                } else {
                    "finding"
                },
            ),
        };
        assert!(m.starts_with(&format!("<{pri}>1 ")), "{m}");
        let fields: Vec<&str> = m.splitn(7, ' ').collect();
        assert!(fields[1].ends_with('Z') && fields[1].contains('T'), "{m}");
        assert_eq!(fields[3], "ike-sniff");
        assert!(fields[4].parse::<u32>().is_ok(), "{m}");
        assert_eq!(fields[5], msgid, "{m}");
        assert!(
            fields[6].starts_with(&format!("[ike-sniff@32473 id=\"{id}\" kind=\"{kind}\" ")),
            "{m}"
        );
        let text = fields[6].split_once("] ").unwrap().1;
        let want = f["summary"].as_str().or(f["reason"].as_str()).unwrap();
        assert_eq!(text, want, "{m}");
        assert!(!m.chars().any(char::is_control), "{m:?}");
    }
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("<29>1 ") && m.contains("kind=\"dead_peer\""))
    );

    let (_, two) = run("2", "two");
    let strip = |v: &[String]| -> Vec<String> {
        // Time and pid differ between runs.
        v.iter()
            .map(|m| m.splitn(6, ' ').nth(5).unwrap().to_string())
            .collect()
    };
    assert_eq!(strip(&two), strip(&msgs), "two threads send the same");
}

#[test]
fn a_missing_socket_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-r", &capture("lab/pcaps/dead_peer.pcap"), "--threads", "1"])
        .arg(format!("--syslog={}", tmp("absent").display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--syslog ") && err.contains("absent"), "{err}");
}
