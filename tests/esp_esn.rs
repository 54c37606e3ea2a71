//! Extended sequence numbers (RFC 4303 §2.2.1): the high 32 bits are never sent, but the ICV
//! covers them. A key source that does not say whether ESN is on (every Wireshark esp_sa row,
//! tcpdump's -E lines) leaves the decoder to find out by trying: ESN off, then on with the high
//! bits at 0, then the neighbours of what last worked for the SPI, so a wrap of the low 32
//! bits is followed.
//!
//! No lab capture can show this (ESN needs kernel ESP, which this machine lacks, and a wrap
//! takes 2^32 packets), so the packets are built here with the RFC's ICV computation, using
//! the same HMAC crate as an independent reference for the trailer layout.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use ike_sniff::capture::RawPacket;
use ike_sniff::decode::Decoder;
use ike_sniff::event::{Body, Event, Integrity, Timestamp};

const SPI: u32 = 0x0000_1234;
const AUTH_KEY: [u8; 32] = [0x42; 32];

fn keys() -> Arc<ike_sniff::keys::KeyRing> {
    let row = format!(
        "\"IPv4\",\"192.0.2.1\",\"192.0.2.2\",\"{SPI:#010x}\",\"NULL\",\"\",\"HMAC-SHA-256-128 [RFC4868]\",\"0x{}\"\n",
        AUTH_KEY
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let loaded = ike_sniff::keys::load_bytes("esp_sa", row.as_bytes());
    assert!(
        loaded.report.to_string().contains("1 ESP SA"),
        "{}",
        loaded.report
    );
    Arc::new(loaded.ring)
}

/// An IPv4 ESP packet (NULL encryption, HMAC-SHA-256-128) carrying one ICMP echo request, its
/// ICV computed with `hi` as the high sequence bits when ESN is on.
fn packet(seq: u32, hi: Option<u32>) -> Vec<u8> {
    let mut inner = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1, // IPv4
        8, 0, 0, 0, 0x58, 0x6f, 0, 1, // ICMP echo request
    ];
    inner.extend_from_slice(&[1, 2, 2, 4]); // padding, pad length, next header (IPv4)
    let mut esp = Vec::new();
    esp.extend_from_slice(&SPI.to_be_bytes());
    esp.extend_from_slice(&seq.to_be_bytes());
    esp.extend_from_slice(&inner);
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&AUTH_KEY).unwrap();
    mac.update(&esp);
    if let Some(hi) = hi {
        mac.update(&hi.to_be_bytes());
    }
    esp.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    let total = 20 + esp.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        2,
        0,
        0,
        64,
        50,
        0,
        0,
        192,
        0,
        2,
        1,
        192,
        0,
        2,
        2,
    ];
    ip.extend_from_slice(&esp);
    ip
}

/// Decodes the packets in order; the integrity each ESP packet came out with.
fn opened(packets: &[Vec<u8>]) -> Vec<Option<Integrity>> {
    let mut d = Decoder::with_keys(keys());
    let mut out = Vec::new();
    packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            out.clear();
            d.decode(
                &RawPacket {
                    frame: i as u64 + 1,
                    ts: Timestamp::new(i as i64, 0),
                    caplen: p.len() as u32,
                    origlen: p.len() as u32,
                    linktype: 101,
                    data: p,
                },
                &mut out,
            );
            out.iter().find_map(|e: &Event| match &e.body {
                Body::Esp(x) => Some(x.decrypted.as_ref().map(|d| d.integrity)),
                _ => None,
            })?
        })
        .collect()
}

#[test]
fn esn_off_opens_as_before() {
    let got = opened(&[packet(1, None), packet(2, None)]);
    assert_eq!(got, [Some(Integrity::Ok); 2]);
}

#[test]
fn esn_on_is_found_without_the_key_source_saying_so() {
    let got = opened(&[packet(1, Some(0)), packet(2, Some(0))]);
    assert_eq!(got, [Some(Integrity::Ok); 2]);
}

/// The low 32 bits wrap: the packet after carries seq 0x00000003 with high bits 1, found by
/// trying the neighbour of what opened the SPI's last packet.
#[test]
fn a_wrap_of_the_low_bits_is_followed() {
    let got = opened(&[
        packet(0xffff_fffe, Some(0)),
        packet(0xffff_ffff, Some(0)),
        packet(3, Some(1)),
        packet(4, Some(1)),
    ]);
    assert_eq!(got, [Some(Integrity::Ok); 4]);
}

/// High bits far from anything tried (a capture that starts after 2^33 packets with a key
/// source that gave no seq-hi) fail the ICV: reported, not guessed.
#[test]
fn high_bits_far_away_fail_integrity() {
    let got = opened(&[packet(7, Some(5))]);
    assert_eq!(got, [Some(Integrity::Failed)]);
}
