//! ESP (RFC 4303 §2) and AH (RFC 4302 §2) headers: the SPI and sequence number that identify
//! an SA and show loss, replay and reordering. The rest is ciphertext.

use std::net::IpAddr;

use crate::event::{
    AhInfo, Cleartext, DecodeError, ErrorKind, EspInfo, InnerPacket, Layer, LenError, LenSource,
    LenSubject,
};

/// `data` starts at the SPI; `len` is the ESP length on the wire (it may exceed `data` when the
/// snap length cut the packet).
pub fn decode_esp(data: &[u8], len: u32, udp_encapsulated: bool) -> Result<EspInfo, DecodeError> {
    let layer = if udp_encapsulated {
        Layer::EspInUdp
    } else {
        Layer::Esp
    };
    let Some(h) = data.get(..8) else {
        return Err(LenError {
            need: 8,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::EspHeader,
        }
        .at(layer, 0));
    };
    let spi = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    // SPIs 1–255 are reserved by IANA and 0 is never an SA (RFC 4303 §2.1); on UDP 4500 a zero
    // SPI is the non-ESP marker and is handled before this point.
    if spi == 0 {
        return Err(ErrorKind::ReservedSpi { spi }.at(layer, 0));
    }
    // Only a whole packet has a trailer to test.
    let cleartext = if data.len() == len as usize {
        null_payload(&data[8..])
    } else {
        None
    };
    Ok(EspInfo {
        spi,
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        len,
        udp_encapsulated,
        cleartext,
        decrypted: None,
    })
}

/// ICV lengths tried, most common first: HMAC-SHA1-96 and HMAC-MD5-96 (12), HMAC-SHA2-256-128
/// (16), none, AES-XCBC/CMAC-96 are 12 too; HMAC-SHA2-384-192 (24), HMAC-SHA2-512-256 (32), 8.
const ICV_LENGTHS: [usize; 6] = [12, 16, 0, 24, 32, 8];

/// Whether an ESP payload (after SPI and sequence number) reads as NULL-encrypted: for some ICV
/// length, the trailer has the default padding 1, 2, 3… (RFC 4303 §2.4), a pad length that
/// fits, and a next header whose packet parses to exactly the bytes before the padding, as
/// Wireshark's ESP-NULL heuristic tests it. Ciphertext passes one ICV length's trailer test
/// about twice in 256×256 tries and the inner packet's length check far less often; the rule
/// that reports it also wants most of an SA's packets to pass with the same ICV length.
fn null_payload(p: &[u8]) -> Option<Cleartext> {
    for icv in ICV_LENGTHS {
        let Some(end) = p.len().checked_sub(icv) else {
            continue;
        };
        if end < 2 {
            continue;
        }
        let (next_header, pad_len) = (p[end - 1], usize::from(p[end - 2]));
        let Some(body) = (end - 2).checked_sub(pad_len) else {
            continue;
        };
        if !p[body..end - 2]
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == i + 1)
        {
            continue;
        }
        if !reads_as_one_packet(next_header, &p[..body]) {
            continue;
        }
        // Transport mode's addresses are the outer packet's, which this layer does not see;
        // only the protocol and ports are kept.
        let unspecified = IpAddr::from([0u8; 4]);
        if let Some(inner) = inner_packet(next_header, &p[..body], (unspecified, unspecified)) {
            return Some(Cleartext {
                icv: icv as u8,
                next_header,
                proto: inner.proto,
                ports: (inner.sport, inner.dport),
            });
        }
    }
    None
}

/// Whether `d` is exactly one packet of protocol `nh`: the strict reading that tells cleartext
/// from ciphertext where nothing else can (the ESP-NULL heuristic, a key without ICV). Lengths
/// must match to the byte; [`inner_packet`] then reads the fields, leniently.
pub(super) fn reads_as_one_packet(nh: u8, d: &[u8]) -> bool {
    let be = |i: usize| usize::from(u16::from_be_bytes([d[i], d[i + 1]]));
    match nh {
        // Tunnel mode: an IPv4 or IPv6 header whose length is the whole body.
        4 => {
            d.len() >= 20
                && d[0] >> 4 == 4
                && d[0] & 0xf >= 5
                && usize::from(d[0] & 0xf) * 4 <= d.len()
                && be(2) == d.len()
        }
        41 => d.len() >= 40 && d[0] >> 4 == 6 && be(4) + 40 == d.len(),
        // Transport mode: the transport header itself.
        17 => d.len() >= 8 && be(4) == d.len(),
        6 => {
            d.len() >= 20
                && (5..=15).contains(&(d[12] >> 4))
                && usize::from(d[12] >> 4) * 4 <= d.len()
        }
        1 => d.len() >= 8 && matches!(d[0], 0 | 3 | 5 | 8 | 11 | 12 | 13 | 14),
        58 => d.len() >= 8 && matches!(d[0], 1..=4 | 128 | 129 | 133..=137),
        _ => false,
    }
}

/// The packet inside a decrypted ESP payload (`d`, padding removed, next header `nh`): tunnel
/// mode carries an IP packet, transport mode the upper layer (addressed as the outer packet,
/// `outer`). Lenient: an IP header that reads is enough, the layer above is taken when whole.
pub fn inner_packet(nh: u8, d: &[u8], outer: (IpAddr, IpAddr)) -> Option<InnerPacket> {
    let be = |i: usize| d.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let (src, dst, proto, len, df, l4, ident) = match nh {
        4 if d.len() >= 20 && d[0] >> 4 == 4 && d[0] & 0xf >= 5 => {
            let ihl = usize::from(d[0] & 0xf) * 4;
            let src: [u8; 4] = d[12..16].try_into().ok()?;
            let dst: [u8; 4] = d[16..20].try_into().ok()?;
            let total = usize::from(be(2)?).min(d.len());
            // Only the first fragment has the transport header.
            let first = be(6)? & 0x1fff == 0;
            let l4 = if first {
                d.get(ihl..total).unwrap_or_default()
            } else {
                &[]
            };
            let df = d[6] & 0x40 != 0;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                d[9],
                be(2)?.into(),
                df,
                l4,
                be(4)?,
            )
        }
        41 if d.len() >= 40 && d[0] >> 4 == 6 => {
            let src: [u8; 16] = d[8..24].try_into().ok()?;
            let dst: [u8; 16] = d[24..40].try_into().ok()?;
            let total = (usize::from(be(4)?) + 40).min(d.len());
            let len = u32::from(be(4)?) + 40;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                d[6],
                len,
                true,
                &d[40..total],
                0,
            )
        }
        4 | 41 => return None,
        _ => (outer.0, outer.1, nh, d.len() as u32, false, d, 0),
    };
    let mut p = InnerPacket {
        src,
        dst,
        proto,
        sport: 0,
        dport: 0,
        len,
        dont_fragment: df,
        tcp_flags: None,
        tcp_mss: None,
        ident,
        l4_head: l4.iter().take(8).fold(0, |h, &b| h << 8 | u64::from(b)),
    };
    (p.sport, p.dport) = l4_ports(proto, l4);
    if proto == 6 && l4.len() >= 20 {
        p.tcp_flags = Some(l4[13]);
        if l4[13] & 0x02 != 0 {
            p.tcp_mss = tcp_mss(l4);
        }
    }
    Some(p)
}

/// The MSS option of a TCP header (RFC 9293 §3.2), if present and well formed.
fn tcp_mss(tcp: &[u8]) -> Option<u16> {
    let hl = usize::from(tcp[12] >> 4) * 4;
    let mut opts = tcp.get(20..hl)?;
    while let [kind, rest @ ..] = opts {
        match kind {
            0 => return None,
            1 => opts = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if *kind == 2 && len == 4 {
                    return Some(u16::from_be_bytes([opts[2], opts[3]]));
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

fn l4_ports(proto: u8, l4: &[u8]) -> (u16, u16) {
    match (proto, l4) {
        (6 | 17, [a, b, c, d, ..]) => (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])),
        (1 | 58, [t, c, ..]) => (u16::from(*t), u16::from(*c)),
        _ => (0, 0),
    }
}

pub fn decode_ah(data: &[u8]) -> Result<AhInfo, DecodeError> {
    let Some(h) = data.get(..12) else {
        return Err(LenError {
            need: 12,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::Header,
        }
        .at(Layer::Ah, 0));
    };
    Ok(AhInfo {
        next_header: h[0],
        spi: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        seq: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    })
}

/// AH header length: the Payload Length field counts 32-bit words, minus 2 (RFC 4302 §2.2).
pub fn ah_header_len(data: &[u8]) -> usize {
    data.get(1).map_or(0, |&l| (usize::from(l) + 2) * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_header_fields() {
        // First bytes of frame 1 of tcpdump's 02-sunrise-sunset-esp.pcap: SPI 0x12345678, seq 1.
        let d = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0xaa];
        let e = decode_esp(&d, 116, false).unwrap();
        assert_eq!((e.spi, e.seq, e.len), (0x1234_5678, 1, 116));
        assert!(decode_esp(&d[..7], 7, false).is_err());
        assert!(decode_esp(&[0; 8], 8, true).is_err());
    }

    /// A NULL-encrypted tunnel-mode ping: inner IPv4/ICMP echo, default padding, next header
    /// 4, a 12-byte ICV. Found with the right ICV length; the same bytes with a broken pad are
    /// not, nor is random-looking ciphertext.
    #[test]
    fn null_encrypted_payload_is_recognised() {
        let mut inner = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1,
        ];
        inner.extend_from_slice(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 1]);
        let mut esp = vec![0, 0, 0, 0x71, 0, 0, 0, 1];
        esp.extend_from_slice(&inner);
        esp.extend_from_slice(&[1, 2, 2, 4]); // pad 1, 2; pad length 2; next header 4
        esp.extend_from_slice(&[0xab; 12]);
        let e = decode_esp(&esp, esp.len() as u32, false).unwrap();
        let c = e.cleartext.expect("cleartext");
        assert_eq!((c.icv, c.next_header, c.proto, c.ports), (12, 4, 1, (8, 0)));
        // Cut by the snap length: no trailer, no verdict.
        let cut = decode_esp(&esp[..40], esp.len() as u32, false).unwrap();
        assert!(cut.cleartext.is_none());
        let mut bad = esp.clone();
        bad[8 + 28] = 7;
        assert!(
            decode_esp(&bad, bad.len() as u32, false)
                .unwrap()
                .cleartext
                .is_none()
        );
        let mut x: u32 = 0x1234_5678;
        let noise: Vec<u8> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let hits = noise
            .chunks(100)
            .filter(|c| null_payload(c).is_some())
            .count();
        assert!(hits <= 1, "{hits} of 40 random payloads read as cleartext");
    }

    #[test]
    fn ah_header_fields() {
        let d = [4, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 9];
        let a = decode_ah(&d).unwrap();
        assert_eq!((a.next_header, a.spi, a.seq), (4, 0x1001, 9));
    }
}
