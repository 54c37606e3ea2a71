//! `pmtu_blackhole`: large packets that may not be fragmented vanish, small ones get through,
//! and no ICMP "fragmentation needed" / "packet too big" comes back.
//!
//! A DF-marked IPv4 packet or any IPv6 packet larger than a link's MTU is dropped by the router
//! in front of that link, which should say so by ICMP (RFC 1191, RFC 8201). When the ICMP is
//! filtered the sender never learns, and retransmits the same size for ever.

use super::ike_unanswered::{Cause, cause, describe, unanswered};
use super::{Confidence, Emit, Finding, FindingKind, Rule, Severity, exchange_peers};
use crate::track::Pair;
use crate::track::ike::IkeSa;

pub const KIND: FindingKind = FindingKind {
    id: "pmtu_blackhole",
    title: "Path MTU black hole",
    default_severity: Severity::Error,
    explanation: "Large packets that routers may not fragment (IPv4 with DF, or IPv6) are retransmitted and never answered, while smaller ones between the same peers are answered, and no ICMP 'fragmentation needed'/'packet too big' was seen. A link on the path has a smaller MTU and its ICMP errors are filtered.",
    remedy: "Let ICMP type 3 code 4 (IPv4) and ICMPv6 type 2 through on every firewall on the path; meanwhile lower the MTU on the sending side (and the tunnel MTU / TCP MSS), and enable IKE fragmentation with a fragment size below the path MTU.",
};

pub struct PmtuBlackhole;

impl Rule for PmtuBlackhole {
    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        if pair.is_some_and(|p| p.icmp_frag_needed > 0) {
            return;
        }
        for x in &sa.exchanges {
            let Some(req) = unanswered(sa, x) else {
                continue;
            };
            if req.count < 2 || cause(sa, x, req) != Cause::Blackhole {
                continue;
            }
            let summary = format!(
                "{} with {} and never answered, while smaller messages from {} were answered; no ICMP error came back",
                describe(sa, x, req),
                if req.from.is_ipv6() {
                    "IPv6 (no router fragmentation)"
                } else {
                    "DF set"
                },
                req.from
            );
            out.push(
                sa.ispi ^ u64::from(x.msg_id),
                Finding::new(
                    &KIND,
                    Confidence::Inferred,
                    exchange_peers(sa, x.requester),
                    (req.times[0], req.last_ts),
                    summary,
                )
                .frames(req.frames.iter().copied()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn large_df_auth_vanishes() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(34, 0, false, true).len(400))
            .ip
            .dont_fragment = true;
        s.ike(30, B, A, Msg::v2(34, 0, true, false).len(330));
        for ms in [70, 1070, 3070] {
            s.ike(
                ms,
                A,
                B,
                Msg::v2(35, 1, false, true).len(1700).with(sk(1650)),
            )
            .ip
            .dont_fragment = true;
        }
        let all = kinds(&s.all());
        assert!(all.contains(&"pmtu_blackhole"), "{all:?}");
        assert!(!all.contains(&"ike_unanswered"), "{all:?}");
    }
}
