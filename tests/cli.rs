//! The command line as an operator meets it: exit statuses, error messages that name the file and
//! frame, standard input, and output that survives broken input.

use std::io::Write;
use std::process::{Command, Stdio};

fn ike_sniff() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
}

fn capture(rel: &str) -> String {
    format!("{}/captures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_truncated_file_still_reports_and_exits_1() {
    let whole = std::fs::read(capture("public/tcpdump/isakmp4500.pcap")).unwrap();
    let dir = std::env::temp_dir().join(format!("ike-sniff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &whole[..3000]).unwrap();
    let out = ike_sniff().arg("-r").arg(&cut).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // What was read before the cut is still decoded and summarised.
    let packet_lines = stdout
        .lines()
        .filter(|l| l.starts_with("00:00:00") && l.contains(" IKEv1 "))
        .count();
    assert_eq!(packet_lines, 7, "{stdout}");
    assert!(stdout.contains("input not read to the end"), "{stdout}");
    assert!(
        stderr.contains("cut.pcap: frame 10: truncated record"),
        "{stderr}"
    );
}

#[test]
fn standard_input_is_read_with_dash() {
    let bytes = std::fs::read(capture("public/tcpdump/ikev2four.pcap")).unwrap();
    let mut child = ike_sniff()
        .args(["-r", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let ike_lines = text.lines().filter(|l| l.contains("\"ike\":{")).count();
    assert_eq!(ike_lines, 21);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["type"].is_string());
    }
}

#[test]
fn not_a_capture_is_a_clear_error() {
    let out = ike_sniff()
        .args(["-r", &format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cargo.toml"), "{stderr}");
    assert!(stderr.contains("not a pcap or pcapng capture"), "{stderr}");
}

#[test]
fn a_malformed_packet_is_named_and_the_run_goes_on() {
    let out = ike_sniff()
        .args([
            "-r",
            &capture("public/zeek-spicy-ipsec/ipsec-ikev1-payload-bad-length.pcap"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ipsec-ikev1-payload-bad-length.pcap: frame 1: IKEv1 payload at offset 0x58: length 3 < 4"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("== Summary"));
}

#[test]
fn count_stops_early_and_tcpdump_style_lines_come_out() {
    let out = ike_sniff()
        .args(["-r", &capture("public/tcpdump/ikev2four.pcap"), "-c", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" IKEv2 IKE_")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "12:21:24.386989 192.168.1.2:500 > 192.168.1.1:500 IKEv2 IKE_SA_INIT request mid 0 spi a88875a8198992a6/0000000000000000 [SA KE Ni N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP)] len 376"
    );
    assert!(lines[1].contains("IKE_SA_INIT response mid 0") && lines[1].contains("N(COOKIE)"));
}

#[test]
fn every_public_capture_runs_clean() {
    // No panic, no abort, a summary for every file, including tcpdump's fuzz captures.
    let root = format!("{}/captures/public", env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![std::path::PathBuf::from(root)];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.to_string_lossy();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")) {
                continue;
            }
            let out = ike_sniff().arg("-r").arg(&p).arg("-v").output().unwrap();
            assert!(
                matches!(out.status.code(), Some(0) | Some(1)),
                "{name}: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("== Summary"),
                "{name}"
            );
            n += 1;
        }
    }
    assert!(n > 150);
}
