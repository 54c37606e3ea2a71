//! `ike_fragments_lost`: an IKE request that travelled as IP fragments was retransmitted and
//! never answered, while the SA's smaller messages got through.
//!
//! Many firewalls, NATs and carrier networks drop IP fragments (or only non-first fragments).
//! IKE_AUTH with certificates is the usual victim: IKE_SA_INIT (small) works, IKE_AUTH (large)
//! vanishes. An ICMP reassembly-time-exceeded or an incomplete fragment set on the same pair
//! supports the reading.

use crate::diagnose::unanswered::{Cause, LIVE_AFTER, cause, describe, unanswered, unanswered_finding};
use crate::diagnose::finding::{FindingKind, Severity};
use crate::diagnose::path::{icmp_about_pair, is_reassembly_timeout};
use crate::diagnose::rule::{Cx, Emit, PairCounts, Rule, RuleDef};
use crate::track::Pair;
use crate::track::ike::{Exchange, IkeSa, Step};

pub const KIND: FindingKind = FindingKind {
    id: "ike_fragments_lost",
    title: "IP-fragmented IKE messages are lost",
    default_severity: Severity::Error,
    explanation: "An IKE request too large for one packet was sent as IP fragments, retransmitted, and never answered, while smaller IKE messages between the same peers were answered. Something on the path drops IP fragments.",
    remedy: "Enable IKEv2 fragmentation (RFC 7383: fragmentation=yes in strongSwan/Libreswan, 'crypto ikev2 fragmentation' on Cisco) so IKE splits large messages itself; otherwise allow IP fragments through the firewalls/NAT on the path, or shrink IKE_AUTH (fewer or smaller certificates, no certificate chain, ECDSA keys).",
};

fn report(
    sa: &IkeSa,
    x: &Exchange,
    req: &Step,
    pair: Option<&Pair>,
    reassembly_timeouts: &PairCounts,
    out: &mut Emit<'_>,
) {
    if req.count < 2 {
        return;
    }
    let answered_before = sa
        .exchanges
        .iter()
        .any(|o| o.answered() && o.first_ts <= x.first_ts);
    let mut summary = describe(sa, x, req);
    summary.push_str(&format!(
        " as {} IP-fragmented datagram{} and never answered",
        req.ip_fragmented,
        if req.ip_fragmented == 1 { "" } else { "s" }
    ));
    if answered_before {
        summary.push_str(", while the smaller earlier messages were answered");
    }
    if let Some(p) = pair.filter(|p| p.incomplete_sets > 0) {
        summary.push_str(&format!(
            "; {} fragment set(s) on this pair never completed",
            p.incomplete_sets
        ));
    }
    if let Some(n) = pair
        .map(|p| reassembly_timeouts.get(&p.key))
        .filter(|&n| n > 0)
    {
        summary.push_str(&format!(
            "; {n} ICMP 'fragment reassembly time exceeded' came back"
        ));
    }
    let negotiated = sa.ike_fragmentation_offered == [true, true];
    if !negotiated {
        summary.push_str("; IKE fragmentation (RFC 7383) was not negotiated");
    }
    let (scope, finding) = unanswered_finding(&KIND, sa, x, req, summary);
    out.push(scope, finding);
}

#[derive(Default)]
pub struct IkeFragmentsLost {
    /// ICMP "fragment reassembly time exceeded" per pair.
    reassembly_timeouts: PairCounts,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeFragmentsLost::default()),
};

impl Rule for IkeFragmentsLost {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        if let Some((key, e)) = icmp_about_pair(cx.ev)
            && is_reassembly_timeout(e)
        {
            self.reassembly_timeouts.add(key);
        }
        let (Some(p), Some(sa)) = (cx.up.placed, cx.sa()) else {
            return;
        };
        if p.transmission < LIVE_AFTER.min(3) {
            return;
        }
        let x = &sa.exchanges[p.exchange];
        if let Some(req) = unanswered(sa, x)
            && cause(sa, x, req) == Cause::Fragmented
        {
            report(sa, x, req, cx.pair(), &self.reassembly_timeouts, out);
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        for x in &sa.exchanges {
            if let Some(req) = unanswered(sa, x)
                && cause(sa, x, req) == Cause::Fragmented
            {
                report(sa, x, req, pair, &self.reassembly_timeouts, out);
            }
        }
    }

    fn pair_closed(&mut self, pair: &Pair, _out: &mut Emit<'_>) {
        self.reassembly_timeouts.forget(&pair.key);
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    /// The zeek-spicy-ipsec ipsec_client.pcap pattern: IKE_SA_INIT answered, IKE_AUTH as three
    /// fragments at 0, +1 s, +2 s, never answered.
    pub fn fragmented_auth(s: &mut Script) {
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(900));
        s.ike(30, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).len(330));
        for ms in [70, 1070, 2070] {
            let e = s.ike(
                ms,
                A,
                B,
                Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(3440).with(sk(3400)),
            );
            e.ip.fragments = 3;
            e.ip.first_fragment_frame = e.pkt.frame;
        }
    }

    #[test]
    fn fragmented_auth_never_answered() {
        let mut s = Script::default();
        fragmented_auth(&mut s);
        let (live, end, _) = s.run();
        assert!(kinds(&live).contains(&"ike_fragments_lost"), "{live:?}");
        let all: Vec<_> = live.iter().chain(end.iter()).map(|f| f.kind).collect();
        assert!(!all.contains(&"ike_unanswered"), "{all:?}");
        assert!(all.contains(&"ike_ip_fragmented"), "{all:?}");
    }

    /// Capture point behind the fragment filter: only the first fragment of each IKE_AUTH
    /// arrives; the decoder hands over its IKE header (late, when the set times out) in an
    /// event for the first fragment's frame.
    #[test]
    fn only_first_fragments_seen() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(900));
        s.ike(30, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).len(330));
        let mut firsts = Vec::new();
        for ms in [70u64, 1070, 2070] {
            let frag = crate::event::FragmentInfo {
                esp: None,
                ident: ms as u32,
                offset: 0,
                more_fragments: true,
                data_len: 1480,
                proto: 17,
            };
            let f = s.event(ms, A, B, 4500, 4500, 17, crate::event::Body::Fragment(frag));
            f.ip.total_len = 1500;
            firsts.push((ms, f.pkt.frame));
        }
        for (ms, frame) in firsts {
            let e = s.ike(
                ms + 5000,
                A,
                B,
                Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(3440).with(sk(3400)),
            );
            e.pkt.frame = frame;
            e.pkt.ts = ts(ms);
            e.ip.total_len = 1500;
            if let crate::event::Body::Ike(m) = &mut e.body {
                m.wire_len = 1472;
            }
        }
        let all = kinds(&s.all());
        assert!(all.contains(&"ike_fragments_lost"), "{all:?}");
        assert!(!all.contains(&"ike_unanswered"), "{all:?}");
    }
}
