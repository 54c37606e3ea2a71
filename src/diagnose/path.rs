//! What rules about the path (ICMP errors, MTU) share: naming the packet an ICMP error quotes,
//! and the tunnel MTU and TCP MSS that fit a path MTU.

use crate::event::IcmpError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_reported_mtu() {
        assert_eq!(tunnel_numbers(1500, false, false), (1416, 1376));
        assert_eq!(tunnel_numbers(1400, false, true), (1312, 1272));
    }
}
