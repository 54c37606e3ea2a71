//! What several rules ask about an IKE request: was it left unanswered, why (liveness check,
//! IP fragments, a large DF packet, or plainly), and how to say so. `ike_unanswered`,
//! `dead_peer`, `ike_fragments_lost`, `pmtu_blackhole`, `child_sa_refused` and
//! `ike_response_lost` share it, so they agree on what "unanswered" means.

use super::finding::{Confidence, Finding, FindingKind, exchange_peers};
use super::names::{exchange_label, fmt_intervals};
use crate::event::codes::ExchangeType;
use crate::track::ike::{Exchange, IkeSa, Step};

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
                matches!(o.exchange, ExchangeType::QUICK | ExchangeType::TRANSACTION)
            }
    });
    if later && !(sa.version == 1 && x.exchange == ExchangeType::QUICK) {
        return None;
    }
    if sa.version == 1 {
        if x.exchange == ExchangeType::INFORMATIONAL_V1 || x.answered() {
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
    if (up_before || handshake_missed)
        && x.exchange == ExchangeType::INFORMATIONAL
        && sa.version == 2
    {
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
