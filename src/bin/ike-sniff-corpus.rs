//! `ike-sniff-corpus`: writes a synthetic capture for benchmarks and counter tests, with a
//! ground-truth file beside it.
//!
//! The capture is deterministic for a given kind, size and seed. Three kinds:
//! - `mix`: what a VPN gateway's uplink carries — about 85 % ordinary TCP/UDP (and a little
//!   IPv6, ARP, non-IPsec ICMP errors and fragments), 14 % ESP (plain and in UDP 4500, a few
//!   IP-fragmented), 1 % IKE: whole IKEv1 and IKEv2 negotiations between many peer pairs, healthy
//!   and failing (retransmission loops, NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD, NAT-T with
//!   keepalives, DPD), and ICMP errors quoting IKE and ESP;
//! - `ike-heavy`: the same negotiations as 85 % of the packets;
//! - `flood`: millions of distinct SPIs and peers, random junk on UDP 500 and 4500;
//! - `fragment-flood`: fragment sets that never complete: first IP fragments of IKE and ESP
//!   datagrams with fresh identifications, and RFC 7383 fragments 1 of 5 with fresh SPIs.
//!
//! IKE messages are built byte by byte (header and payloads, RFC 7296 §3 and RFC 2408 §3), with
//! random bytes where the real thing is ciphertext, key material or a nonce.
//!
//! The truth file (`<output>.truth.json`) counts what was written in the terms of ike-sniff's
//! summary counters (`counters` — ESP datagrams after reassembly, IP fragments of IPsec
//! datagrams, ICMP errors quoting IPsec), by packet class (`packets_by_class`, summing to
//! `packets`), and the negotiations planted (`negotiations`).
//!
//! Nothing here is tuned for ike-sniff's internals; what it writes is checked against tshark.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Mix,
    IkeHeavy,
    Flood,
    FragmentFlood,
}

/// Writes a synthetic IPsec gateway capture (classic pcap, Ethernet) and `<output>.truth.json`.
#[derive(Parser, Debug)]
#[command(name = "ike-sniff-corpus", version, about)]
struct Args {
    /// What the capture carries.
    #[arg(long, value_enum, default_value = "mix")]
    kind: Kind,
    /// Stop once the file is this big: bytes, or with a KiB/MiB/GiB/KB/MB/GB suffix.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    size: u64,
    /// Stop after this many packets (before the size is reached, if it is smaller).
    #[arg(long)]
    packets: Option<u64>,
    /// Seed of the pseudo-random generator: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output capture file.
    #[arg(short = 'o', long = "output")]
    output: String,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("bad size: {s}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("bad size unit in {s}")),
    };
    Ok((num * mult as f64) as u64)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match generate(&args) {
        Ok(truth) => {
            eprintln!(
                "ike-sniff-corpus: wrote {} ({} packets, {} bytes); truth in {}.truth.json",
                args.output, truth.packets, truth.file_bytes, args.output
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ike-sniff-corpus: {}: {e}", args.output);
            ExitCode::from(1)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pseudo-random numbers: xoshiro256** seeded by splitmix64. Small, fast and stable across
// versions, which a dependency's generator need not be.

struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64() >> 32) * u128::from(n)) >> 32) as u64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille`/1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn nonzero_u32(&mut self) -> u32 {
        loop {
            let v = self.u32();
            if v >= 256 {
                return v;
            }
        }
    }

    fn nonzero_u64(&mut self) -> u64 {
        loop {
            let v = self.u64();
            if v != 0 {
                return v;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses and frames.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Addr {
    fn is_v6(self) -> bool {
        matches!(self, Addr::V6(_))
    }
}

const MAC_GW: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const MAC_UPLINK: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ESP: u8 = 50;
const PROTO_ICMPV6: u8 = 58;
/// Largest IPv4 fragment payload on a 1500-byte MTU (a multiple of 8).
const FRAG_PAYLOAD: usize = 1480;

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Appends Ethernet + IP headers for `payload_len` bytes of `proto`; `frag` is the IPv4 flags and
/// fragment offset word (ignored for IPv6).
#[allow(clippy::too_many_arguments)]
fn push_ip_header(
    buf: &mut Vec<u8>,
    src: Addr,
    dst: Addr,
    proto: u8,
    payload_len: usize,
    ident: u16,
    frag: u16,
    ttl: u8,
) {
    buf.extend_from_slice(&MAC_UPLINK);
    buf.extend_from_slice(&MAC_GW);
    match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => {
            buf.extend_from_slice(&ETHERTYPE_IPV4);
            let start = buf.len();
            let total = (20 + payload_len) as u16;
            buf.extend_from_slice(&[0x45, 0]);
            buf.extend_from_slice(&total.to_be_bytes());
            buf.extend_from_slice(&ident.to_be_bytes());
            buf.extend_from_slice(&frag.to_be_bytes());
            buf.extend_from_slice(&[ttl, proto, 0, 0]);
            buf.extend_from_slice(&s);
            buf.extend_from_slice(&d);
            let sum = ipv4_checksum(&buf[start..start + 20]);
            buf[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
        }
        (Addr::V6(s), Addr::V6(d)) => {
            buf.extend_from_slice(&ETHERTYPE_IPV6);
            buf.extend_from_slice(&[0x60, 0, 0, 0]);
            buf.extend_from_slice(&(payload_len as u16).to_be_bytes());
            buf.extend_from_slice(&[proto, ttl]);
            buf.extend_from_slice(&s);
            buf.extend_from_slice(&d);
        }
        _ => unreachable!("mixed address families"),
    }
}

/// Fills in the checksum where a receiver (or tshark) insists on one: ICMP, ICMPv6 and UDP over
/// IPv6 (RFC 8200 §8.1). UDP over IPv4 keeps 0 ("no checksum"); TCP keeps 0 (nobody checks).
fn set_checksum(src: Addr, dst: Addr, proto: u8, l4: &mut [u8]) {
    let at = match (proto, src) {
        (PROTO_ICMP, _) | (PROTO_ICMPV6, _) => 2,
        (PROTO_UDP, Addr::V6(_)) => 6,
        _ => return,
    };
    if l4.len() < at + 2 {
        return;
    }
    l4[at..at + 2].copy_from_slice(&[0, 0]);
    let mut sum = 0u64;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
        }
    };
    if let (Addr::V6(s), Addr::V6(d)) = (src, dst) {
        add(&s);
        add(&d);
        add(&(l4.len() as u32).to_be_bytes());
        add(&[0, 0, 0, proto]);
    }
    add(l4);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let mut c = !(sum as u16);
    if c == 0 && proto == PROTO_UDP {
        c = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn push_udp_header(buf: &mut Vec<u8>, sport: u16, dport: u16, payload_len: usize) {
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
}

// ---------------------------------------------------------------------------------------------
// IKE messages (RFC 7296 §3, RFC 2408 §3). Payloads are given as (type, body); the generic
// payload headers and the chain of next-payload fields are filled in here.

mod ike {
    pub const V1: u8 = 0x10;
    pub const V2: u8 = 0x20;
    // IKEv2 exchanges and flags.
    pub const IKE_SA_INIT: u8 = 34;
    pub const IKE_AUTH: u8 = 35;
    pub const INFORMATIONAL: u8 = 37;
    pub const F_INITIATOR: u8 = 0x08;
    pub const F_RESPONSE: u8 = 0x20;
    // IKEv2 payload types.
    pub const SA: u8 = 33;
    pub const KE: u8 = 34;
    pub const IDI: u8 = 35;
    pub const IDR: u8 = 36;
    pub const NONCE: u8 = 40;
    pub const NOTIFY: u8 = 41;
    pub const SK: u8 = 46;
    pub const SKF: u8 = 53;
    // IKEv2 notify types.
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    pub const INVALID_KE_PAYLOAD: u16 = 17;
    pub const NAT_DETECTION_SOURCE_IP: u16 = 16388;
    pub const NAT_DETECTION_DESTINATION_IP: u16 = 16389;
    // IKEv1 exchanges, flags and payload types.
    pub const V1_MAIN: u8 = 2;
    pub const V1_INFO: u8 = 5;
    pub const V1_QUICK: u8 = 32;
    pub const V1_F_ENCRYPTED: u8 = 0x01;
    pub const V1_SA: u8 = 1;
    pub const V1_KE: u8 = 4;
    pub const V1_ID: u8 = 5;
    pub const V1_HASH: u8 = 8;
    pub const V1_NONCE: u8 = 10;
    pub const V1_N: u8 = 11;
    pub const V1_VID: u8 = 13;
    pub const V1_NAT_D: u8 = 20;
    pub const V1_NO_PROPOSAL_CHOSEN: u16 = 14;
}

/// RFC 3947 NAT-T and RFC 3706 DPD vendor IDs.
const VID_RFC3947: [u8; 16] = [
    0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f,
];
const VID_DPD: [u8; 16] = [
    0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00,
];

struct IkeHeader {
    spi_i: u64,
    spi_r: u64,
    version: u8,
    exchange: u8,
    flags: u8,
    msgid: u32,
}

/// Writes the header and payload chain. The last payload of type SK (IKEv2) has its next-payload
/// field set to `sk_inner`, the first payload inside the ciphertext (RFC 7296 §3.14).
fn ike_message(out: &mut Vec<u8>, h: &IkeHeader, payloads: &[(u8, &[u8])], sk_inner: u8) {
    let start = out.len();
    out.extend_from_slice(&h.spi_i.to_be_bytes());
    out.extend_from_slice(&h.spi_r.to_be_bytes());
    out.push(payloads.first().map_or(0, |p| p.0));
    out.extend_from_slice(&[h.version, h.exchange, h.flags]);
    out.extend_from_slice(&h.msgid.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    for (i, (ty, body)) in payloads.iter().enumerate() {
        let next = match payloads.get(i + 1) {
            Some(p) => p.0,
            None if *ty == ike::SK || *ty == ike::SKF => sk_inner,
            None => 0,
        };
        out.extend_from_slice(&[next, 0]);
        out.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    let len = (out.len() - start) as u32;
    out[start + 24..start + 28].copy_from_slice(&len.to_be_bytes());
}

/// IKEv1 message whose body is ciphertext (E flag): `first` names the first encrypted payload.
fn ike_v1_encrypted(out: &mut Vec<u8>, h: &IkeHeader, first: u8, cipher: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&h.spi_i.to_be_bytes());
    out.extend_from_slice(&h.spi_r.to_be_bytes());
    out.extend_from_slice(&[first, h.version, h.exchange, h.flags]);
    out.extend_from_slice(&h.msgid.to_be_bytes());
    let len = (28 + cipher.len()) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(cipher);
    debug_assert_eq!(out.len() - start, len as usize);
}

/// IKEv2 SA payload body: one IKE proposal with AES-CBC-256, HMAC-SHA2-256, the given DH group.
fn v2_sa_body(group: u16, alt: bool) -> Vec<u8> {
    // (type, id, key length attribute)
    let encr = if alt { 20 } else { 12 }; // AES-GCM-16 or AES-CBC
    let mut transforms: Vec<(u8, u16, Option<u16>)> = vec![(1, encr, Some(256))];
    if !alt {
        transforms.push((3, 12, None)); // AUTH_HMAC_SHA2_256_128
    }
    transforms.push((2, 5, None)); // PRF_HMAC_SHA2_256
    transforms.push((4, group, None));
    let mut t = Vec::new();
    for (i, (ty, id, keylen)) in transforms.iter().enumerate() {
        let last = i + 1 == transforms.len();
        let len: u16 = 8 + if keylen.is_some() { 4 } else { 0 };
        t.extend_from_slice(&[if last { 0 } else { 3 }, 0]);
        t.extend_from_slice(&len.to_be_bytes());
        t.extend_from_slice(&[*ty, 0]);
        t.extend_from_slice(&id.to_be_bytes());
        if let Some(k) = keylen {
            t.extend_from_slice(&[0x80, 14]);
            t.extend_from_slice(&k.to_be_bytes());
        }
    }
    let mut p = vec![0, 0];
    p.extend_from_slice(&((8 + t.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[1, 1, 0, transforms.len() as u8]);
    p.extend_from_slice(&t);
    p
}

/// IKEv1 SA payload body: DOI IPsec, one ISAKMP proposal, one KEY_IKE transform.
fn v1_sa_body(group: u16, alt: bool) -> Vec<u8> {
    let attrs: [(u16, u16); 6] = [
        (1, if alt { 5 } else { 7 }), // encryption: 3DES or AES-CBC
        (14, 256),                    // key length (ignored by 3DES peers; harmless)
        (2, if alt { 1 } else { 2 }), // hash: MD5 or SHA
        (3, 1),                       // pre-shared key
        (4, group),                   // group description
        (11, 1),                      // life type: seconds
    ];
    let mut tr = vec![0, 0, 0, 0, 1, 1, 0, 0]; // transform 1, KEY_IKE
    for (ty, v) in attrs {
        tr.extend_from_slice(&(0x8000 | ty).to_be_bytes());
        tr.extend_from_slice(&v.to_be_bytes());
    }
    // life duration 28800 s as a TV attribute
    tr.extend_from_slice(&(0x8000u16 | 12).to_be_bytes());
    tr.extend_from_slice(&28800u16.to_be_bytes());
    let tlen = tr.len() as u16;
    tr[2..4].copy_from_slice(&tlen.to_be_bytes());
    // Proposal payload (RFC 2408 §3.5): last proposal, #1, PROTO_ISAKMP, no SPI, 1 transform;
    // its transform payload (§3.6) is the last too, so both next-payload fields are 0.
    let mut prop = vec![0, 0, 0, 0, 1, 1, 0, 1];
    prop.extend_from_slice(&tr);
    let plen = prop.len() as u16;
    prop[2..4].copy_from_slice(&plen.to_be_bytes());
    // SA payload body: DOI IPsec, situation SIT_IDENTITY_ONLY, then the proposal.
    let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
    sa.extend_from_slice(&prop);
    sa
}

fn v2_notify_body(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.extend_from_slice(&ty.to_be_bytes());
    b.extend_from_slice(data);
    b
}

fn v1_notify_body(ty: u16, spi: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 1, 1, spi.len() as u8];
    b.extend_from_slice(&ty.to_be_bytes());
    b.extend_from_slice(spi);
    b
}

/// Length of a DH group's public value (RFC 3526, RFC 5903).
fn ke_len(group: u16) -> usize {
    match group {
        2 => 128,
        5 => 192,
        14 => 256,
        15 => 384,
        19 => 64,
        20 => 96,
        21 => 132,
        _ => 32,
    }
}

// ---------------------------------------------------------------------------------------------
// Negotiations: scripts of steps, played out on a virtual clock interleaved with everything else.

#[derive(Clone, Copy, Debug)]
enum Msg {
    /// IKEv2 IKE_SA_INIT request; `retry` is an INVALID_KE retry (same SPIi, new group).
    V2InitReq {
        group: u16,
    },
    V2InitResp {
        group: u16,
    },
    /// IKEv2 IKE_SA_INIT error response carrying one notify.
    V2InitError {
        notify: u16,
        group: u16,
    },
    V2Auth {
        response: bool,
    },
    /// IKEv2 INFORMATIONAL with an empty SK payload: dead peer detection (RFC 7296 §2.4).
    V2Dpd {
        response: bool,
        msgid: u32,
    },
    /// IKEv1 Main Mode message 1..=6.
    V1Main {
        n: u8,
    },
    /// IKEv1 Quick Mode message 1..=3.
    V1Quick {
        n: u8,
    },
    /// IKEv1 Informational, unencrypted, with one notify (from the responder).
    V1Notify {
        notify: u16,
    },
    /// IKEv1 encrypted Informational: R-U-THERE / R-U-THERE-ACK (RFC 3706).
    V1Dpd {
        response: bool,
        msgid: u32,
    },
    /// RFC 3948 NAT-keepalive from the initiator behind NAT.
    Keepalive,
    /// ICMP port unreachable from the initiator's host, quoting the responder's last message.
    IcmpUnreachable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum NegoKind {
    V2Ok,
    V2NatT,
    V2NoProposal,
    V2InvalidKe,
    V2Retransmit,
    V1Ok,
    V1NatT,
    V1NoProposal,
    V1Retransmit,
    V1UnreachableResponder,
}

impl NegoKind {
    fn name(self) -> &'static str {
        match self {
            NegoKind::V2Ok => "ikev2_ok",
            NegoKind::V2NatT => "ikev2_nat_t_ok",
            NegoKind::V2NoProposal => "ikev2_no_proposal_chosen",
            NegoKind::V2InvalidKe => "ikev2_invalid_ke_then_ok",
            NegoKind::V2Retransmit => "ikev2_retransmission_loop",
            NegoKind::V1Ok => "ikev1_main_quick_ok",
            NegoKind::V1NatT => "ikev1_nat_t_ok",
            NegoKind::V1NoProposal => "ikev1_no_proposal_chosen",
            NegoKind::V1Retransmit => "ikev1_retransmission_loop",
            NegoKind::V1UnreachableResponder => "ikev1_icmp_port_unreachable",
        }
    }
}

struct Step {
    msg: Msg,
    /// Sent by the initiator (else by the responder).
    from_initiator: bool,
    /// On the NAT-T port 4500 (with the non-ESP marker for IKE).
    natt: bool,
    /// Wait after this step before the next, in µs.
    delay_after: u64,
}

struct Nego {
    steps: Vec<Step>,
    next: usize,
    ini: Addr,
    resp: Addr,
    /// Initiator's ports as the responder sees them (NAT-mapped when behind NAT).
    ini_port500: u16,
    ini_port4500: u16,
    spi_i: u64,
    spi_r: u64,
    /// Quick Mode / Informational message IDs (IKEv1).
    qm_msgid: u32,
}

const MS: u64 = 1_000;
const S: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Ground truth.

#[derive(Default, Serialize)]
struct Counters {
    ike: u64,
    ike_v1: u64,
    ike_v2: u64,
    esp: u64,
    esp_in_udp: u64,
    nat_keepalives: u64,
    icmp_errors: u64,
    ip_fragments: u64,
    ip_reassembled: u64,
}

#[derive(Default, Serialize)]
struct ByClass {
    ike: u64,
    esp: u64,
    esp_in_udp: u64,
    /// IP fragments of ESP and ESP-in-UDP datagrams.
    ipsec_fragments: u64,
    nat_keepalives: u64,
    icmp_errors_quoting_ipsec: u64,
    /// Flood: random bytes on UDP 500 (mostly malformed IKE to a decoder).
    junk_udp500: u64,
    /// Flood: random bytes on UDP 4500 that RFC 3948 §2.2 makes ESP-in-UDP.
    junk_udp4500: u64,
    /// Ordinary traffic: TCP, UDP, IPv6, ARP, ICMP echo, ICMP errors about non-IPsec packets,
    /// fragments of non-IPsec datagrams.
    other: u64,
}

#[derive(Serialize)]
struct Truth {
    generator: &'static str,
    kind: Kind,
    seed: u64,
    requested_bytes: u64,
    file_bytes: u64,
    packets: u64,
    first_ts: f64,
    last_ts: f64,
    /// In the terms of ike-sniff's summary `counters`.
    counters: Counters,
    packets_by_class: ByClass,
    /// Ordinary packets by protocol (a subset of `packets_by_class.other`).
    other_detail: BTreeMap<&'static str, u64>,
    negotiations: BTreeMap<&'static str, u64>,
    /// Exchanges inside the negotiations above.
    dpd_exchanges: u64,
    ike_retransmissions: u64,
    ike_peer_pairs: u64,
    esp_sas: u64,
}

// ---------------------------------------------------------------------------------------------
// The generator.

struct EspSa {
    src: Addr,
    dst: Addr,
    spi: u32,
    seq: u32,
    /// In UDP: (source port, destination port).
    udp: Option<(u16, u16)>,
}

struct Gen {
    rng: Rng,
    out: BufWriter<File>,
    file_bytes: u64,
    packets: u64,
    now_us: u64,
    start_us: u64,
    frame: Vec<u8>,
    l4: Vec<u8>,
    ikebuf: Vec<u8>,
    /// Random bytes that stand in for ciphertext and payloads.
    pool: Vec<u8>,
    ip_ident: u16,
    counters: Counters,
    by_class: ByClass,
    other_detail: BTreeMap<&'static str, u64>,
    negotiations: BTreeMap<&'static str, u64>,
    dpd_exchanges: u64,
    retransmissions: u64,
    peer_pairs: u64,
    esp: Vec<EspSa>,
    /// The last IKE datagram (IP header on) a responder sent, for ICMP quotes: (src, dst, bytes).
    last_ike_ip: Vec<u8>,
}

const POOL_LEN: usize = 1 << 20;

impl Gen {
    fn random(&mut self, n: usize) -> &[u8] {
        let off = self.rng.below((POOL_LEN - n) as u64) as usize;
        &self.pool[off..off + n]
    }

    fn write_frame(&mut self) -> io::Result<()> {
        let secs = (self.now_us / S) as u32;
        let usecs = (self.now_us % S) as u32;
        let len = self.frame.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&usecs.to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(&self.frame)?;
        self.file_bytes += 16 + u64::from(len);
        self.packets += 1;
        // 40 µs apart on average (25 000 packets/s, a busy branch gateway), so a 1 GiB capture
        // spans about a minute and negotiations play out among the other traffic.
        self.now_us += self.rng.below(80);
        Ok(())
    }

    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1 + self.rng.below(8) as u16);
        self.ip_ident
    }

    /// Writes `self.l4` as the payload of one IP packet, or of IPv4 fragments when `fragment` is
    /// set and it does not fit a 1500-byte MTU. Returns the number of fragments (0 if whole).
    fn emit_l4(&mut self, src: Addr, dst: Addr, proto: u8, fragment: bool) -> io::Result<u64> {
        let ident = self.next_ident();
        let mut l4 = std::mem::take(&mut self.l4);
        set_checksum(src, dst, proto, &mut l4);
        let mut frags = 0;
        if fragment && !src.is_v6() && l4.len() > FRAG_PAYLOAD {
            let mut off = 0;
            while off < l4.len() {
                let end = (off + FRAG_PAYLOAD).min(l4.len());
                let more = end < l4.len();
                let word = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
                self.frame.clear();
                push_ip_header(&mut self.frame, src, dst, proto, end - off, ident, word, 64);
                self.frame.extend_from_slice(&l4[off..end]);
                self.write_frame()?;
                frags += 1;
                off = end;
            }
        } else {
            self.frame.clear();
            let df = if src.is_v6() { 0 } else { 0x4000 };
            push_ip_header(&mut self.frame, src, dst, proto, l4.len(), ident, df, 64);
            self.frame.extend_from_slice(&l4);
            self.write_frame()?;
        }
        self.l4 = l4;
        Ok(frags)
    }

    fn emit_udp(
        &mut self,
        src: Addr,
        dst: Addr,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> io::Result<()> {
        self.l4.clear();
        push_udp_header(&mut self.l4, sport, dport, payload.len());
        self.l4.extend_from_slice(payload);
        self.emit_l4(src, dst, PROTO_UDP, false).map(|_| ())
    }

    // --- ordinary traffic -------------------------------------------------------------------

    fn client_addr(&mut self, v6: bool) -> Addr {
        if v6 {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x10, 0, 0, 0]);
            a[8..].copy_from_slice(&self.rng.u64().to_be_bytes());
            Addr::V6(a)
        } else {
            let r = self.rng.u32();
            Addr::V4([10, (r >> 16) as u8, (r >> 8) as u8, (r as u8) | 1])
        }
    }

    fn server_addr(&mut self, v6: bool) -> Addr {
        if v6 {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x2a, 0x00, 0x14, 0x50]);
            a[12..].copy_from_slice(&(self.rng.below(5000) as u32).to_be_bytes());
            Addr::V6(a)
        } else {
            // A few thousand popular servers in 198.18.0.0/15 (benchmarking space).
            let r = self.rng.below(4000) as u32;
            Addr::V4([198, 18, (r >> 8) as u8, r as u8 | 1])
        }
    }

    fn count_other(&mut self, what: &'static str, packets: u64) {
        self.by_class.other += packets;
        *self.other_detail.entry(what).or_insert(0) += packets;
    }

    fn other_packet(&mut self) -> io::Result<()> {
        let r = self.rng.below(1000);
        let v6 = self.rng.chance(120);
        let (client, server) = (self.client_addr(v6), self.server_addr(v6));
        let upstream = self.rng.chance(450);
        let (src, dst) = if upstream {
            (client, server)
        } else {
            (server, client)
        };
        if r < 700 {
            // TCP: ACKs, mid-size segments, full-size segments.
            let size = match self.rng.below(10) {
                0..=3 => 0,
                4..=5 => self.rng.range(100, 600) as usize,
                _ => 1448 - if v6 { 20 } else { 0 },
            };
            let cport = self.rng.range(32768, 60999) as u16;
            let sport_srv = [443u16, 443, 443, 80, 22, 993, 8443][self.rng.below(7) as usize];
            let (sp, dp) = if upstream {
                (cport, sport_srv)
            } else {
                (sport_srv, cport)
            };
            self.l4.clear();
            self.l4.extend_from_slice(&sp.to_be_bytes());
            self.l4.extend_from_slice(&dp.to_be_bytes());
            let seq = self.rng.u64();
            self.l4.extend_from_slice(&seq.to_be_bytes());
            self.l4
                .extend_from_slice(&[0x80, 0x10, 0x01, 0xf5, 0, 0, 0, 0]);
            // NOP NOP timestamp option (12 bytes) as Linux sends.
            self.l4.extend_from_slice(&[1, 1, 8, 10]);
            let tsv = self.rng.u64();
            self.l4.extend_from_slice(&tsv.to_be_bytes());
            let body = self.random(size).to_vec();
            self.l4.extend_from_slice(&body);
            self.emit_l4(src, dst, PROTO_TCP, false)?;
            self.count_other("tcp", 1);
        } else if r < 960 {
            // UDP: DNS, QUIC, NTP, syslog.
            let (port, size) = match self.rng.below(10) {
                0..=3 => (53u16, self.rng.range(40, 300) as usize),
                4..=8 => (443, self.rng.range(1200, 1350) as usize),
                _ => (123, 48),
            };
            let cport = self.rng.range(32768, 60999) as u16;
            let (sp, dp) = if upstream {
                (cport, port)
            } else {
                (port, cport)
            };
            let body = self.random(size).to_vec();
            self.emit_udp(src, dst, sp, dp, &body)?;
            self.count_other("udp", 1);
        } else if r < 975 {
            // ICMP echo.
            self.l4.clear();
            let (ty, proto) = if v6 {
                (128, PROTO_ICMPV6)
            } else {
                (8, PROTO_ICMP)
            };
            self.l4.extend_from_slice(&[ty, 0, 0, 0]);
            let id = self.rng.u32();
            self.l4.extend_from_slice(&id.to_be_bytes());
            let body = self.random(56).to_vec();
            self.l4.extend_from_slice(&body);
            self.emit_l4(src, dst, proto, false)?;
            self.count_other("icmp_echo", 1);
        } else if r < 985 {
            // ICMP port unreachable about a DNS query: an error, but not about IPsec.
            let (c, s) = (self.client_addr(false), self.server_addr(false));
            let quoted = quote_udp(c, s, self.rng.range(32768, 60999) as u16, 53, &[0; 12]);
            self.emit_icmp_error(s, c, 3, 3, 0, &quoted)?;
            self.count_other("icmp_error_not_ipsec", 1);
        } else if r < 995 {
            // A fragmented UDP datagram that is not IPsec (NFS, DNSSEC): first fragment first.
            let (c, s) = (self.client_addr(false), self.server_addr(false));
            let size = self.rng.range(1600, 4000) as usize;
            let body = self.random(size).to_vec();
            self.l4.clear();
            push_udp_header(&mut self.l4, 2049, 800, body.len());
            self.l4.extend_from_slice(&body);
            let n = self.emit_l4(s, c, PROTO_UDP, true)?;
            self.count_other("udp_fragment_not_ipsec", n);
        } else {
            // ARP who-has: not IP at all.
            self.frame.clear();
            self.frame.extend_from_slice(&[0xff; 6]);
            self.frame.extend_from_slice(&MAC_UPLINK);
            self.frame.extend_from_slice(&ETHERTYPE_ARP);
            self.frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
            self.frame.extend_from_slice(&MAC_UPLINK);
            self.frame.extend_from_slice(&[10, 0, 0, 1]);
            self.frame.extend_from_slice(&[0; 6]);
            self.frame.extend_from_slice(&[10, 0, 0, 2]);
            self.frame.extend_from_slice(&[0; 18]);
            self.write_frame()?;
            self.count_other("arp", 1);
        }
        Ok(())
    }

    fn emit_icmp_error(
        &mut self,
        src: Addr,
        dst: Addr,
        ty: u8,
        code: u8,
        mtu: u16,
        quoted: &[u8],
    ) -> io::Result<()> {
        self.l4.clear();
        self.l4.extend_from_slice(&[ty, code, 0, 0, 0, 0]);
        self.l4.extend_from_slice(&mtu.to_be_bytes());
        self.l4.extend_from_slice(quoted);
        let proto = if src.is_v6() {
            PROTO_ICMPV6
        } else {
            PROTO_ICMP
        };
        self.emit_l4(src, dst, proto, false).map(|_| ())
    }

    // --- ESP ------------------------------------------------------------------------------------

    fn esp_pool(&mut self, n: usize) {
        for i in 0..n {
            let v6 = i % 10 == 9;
            let udp = i % 3 == 1;
            let local = if v6 {
                let mut a = [0u8; 16];
                a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xfe, 0]);
                a[15] = 1;
                Addr::V6(a)
            } else {
                Addr::V4([203, 0, 113, 1 + (i % 4) as u8])
            };
            let remote = self.peer_addr(v6);
            let nat_port = self.rng.range(1024, 65000) as u16;
            for dir in 0..2 {
                let (src, dst) = if dir == 0 {
                    (local, remote)
                } else {
                    (remote, local)
                };
                let ports = if dir == 0 {
                    (4500, nat_port)
                } else {
                    (nat_port, 4500)
                };
                self.esp.push(EspSa {
                    src,
                    dst,
                    spi: self.rng.nonzero_u32(),
                    seq: self.rng.below(1000) as u32 + 1,
                    udp: udp.then_some(ports),
                });
            }
        }
    }

    fn peer_addr(&mut self, v6: bool) -> Addr {
        if v6 {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[4..12].copy_from_slice(&self.rng.u64().to_be_bytes());
            a[15] = 2;
            Addr::V6(a)
        } else {
            let r = self.rng.u32();
            // 100.64.0.0/10 (carrier-grade NAT space) stands for the peers' public addresses.
            Addr::V4([
                100,
                64 | ((r >> 16) as u8 & 0x3f),
                (r >> 8) as u8,
                r as u8 | 1,
            ])
        }
    }

    fn esp_packet(&mut self) -> io::Result<()> {
        let i = self.rng.below(self.esp.len() as u64) as usize;
        let (src, dst, spi, seq, udp) = {
            let sa = &mut self.esp[i];
            sa.seq = sa.seq.wrapping_add(1);
            (sa.src, sa.dst, sa.spi, sa.seq, sa.udp)
        };
        let large = !src.is_v6() && self.rng.chance(25);
        let size = if large {
            self.rng.range(1500, 2900) as usize
        } else {
            match self.rng.below(10) {
                0..=5 => self.rng.range(60, 200) as usize,
                _ => self.rng.range(1000, 1400) as usize,
            }
        };
        self.write_esp(src, dst, spi, seq, udp, size, large)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_esp(
        &mut self,
        src: Addr,
        dst: Addr,
        spi: u32,
        seq: u32,
        udp: Option<(u16, u16)>,
        size: usize,
        fragment: bool,
    ) -> io::Result<()> {
        self.l4.clear();
        if let Some((sp, dp)) = udp {
            push_udp_header(&mut self.l4, sp, dp, 8 + size);
        }
        self.l4.extend_from_slice(&spi.to_be_bytes());
        self.l4.extend_from_slice(&seq.to_be_bytes());
        let body = self.random(size).to_vec();
        self.l4.extend_from_slice(&body);
        let proto = if udp.is_some() { PROTO_UDP } else { PROTO_ESP };
        let n = self.emit_l4(src, dst, proto, fragment)?;
        self.counters.esp += 1;
        if udp.is_some() {
            self.counters.esp_in_udp += 1;
        }
        if n > 0 {
            self.counters.ip_fragments += n;
            self.counters.ip_reassembled += 1;
            self.by_class.ipsec_fragments += n;
        } else if udp.is_some() {
            self.by_class.esp_in_udp += 1;
        } else {
            self.by_class.esp += 1;
        }
        // Now and then a router on the path cannot forward it: RFC 1191 / RFC 4443 "too big",
        // quoting the ESP packet.
        if self.rng.chance(3) {
            let router = if src.is_v6() {
                let mut a = [0u8; 16];
                a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                a[15] = 0xfe;
                Addr::V6(a)
            } else {
                Addr::V4([192, 0, 2, 254])
            };
            let mut quoted = Vec::with_capacity(64);
            push_ip_header(
                &mut quoted,
                src,
                dst,
                self.l4_proto(udp),
                self.l4.len(),
                0,
                0x4000,
                63,
            );
            quoted.drain(..14);
            let keep = self.l4.len().min(64);
            quoted.extend_from_slice(&self.l4[..keep]);
            if src.is_v6() {
                self.l4.clear();
                self.l4.extend_from_slice(&[2, 0, 0, 0]);
                self.l4.extend_from_slice(&1400u32.to_be_bytes());
                self.l4.extend_from_slice(&quoted);
                self.emit_l4(router, src, PROTO_ICMPV6, false)?;
            } else {
                self.emit_icmp_error(router, src, 3, 4, 1400, &quoted)?;
            }
            self.counters.icmp_errors += 1;
            self.by_class.icmp_errors_quoting_ipsec += 1;
        }
        Ok(())
    }

    fn l4_proto(&self, udp: Option<(u16, u16)>) -> u8 {
        if udp.is_some() { PROTO_UDP } else { PROTO_ESP }
    }

    // --- IKE --------------------------------------------------------------------------------------

    fn new_nego(&mut self, kind: NegoKind) -> Nego {
        let v6 = self.rng.chance(100);
        let ini = self.peer_addr(v6);
        let resp = if v6 {
            let mut a = [0u8; 16];
            a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xfe, 0]);
            a[15] = 1;
            Addr::V6(a)
        } else {
            Addr::V4([203, 0, 113, 1 + self.rng.below(4) as u8])
        };
        let natted = matches!(kind, NegoKind::V2NatT | NegoKind::V1NatT);
        let (p500, p4500) = if natted {
            (
                self.rng.range(1024, 65000) as u16,
                self.rng.range(1024, 65000) as u16,
            )
        } else {
            (500, 4500)
        };
        let rtt = self.rng.range(5, 120) * MS;
        let step = |msg, from_initiator, natt, delay_after| Step {
            msg,
            from_initiator,
            natt,
            delay_after,
        };
        let mut steps = Vec::with_capacity(16);
        let group = if self.rng.chance(700) { 14 } else { 19 };
        let dpd_rounds = self.rng.below(3);
        match kind {
            NegoKind::V2Ok | NegoKind::V2NatT | NegoKind::V2InvalidKe => {
                let nat = kind == NegoKind::V2NatT;
                if kind == NegoKind::V2InvalidKe {
                    let wrong = if group == 14 { 2 } else { 14 };
                    steps.push(step(Msg::V2InitReq { group: wrong }, true, false, rtt));
                    steps.push(step(
                        Msg::V2InitError {
                            notify: ike::INVALID_KE_PAYLOAD,
                            group,
                        },
                        false,
                        false,
                        5 * MS,
                    ));
                }
                steps.push(step(Msg::V2InitReq { group }, true, false, rtt));
                steps.push(step(Msg::V2InitResp { group }, false, false, 10 * MS));
                steps.push(step(Msg::V2Auth { response: false }, true, nat, rtt));
                steps.push(step(Msg::V2Auth { response: true }, false, nat, 2 * S));
                for i in 0..dpd_rounds {
                    if nat {
                        steps.push(step(Msg::Keepalive, true, true, S));
                    }
                    let msgid = 2 + i as u32;
                    steps.push(step(
                        Msg::V2Dpd {
                            response: false,
                            msgid,
                        },
                        true,
                        nat,
                        rtt,
                    ));
                    steps.push(step(
                        Msg::V2Dpd {
                            response: true,
                            msgid,
                        },
                        false,
                        nat,
                        2 * S,
                    ));
                }
                if nat {
                    steps.push(step(Msg::Keepalive, true, true, 0));
                }
            }
            NegoKind::V2NoProposal => {
                steps.push(step(Msg::V2InitReq { group }, true, false, rtt));
                steps.push(step(
                    Msg::V2InitError {
                        notify: ike::NO_PROPOSAL_CHOSEN,
                        group,
                    },
                    false,
                    false,
                    0,
                ));
            }
            NegoKind::V2Retransmit => {
                let mut wait = 500 * MS;
                for _ in 0..6 {
                    steps.push(step(Msg::V2InitReq { group }, true, false, wait));
                    wait *= 2;
                }
            }
            NegoKind::V1Ok | NegoKind::V1NatT => {
                let nat = kind == NegoKind::V1NatT;
                for n in 1..=6u8 {
                    let from_i = n % 2 == 1;
                    let delay = if from_i { rtt } else { 5 * MS };
                    steps.push(step(Msg::V1Main { n }, from_i, nat && n >= 5, delay));
                }
                for n in 1..=3u8 {
                    steps.push(step(Msg::V1Quick { n }, n != 2, nat, rtt));
                }
                steps.last_mut().expect("quick mode").delay_after = 2 * S;
                for i in 0..dpd_rounds {
                    if nat {
                        steps.push(step(Msg::Keepalive, true, true, S));
                    }
                    let msgid = 0x1000_0000 + i as u32;
                    steps.push(step(
                        Msg::V1Dpd {
                            response: false,
                            msgid,
                        },
                        true,
                        nat,
                        rtt,
                    ));
                    steps.push(step(
                        Msg::V1Dpd {
                            response: true,
                            msgid,
                        },
                        false,
                        nat,
                        2 * S,
                    ));
                }
            }
            NegoKind::V1NoProposal => {
                steps.push(step(Msg::V1Main { n: 1 }, true, false, rtt));
                steps.push(step(
                    Msg::V1Notify {
                        notify: ike::V1_NO_PROPOSAL_CHOSEN,
                    },
                    false,
                    false,
                    0,
                ));
            }
            NegoKind::V1Retransmit => {
                for _ in 0..5 {
                    steps.push(step(Msg::V1Main { n: 1 }, true, false, 10 * S / 4));
                }
            }
            NegoKind::V1UnreachableResponder => {
                // The gateway initiates towards a peer whose IKE daemon is down: every attempt
                // draws an ICMP port unreachable quoting it.
                for _ in 0..3 {
                    steps.push(step(Msg::V1Main { n: 1 }, false, false, rtt / 2));
                    steps.push(step(Msg::IcmpUnreachable, true, false, 2 * S));
                }
            }
        }
        self.peer_pairs += 1;
        *self.negotiations.entry(kind.name()).or_insert(0) += 1;
        Nego {
            steps,
            next: 0,
            ini,
            resp,
            ini_port500: p500,
            ini_port4500: p4500,
            spi_i: self.rng.nonzero_u64(),
            spi_r: self.rng.nonzero_u64(),
            qm_msgid: self.rng.nonzero_u32(),
        }
    }

    /// Plays the next step of `n`; returns the wait before the following one, or None at the end.
    fn play(&mut self, n: &mut Nego) -> io::Result<Option<u64>> {
        let Some(step) = n.steps.get(n.next) else {
            return Ok(None);
        };
        let (msg, from_i, natt, delay) =
            (step.msg, step.from_initiator, step.natt, step.delay_after);
        // A request sent again unchanged is a retransmission.
        let repeated = n.steps[..n.next].iter().any(|s| match (s.msg, msg) {
            (Msg::V2InitReq { group: a }, Msg::V2InitReq { group: b }) => a == b,
            (Msg::V1Main { n: 1 }, Msg::V1Main { n: 1 }) => true,
            _ => false,
        });
        if repeated {
            self.retransmissions += 1;
        }
        n.next += 1;
        let (src, dst, sport, dport) = match (from_i, natt) {
            (true, false) => (n.ini, n.resp, n.ini_port500, 500),
            (true, true) => (n.ini, n.resp, n.ini_port4500, 4500),
            (false, false) => (n.resp, n.ini, 500, n.ini_port500),
            (false, true) => (n.resp, n.ini, 4500, n.ini_port4500),
        };
        if let Msg::Keepalive = msg {
            self.emit_udp(src, dst, sport, dport, &[0xff])?;
            self.counters.nat_keepalives += 1;
            self.by_class.nat_keepalives += 1;
            return Ok(Some(delay));
        }
        if let Msg::IcmpUnreachable = msg {
            let quoted = self.last_ike_ip.clone();
            self.emit_icmp_error(
                src,
                dst,
                if src.is_v6() { 1 } else { 3 },
                if src.is_v6() { 4 } else { 3 },
                0,
                &quoted,
            )?;
            self.counters.icmp_errors += 1;
            self.by_class.icmp_errors_quoting_ipsec += 1;
            return Ok(Some(delay));
        }
        let mut m = std::mem::take(&mut self.ikebuf);
        m.clear();
        if natt {
            m.extend_from_slice(&[0; 4]);
        }
        let v2 = self.build_ike(&mut m, n, msg);
        self.emit_udp(src, dst, sport, dport, &m)?;
        if !from_i {
            // Keep the first bytes as a router or host would quote them.
            let mut q = Vec::with_capacity(96);
            let l4len = 8 + m.len();
            push_ip_header(&mut q, src, dst, PROTO_UDP, l4len, 0, 0, 64);
            q.drain(..14);
            push_udp_header(&mut q, sport, dport, m.len());
            q.extend_from_slice(&m[..m.len().min(40)]);
            self.last_ike_ip = q;
        }
        self.ikebuf = m;
        self.counters.ike += 1;
        if v2 {
            self.counters.ike_v2 += 1;
        } else {
            self.counters.ike_v1 += 1;
        }
        self.by_class.ike += 1;
        if matches!(
            msg,
            Msg::V2Dpd {
                response: false,
                ..
            } | Msg::V1Dpd {
                response: false,
                ..
            }
        ) {
            self.dpd_exchanges += 1;
        }
        Ok(Some(delay))
    }

    /// Appends the IKE message for `msg`; returns whether it is IKEv2.
    fn build_ike(&mut self, m: &mut Vec<u8>, n: &Nego, msg: Msg) -> bool {
        let v2 = |exchange, flags, msgid, spi_r| IkeHeader {
            spi_i: n.spi_i,
            spi_r,
            version: ike::V2,
            exchange,
            flags,
            msgid,
        };
        let v1 = |exchange, flags, msgid, spi_r| IkeHeader {
            spi_i: n.spi_i,
            spi_r,
            version: ike::V1,
            exchange,
            flags,
            msgid,
        };
        let natd = |g: &mut Gen| g.random(20).to_vec();
        match msg {
            Msg::V2InitReq { group } | Msg::V2InitResp { group } => {
                let resp = matches!(msg, Msg::V2InitResp { .. });
                let sa = v2_sa_body(group, n.spi_i & 1 == 1);
                let mut ke = group.to_be_bytes().to_vec();
                ke.extend_from_slice(&[0, 0]);
                ke.extend_from_slice(self.random(ke_len(group)));
                let nonce = self.random(32).to_vec();
                let nd_s = v2_notify_body(ike::NAT_DETECTION_SOURCE_IP, &natd(self));
                let nd_d = v2_notify_body(ike::NAT_DETECTION_DESTINATION_IP, &natd(self));
                let (flags, spi_r) = if resp {
                    (ike::F_RESPONSE, n.spi_r)
                } else {
                    (ike::F_INITIATOR, 0)
                };
                ike_message(
                    m,
                    &v2(ike::IKE_SA_INIT, flags, 0, spi_r),
                    &[
                        (ike::SA, &sa),
                        (ike::KE, &ke),
                        (ike::NONCE, &nonce),
                        (ike::NOTIFY, &nd_s),
                        (ike::NOTIFY, &nd_d),
                    ],
                    0,
                );
                true
            }
            Msg::V2InitError { notify, group } => {
                let data = if notify == ike::INVALID_KE_PAYLOAD {
                    group.to_be_bytes().to_vec()
                } else {
                    Vec::new()
                };
                let body = v2_notify_body(notify, &data);
                ike_message(
                    m,
                    &v2(ike::IKE_SA_INIT, ike::F_RESPONSE, 0, 0),
                    &[(ike::NOTIFY, &body)],
                    0,
                );
                true
            }
            Msg::V2Auth { response } => {
                let blocks = self.rng.range(20, 60) as usize;
                let sk = self.random(16 + 16 * blocks + 16).to_vec();
                let (flags, inner) = if response {
                    (ike::F_RESPONSE, ike::IDR)
                } else {
                    (ike::F_INITIATOR, ike::IDI)
                };
                ike_message(
                    m,
                    &v2(ike::IKE_AUTH, flags, 1, n.spi_r),
                    &[(ike::SK, &sk)],
                    inner,
                );
                true
            }
            Msg::V2Dpd { response, msgid } => {
                let sk = self.random(16 + 16 + 16).to_vec();
                let flags = ike::F_INITIATOR | if response { ike::F_RESPONSE } else { 0 };
                ike_message(
                    m,
                    &v2(ike::INFORMATIONAL, flags, msgid, n.spi_r),
                    &[(ike::SK, &sk)],
                    0,
                );
                true
            }
            Msg::V1Main { n: k } => {
                let spi_r = if k == 1 { 0 } else { n.spi_r };
                let group = if n.spi_i & 2 == 0 { 14 } else { 2 };
                match k {
                    1 | 2 => {
                        let sa = v1_sa_body(group, n.spi_i & 1 == 1);
                        ike_message(
                            m,
                            &v1(ike::V1_MAIN, 0, 0, spi_r),
                            &[
                                (ike::V1_SA, &sa),
                                (ike::V1_VID, &VID_RFC3947),
                                (ike::V1_VID, &VID_DPD),
                            ],
                            0,
                        );
                    }
                    3 | 4 => {
                        let ke = self.random(ke_len(group)).to_vec();
                        let nonce = self.random(24).to_vec();
                        let d1 = natd(self);
                        let d2 = natd(self);
                        ike_message(
                            m,
                            &v1(ike::V1_MAIN, 0, 0, spi_r),
                            &[
                                (ike::V1_KE, &ke),
                                (ike::V1_NONCE, &nonce),
                                (ike::V1_NAT_D, &d1),
                                (ike::V1_NAT_D, &d2),
                            ],
                            0,
                        );
                    }
                    _ => {
                        let blocks = self.rng.range(4, 8) as usize;
                        let c = self.random(16 * blocks).to_vec();
                        ike_v1_encrypted(
                            m,
                            &v1(ike::V1_MAIN, ike::V1_F_ENCRYPTED, 0, spi_r),
                            ike::V1_ID,
                            &c,
                        );
                    }
                }
                false
            }
            Msg::V1Quick { n: k } => {
                let blocks = if k == 3 {
                    3
                } else {
                    self.rng.range(20, 40) as usize
                };
                let c = self.random(16 * blocks).to_vec();
                ike_v1_encrypted(
                    m,
                    &v1(ike::V1_QUICK, ike::V1_F_ENCRYPTED, n.qm_msgid, n.spi_r),
                    ike::V1_HASH,
                    &c,
                );
                false
            }
            Msg::V1Notify { notify } => {
                let mut cookies = n.spi_i.to_be_bytes().to_vec();
                cookies.extend_from_slice(&0u64.to_be_bytes());
                let body = v1_notify_body(notify, &cookies);
                ike_message(
                    m,
                    &v1(ike::V1_INFO, 0, 0, n.spi_r),
                    &[(ike::V1_N, &body)],
                    0,
                );
                false
            }
            Msg::V1Dpd { response, msgid } => {
                let c = self.random(16 * 5).to_vec();
                let id = msgid
                    .wrapping_add(u32::from(response))
                    .wrapping_mul(2_654_435_761);
                ike_v1_encrypted(
                    m,
                    &v1(ike::V1_INFO, ike::V1_F_ENCRYPTED, id, n.spi_r),
                    ike::V1_HASH,
                    &c,
                );
                false
            }
            Msg::Keepalive | Msg::IcmpUnreachable => unreachable!("not IKE"),
        }
    }

    // --- flood --------------------------------------------------------------------------------

    fn flood_packet(&mut self) -> io::Result<()> {
        let r = self.rng.below(100);
        let (a, b) = (self.peer_addr(false), Addr::V4([203, 0, 113, 1]));
        let (src, dst) = if self.rng.chance(500) { (a, b) } else { (b, a) };
        // Any source port but the IKE ones, so each packet is what it was planted as.
        let port = self.rng.range(5000, 65000) as u16;
        match r {
            0..=34 => {
                let spi = self.rng.nonzero_u32();
                let size = self.rng.range(60, 400) as usize;
                self.write_esp(src, dst, spi, 1, None, size, false)
            }
            35..=54 => {
                let spi = self.rng.nonzero_u32();
                let size = self.rng.range(60, 400) as usize;
                self.write_esp(src, dst, spi, 1, Some((port, 4500)), size, false)
            }
            55..=74 => {
                // Either a plausible IKE_SA_INIT header with random SPIs and nothing after it, or
                // random bytes.
                let mut body = Vec::with_capacity(300);
                if self.rng.chance(500) {
                    let h = IkeHeader {
                        spi_i: self.rng.nonzero_u64(),
                        spi_r: 0,
                        version: ike::V2,
                        exchange: ike::IKE_SA_INIT,
                        flags: ike::F_INITIATOR,
                        msgid: 0,
                    };
                    ike_message(&mut body, &h, &[], 0);
                    self.emit_udp(src, dst, port, 500, &body)?;
                    self.counters.ike += 1;
                    self.counters.ike_v2 += 1;
                    self.by_class.ike += 1;
                } else {
                    let n = self.rng.range(8, 300) as usize;
                    body.extend_from_slice(self.random(n));
                    self.emit_udp(src, dst, port, 500, &body)?;
                    self.by_class.junk_udp500 += 1;
                }
                Ok(())
            }
            75..=84 => {
                let n = self.rng.range(8, 300) as usize;
                let mut body = self.random(n).to_vec();
                body[0] |= 0x80;
                self.emit_udp(src, dst, port, 4500, &body)?;
                self.counters.esp += 1;
                self.counters.esp_in_udp += 1;
                self.by_class.junk_udp4500 += 1;
                Ok(())
            }
            _ => self.other_packet(),
        }
    }
}

impl Gen {
    /// One packet of a fragment flood: something a reassembler must hold, that never completes.
    fn fragment_flood_packet(&mut self) -> io::Result<()> {
        let r = self.rng.below(100);
        let (src, dst) = (self.peer_addr(false), Addr::V4([203, 0, 113, 1]));
        match r {
            0..=59 => {
                // The first fragment of a 3000-byte IKE (UDP 500) or ESP datagram; the rest
                // never comes.
                let ike = r < 40;
                self.l4.clear();
                if ike {
                    push_udp_header(&mut self.l4, 500, 500, 3000 - 8);
                }
                let body = self.random(FRAG_PAYLOAD - self.l4.len()).to_vec();
                self.l4.extend_from_slice(&body);
                let ident = self.next_ident();
                let proto = if ike { PROTO_UDP } else { PROTO_ESP };
                self.frame.clear();
                push_ip_header(
                    &mut self.frame,
                    src,
                    dst,
                    proto,
                    self.l4.len(),
                    ident,
                    0x2000,
                    64,
                );
                let l4 = std::mem::take(&mut self.l4);
                self.frame.extend_from_slice(&l4);
                self.l4 = l4;
                self.write_frame()?;
                self.counters.ip_fragments += 1;
                self.by_class.ipsec_fragments += 1;
                Ok(())
            }
            60..=89 => {
                // RFC 7383 §2.5: fragment 1 of 5 of an IKE_AUTH request, on UDP 4500 after the
                // non-ESP marker; a fresh SPI each time, so every one opens a set.
                let h = IkeHeader {
                    spi_i: self.rng.nonzero_u64(),
                    spi_r: self.rng.nonzero_u64(),
                    version: ike::V2,
                    exchange: ike::IKE_AUTH,
                    flags: ike::F_INITIATOR,
                    msgid: 1,
                };
                let n = self.rng.range(100, 1000) as usize;
                let mut skf = vec![0, 1, 0, 5];
                skf.extend_from_slice(self.random(n));
                let mut body = vec![0; 4];
                ike_message(&mut body, &h, &[(ike::SKF, &skf)], ike::IDI);
                let port = self.rng.range(5000, 65000) as u16;
                self.emit_udp(src, dst, port, 4500, &body)?;
                self.counters.ike += 1;
                self.counters.ike_v2 += 1;
                self.by_class.ike += 1;
                Ok(())
            }
            _ => self.other_packet(),
        }
    }
}

fn quote_udp(src: Addr, dst: Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    push_ip_header(&mut q, src, dst, PROTO_UDP, 8 + payload.len(), 0, 0, 64);
    q.drain(..14);
    push_udp_header(&mut q, sport, dport, payload.len());
    q.extend_from_slice(payload);
    q
}

/// Negotiation kinds and their weights (out of 100).
const NEGO_MIX: [(NegoKind, u64); 10] = [
    (NegoKind::V2Ok, 30),
    (NegoKind::V2NatT, 14),
    (NegoKind::V2NoProposal, 7),
    (NegoKind::V2InvalidKe, 7),
    (NegoKind::V2Retransmit, 7),
    (NegoKind::V1Ok, 15),
    (NegoKind::V1NatT, 8),
    (NegoKind::V1NoProposal, 5),
    (NegoKind::V1Retransmit, 4),
    (NegoKind::V1UnreachableResponder, 3),
];

fn generate(args: &Args) -> io::Result<Truth> {
    let file = File::create(&args.output)?;
    let mut rng = Rng::new(args.seed ^ 0x1ce_5eed);
    let mut pool = vec![0u8; POOL_LEN];
    for c in pool.chunks_mut(8) {
        c.copy_from_slice(&rng.u64().to_le_bytes());
    }
    let start_us = 1_767_225_600 * S; // 2026-01-01T00:00:00Z
    let mut g = Gen {
        rng,
        out: BufWriter::with_capacity(4 << 20, file),
        file_bytes: 0,
        packets: 0,
        now_us: start_us,
        start_us,
        frame: Vec::with_capacity(4096),
        l4: Vec::with_capacity(4096),
        ikebuf: Vec::with_capacity(4096),
        pool,
        ip_ident: 1,
        counters: Counters::default(),
        by_class: ByClass::default(),
        other_detail: BTreeMap::new(),
        negotiations: BTreeMap::new(),
        dpd_exchanges: 0,
        retransmissions: 0,
        peer_pairs: 0,
        esp: Vec::new(),
        last_ike_ip: Vec::new(),
    };
    // Classic pcap header: µs timestamps, snaplen 65535, Ethernet.
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    g.out.write_all(&hdr)?;
    g.file_bytes = 24;

    // Shares (per mille of packets): IKE-related (negotiations), ESP, the rest.
    let (ike_share, esp_share) = match args.kind {
        Kind::Mix => (10u64, 140u64),
        Kind::IkeHeavy => (850, 100),
        Kind::Flood | Kind::FragmentFlood => (0, 0),
    };
    if !matches!(args.kind, Kind::Flood | Kind::FragmentFlood) {
        g.esp_pool(200);
    }
    let max_packets = args.packets.unwrap_or(u64::MAX);
    let done = |g: &Gen| g.file_bytes >= args.size || g.packets >= max_packets;
    let mut active: Vec<Option<Nego>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut due: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    // IKE-side packets planned so far (including those still scheduled), against the rest.
    let mut planned = 0u64;
    let mut background = 0u64;
    while !done(&g) {
        if ike_share > 0 && planned * (1000 - ike_share) < ike_share * (background + 1) {
            let r = g.rng.below(100);
            let mut acc = 0;
            let kind = NEGO_MIX
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    r < acc
                })
                .map_or(NegoKind::V2Ok, |k| k.0);
            let nego = g.new_nego(kind);
            planned += nego.steps.len() as u64;
            let slot = match free.pop() {
                Some(s) => {
                    active[s] = Some(nego);
                    s
                }
                None => {
                    active.push(Some(nego));
                    active.len() - 1
                }
            };
            due.push(Reverse((g.now_us, slot)));
            continue;
        }
        if let Some(&Reverse((t, slot))) = due.peek()
            && t <= g.now_us
        {
            due.pop();
            play_slot(&mut g, &mut active, &mut free, &mut due, slot)?;
            continue;
        }
        background += 1;
        if args.kind == Kind::Flood {
            g.flood_packet()?;
        } else if args.kind == Kind::FragmentFlood {
            g.fragment_flood_packet()?;
        } else if g.rng.below(1000 - ike_share) < esp_share {
            g.esp_packet()?;
        } else {
            g.other_packet()?;
        }
    }
    // Let every negotiation under way finish, on its own schedule.
    while let Some(Reverse((t, slot))) = due.pop() {
        g.now_us = g.now_us.max(t);
        play_slot(&mut g, &mut active, &mut free, &mut due, slot)?;
    }
    g.out.flush()?;
    let truth = Truth {
        generator: concat!("ike-sniff-corpus ", env!("CARGO_PKG_VERSION")),
        kind: args.kind,
        seed: args.seed,
        requested_bytes: args.size,
        file_bytes: g.file_bytes,
        packets: g.packets,
        first_ts: g.start_us as f64 / 1e6,
        last_ts: g.now_us as f64 / 1e6,
        counters: g.counters,
        packets_by_class: g.by_class,
        other_detail: g.other_detail,
        negotiations: g.negotiations,
        dpd_exchanges: g.dpd_exchanges,
        ike_retransmissions: g.retransmissions,
        ike_peer_pairs: g.peer_pairs,
        esp_sas: g.esp.len() as u64,
    };
    let mut tf = BufWriter::new(File::create(format!("{}.truth.json", args.output))?);
    serde_json::to_writer_pretty(&mut tf, &truth)?;
    tf.write_all(b"\n")?;
    tf.flush()?;
    Ok(truth)
}

fn play_slot(
    g: &mut Gen,
    active: &mut [Option<Nego>],
    free: &mut Vec<usize>,
    due: &mut BinaryHeap<Reverse<(u64, usize)>>,
    slot: usize,
) -> io::Result<()> {
    let Some(mut nego) = active[slot].take() else {
        return Ok(());
    };
    match g.play(&mut nego)? {
        Some(delay) if nego.next < nego.steps.len() => {
            due.push(Reverse((g.now_us + delay, slot)));
            active[slot] = Some(nego);
        }
        _ => free.push(slot),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("1XB").is_err());
    }

    #[test]
    fn ike_length_field_covers_the_message() {
        let mut m = Vec::new();
        let h = IkeHeader {
            spi_i: 1,
            spi_r: 0,
            version: ike::V2,
            exchange: ike::IKE_SA_INIT,
            flags: ike::F_INITIATOR,
            msgid: 0,
        };
        ike_message(&mut m, &h, &[(ike::NONCE, &[7; 32])], 0);
        assert_eq!(m.len(), 28 + 36);
        assert_eq!(u32::from_be_bytes(m[24..28].try_into().unwrap()), 64);
        assert_eq!(m[16], ike::NONCE);
        assert_eq!(&m[28..32], &[0, 0, 0, 36]);
    }
}
