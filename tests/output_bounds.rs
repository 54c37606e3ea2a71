//! What one packet can make ike-sniff print is bounded (issue 13): an IKE message of thousands
//! of empty payloads lists the first `MAX_LISTED_PAYLOADS` and counts the rest, in text, `-v`
//! and JSON; past 100 decode errors standard error says which summary counter holds the rest,
//! and that counter counts every one of those packets.

use std::process::Command;

use ike_sniff::report::packets::MAX_LISTED_PAYLOADS;

/// An IPv4/UDP 500 datagram (LINKTYPE_RAW) carrying `payload`.
fn udp500(payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
    p.extend_from_slice(&[0x01, 0xf4, 0x01, 0xf4]);
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

fn write_pcap(name: &str, packets: &[Vec<u8>]) -> std::path::PathBuf {
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for (i, p) in packets.iter().enumerate() {
        for v in [1_700_000_000 + i as u32, 0, p.len() as u32, p.len() as u32] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(p);
    }
    let path = std::env::temp_dir().join(format!("ike-sniff-{name}-{}.pcap", std::process::id()));
    std::fs::write(&path, f).unwrap();
    path
}

fn run(path: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(args)
        .arg("-r")
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// An IKEv2 IKE_SA_INIT request of `n` empty Vendor ID payloads (4 bytes each).
fn empty_payloads(n: usize, ispi: u64) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&ispi.to_be_bytes());
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[43, 0x20, 34, 0x08, 0, 0, 0, 0]);
    m.extend_from_slice(&((28 + 4 * n) as u32).to_be_bytes());
    for i in 0..n {
        let next = if i + 1 == n { 0 } else { 43 };
        m.extend_from_slice(&[next, 0, 0, 4]);
    }
    m
}

#[test]
fn a_message_of_thousands_of_empty_payloads_prints_a_bounded_line() {
    let n = 16_000;
    let packets: Vec<Vec<u8>> = (0..10)
        .map(|i| udp500(&empty_payloads(n, 0x0100 + i)))
        .collect();
    let input: usize = packets.iter().map(Vec::len).sum();
    let path = write_pcap("payloads", &packets);
    let more = n - MAX_LISTED_PAYLOADS;

    let (text, _) = run(&path, &["-v"]);
    assert_eq!(text.matches(&format!(" +{more} more]")).count(), 10);
    assert_eq!(
        text.matches(&format!("({more} more payloads not listed)"))
            .count(),
        10
    );
    assert!(text.len() < input / 4, "{} bytes of text", text.len());

    let (json, _) = run(&path, &["-v", "--json"]);
    assert!(json.len() < input / 2, "{} bytes of JSON", json.len());
    let mut seen = 0;
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(ike) = v.get("ike") else { continue };
        seen += 1;
        assert_eq!(
            ike["payloads"].as_array().unwrap().len(),
            MAX_LISTED_PAYLOADS
        );
        assert_eq!(
            ike["details"].as_array().unwrap().len(),
            MAX_LISTED_PAYLOADS
        );
        assert_eq!(ike["payloads_not_listed"], more);
    }
    assert_eq!(seen, 10);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn past_100_decode_errors_the_rest_are_counted_where_stderr_says() {
    // 150 datagrams on UDP 500 too short for an IKE header: one decode error each.
    let packets: Vec<Vec<u8>> = (0..150u8).map(|i| udp500(&[i; 10])).collect();
    let path = write_pcap("errors", &packets);
    let (text, stderr) = run(&path, &[]);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": frame ")).collect();
    assert_eq!(errors.len(), 100, "{stderr}");
    assert!(
        stderr.contains(
            "further decode errors are not printed; the summary's malformed count includes them"
        ),
        "{stderr}"
    );
    assert!(text.contains("; malformed 150;"), "{text}");
    let (json, _) = run(&path, &["--json"]);
    let summary: serde_json::Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    assert_eq!(summary["counters"]["malformed"], 150);
    std::fs::remove_file(&path).unwrap();
}
