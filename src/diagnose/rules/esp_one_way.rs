//! `esp_one_way`: ESP flows in one direction only.
//!
//! Nearly all tunnel traffic is two-way (TCP, ping, DNS), and every ESP SA has a partner SA
//! the other way (RFC 4301 §4.1). ESP from one peer, repeatedly over seconds, and none from the
//! other means the other peer does not send (no return route into the tunnel, policy mismatch,
//! NAT on the return path) or its ESP is dropped before the capture point. When IKE was seen
//! both ways the capture point certainly sees both directions; without IKE in the capture the
//! finding says so (a capture point on an asymmetric path sees one direction only).

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Emit, Rule, RuleDef};
use crate::track::Pair;

pub const KIND: FindingKind = FindingKind {
    id: "esp_one_way",
    title: "ESP flows in one direction only",
    default_severity: Severity::Warning,
    explanation: "The IKE SA is up and ESP flows from one peer, but nothing comes back. The silent peer does not route the return traffic into the tunnel, drops what it receives (policy or selector mismatch, anti-replay, wrong keys), or its ESP is filtered on the way.",
    remedy: "On the silent peer: check that the decrypted traffic reaches its destination and the replies are routed back into the tunnel (routes, NAT exemption for VPN traffic, firewall rules on the inner traffic), and that ESP (protocol 50) or UDP 4500 is allowed outbound.",
};

/// Packets one way, with none back, over at least [`MIN_SECS`], before a tunnel counts as
/// one-way: a request/response exchange would have drawn a reply by then.
const MIN_PACKETS: u64 = 5;
const MIN_SECS: f64 = 2.0;

pub struct EspOneWay;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(EspOneWay),
};

impl Rule for EspOneWay {
    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        let [ab, ba] = p.esp_packets;
        let (from, to, n) = match (ab, ba) {
            (n, 0) if n >= MIN_PACKETS => (p.key.a, p.key.b, n),
            (0, n) if n >= MIN_PACKETS => (p.key.b, p.key.a, n),
            _ => return,
        };
        let side = p.key.side(from);
        let span = p
            .children
            .iter()
            .filter(|c| c.src == from)
            .map(|c| c.last_ts.since(c.first_ts))
            .fold(0.0, f64::max);
        if span < MIN_SECS {
            return;
        }
        let context = if p.established_ever && p.ike_seen_both_ways() {
            "on an established tunnel (IKE flows both ways here, so the capture sees both directions)"
        } else if p.ike_seen_both_ways() {
            "(IKE flows both ways here, so the capture sees both directions)"
        } else {
            "(no two-way IKE in this capture: if the capture point sees only one direction of the path, this is expected)"
        };
        let summary = format!(
            "{n} ESP packets ({} bytes) went from {from} to {to} over {span:.0} s {context}, and no ESP came back from {to}",
            p.esp_bytes[side]
        );
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Inferred,
                Peers::new(from, to),
                (p.first_ts, p.last_ts),
                summary,
            )
            .frames([p.esp_first_frame[side], p.last_frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn one_way_esp_on_established_tunnel() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(
            20,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
        );
        s.ike(40, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(400).with(sk(370)));
        s.ike(60, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).len(300).with(sk(270)));
        for i in 0..20u32 {
            s.esp(100 + u64::from(i) * 200, A, B, 0xc1, i + 1);
        }
        assert!(kinds(&s.all()).contains(&"esp_one_way"));
        let mut h = Script::default();
        healthy_v2(&mut h);
        assert!(!kinds(&h.all()).contains(&"esp_one_way"));
        // A short one-way burst is not enough.
        let mut b = Script::default();
        for i in 0..8u32 {
            b.esp(u64::from(i) * 100, A, B, 0xc1, i + 1);
        }
        assert!(!kinds(&b.all()).contains(&"esp_one_way"));
    }
}
