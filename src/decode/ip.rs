//! IPv4 and IPv6 headers: addresses, the upper protocol, fragmentation, and the payload.
//!
//! Extension headers are walked for IPv6 so that a Fragment header (or AH, which we keep) is
//! found wherever it sits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::{DecodeError, ErrorKind, Layer, LenError, LenField, LenSource, LenSubject};

/// IPv6 extension headers that may precede the upper-layer header.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;
const NO_NEXT: u8 = 59;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpFragment {
    /// Byte offset of this fragment's data in the original datagram.
    pub offset: u32,
    pub more: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct IpPacket<'a> {
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// IPv4 total length, or IPv6 payload length + 40: the size of the packet as sent.
    pub total_len: u32,
    pub ttl: u8,
    pub dont_fragment: bool,
    /// IPv4 identification or IPv6 fragment identification.
    pub ident: u32,
    /// Present when this packet is a fragment (offset > 0 or more fragments follow).
    pub fragment: Option<IpFragment>,
    /// The upper-layer bytes present: cut at the header's length, or at the capture's end when
    /// the snap length cut it (`truncated`).
    pub payload: &'a [u8],
    pub truncated: bool,
}

/// Parses the IP header that starts `data`. `version` is what the link layer said.
pub fn parse(version: u8, data: &[u8]) -> Result<IpPacket<'_>, DecodeError> {
    match version {
        4 => parse_v4(data),
        _ => parse_v6(data),
    }
}

pub fn parse_v4(data: &[u8]) -> Result<IpPacket<'_>, DecodeError> {
    if data.len() < 20 {
        return Err(LenError {
            need: 20,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::Header,
        }
        .at(Layer::Ipv4Header, 0));
    }
    if data[0] >> 4 != 4 {
        return Err(ErrorKind::IpVersion {
            found: data[0] >> 4,
            expected: 4,
        }
        .at(Layer::Ipv4Header, 0));
    }
    let ihl = usize::from(data[0] & 0x0f) * 4;
    if ihl < 20 || ihl > data.len() {
        let what = LenSubject::Ipv4HeaderLength {
            ihl,
            present: data.len(),
        };
        let e = if ihl < 20 {
            LenError {
                need: 20,
                have: ihl,
                source: LenSource::Field(LenField::Ipv4Ihl),
                what,
            }
        } else {
            LenError {
                need: ihl,
                have: data.len(),
                source: LenSource::Captured,
                what,
            }
        };
        return Err(e.at(Layer::Ipv4Header, 0));
    }
    let total_len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let flags_frag = u16::from_be_bytes([data[6], data[7]]);
    let offset = u32::from(flags_frag & 0x1fff) * 8;
    let more = flags_frag & 0x2000 != 0;
    // A total length of 0 is what TSO/GSO hands to captures on the sending host; trust the
    // capture then.
    let end = if total_len == 0 {
        data.len()
    } else {
        total_len.max(ihl)
    };
    let truncated = end > data.len();
    let payload = &data[ihl..end.min(data.len())];
    Ok(IpPacket {
        version: 4,
        src: IpAddr::V4(Ipv4Addr::new(data[12], data[13], data[14], data[15])),
        dst: IpAddr::V4(Ipv4Addr::new(data[16], data[17], data[18], data[19])),
        proto: data[9],
        total_len: if total_len == 0 {
            data.len() as u32
        } else {
            total_len as u32
        },
        ttl: data[8],
        dont_fragment: flags_frag & 0x4000 != 0,
        ident: u32::from(u16::from_be_bytes([data[4], data[5]])),
        fragment: (offset > 0 || more).then_some(IpFragment { offset, more }),
        payload,
        truncated,
    })
}

pub fn parse_v6(data: &[u8]) -> Result<IpPacket<'_>, DecodeError> {
    if data.len() < 40 {
        return Err(LenError {
            need: 40,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::Header,
        }
        .at(Layer::Ipv6Header, 0));
    }
    if data[0] >> 4 != 6 {
        return Err(ErrorKind::IpVersion {
            found: data[0] >> 4,
            expected: 6,
        }
        .at(Layer::Ipv6Header, 0));
    }
    let payload_len = usize::from(u16::from_be_bytes([data[4], data[5]]));
    // Payload length 0 means a jumbogram or a GSO capture: use what is there.
    let end = if payload_len == 0 {
        data.len()
    } else {
        40 + payload_len
    };
    let truncated = end > data.len();
    let packet = &data[..end.min(data.len())];
    // The Payload Length ends the packet unless the capture ends first, or the field is 0 and
    // the capture is all there is.
    let packet_source = if payload_len != 0 && !truncated {
        LenSource::Field(LenField::Ipv6PayloadLength)
    } else {
        LenSource::Captured
    };
    let cut_short = |at: usize, need: usize, layer: Layer| {
        LenError {
            need,
            have: packet.len().saturating_sub(at),
            source: packet_source,
            what: LenSubject::CutShort,
        }
        .at(layer, at)
    };
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    let mut next = data[6];
    let mut at = 40;
    let mut fragment = None;
    let mut ident = 0;
    // Bounded: each extension header advances by at least 8 bytes.
    loop {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let Some(hdr) = packet.get(at..at + 2) else {
                    return Err(cut_short(at, 2, Layer::Ipv6ExtensionHeader));
                };
                next = hdr[0];
                at += (usize::from(hdr[1]) + 1) * 8;
            }
            FRAGMENT => {
                let Some(hdr) = packet.get(at..at + 8) else {
                    return Err(cut_short(at, 8, Layer::Ipv6FragmentHeader));
                };
                next = hdr[0];
                let off_flags = u16::from_be_bytes([hdr[2], hdr[3]]);
                let offset = u32::from(off_flags >> 3) * 8;
                let more = off_flags & 1 != 0;
                ident = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
                // An atomic fragment (offset 0, no more) is a whole packet (RFC 8021).
                if offset > 0 || more {
                    fragment = Some(IpFragment { offset, more });
                }
                at += 8;
                // Headers after a non-first fragment's Fragment header are data.
                if offset > 0 {
                    break;
                }
            }
            _ => break,
        }
        if at > packet.len() {
            return Err(LenError {
                need: at,
                have: packet.len(),
                source: packet_source,
                what: LenSubject::RunsPast,
            }
            .at(Layer::Ipv6ExtensionHeader, at));
        }
    }
    let payload = packet.get(at..).unwrap_or(&[]);
    Ok(IpPacket {
        version: 6,
        src: addr(8),
        dst: addr(24),
        proto: if next == NO_NEXT { NO_NEXT } else { next },
        total_len: (40 + payload_len) as u32,
        ttl: data[7],
        // IPv6 routers never fragment: every packet behaves as if DF were set.
        dont_fragment: true,
        ident,
        fragment,
        payload,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_header(proto: u8, total: u16, flags_frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[6..8].copy_from_slice(&flags_frag.to_be_bytes());
        p.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ipv4_fragment_fields() {
        let p = v4_header(50, 28, 0x2000 | 185, &[0; 8]);
        let ip = parse_v4(&p).unwrap();
        assert_eq!(
            ip.fragment,
            Some(IpFragment {
                offset: 1480,
                more: true
            })
        );
        assert_eq!(ip.ident, 0x1234);
        assert_eq!(ip.payload.len(), 8);
        assert!(!ip.dont_fragment);
    }

    #[test]
    fn ipv4_snaplen_cut_is_marked_truncated() {
        let p = v4_header(17, 1500, 0x4000, &[0; 20]);
        let ip = parse_v4(&p).unwrap();
        assert!(ip.truncated);
        assert_eq!(ip.total_len, 1500);
        assert_eq!(ip.payload.len(), 20);
        assert!(ip.dont_fragment);
    }

    #[test]
    fn ipv4_bad_ihl_is_an_error_not_a_panic() {
        let mut p = v4_header(17, 40, 0, &[0; 20]);
        p[0] = 0x4f;
        assert!(parse_v4(&p[..30]).is_err());
        p[0] = 0x41;
        assert!(parse_v4(&p).is_err());
    }

    #[test]
    fn ipv6_fragment_header_is_found_after_dest_opts() {
        let mut p = vec![0x60, 0, 0, 0, 0, 24, DEST_OPTS, 64];
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        p.extend_from_slice(&[0; 11]);
        p.push(2);
        // Destination options: next = Fragment, length 0 (8 bytes).
        p.extend_from_slice(&[FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        // Fragment header: next = UDP, offset 0, M = 1, id 0xdeadbeef.
        p.extend_from_slice(&[17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(&[0; 8]);
        let ip = parse_v6(&p).unwrap();
        assert_eq!(ip.proto, 17);
        assert_eq!(ip.ident, 0xdead_beef);
        assert_eq!(
            ip.fragment,
            Some(IpFragment {
                offset: 0,
                more: true
            })
        );
        assert_eq!(ip.payload.len(), 8);
    }
}
