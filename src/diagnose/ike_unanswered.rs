//! `ike_unanswered`: an IKE request was retransmitted and nothing at all came back.
//!
//! RFC 7296 §2.1: only the requester retransmits, and a responder answers every copy (with the
//! same response). So a request resent with no response on the wire means the request or the
//! response never crossed the capture point: UDP 500/4500 filtered, the wrong peer address, or a
//! peer that ignores this IKE version. The intervals show the requester's back-off.
//! Unanswered requests with a more specific cause go to other rules: liveness checks on an
//! established SA (`dead_peer`), IP-fragmented requests (`ike_fragments_lost`), large DF
//! requests (`pmtu_blackhole`).

use super::{
    Confidence, Cx, Emit, Finding, FindingKind, Rule, Severity, exchange_label, exchange_peers,
    fmt_intervals,
};
use crate::track::Pair;
use crate::track::ike::{Exchange, IkeSa, SaState, Step, x1, x2};

pub const KIND: FindingKind = FindingKind {
    id: "ike_unanswered",
    title: "IKE request never answered",
    default_severity: Severity::Error,
    explanation: "An IKE request was sent and retransmitted with increasing intervals, and no response of any kind came back. Either the request does not reach the peer (UDP 500/4500 filtered, wrong peer address, NAT not forwarding) or the peer does not answer it (IKE daemon not running, connection not configured for this peer, peer ignoring this IKE version).",
    remedy: "Check the peer address, that UDP 500 and 4500 are allowed both ways on every firewall and security group between the peers, that the peer's IKE daemon runs and has a connection for this address, and that both sides use the same IKE version (ikev1/ikev2).",
};

/// How many transmissions make a retransmission loop worth reporting while it runs.
pub const LIVE_AFTER: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A liveness check / informational request on an SA that was up: `dead_peer`.
    Liveness,
    /// The request travelled as IP fragments: `ike_fragments_lost`.
    Fragmented,
    /// Large, not fragmented (DF or IPv6) while smaller ones were answered: `pmtu_blackhole`.
    Blackhole,
    Plain,
}

/// The request step left unanswered in `x`, if any. IKEv1 informational exchanges have no
/// response by design; an IKEv1 exchange counts as answered once the other side sent anything
/// in it (the last message of Quick Mode and Aggressive Mode is the initiator's).
pub fn unanswered<'a>(sa: &IkeSa, x: &'a Exchange) -> Option<&'a Step> {
    // A later exchange started by the same requester proves this one was answered (the
    // requester moves on only after a response; the capture missed it).
    let later = sa.exchanges.iter().any(|o| {
        o.requester == x.requester
            && o.first_ts > x.first_ts
            && if sa.version == 2 {
                o.msg_id > x.msg_id
            } else {
                matches!(o.exchange, x1::QUICK | x1::TRANSACTION)
            }
    });
    if later && !(sa.version == 1 && x.exchange == x1::QUICK) {
        return None;
    }
    if sa.version == 1 {
        if x.exchange == x1::INFORMATIONAL || x.answered() {
            return None;
        }
        return x.requests().last();
    }
    x.pending_request()
}

pub fn cause(sa: &IkeSa, x: &Exchange, req: &Step) -> Cause {
    let up_before = sa
        .authenticated_ts
        .or(sa.established_ts)
        .is_some_and(|t| t <= x.first_ts);
    // An INFORMATIONAL request needs an IKE SA that is up; when the capture began after the
    // handshake, the request itself says so.
    let handshake_missed = sa.init_exchange().is_none();
    if (up_before || handshake_missed) && x.exchange == x2::INFORMATIONAL && sa.version == 2 {
        return Cause::Liveness;
    }
    if req.ip_fragmented > 0 {
        return Cause::Fragmented;
    }
    let answered_max = sa
        .exchanges
        .iter()
        .filter(|o| o.answered())
        .flat_map(|o| o.requests().filter(|s| s.from == req.from))
        .map(|s| s.ip_len)
        .max();
    let df_or_v6 = req.dont_fragment || req.from.is_ipv6();
    if df_or_v6 && req.ip_len > 1280 && answered_max.is_some_and(|m| m < req.ip_len) {
        return Cause::Blackhole;
    }
    Cause::Plain
}

/// A finding about a request that was never answered: the requester's side first, the span and
/// frames of its transmissions, and the scope (the exchange) under which it is reported once.
pub fn unanswered_finding(
    kind: &'static FindingKind,
    sa: &IkeSa,
    x: &Exchange,
    req: &Step,
    summary: String,
) -> (u64, Finding) {
    (
        sa.ispi ^ u64::from(x.msg_id),
        Finding::new(
            kind,
            Confidence::Inferred,
            exchange_peers(sa, x.requester),
            (req.times[0], req.last_ts),
            summary,
        )
        .frames(req.frames.iter().copied()),
    )
}

/// "IKE_AUTH (message ID 1) request from A to B (3468 bytes) was sent 3 times over 2.0 s
/// (intervals 1.0 s, 1.0 s)".
pub fn describe(sa: &IkeSa, x: &Exchange, req: &Step) -> String {
    let p = exchange_peers(sa, x.requester).strings();
    let iv = req.intervals();
    let span = req.times.last().map_or(0.0, |l| l.since(req.times[0]));
    let mut s = format!(
        "{} request from {} to {} (SPIi {:016x}, {} bytes) was sent {} time{}",
        exchange_label(sa, x),
        p[0],
        p[1],
        sa.ispi,
        req.ip_len,
        req.count,
        if req.count == 1 { "" } else { "s" }
    );
    if req.count > 1 {
        s.push_str(&format!(
            " over {span:.1} s (intervals {})",
            fmt_intervals(&iv)
        ));
    }
    s
}

fn report(
    sa: &IkeSa,
    x: &Exchange,
    req: &Step,
    pair: Option<&Pair>,
    tail_secs: f64,
    out: &mut Emit<'_>,
) {
    // An ICMP error about the request is an answer: `peer_unreachable` says what it means.
    if sa.icmp_errors > 0 || pair.is_some_and(|p| p.icmp_about_ike > 0) {
        return;
    }
    let n = req.count;
    let first_exchange = matches!(x.exchange, x2::IKE_SA_INIT | x1::MAIN | x1::AGGRESSIVE);
    let severity = match n {
        1 if tail_secs >= 10.0 && first_exchange => Severity::Info,
        1 => return,
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
}

pub struct IkeUnanswered;

impl Rule for IkeUnanswered {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Some(p), Some(sa)) = (cx.up.placed, cx.sa()) else {
            return;
        };
        if p.transmission != LIVE_AFTER {
            return;
        }
        let x = &sa.exchanges[p.exchange];
        if let Some(req) = unanswered(sa, x).filter(|r| r.count >= LIVE_AFTER)
            && cause(sa, x, req) == Cause::Plain
        {
            report(sa, x, req, cx.pair(), 0.0, out);
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
                report(sa, x, req, pair, tail, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Severity;
    use super::super::testutil::*;

    #[test]
    fn retransmitted_init_is_reported_live_with_backoff() {
        let mut s = Script::default();
        for ms in [0, 500, 1500, 3500, 7500] {
            s.ike(ms, A, B, Msg::v2(34, 0, false, true));
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
        assert!(!kinds(&end).contains(&"ike_unanswered"));
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
        s.ike(0, A, B, Msg::v2(34, 0, false, true));
        assert!(s.all().is_empty());
    }

    #[test]
    fn v1_quick_mode_third_message_is_not_unanswered() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v1(32, 7).encrypted().len(300));
        s.ike(10, B, A, Msg::v1(32, 7).encrypted().len(280));
        s.ike(20, A, B, Msg::v1(32, 7).encrypted().len(60));
        s.ike(20_000, A, B, Msg::v1(5, 9).encrypted().len(80));
        assert!(!kinds(&s.all()).contains(&"ike_unanswered"));
    }
}
