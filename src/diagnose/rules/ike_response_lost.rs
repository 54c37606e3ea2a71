//! `ike_response_lost`: responses are on the wire, yet the requester keeps retransmitting.
//!
//! A requester stops retransmitting once it has a response (RFC 7296 §2.1). When the capture
//! shows responses and the same request keeps coming afterwards, the responses do not reach the
//! requester, or it drops them (fragmented response filtered, NAT mapping changed, wrong port,
//! a host firewall).

use crate::diagnose::unanswered::describe;
use crate::diagnose::finding::{Confidence, Finding, FindingKind, Severity, exchange_peers};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};

pub const KIND: FindingKind = FindingKind {
    id: "ike_response_lost",
    title: "IKE responses do not reach the requester",
    default_severity: Severity::Error,
    explanation: "The responder answers (its responses are visible here), but the requester keeps retransmitting the same request as if nothing came back. The responses are lost between the capture point and the requester, or the requester discards them.",
    remedy: "Check the return path: stateful firewalls or NAT devices that do not pass the response (especially large, IP-fragmented responses and UDP 4500 after the NAT-T float), asymmetric routing, and host firewalls on the requester.",
};

/// Request transmissions after the first response that make the pattern certain: one can
/// cross the response in flight, two cannot.
const AFTER: usize = 2;

pub struct IkeResponseLost;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeResponseLost),
};

impl Rule for IkeResponseLost {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Some(p), Some(sa)) = (cx.up.placed, cx.sa()) else {
            return;
        };
        let x = &sa.exchanges[p.exchange];
        let req = &x.steps[p.step];
        if req.response || p.transmission < 3 {
            return;
        }
        let first = req.times[0];
        let Some(resp) = x
            .responses()
            .filter(|r| r.from != req.from && r.times[0] > first)
            .min_by_key(|r| r.times[0])
        else {
            return;
        };
        let after = req.times.iter().filter(|t| **t > resp.times[0]).count();
        if after < AFTER {
            return;
        }
        let resp_count: u32 = x
            .responses()
            .filter(|r| r.from != req.from)
            .map(|r| r.count)
            .sum();
        let summary = format!(
            "{}; {} response{} ({} bytes) came back from {}, the first after {:.2} s, but the request was sent {} more time{} after it",
            describe(sa, x, req),
            resp_count,
            if resp_count == 1 { "" } else { "s" },
            resp.ip_len,
            resp.from,
            resp.times[0].since(first),
            after,
            if after == 1 { "" } else { "s" },
        );
        let frames = req.frames.iter().chain(resp.frames.iter()).copied();
        out.push(
            sa.ispi ^ u64::from(x.msg_id),
            Finding::new(
                &KIND,
                Confidence::Inferred,
                exchange_peers(sa, x.requester),
                (first, cx.ev.pkt.ts),
                summary,
            )
            .frames(frames),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn retransmits_after_responses_are_reported() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(20, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER));
        s.ike(1000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(1020, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER));
        s.ike(3000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        let (live, _, _) = s.run();
        assert!(kinds(&live).contains(&"ike_response_lost"), "{live:?}");
        assert!(!kinds(&s.all()).contains(&"ike_unanswered"));
    }

    #[test]
    fn one_crossing_retransmit_is_normal() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(500, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(510, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER));
        s.ike(520, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        assert!(!kinds(&s.all()).contains(&"ike_response_lost"));
    }
}
