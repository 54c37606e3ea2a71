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

/// One proposal substructure (RFC 7296 §3.3.1) of `transforms`, each already framed.
fn proposal(number: u8, last: bool, transforms: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = transforms.concat();
    let mut p = vec![if last { 0 } else { 2 }, 0];
    p.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[number, 1, 0, transforms.len() as u8]);
    p.extend_from_slice(&body);
    p
}

/// One transform substructure (RFC 7296 §3.3.2) with TV attributes `(type, value)`.
fn transform(last: bool, kind: u8, id: u16, attrs: &[(u16, u16)]) -> Vec<u8> {
    let mut t = vec![if last { 0 } else { 3 }, 0];
    t.extend_from_slice(&((8 + 4 * attrs.len()) as u16).to_be_bytes());
    t.extend_from_slice(&[kind, 0]);
    t.extend_from_slice(&id.to_be_bytes());
    for (a, v) in attrs {
        t.extend_from_slice(&(0x8000 | a).to_be_bytes());
        t.extend_from_slice(&v.to_be_bytes());
    }
    t
}

/// An IKE_SA_INIT request as strongSwan sends one (SA, KE group 14, Ni), its SA payload
/// holding `proposals` (and nothing else in it is odd).
fn sa_init(ispi: u64, proposals: &[Vec<u8>]) -> Vec<u8> {
    let sa: Vec<u8> = proposals.concat();
    let mut body = vec![34, 0];
    body.extend_from_slice(&((4 + sa.len()) as u16).to_be_bytes());
    body.extend_from_slice(&sa);
    body.extend_from_slice(&[40, 0]);
    body.extend_from_slice(&(8u16 + 256).to_be_bytes());
    body.extend_from_slice(&[0, 14, 0, 0]);
    body.extend_from_slice(&[0x5a; 256]);
    body.extend_from_slice(&[0, 0, 0, 36]);
    body.extend_from_slice(&[0xa5; 32]);
    let mut m = Vec::new();
    m.extend_from_slice(&ispi.to_be_bytes());
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0]);
    m.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
    m.extend_from_slice(&body);
    m
}

/// AES-CBC-256, HMAC-SHA2-256 (PRF and integrity), MODP-2048: one ordinary proposal's transforms.
fn ordinary_transforms() -> Vec<Vec<u8>> {
    vec![
        transform(false, 1, 12, &[(14, 256)]),
        transform(false, 2, 5, &[]),
        transform(false, 3, 12, &[]),
        transform(true, 4, 14, &[]),
    ]
}

#[test]
fn an_sa_payload_of_thousands_of_proposals_prints_a_bounded_line() {
    use ike_sniff::report::packets::{
        MAX_LISTED_ATTRIBUTES, MAX_LISTED_PROPOSALS, MAX_LISTED_TRANSFORMS,
    };
    // Three real-looking IKE_SA_INIT requests: 1 000 ordinary proposals; one proposal of 255
    // transforms; one transform of 3 000 attributes (Key Length, over and over).
    let many: Vec<Vec<u8>> = (0..1000)
        .map(|i| proposal((i % 255 + 1) as u8, i == 999, &ordinary_transforms()))
        .collect();
    let wide = vec![proposal(
        1,
        true,
        &(0..255)
            .map(|i| transform(i == 254, 1 + (i % 4) as u8, 12, &[]))
            .collect::<Vec<_>>(),
    )];
    let deep = vec![proposal(
        1,
        true,
        &[
            transform(false, 1, 12, &vec![(14, 256); 3000]),
            transform(false, 2, 5, &[]),
            transform(false, 3, 12, &[]),
            transform(true, 4, 14, &[]),
        ],
    )];
    let packets = vec![
        udp500(&sa_init(0x0a01, &many)),
        udp500(&sa_init(0x0a02, &wide)),
        udp500(&sa_init(0x0a03, &deep)),
    ];
    let input: usize = packets.iter().map(Vec::len).sum();
    let path = write_pcap("proposals", &packets);

    let (text, stderr) = run(&path, &["-v"]);
    assert!(!stderr.contains("frame"), "decoded cleanly: {stderr}");
    let more = 1000 - MAX_LISTED_PROPOSALS;
    assert_eq!(
        text.matches(&format!("({more} more proposals not listed)"))
            .count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches(&format!("+{} more transforms", 255 - MAX_LISTED_TRANSFORMS))
            .count(),
        1
    );
    assert!(text.len() < input / 4, "{} bytes of text", text.len());

    let (json, _) = run(&path, &["-v", "--json"]);
    assert!(json.len() < input / 2, "{} bytes of JSON", json.len());
    let sas: Vec<serde_json::Value> = json
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let details = v.get("ike")?.get("details")?.as_array()?.clone();
            details.into_iter().find(|d| d.get("proposals").is_some())
        })
        .collect();
    assert_eq!(sas.len(), 3);
    let props = |i: usize| sas[i]["proposals"].as_array().unwrap().clone();
    assert_eq!(props(0).len(), MAX_LISTED_PROPOSALS);
    assert_eq!(sas[0]["proposals_not_listed"], more);
    assert!(sas[1].get("proposals_not_listed").is_none());
    let wide = &props(1)[0];
    assert_eq!(
        wide["transforms"].as_array().unwrap().len(),
        MAX_LISTED_TRANSFORMS
    );
    assert_eq!(wide["transforms_not_listed"], 255 - MAX_LISTED_TRANSFORMS);
    let aes = &props(2)[0]["transforms"][0];
    assert_eq!(
        aes["attributes"].as_array().unwrap().len(),
        MAX_LISTED_ATTRIBUTES
    );
    assert_eq!(aes["attributes_not_listed"], 3000 - MAX_LISTED_ATTRIBUTES);
    // The ordinary proposal is listed as it always was: nothing counted.
    assert!(props(0)[0].get("transforms_not_listed").is_none());
    assert!(
        props(0)[0]["transforms"][0]
            .get("attributes_not_listed")
            .is_none()
    );
    std::fs::remove_file(&path).unwrap();
}

/// An IPv4 ESP packet (LINKTYPE_RAW) from `src` to `dst` with `spi`.
fn esp(src: [u8; 4], dst: [u8; 4], spi: u32, seq: u32) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 50, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&spi.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0x5a; 16]);
    p
}

#[test]
fn a_pair_flood_lists_the_busiest_tunnels_and_counts_the_rest() {
    use ike_sniff::report::tunnels::TUNNELS_SHOWN;
    // One real tunnel with traffic both ways, among 3 000 spoofed sources of one ESP packet each.
    let (a, b) = ([192, 0, 2, 1], [198, 51, 100, 2]);
    let mut packets = Vec::new();
    for i in 0..3000u32 {
        let [_, _, hi, lo] = i.to_be_bytes();
        packets.push(esp([10, 1, hi, lo], b, 0x1000 + i, 1));
        if i % 30 == 0 {
            packets.push(esp(a, b, 0xc1, i / 30 + 1));
            packets.push(esp(b, a, 0xc2, i / 30 + 1));
        }
    }
    let path = write_pcap("pairs", &packets);
    let quieter = 3001 - TUNNELS_SHOWN;

    let (text, _) = run(&path, &["-q"]);
    let rows = |t: &str| t.lines().filter(|l| l.contains(" <-> ")).count();
    assert_eq!(rows(&text), TUNNELS_SHOWN, "{text}");
    assert!(text.contains("192.0.2.1 <-> 198.51.100.2"), "{text}");
    assert!(
        text.contains(&format!(
            "... and {quieter} quieter tunnels not listed ({quieter} ESP packets, "
        )),
        "{text}"
    );
    let (all, _) = run(&path, &["-v"]);
    assert_eq!(rows(&all), 3001);
    assert!(!all.contains("quieter tunnels"));

    let (json, _) = run(&path, &["--json"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tunnels: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "tunnel").collect();
    assert_eq!(tunnels.len(), TUNNELS_SHOWN);
    assert!(
        tunnels
            .iter()
            .any(|t| t["esp_packets"] == serde_json::json!([100, 100]))
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["tunnels_omitted"]["tunnels"], quieter);
    assert_eq!(summary["tunnels_omitted"]["esp_packets"], quieter);
    std::fs::remove_file(&path).unwrap();
}
