//! ICMP and ICMPv6 errors that quote IPsec packets (RFC 792, RFC 1191, RFC 4443).
//!
//! The quoted packet is usually cut short (RFC 792 guarantees only 8 bytes past the IP header),
//! so it is sliced with etherparse's lax slicer and we keep whatever identifies the flow: the
//! addresses and ports, the ESP SPI, or the IKE SPIs and message ID when the quote reaches them.

use std::net::IpAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::event::{Flow, IcmpError, QuotedPacket, ipproto};

use super::frag::is_ipsec_port;

/// ICMPv4 types that carry an invoking packet.
const V4_DEST_UNREACHABLE: u8 = 3;
const V4_SOURCE_QUENCH: u8 = 4;
const V4_TIME_EXCEEDED: u8 = 11;
const V4_PARAMETER_PROBLEM: u8 = 12;
const V4_FRAG_NEEDED_CODE: u8 = 4;

const V6_DEST_UNREACHABLE: u8 = 1;
const V6_PACKET_TOO_BIG: u8 = 2;
const V6_TIME_EXCEEDED: u8 = 3;
const V6_PARAMETER_PROBLEM: u8 = 4;

/// Whether an ICMP(v6) type is an error that quotes a packet.
#[inline]
pub fn is_error_type(v6: bool, icmp_type: u8) -> bool {
    if v6 {
        matches!(
            icmp_type,
            V6_DEST_UNREACHABLE | V6_PACKET_TOO_BIG | V6_TIME_EXCEEDED | V6_PARAMETER_PROBLEM
        )
    } else {
        matches!(
            icmp_type,
            V4_DEST_UNREACHABLE | V4_SOURCE_QUENCH | V4_TIME_EXCEEDED | V4_PARAMETER_PROBLEM
        )
    }
}

/// Decodes an ICMP(v6) message. Returns None when it is not an error, or when the packet it
/// quotes is not IKE, ESP-in-UDP, ESP or AH (an ICMP error about unrelated traffic is not ours
/// to diagnose).
pub fn decode(v6: bool, icmp: &[u8]) -> Option<IcmpError> {
    let header = icmp.get(..8)?;
    let (icmp_type, code) = (header[0], header[1]);
    if !is_error_type(v6, icmp_type) {
        return None;
    }
    let mtu = if v6 && icmp_type == V6_PACKET_TOO_BIG {
        Some(u32::from_be_bytes([
            header[4], header[5], header[6], header[7],
        ]))
    } else if !v6 && icmp_type == V4_DEST_UNREACHABLE && code == V4_FRAG_NEEDED_CODE {
        // RFC 1191 §4: next-hop MTU in the low 16 bits; 0 from pre-RFC 1191 routers.
        Some(u32::from(u16::from_be_bytes([header[6], header[7]])))
    } else {
        None
    };
    let quoted = decode_quoted(&icmp[8..])?;
    let flow = quoted.flow?;
    let ours = match flow.proto {
        ipproto::UDP => is_ipsec_port(flow.sport) || is_ipsec_port(flow.dport),
        ipproto::ESP | ipproto::AH => true,
        _ => false,
    };
    ours.then_some(IcmpError {
        v6,
        icmp_type,
        code,
        mtu,
        quoted,
    })
}

/// Decodes the invoking packet leniently.
pub fn decode_quoted(data: &[u8]) -> Option<QuotedPacket> {
    let sliced = LaxSlicedPacket::from_ip(data).ok()?;
    let mut q = QuotedPacket::default();
    let (src, dst, payload) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            q.ident = u32::from(h.identification());
            q.total_len = u32::from(h.total_len());
            q.dont_fragment = h.dont_fragment();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                v4.payload(),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            q.total_len = 40 + u32::from(h.payload_length());
            q.dont_fragment = true;
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                v6.payload(),
            )
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let proto = payload.ip_number.0;
    let mut flow = Flow {
        src,
        dst,
        sport: 0,
        dport: 0,
        proto,
    };
    match proto {
        ipproto::UDP => match &sliced.transport {
            Some(TransportSlice::Udp(udp)) => {
                flow.sport = udp.source_port();
                flow.dport = udp.destination_port();
                decode_quoted_udp_payload(&mut q, flow.sport, flow.dport, udp.payload());
            }
            _ => {
                // Fewer than 8 bytes of UDP header: take the ports if at least they are there.
                if let Some(p) = payload.payload.get(..4) {
                    flow.sport = u16::from_be_bytes([p[0], p[1]]);
                    flow.dport = u16::from_be_bytes([p[2], p[3]]);
                }
                q.truncated_at = Some("UDP header");
            }
        },
        ipproto::ESP | ipproto::AH => {
            let (spi_at, seq_at) = if proto == ipproto::ESP {
                (0, 4)
            } else {
                (4, 8)
            };
            let p = payload.payload;
            q.esp_spi = be32(p, spi_at);
            q.esp_seq = be32(p, seq_at);
            if q.esp_spi.is_none() {
                q.truncated_at = Some(if proto == ipproto::ESP {
                    "ESP header"
                } else {
                    "AH header"
                });
            }
        }
        _ => {}
    }
    q.flow = Some(flow);
    Some(q)
}

fn decode_quoted_udp_payload(q: &mut QuotedPacket, sport: u16, dport: u16, payload: &[u8]) {
    let ike = if sport == 4500 || dport == 4500 {
        match payload {
            [0, 0, 0, 0, rest @ ..] => Some(rest),
            [0xff] => None,
            _ => {
                q.esp_spi = be32(payload, 0);
                q.esp_seq = be32(payload, 4);
                if q.esp_spi.is_none() {
                    q.truncated_at = Some("ESP header");
                }
                None
            }
        }
    } else {
        Some(payload)
    };
    if let Some(ike) = ike {
        match (be64(ike, 0), be64(ike, 8)) {
            (Some(i), Some(r)) => q.ike_spis = Some((i, r)),
            _ => q.truncated_at = Some("IKE header"),
        }
        q.ike_exchange = ike.get(18).copied();
        q.ike_message_id = be32(ike, 20);
    }
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(d: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(be32(d, at)?) << 32) | u64::from(be32(d, at + 4)?))
}

/// What an ICMP error means for the IPsec flow it quotes, independent of version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpMeaning {
    PortUnreachable,
    AdminProhibited,
    HostUnreachable,
    NetUnreachable,
    ProtocolUnreachable,
    FragmentationNeeded,
    ReassemblyTimeExceeded,
    TtlExceeded,
    Other,
}

pub fn meaning(err: &IcmpError) -> IcmpMeaning {
    use IcmpMeaning::*;
    match (err.v6, err.icmp_type, err.code) {
        (false, 3, 3) | (true, 1, 4) => PortUnreachable,
        (false, 3, 9 | 10 | 13) | (true, 1, 1 | 5 | 6) => AdminProhibited,
        (false, 3, 1 | 7) | (true, 1, 3) => HostUnreachable,
        (false, 3, 0 | 6) | (true, 1, 0) => NetUnreachable,
        (false, 3, 2) | (true, 4, 1) => ProtocolUnreachable,
        (false, 3, 4) | (true, 2, _) => FragmentationNeeded,
        (false, 11, 1) | (true, 3, 1) => ReassemblyTimeExceeded,
        (false, 11, 0) | (true, 3, 0) => TtlExceeded,
        _ => Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ICMP port unreachable quoting an IKE_SA_INIT: outer ICMP header, then the first 28+ bytes
    /// of the offending IPv4/UDP packet as Linux quotes it.
    fn port_unreachable_quoting_ike(quote_len: usize) -> Vec<u8> {
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![0x45, 0, 0x01, 0x2c, 0xbe, 0xef, 0x40, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&[192, 0, 2, 10, 198, 51, 100, 20]);
        ip.extend_from_slice(&[0x01, 0xf4, 0x01, 0xf4, 0x01, 0x18, 0, 0]);
        ip.extend_from_slice(&0x96d4_2ea8_243f_1e0bu64.to_be_bytes());
        ip.extend_from_slice(&[0; 8]);
        ip.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 1, 0x18]);
        ip.truncate(quote_len);
        icmp.extend_from_slice(&ip);
        icmp
    }

    #[test]
    fn port_unreachable_names_the_ike_sa_it_answers() {
        let e = decode(false, &port_unreachable_quoting_ike(200)).expect("ours");
        assert_eq!(meaning(&e), IcmpMeaning::PortUnreachable);
        let flow = e.quoted.flow.unwrap();
        assert_eq!((flow.sport, flow.dport), (500, 500));
        assert_eq!(e.quoted.ike_spis, Some((0x96d4_2ea8_243f_1e0b, 0)));
        assert_eq!(e.quoted.ike_exchange, Some(34));
        assert_eq!(e.quoted.ike_message_id, Some(0));
        assert_eq!(e.quoted.ident, 0xbeef);
    }

    #[test]
    fn a_quote_cut_after_the_udp_header_still_names_the_flow() {
        let e = decode(false, &port_unreachable_quoting_ike(28)).expect("ours");
        assert_eq!(e.quoted.flow.unwrap().dport, 500);
        assert_eq!(e.quoted.ike_spis, None);
        assert_eq!(e.quoted.truncated_at, Some("IKE header"));
    }

    #[test]
    fn frag_needed_carries_the_next_hop_mtu() {
        let mut m = port_unreachable_quoting_ike(200);
        m[1] = 4;
        m[6..8].copy_from_slice(&1400u16.to_be_bytes());
        let e = decode(false, &m).expect("ours");
        assert_eq!(e.mtu, Some(1400));
        assert_eq!(meaning(&e), IcmpMeaning::FragmentationNeeded);
    }

    #[test]
    fn errors_about_other_traffic_are_not_ours() {
        let mut m = port_unreachable_quoting_ike(200);
        // Quoted destination port 53.
        m[8 + 22..8 + 24].copy_from_slice(&53u16.to_be_bytes());
        m[8 + 20..8 + 22].copy_from_slice(&40000u16.to_be_bytes());
        assert!(decode(false, &m).is_none());
        // Echo reply is not an error.
        assert!(decode(false, &[0, 0, 0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn garbage_quotes_do_not_panic() {
        for len in 0..40 {
            let mut m = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
            m.extend((0..len).map(|i| (i * 37) as u8));
            let _ = decode(false, &m);
            let _ = decode(true, &m);
        }
    }
}
