//! UDP on the IKE ports, and the RFC 3948 §2 rules that tell IKE, NAT-keepalives and
//! ESP-in-UDP apart on port 4500.

use super::frag::is_ipsec_port;

pub struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    /// The UDP length field.
    pub length: u16,
    /// Payload bytes present (cut at the length field, or at the capture's end).
    pub payload: &'a [u8],
}

impl Udp<'_> {
    pub fn is_ipsec(&self) -> bool {
        is_ipsec_port(self.sport) || is_ipsec_port(self.dport)
    }

    /// Payload length on the wire: from the UDP length field when it is sane, else from the IP
    /// length (`ip_payload_len`), which survives snap-length cuts.
    pub fn wire_payload_len(&self, ip_payload_len: u32) -> u32 {
        let from_udp = u32::from(self.length).saturating_sub(8);
        if self.length >= 8 && u32::from(self.length) <= ip_payload_len {
            from_udp
        } else {
            ip_payload_len.saturating_sub(8)
        }
    }
}

pub fn parse(data: &[u8]) -> Option<Udp<'_>> {
    let h = data.get(..8)?;
    let length = u16::from_be_bytes([h[4], h[5]]);
    let rest = &data[8..];
    // A length field shorter than the header or longer than the datagram is ignored: the IP
    // length is the better witness (tcpdump's isakmp-3948-oobr captures lie here).
    let payload = if length >= 8 && usize::from(length) - 8 <= rest.len() {
        &rest[..usize::from(length) - 8]
    } else {
        rest
    };
    Some(Udp {
        sport: u16::from_be_bytes([h[0], h[1]]),
        dport: u16::from_be_bytes([h[2], h[3]]),
        length,
        payload,
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum UdpKind {
    Ike { non_esp_marker: bool },
    Esp,
    NatKeepalive,
    Empty,
}

/// RFC 3948 §2: on port 4500 four zero bytes mark IKE, a single 0xFF byte is a NAT-keepalive,
/// anything else is ESP. Port 500 carries only IKE.
pub fn classify(sport: u16, dport: u16, payload: &[u8]) -> UdpKind {
    if sport == 4500 || dport == 4500 {
        match payload {
            [] => UdpKind::Empty,
            [0xff] => UdpKind::NatKeepalive,
            [0, 0, 0, 0, ..] => UdpKind::Ike {
                non_esp_marker: true,
            },
            _ => UdpKind::Esp,
        }
    } else if payload.is_empty() {
        UdpKind::Empty
    } else {
        UdpKind::Ike {
            non_esp_marker: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_4500_rules() {
        assert_eq!(classify(4500, 4500, &[0xff]), UdpKind::NatKeepalive);
        assert_eq!(
            classify(4500, 4500, &[0, 0, 0, 0, 1]),
            UdpKind::Ike {
                non_esp_marker: true
            }
        );
        assert_eq!(
            classify(4500, 4500, &[0, 0, 1, 2, 0, 0, 0, 1]),
            UdpKind::Esp
        );
        assert_eq!(
            classify(500, 500, &[0xff]),
            UdpKind::Ike {
                non_esp_marker: false
            }
        );
        assert_eq!(classify(4500, 500, &[]), UdpKind::Empty);
    }

    #[test]
    fn a_lying_udp_length_falls_back_to_the_datagram() {
        let d = [0x11, 0x94, 0x11, 0x94, 0xff, 0xff, 0, 0, 0xff];
        let u = parse(&d).unwrap();
        assert_eq!(u.payload, &[0xff]);
        assert_eq!(u.wire_payload_len(9), 1);
    }
}
