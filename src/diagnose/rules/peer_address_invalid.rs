//! `peer_address_invalid`: IKE, ESP or AH to or from an address no IPsec peer can have.
//!
//! Destinations that cannot be a peer: the unspecified address (0.0.0.0, ::), loopback
//! (127.0.0.0/8, ::1) and the limited broadcast 255.255.255.255; for IKE also multicast
//! (IKE is a unicast request/response protocol, RFC 7296 §2), while ESP or AH to a multicast
//! group is group traffic (`group_traffic`). Martian sources, which a router must not forward
//! (RFC 1812 §5.3.7, special-purpose registry RFC 6890): IPv4 0.0.0.0/8 ("this network"),
//! 127.0.0.0/8, 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved, including
//! 255.255.255.255); IPv6 :: (unspecified), ::1 (loopback) and ff00::/8 (multicast). Private,
//! link-local and documentation ranges are valid peers (lab and OSPFv3 traffic uses them).
//! A subnet's directed broadcast cannot be recognised without its prefix length, which a
//! capture does not carry.
//!
//! A capture taken on a loopback interface, where both ends are loopback, is a test setup and
//! not a fault: it is left alone.

use std::net::IpAddr;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "peer_address_invalid",
    title: "IPsec to or from an address no peer can have",
    default_severity: Severity::Warning,
    explanation: "IKE or ESP goes to an unspecified, loopback or broadcast address (or IKE to a multicast address), or comes from a martian source (0.0.0.0/8, 127.0.0.0/8, multicast or reserved, ::, ::1, ff00::/8). No peer can answer such a packet or be reached at such an address: a peer address is misconfigured, a NAT rewrote it wrongly, or the packet is spoofed.",
    remedy: "Check the configured peer addresses (left/right, remote_addrs, crypto map peer) and any NAT rule on the path; if the source is martian, find the device that emits it and filter martians at the edge (RFC 1812 §5.3.7).",
};

/// Why `a` cannot be a destination of `proto`, if it cannot.
fn bad_destination(a: IpAddr, ike: bool) -> Option<&'static str> {
    match a {
        _ if a.is_unspecified() => Some("the unspecified address"),
        _ if a.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        _ if ike && a.is_multicast() => Some("a multicast address (IKE is unicast)"),
        _ => None,
    }
}

/// Why `a` cannot be a source, if it is martian.
fn martian_source(a: IpAddr) -> Option<&'static str> {
    match a {
        IpAddr::V4(v4) => match v4.octets()[0] {
            0 => Some("in 0.0.0.0/8 (\"this network\")"),
            127 => Some("a loopback address"),
            224..=239 => Some("a multicast address"),
            240..=255 => Some("in the reserved 240.0.0.0/4"),
            _ => None,
        },
        IpAddr::V6(v6) if v6.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("the loopback address"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("a multicast address"),
        IpAddr::V6(_) => None,
    }
}

pub struct PeerAddressInvalid;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(PeerAddressInvalid),
};

impl Rule for PeerAddressInvalid {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let proto = match &cx.ev.body {
            Body::Ike(_) => "IKE",
            Body::Esp(_) => "ESP",
            Body::Ah(_) => "AH",
            _ => return,
        };
        let (src, dst) = (cx.ev.flow.src, cx.ev.flow.dst);
        if src.is_loopback() && dst.is_loopback() {
            return;
        }
        // Scope: 1 for a bad destination, 2 for a martian source, per protocol, so each
        // problem of a pair is said once.
        let scope = |which: u64| which | u64::from(cx.ev.flow.proto) << 8;
        let say = |which: u64, summary: String, out: &mut Emit<'_>| {
            out.push(
                scope(which),
                Finding::new(
                    &KIND,
                    Confidence::Observed,
                    Peers::new(src, dst),
                    (cx.ev.pkt.ts, cx.ev.pkt.ts),
                    summary,
                )
                .frames([cx.ev.pkt.frame]),
            );
        };
        if let Some(why) = bad_destination(dst, proto == "IKE") {
            say(
                1,
                format!("{src} sent {proto} to {dst}, {why}: no peer can answer there"),
                out,
            );
        }
        if let Some(why) = martian_source(src) {
            say(
                2,
                format!("{proto} to {dst} came from {src}, {why}: a martian source no peer can have"),
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{bad_destination, martian_source};
    use crate::diagnose::testutil::*;

    #[test]
    fn martian_sources() {
        for m in ["0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::", "::1", "ff02::1"] {
            assert!(martian_source(ip(m)).is_some(), "{m}");
        }
        for ok in [A, B, "10.0.0.1", "169.254.1.1", "fe80::1", "2001:db8::1", "223.255.255.255"] {
            assert!(martian_source(ip(ok)).is_none(), "{ok}");
        }
    }

    #[test]
    fn bad_destinations() {
        for (d, ike) in [("0.0.0.0", false), ("::", true), ("127.0.0.1", false), ("::1", true), ("255.255.255.255", false), ("224.0.0.1", true), ("ff02::5", true)] {
            assert!(bad_destination(ip(d), ike).is_some(), "{d}");
        }
        // ESP to a group is group traffic, not an invalid peer.
        assert!(bad_destination(ip("239.1.1.1"), false).is_none());
        assert!(bad_destination(ip("ff02::5"), false).is_none());
        assert!(bad_destination(ip(B), true).is_none());
    }

    #[test]
    fn ike_to_broadcast_and_from_martian_reported_once_each() {
        let mut s = Script::default();
        for i in 0..3u64 {
            s.ike(i * 1000, A, "255.255.255.255", Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
            s.esp(i * 1000 + 10, "0.0.0.7", B, 0xc1, i as u32 + 1);
        }
        let all = s.all();
        let f: Vec<_> = all
            .iter()
            .filter(|f| f.kind == "peer_address_invalid" && !f.update)
            .collect();
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].summary.contains("sent IKE to 255.255.255.255, the broadcast address"), "{}", f[0].summary);
        assert!(f[1].summary.contains("came from 0.0.0.7, in 0.0.0.0/8"), "{}", f[1].summary);
    }

    #[test]
    fn healthy_multicast_and_loopback_lab_are_clean() {
        let mut h = Script::default();
        healthy_v2(&mut h);
        assert!(!kinds(&h.all()).contains(&"peer_address_invalid"));
        let mut g = Script::default();
        for i in 0..5u32 {
            g.ah(u64::from(i) * 1000, "fe80::1", "ff02::5", 0x100, i + 1);
            g.esp(u64::from(i) * 1000, "127.0.0.1", "127.0.0.1", 0x200, i + 1);
        }
        assert!(!kinds(&g.all()).contains(&"peer_address_invalid"));
    }
}
