//! `ike_redirect`: the gateway redirected the client to another gateway (REDIRECT, notify
//! 16407, RFC 5685 §3). Information, not a fault: the next exchange should go to the named
//! gateway.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::event::text::printable;
use crate::event::codes::NotifyType;

pub const KIND: FindingKind = FindingKind {
    id: "ike_redirect",
    title: "Client redirected to another gateway",
    default_severity: Severity::Info,
    explanation: "The gateway sent a REDIRECT notify (RFC 5685): it hands the client to another gateway (load balancing, maintenance). The client should start over with the gateway named in the notify.",
    remedy: "Nothing to do if the client follows the redirect and succeeds there; otherwise check the client supports redirects and can reach the new gateway.",
};

/// RFC 5685 §3.2: GW Ident Type (1 IPv4, 2 IPv6, 3 FQDN), length, identity.
fn gateway(data: &[u8]) -> String {
    match data {
        [1, 4, a, b, c, d, ..] => IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)).to_string(),
        [2, 16, rest @ ..] if rest.len() >= 16 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&rest[..16]);
            IpAddr::V6(Ipv6Addr::from(o)).to_string()
        }
        [3, len, rest @ ..] if rest.len() >= usize::from(*len) => {
            printable(&rest[..usize::from(*len)])
        }
        _ => "an unreadable gateway identity".to_string(),
    }
}

pub struct IkeRedirect;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeRedirect),
};

impl Rule for IkeRedirect {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Ike(m) = &cx.ev.body else { return };
        let Some(nt) = m.notifies().find(|x| x.notify_type == NotifyType::REDIRECT) else {
            return;
        };
        let summary = format!(
            "{} redirected {} to gateway {}",
            cx.ev.flow.src,
            cx.ev.flow.dst,
            gateway(&nt.data)
        );
        let peers = Peers::with_ports(
            (cx.ev.flow.dst, cx.ev.flow.dport),
            (cx.ev.flow.src, cx.ev.flow.sport),
        );
        out.push(
            m.ispi,
            Finding::new(
                &KIND,
                Confidence::Observed,
                peers,
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([cx.ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::gateway;

    #[test]
    fn gateway_identities() {
        assert_eq!(gateway(&[1, 4, 10, 5, 2, 53, 0xaa]), "10.5.2.53");
        assert_eq!(gateway(&[3, 3, b'g', b'w', b'2']), "gw2");
        // A gateway name is the peer's choice: it never reaches the terminal raw.
        assert_eq!(gateway(&[3, 4, b'g', 0x1b, b'[', b'J']), "g\\x1b[J");
    }
}
