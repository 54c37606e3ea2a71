//! `ike_unanswered`: an IKE request was retransmitted and nothing at all came back.
//!
//! RFC 7296 §2.1: only the requester retransmits, and a responder answers every copy (with the
//! same response). So a request resent with no response on the wire means the request or the
//! response never crossed the capture point: UDP 500/4500 filtered, the wrong peer address, or a
//! peer that ignores this IKE version. The intervals show the requester's back-off.
//! Unanswered requests with a more specific cause go to other rules: liveness checks on an
//! established SA (`dead_peer`), IP-fragmented requests (`ike_fragments_lost`), large DF
//! requests (`pmtu_blackhole`).

use crate::diagnose::finding::{FindingKind, Severity};
use crate::diagnose::path::{icmp_about_pair, quotes_ike_without_spis};
use crate::diagnose::rule::{Cx, Emit, PairCounts, PairNotes, Rule, RuleDef};
use crate::diagnose::unanswered::{Cause, LIVE_AFTER, cause, describe, unanswered, unanswered_finding};
use std::net::IpAddr;

use crate::event::Body;
use crate::track::ike::{Exchange, IkeSa, SaState, Step};
use crate::track::{Pair, PairKey};
use crate::event::codes::ExchangeType;

pub const KIND: FindingKind = FindingKind {
    id: "ike_unanswered",
    title: "IKE request never answered",
    default_severity: Severity::Error,
    explanation: "An IKE request was sent and retransmitted with increasing intervals, and no response of any kind came back. Either the request does not reach the peer (UDP 500/4500 filtered, wrong peer address, NAT not forwarding) or the peer does not answer it (IKE daemon not running, connection not configured for this peer, peer ignoring this IKE version).",
    remedy: "Check the peer address, that UDP 500 and 4500 are allowed both ways on every firewall and security group between the peers, that the peer's IKE daemon runs and has a connection for this address, and that both sides use the same IKE version (ikev1/ikev2).",
};

fn report(
    sa: &IkeSa,
    x: &Exchange,
    req: &Step,
    icmp_about_pair: bool,
    tail_secs: f64,
    out: &mut Emit<'_>,
) -> bool {
    // An ICMP error about the request is an answer: `peer_unreachable` says what it means.
    if sa.icmp_errors > 0 || icmp_about_pair {
        return false;
    }
    let n = req.count;
    let first_exchange = matches!(x.exchange, ExchangeType::IKE_SA_INIT | ExchangeType::MAIN | ExchangeType::AGGRESSIVE);
    let severity = match n {
        1 if tail_secs >= 10.0 && first_exchange => Severity::Info,
        1 => return false,
        2 => Severity::Warning,
        _ => Severity::Error,
    };
    let mut summary = describe(sa, x, req);
    summary.push_str(" and never answered");
    if n == 1 {
        summary.push_str(&format!(
            " (not retransmitted either, though the capture went on {tail_secs:.0} s)"
        ));
    }
    let (scope, finding) = unanswered_finding(&KIND, sa, x, req, summary);
    out.push(scope, finding.severity(severity));
    true
}

fn p_key(sa: &IkeSa) -> PairKey {
    PairKey::of(sa.initiator, sa.responder).0
}


#[derive(Default)]
pub struct IkeUnanswered {
    /// ICMP errors per pair that quote IKE but not far enough to name the SA.
    icmp_about_ike: PairCounts,
    /// Reported while running and not answered yet: (finding scope, the silent peer).
    waiting: PairNotes<(u64, IpAddr)>,
}

impl IkeUnanswered {
    fn icmp_about(&self, pair: Option<&Pair>) -> bool {
        pair.is_some_and(|p| self.icmp_about_ike.get(&p.key) > 0)
    }
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeUnanswered::default()),
};

impl Rule for IkeUnanswered {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        if !self.waiting.is_empty()
            && let (Some(pair), Body::Ike(m)) = (cx.up.pair, &cx.ev.body)
        {
            // The silent peer sent IKE: the request got through at last, or the peer answers
            // other exchanges now. Either way the path and the daemon work again.
            let from = cx.ev.flow.src;
            let at = (cx.ev.pkt.ts, cx.ev.pkt.frame);
            self.waiting.settle(&pair, |&(scope, silent)| {
                if from != silent {
                    return false;
                }
                out.clear(KIND.id, pair, scope, at, |f| {
                    format!(
                        "{silent} answered: {} {}, {:.1} s after the first unanswered copy",
                        m.exchange_name().unwrap_or("IKE"),
                        if m.is_response() { "response" } else { "request" },
                        at.0.since(f.first_ts)
                    )
                });
                true
            });
        }
        if let Some((key, e)) = icmp_about_pair(cx.ev)
            && quotes_ike_without_spis(e)
        {
            self.icmp_about_ike.add(key);
        }
        let (Some(p), Some(sa)) = (cx.up.placed, cx.sa()) else {
            return;
        };
        if p.transmission != LIVE_AFTER {
            return;
        }
        let x = &sa.exchanges[p.exchange];
        if let Some(req) = unanswered(sa, x).filter(|r| r.count >= LIVE_AFTER)
            && cause(sa, x, req) == Cause::Plain
            && report(sa, x, req, self.icmp_about(cx.pair()), 0.0, out)
        {
            let silent = sa.peer_of(x.requester);
            let scope = sa.ispi ^ u64::from(x.msg_id);
            self.waiting.add(p_key(sa), (scope, silent));
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        if sa.state == SaState::Failed {
            return;
        }
        for x in &sa.exchanges {
            if let Some(req) = unanswered(sa, x)
                && cause(sa, x, req) == Cause::Plain
            {
                let tail = pair.map_or(0.0, |p| p.last_ts.since(req.last_ts));
                report(sa, x, req, self.icmp_about(pair), tail, out);
            }
        }
    }

    fn pair_closed(&mut self, pair: &Pair, _out: &mut Emit<'_>) {
        self.icmp_about_ike.forget(&pair.key);
        self.waiting.forget(&pair.key);
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Severity;
    use crate::diagnose::testutil::*;

    #[test]
    fn retransmitted_init_is_reported_live_with_backoff() {
        let mut s = Script::default();
        for ms in [0, 500, 1500, 3500, 7500] {
            s.ike(ms, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        }
        let (live, end, _) = s.run();
        let f: Vec<_> = live.iter().filter(|f| f.kind == "ike_unanswered").collect();
        assert_eq!(f.len(), 1, "{live:?}");
        assert!(
            f[0].summary.contains("0.5 s, 1.0 s, 2.0 s"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].summary.contains("sent 4 times"), "{}", f[0].summary);
        // The end carries the final count, under the same id: the fifth copy is not lost.
        let u: Vec<_> = end.iter().filter(|x| x.kind == "ike_unanswered").collect();
        assert_eq!(u.len(), 1, "{end:?}");
        assert!(u[0].update && u[0].reworded && u[0].id == f[0].id);
        assert!(u[0].summary.contains("sent 5 times over 7.5 s"), "{}", u[0].summary);
        assert_eq!(u[0].frames, vec![1, 2, 3, 4, 5]);
    }

    /// The firewall opens: the fifth copy is answered. Raised at the fourth, cleared by the
    /// answer, under the same id.
    #[test]
    fn late_answer_clears_it() {
        let mut s = Script::default();
        for ms in [0, 500, 1500, 3500, 7500] {
            s.ike(ms, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        }
        s.ike(7510, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])));
        let (live, _, _) = s.run();
        let f: Vec<_> = live.iter().filter(|f| f.kind == "ike_unanswered").collect();
        assert_eq!(f.len(), 2, "{live:?}");
        assert!(!f[0].clearing && f[1].clearing && f[0].id == f[1].id);
        let c = f[1].cleared.as_ref().unwrap();
        assert_eq!(c.frame, 6);
        assert!(c.reason.contains("answered: IKE_SA_INIT response, 7.5 s after"), "{}", c.reason);
    }

    #[test]
    fn answered_exchange_is_quiet() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        let all = s.all();
        assert!(!kinds(&all).contains(&"ike_unanswered"));
        assert_quiet(&all);
    }

    #[test]
    fn single_unanswered_request_at_capture_end_is_not_reported() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        assert!(s.all().is_empty());
    }

    #[test]
    fn v1_quick_mode_third_message_is_not_unanswered() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v1(X::QUICK, 7).encrypted().len(300));
        s.ike(10, B, A, Msg::v1(X::QUICK, 7).encrypted().len(280));
        s.ike(20, A, B, Msg::v1(X::QUICK, 7).encrypted().len(60));
        s.ike(20_000, A, B, Msg::v1(X::INFORMATIONAL_V1, 9).encrypted().len(80));
        assert!(!kinds(&s.all()).contains(&"ike_unanswered"));
    }
}
