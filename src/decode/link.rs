//! Link layers: find the IP packet inside a captured frame.
//!
//! Hand-written rather than sliced with etherparse because this runs on every packet, and most
//! packets on a gateway are not IPsec: finding the IP header is a few byte compares.

/// LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) this module understands.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// OpenBSD's DLT_RAW and the historical raw values some writers still use.
    pub const RAW_12: u32 = 12;
    pub const RAW_14: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag some switches still emit.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// Whether a link type can be decoded.
pub fn is_supported(linktype: u32) -> bool {
    use linktype::*;
    matches!(
        linktype,
        NULL | ETHERNET | RAW_12 | RAW_14 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

/// A name for a link type in error messages.
pub fn linktype_name(linktype: u32) -> &'static str {
    match linktype {
        linktype::NULL => "NULL",
        linktype::ETHERNET => "ETHERNET",
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 => "RAW",
        linktype::LOOP => "LOOP",
        linktype::LINUX_SLL => "LINUX_SLL",
        linktype::IPV4 => "IPV4",
        linktype::IPV6 => "IPV6",
        linktype::LINUX_SLL2 => "LINUX_SLL2",
        105 => "IEEE802_11",
        127 => "IEEE802_11_RADIOTAP",
        9 => "PPP",
        50 => "PPP_HDLC",
        104 => "C_HDLC",
        147..=162 => "USER",
        _ => "unknown",
    }
}

/// The IP packet inside a frame: its version (4 or 6) and bytes, or None when the frame carries
/// something else (ARP, an unknown ethertype, a frame too short to say).
#[inline]
pub fn ip_payload(linktype: u32, frame: &[u8]) -> Option<(u8, &[u8])> {
    match linktype {
        linktype::ETHERNET => {
            let ethertype = be16(frame, 12)?;
            ethertype_payload(ethertype, frame.get(14..)?)
        }
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 => version_from_nibble(frame),
        linktype::IPV4 => Some((4, frame)),
        linktype::IPV6 => Some((6, frame)),
        linktype::NULL | linktype::LOOP => {
            // The 4-byte address family is in the writer's byte order (NULL) or network order
            // (LOOP); BSDs disagree on the IPv6 value (24, 28, 30), so look at the IP version.
            let rest = frame.get(4..)?;
            let family = frame.get(..4)?;
            let af = if family[0] == 0 && family[1] == 0 {
                u32::from(family[3]) | (u32::from(family[2]) << 8)
            } else {
                u32::from(family[0]) | (u32::from(family[1]) << 8)
            };
            match af {
                2 | 24 | 28 | 30 => version_from_nibble(rest),
                _ => None,
            }
        }
        linktype::LINUX_SLL => {
            // 16-byte header; protocol type at 14.
            let proto = be16(frame, 14)?;
            ethertype_payload(proto, frame.get(16..)?)
        }
        linktype::LINUX_SLL2 => {
            // 20-byte header; protocol type first.
            let proto = be16(frame, 0)?;
            ethertype_payload(proto, frame.get(20..)?)
        }
        _ => None,
    }
}

#[inline]
fn ethertype_payload(mut ethertype: u16, mut rest: &[u8]) -> Option<(u8, &[u8])> {
    // 802.1Q and QinQ: at most a few tags; each is 2 bytes TCI + 2 bytes inner ethertype.
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) && tags < 4
    {
        ethertype = be16(rest, 2)?;
        rest = rest.get(4..)?;
        tags += 1;
    }
    match ethertype {
        ETHERTYPE_IPV4 => Some((4, rest)),
        ETHERTYPE_IPV6 => Some((6, rest)),
        _ => None,
    }
}

#[inline]
fn version_from_nibble(data: &[u8]) -> Option<(u8, &[u8])> {
    match data.first()? >> 4 {
        4 => Some((4, data)),
        6 => Some((6, data)),
        _ => None,
    }
}

#[inline]
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_qinq_reaches_ipv4() {
        // dst, src, 0x88a8 tag, 0x8100 tag, 0x0800, then an IPv4 first byte.
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        frame.push(0x45);
        let (v, ip) = ip_payload(linktype::ETHERNET, &frame).unwrap();
        assert_eq!((v, ip), (4, &[0x45u8][..]));
    }

    #[test]
    fn null_link_in_either_byte_order() {
        let le = [2u8, 0, 0, 0, 0x45];
        let be = [0u8, 0, 0, 2, 0x45];
        let v6 = [30u8, 0, 0, 0, 0x60];
        assert_eq!(ip_payload(linktype::NULL, &le).unwrap().0, 4);
        assert_eq!(ip_payload(linktype::LOOP, &be).unwrap().0, 4);
        assert_eq!(ip_payload(linktype::NULL, &v6).unwrap().0, 6);
    }

    #[test]
    fn sll2_protocol_comes_first() {
        let mut frame = vec![0x86, 0xdd];
        frame.extend_from_slice(&[0u8; 18]);
        frame.push(0x60);
        assert_eq!(ip_payload(linktype::LINUX_SLL2, &frame).unwrap().0, 6);
    }

    #[test]
    fn short_frames_are_not_ip() {
        assert!(ip_payload(linktype::ETHERNET, &[0u8; 13]).is_none());
        assert!(ip_payload(linktype::LINUX_SLL, &[0u8; 15]).is_none());
        assert!(ip_payload(linktype::RAW, &[]).is_none());
    }
}
