//! What rules about the path (ICMP errors, MTU) share: naming the packet an ICMP error quotes,
//! and the tunnel MTU and TCP MSS that fit a path MTU.

use crate::event::{Body, Event, IcmpError};
use crate::track::PairKey;

/// "IKE (SPIi 0123…)" / "ESP SPI 0x…" for the quoted packet.
pub fn quoted_what(e: &IcmpError) -> String {
    let q = &e.quoted;
    if let Some(spi) = q.esp_spi {
        format!("ESP SPI 0x{spi:08x}")
    } else if let Some((i, _)) = q.ike_spis {
        format!("IKE message (SPIi {i:016x})")
    } else if let Some(f) = q.flow {
        format!("UDP {}→{} packet", f.sport, f.dport)
    } else {
        "IPsec packet".to_string()
    }
}

/// Worst-case ESP overhead in tunnel mode: outer IP, SPI+seq (8), IV (16), padding and
/// trailer (up to 17), ICV (16), plus 8 for UDP encapsulation.
pub fn tunnel_numbers(path_mtu: u32, v6_outer: bool, udp: bool) -> (u32, u32) {
    let overhead = if v6_outer { 40 } else { 20 } + 8 + 16 + 17 + 16 + if udp { 8 } else { 0 };
    let tunnel = path_mtu.saturating_sub(overhead) / 8 * 8;
    (tunnel, tunnel.saturating_sub(40))
}

/// The pair an ICMP error is about (the packet it quotes), with the error.
pub fn icmp_about_pair(ev: &Event) -> Option<(PairKey, &IcmpError)> {
    let Body::IcmpError(e) = &ev.body else {
        return None;
    };
    let q = e.quoted.flow?;
    Some((PairKey::of(q.src, q.dst).0, e))
}

/// ICMP "fragmentation needed" (type 3 code 4) or ICMPv6 "packet too big" (type 2).
pub fn is_frag_needed(e: &IcmpError) -> bool {
    (!e.v6 && e.icmp_type == 3 && e.code == 4) || (e.v6 && e.icmp_type == 2)
}

/// ICMP "fragment reassembly time exceeded" (type 11 code 1; ICMPv6 type 3 code 1).
pub fn is_reassembly_timeout(e: &IcmpError) -> bool {
    e.code == 1 && e.icmp_type == if e.v6 { 3 } else { 11 }
}

/// An error quoting an IKE packet (UDP 500/4500) whose quote stops before the IKE SPIs, so it
/// cannot be tied to one SA.
pub fn quotes_ike_without_spis(e: &IcmpError) -> bool {
    let ike_port = |x: u16| x == 500 || x == 4500;
    e.quoted.ike_spis.is_none()
        && e.quoted.esp_spi.is_none()
        && e.quoted
            .flow
            .is_some_and(|q| ike_port(q.sport) || ike_port(q.dport))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_reported_mtu() {
        assert_eq!(tunnel_numbers(1500, false, false), (1416, 1376));
        assert_eq!(tunnel_numbers(1400, false, true), (1312, 1272));
    }
}
