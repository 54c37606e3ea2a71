//! Packets carrying strings a peer chooses, made hostile: terminal escapes, a newline and a
//! forged finding line, invalid UTF-8, C1 controls, bidi overrides (issue 13). Shared by
//! `tests/hostile_strings.rs` (files) and `tests/live_capture.rs` (the live path).
#![allow(dead_code)]

/// The ID of the Aggressive Mode packets: OSC title, screen clear, C1 CSI, a bidi override
/// and invalid UTF-8.
pub const HOSTILE_ID: &[u8] =
    b"vpn\x1b]0;owned\x07\x1b[2J\xc2\x9b31m\xe2\x80\xaeevil\xff\xfe.example";
/// The REDIRECT gateway name: a newline and a whole finding line after it.
pub const HOSTILE_GW: &[u8] =
    b"gw.example\nERROR [auth_failed] forged finding (observed)\r\n  do:      \x1b[2Jrm -rf /";

fn ike_v1_aggressive(ispi: u64, id: &[u8]) -> Vec<u8> {
    // ID payload (RFC 2407 §4.6.2): type FQDN (2), protocol 17, port 500, then the name.
    let mut idp = vec![0, 0, 0, 0, 2, 17, 0x01, 0xf4];
    idp.extend_from_slice(id);
    let len = idp.len() as u16;
    idp[2..4].copy_from_slice(&len.to_be_bytes());
    let mut m = Vec::new();
    m.extend_from_slice(&ispi.to_be_bytes());
    m.extend_from_slice(&[0; 8]);
    // Next payload ID (5), version 1.0, exchange Aggressive (4), no flags, message ID 0.
    m.extend_from_slice(&[5, 0x10, 4, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&((28 + idp.len()) as u32).to_be_bytes());
    m.extend_from_slice(&idp);
    m
}

fn ike_v2_redirect(ispi: u64, gateway: &[u8]) -> Vec<u8> {
    // Notify (RFC 7296 §3.10): protocol 0, no SPI, REDIRECT (16407); RFC 5685 §3.2 data:
    // GW Ident Type FQDN (3), its length, the name.
    let mut n = vec![0, 0, 0, 0, 0, 0, 0x40, 0x17, 3, gateway.len() as u8];
    n.extend_from_slice(gateway);
    let len = n.len() as u16;
    n[2..4].copy_from_slice(&len.to_be_bytes());
    let mut m = Vec::new();
    m.extend_from_slice(&ispi.to_be_bytes());
    m.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
    // Next payload N (41), version 2.0, IKE_SA_INIT (34), Response flag, message ID 0.
    m.extend_from_slice(&[41, 0x20, 34, 0x20, 0, 0, 0, 0]);
    m.extend_from_slice(&((28 + n.len()) as u32).to_be_bytes());
    m.extend_from_slice(&n);
    m
}

/// An IPv4/UDP 500 datagram (LINKTYPE_RAW) carrying `payload`.
fn udp500(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&[0x01, 0xf4, 0x01, 0xf4]);
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
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
    f
}

pub fn hostile_capture(tag: &str) -> std::path::PathBuf {
    let (a, b) = ([192, 0, 2, 1], [198, 51, 100, 2]);
    let packets = [
        udp500(a, b, &ike_v1_aggressive(0x0101_0101_0101_0101, HOSTILE_ID)),
        udp500(a, b, &ike_v2_redirect(0x0202_0202_0202_0202, HOSTILE_GW)),
        udp500(b, a, &ike_v2_redirect(0x0303_0303_0303_0303, HOSTILE_GW)),
    ];
    let path = std::env::temp_dir().join(format!(
        "ike-sniff-hostile-{}-{tag}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, pcap(&packets)).unwrap();
    path
}

/// Whether `c` can move the cursor, recolour or reorder what a terminal shows.
pub fn dangerous(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// An ID that is markup: were it pasted into the HTML report unescaped, the script would run
/// (and set `window.__pwned`), the SVG would close early and a comment would swallow the rest.
pub const MARKUP_ID: &[u8] =
    b"<script>window.__pwned=1</script></svg><img src=x onerror=\"window.__pwned=2\"><!--";

/// Two IKEv1 Aggressive Mode requests whose ID is [`MARKUP_ID`], one each way.
pub fn markup_capture(tag: &str) -> std::path::PathBuf {
    let (a, b) = ([192, 0, 2, 1], [198, 51, 100, 2]);
    let packets = [
        udp500(a, b, &ike_v1_aggressive(0x0404_0404_0404_0404, MARKUP_ID)),
        udp500(b, a, &ike_v1_aggressive(0x0505_0505_0505_0505, MARKUP_ID)),
    ];
    let path = std::env::temp_dir().join(format!(
        "ike-sniff-markup-{}-{tag}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, pcap(&packets)).unwrap();
    path
}
