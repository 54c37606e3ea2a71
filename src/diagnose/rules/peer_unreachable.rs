//! `peer_unreachable`: an ICMP or ICMPv6 error came back for one of our IKE or ESP packets.
//!
//! The decoder only emits ICMP errors whose quoted packet is IKE or ESP, so anything here is
//! about the tunnel. Fragmentation-needed / packet-too-big is `icmp_frag_needed`, and
//! reassembly time exceeded is `fragments_lost`; everything else says the peer cannot be
//! reached, and the type and code say why.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::path::quoted_what;
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::{Body, IcmpError};

pub const KIND: FindingKind = FindingKind {
    id: "peer_unreachable",
    title: "ICMP error for IKE or ESP traffic",
    default_severity: Severity::Error,
    explanation: "A router or the peer answered an IKE or ESP packet with an ICMP error: port unreachable means nothing listens for IKE on the peer; administratively prohibited means a filter drops it; host or network unreachable means there is no route; time exceeded means a routing loop.",
    remedy: "Check that the IKE daemon runs on the peer and listens on UDP 500/4500, that firewalls allow UDP 500, UDP 4500 and ESP (IP protocol 50) both ways, and that the route to the peer is right.",
};

/// What an ICMP error means, or None when another rule owns it.
pub(crate) fn meaning(e: &IcmpError) -> Option<(&'static str, &'static str)> {
    let m = match (e.v6, e.icmp_type, e.code) {
        (false, 3, 0) | (true, 1, 0) => (
            "network unreachable",
            "there is no route to the peer: check routing towards it",
        ),
        (false, 3, 1) | (true, 1, 3) => (
            "host unreachable",
            "the last router cannot reach the peer (down, or wrong address): check the peer address and that it is up",
        ),
        (false, 3, 2) => (
            "protocol unreachable",
            "the peer does not handle this IP protocol (ESP not enabled, or IPsec off)",
        ),
        (false, 3, 3) | (true, 1, 4) => (
            "port unreachable",
            "nothing listens on that UDP port on the peer: start the IKE daemon there or point this side at the right gateway",
        ),
        (false, 3, 9)
        | (false, 3, 10)
        | (false, 3, 13)
        | (true, 1, 1)
        | (true, 1, 5)
        | (true, 1, 6) => (
            "administratively prohibited",
            "a firewall on the path or on the peer rejects it: allow UDP 500, UDP 4500 and ESP (protocol 50)",
        ),
        (false, 11, 0) | (true, 3, 0) => (
            "TTL exceeded in transit",
            "the packet looped or the path is too long: check routing (a loop between the tunnel route and the default route is common)",
        ),
        (false, 3, 4) | (true, 2, _) => return None,
        (false, 11, 1) | (true, 3, 1) => return None,
        (false, 3, _) | (true, 1, _) => (
            "destination unreachable",
            "the peer or the path rejects the packet: check routing and filters",
        ),
        _ => return None,
    };
    Some(m)
}

pub struct PeerUnreachable;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(PeerUnreachable),
};

impl Rule for PeerUnreachable {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::IcmpError(e) = &cx.ev.body else {
            return;
        };
        let Some(q) = e.quoted.flow else { return };
        let Some((what, fix)) = meaning(e) else {
            return;
        };
        let peers = if q.sport != 0 || q.dport != 0 {
            Peers::with_ports((q.src, q.sport), (q.dst, q.dport))
        } else {
            Peers::new(q.src, q.dst)
        };
        let summary = format!(
            "{} sent ICMP{} {what} (type {}, code {}) for the {} from {} to {}",
            cx.ev.flow.src,
            if e.v6 { "v6" } else { "" },
            e.icmp_type,
            e.code,
            quoted_what(e),
            q.src,
            q.dst,
        );
        let scope = u64::from(e.icmp_type) << 8 | u64::from(e.code);
        out.push(
            scope,
            Finding::new(
                &KIND,
                Confidence::Observed,
                peers,
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .remedy(format!("{}; {}.", KIND.remedy.trim_end_matches('.'), fix))
            .frames([cx.ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn port_unreachable_is_reported_once_at_once() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        icmp(&mut s, 10, 3, 3, None);
        s.ike(1000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        icmp(&mut s, 1010, 3, 3, None);
        s.ike(3000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        assert!(!kinds(&s.all()).contains(&"ike_unanswered"));
        let (live, _, _) = s.run();
        let f: Vec<_> = live
            .iter()
            .filter(|f| f.kind == "peer_unreachable")
            .collect();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary.contains("port unreachable"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].peers.strings()[1], format!("{B}:500"));
    }

    #[test]
    fn frag_needed_is_not_unreachable() {
        let mut s = Script::default();
        icmp(&mut s, 10, 3, 4, Some(1400));
        assert!(!kinds(&s.all()).contains(&"peer_unreachable"));
    }
}
