//! NAT detection by recomputing the peers' NAT-D hashes.
//!
//! IKEv2 (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP / _DESTINATION_IP carry
//! SHA-1(SPIi | SPIr | IP | port) of the address the sender believes it sends from / to.
//! IKEv1 (RFC 3947 §3.2): NAT-D payloads carry HASH(CKY-I | CKY-R | IP | port) with the
//! negotiated hash, the first one for the destination, the others for the sender's own
//! addresses. Only 20-byte (SHA-1) IKEv1 hashes can be checked without knowing the hash.
//!
//! Comparing with the addresses on the wire says where translation happened relative to the
//! capture point: a source hash that does not match means the sender's address was rewritten
//! between it and us (the sender is behind NAT); a destination hash that does not match means
//! the receiver's address was rewritten (the receiver is behind NAT).

use std::net::IpAddr;

use sha1::{Digest, Sha1};

pub fn natd_hash(ispi: u64, rspi: u64, addr: IpAddr, port: u16) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(ispi.to_be_bytes());
    h.update(rspi.to_be_bytes());
    match addr {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(port.to_be_bytes());
    h.finalize().into()
}

/// What one message's NAT-D data says about the path it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatVerdict {
    /// Some(true): the sender's address or port was rewritten on the way to the capture point.
    pub sender_translated: Option<bool>,
    /// Some(true): the receiver's address or port differs from what the sender aimed at.
    pub receiver_translated: Option<bool>,
}

/// Checks the hashes against the addresses seen on the wire. `sources` may hold several hashes
/// (one per sender address); a match with any of them means no translation.
pub fn check(
    ispi: u64,
    rspi: u64,
    wire_src: (IpAddr, u16),
    wire_dst: (IpAddr, u16),
    sources: &[&[u8]],
    destination: Option<&[u8]>,
) -> NatVerdict {
    let src = natd_hash(ispi, rspi, wire_src.0, wire_src.1);
    let dst = natd_hash(ispi, rspi, wire_dst.0, wire_dst.1);
    let usable: Vec<&&[u8]> = sources.iter().filter(|s| s.len() == 20).collect();
    NatVerdict {
        sender_translated: (!usable.is_empty()).then(|| !usable.iter().any(|s| **s == src)),
        receiver_translated: destination.filter(|d| d.len() == 20).map(|d| d != dst),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn matching_hashes_mean_no_nat() {
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
        let s = natd_hash(1, 0, a, 500);
        let d = natd_hash(1, 0, b, 500);
        let v = check(1, 0, (a, 500), (b, 500), &[&s], Some(&d));
        assert_eq!(v.sender_translated, Some(false));
        assert_eq!(v.receiver_translated, Some(false));
        // The same message seen after a NAPT rewrote the source.
        let nat = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        let v = check(1, 0, (nat, 10500), (b, 500), &[&s], Some(&d));
        assert_eq!(v.sender_translated, Some(true));
        assert_eq!(v.receiver_translated, Some(false));
    }
}
