//! `ike_malformed`: a peer sent IKE that does not decode (a payload length that overruns the
//! message, a chain that does not end where the header says). Messages cut by the snap length
//! or by lost IP fragments are not the peer's doing and are left out. When the malformed
//! message answered a request that was then sent again, the requester threw the answer away:
//! the exchange cannot finish, which is an error; otherwise a warning. The verdict waits for
//! the SA to close, so that retransmissions after the bad answer have been seen.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Severity, exchange_peers};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::codes::ExchangeType;
use crate::event::{Body, ErrorKind, Event, LenSource, Timestamp};
use crate::track::Pair;
use crate::track::ike::IkeSa;
use crate::track::{PairKey, SaKey};

pub const KIND: FindingKind = FindingKind {
    id: "ike_malformed",
    title: "Peer sends malformed IKE",
    default_severity: Severity::Warning,
    explanation: "A peer sent IKE messages whose payloads do not decode: a payload length runs past the message, or the payload chain does not end where the header's length says. A receiver drops such a message (RFC 7296 §2.21.1 forbids answering an unauthenticated malformed one), so when it is an answer the requester retransmits as if nothing came back. Values read out of the broken part (notify types, proposals) are not reported as the peer's.",
    remedy: "Look for a middlebox altering IKE (an IPsec ALG, 'IPsec passthrough', a NAT that rewrites UDP payloads) or a path that corrupts large datagrams; then update the sending peer's IKE software.",
};

/// Most malformed messages remembered per SA, and SAs with any remembered at once: enough to
/// tell a one-off from a peer that keeps doing it, bounded on fuzzed input.
const MAX_PER_SA: usize = 8;
const MAX_SAS: usize = 4096;

struct Seen {
    frame: u64,
    ts: Timestamp,
    from: IpAddr,
    response: bool,
    msg_id: u32,
    exchange: ExchangeType,
    version: u8,
    error: String,
}

#[derive(Default)]
pub struct IkeMalformed {
    seen: HashMap<SaKey, Vec<Seen>>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeMalformed::default()),
};

/// Whether the decode error of `ev` is the sender's, not the capture's: a message cut by the
/// snap length, or the first fragment of a datagram whose other fragments were lost, only
/// lacks bytes the sender did send.
fn senders_fault(ev: &Event, kind: &ErrorKind) -> bool {
    let captured = matches!(kind, ErrorKind::Len(l) if l.source == LenSource::Captured);
    !(captured && (ev.ip.incomplete || ev.pkt.caplen < ev.pkt.origlen))
}

impl Rule for IkeMalformed {
    fn event(&mut self, cx: &Cx<'_>, _out: &mut Emit<'_>) {
        let Body::Ike(m) = &cx.ev.body else { return };
        let Some(e) = &m.error else { return };
        if !senders_fault(cx.ev, &e.kind) {
            return;
        }
        let (Some(key), Some(placed), Some(sa)) = (cx.up.sa, cx.up.placed, cx.sa()) else {
            return;
        };
        let response = sa
            .exchanges
            .get(placed.exchange)
            .and_then(|x| x.steps.get(placed.step))
            .is_some_and(|s| s.response);
        if self.seen.len() >= MAX_SAS && !self.seen.contains_key(&key) {
            return;
        }
        let list = self.seen.entry(key).or_default();
        if list.len() < MAX_PER_SA {
            list.push(Seen {
                frame: cx.ev.pkt.frame,
                ts: cx.ev.pkt.ts,
                from: cx.ev.flow.src,
                response,
                msg_id: m.message_id,
                exchange: m.exchange,
                version: m.version,
                error: e.to_string(),
            });
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, _pair: Option<&Pair>, out: &mut Emit<'_>) {
        let key = SaKey {
            pair: PairKey::of(sa.initiator, sa.responder).0,
            ispi: sa.ispi,
        };
        let Some(seen) = self.seen.remove(&key) else {
            return;
        };
        // An answer the requester ignored: its request went out again after the answer came.
        let ignored = |s: &Seen| -> Option<(IpAddr, u32, Vec<u64>)> {
            if !s.response {
                return None;
            }
            let x = sa.exchanges.iter().rev().find(|x| {
                x.msg_id == s.msg_id && x.exchange == s.exchange && x.requester != s.from
            })?;
            let mut frames = Vec::new();
            for st in x.requests() {
                for (t, f) in st.times.iter().zip(&st.frames) {
                    if *t > s.ts {
                        frames.push(*f);
                    }
                }
            }
            (!frames.is_empty()).then_some((x.requester, frames.len() as u32, frames))
        };
        let first = &seen[0];
        let last = &seen[seen.len() - 1];
        let mut frames: Vec<u64> = seen.iter().map(|s| s.frame).collect();
        let escalated = seen.iter().find_map(|s| ignored(s).map(|i| (s, i)));
        let f = match escalated {
            Some((s, (requester, again, resent))) => {
                frames.extend(resent);
                let summary = format!(
                    "{} answered {}'s {} request with malformed IKE ({}): the responder's answers are malformed; the initiator ignores them and retransmits ({again} more time{})",
                    s.from,
                    requester,
                    s.exchange.label(s.version),
                    s.error,
                    if again == 1 { "" } else { "s" }
                );
                Finding::new(
                    &KIND,
                    Confidence::Observed,
                    exchange_peers(sa, requester),
                    (first.ts, last.ts),
                    summary,
                )
                .severity(Severity::Error)
            }
            None => {
                let requester = if first.response {
                    sa.peer_of(first.from)
                } else {
                    first.from
                };
                let summary = format!(
                    "{} sent {} malformed IKE message{} ({} {}: {})",
                    first.from,
                    seen.len(),
                    if seen.len() == 1 { "" } else { "s" },
                    first.exchange.label(first.version),
                    if first.response {
                        "response"
                    } else {
                        "request"
                    },
                    first.error
                );
                Finding::new(
                    &KIND,
                    Confidence::Observed,
                    exchange_peers(sa, requester),
                    (first.ts, last.ts),
                    summary,
                )
            }
        };
        out.push(sa.ispi, f.frames(frames));
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Severity;
    use crate::diagnose::testutil::*;
    use crate::event::{Body, LenError, LenField, LenSource, LenSubject};

    fn break_at(e: &mut crate::event::Event, offset: usize) {
        if let Body::Ike(m) = &mut e.body {
            m.error = Some(
                LenError {
                    need: 400,
                    have: 40,
                    source: LenSource::Field(LenField::IkeLength),
                    what: LenSubject::LengthLeft,
                }
                .at(crate::event::Layer::V2Payload, offset),
            );
        }
    }

    fn findings(s: &Script) -> Vec<crate::diagnose::Finding> {
        s.all()
            .into_iter()
            .filter(|f| f.kind == "ike_malformed")
            .collect()
    }

    /// The responder answers IKE_SA_INIT with a message whose notify payload overruns; the
    /// initiator sends its request twice more. The notify read out of the broken payload (28,
    /// INVALID_SELECTORS) must not be reported as the responder's.
    #[test]
    fn ignored_answers_are_an_error_and_their_notifies_are_not_believed() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        let e = s.ike(
            30,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(notify(N(28), &[])),
        );
        if let Body::Ike(m) = &mut e.body {
            m.payloads[0].offset = 28;
            m.payloads[0].length = 400;
        }
        break_at(e, 28);
        s.ike(1000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(3000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        let all = s.all();
        let f = findings(&s);
        assert_eq!(f.len(), 1, "{all:?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].summary.contains("the initiator ignores them and retransmits (2 more times)"), "{}", f[0].summary);
        assert_eq!(f[0].frames, [2, 3, 4]);
        assert!(!kinds(&all).contains(&"ike_error_notify"), "{:?}", kinds(&all));
    }

    #[test]
    fn a_malformed_request_is_a_warning() {
        let mut s = Script::default();
        let e = s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        break_at(e, 28);
        let f = findings(&s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].summary.starts_with("192.0.2.1 sent 1 malformed IKE message (IKE_SA_INIT request: IKEv2 payload at offset 0x1c"), "{}", f[0].summary);
    }

    /// A message cut by the snap length lacks bytes the peer did send.
    #[test]
    fn a_capture_cut_is_not_the_peers_fault() {
        let mut s = Script::default();
        let e = s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        e.pkt.caplen = 60;
        if let Body::Ike(m) = &mut e.body {
            m.error = Some(
                LenError {
                    need: 300,
                    have: 32,
                    source: LenSource::Captured,
                    what: LenSubject::LengthPresent,
                }
                .at(crate::event::Layer::IkeHeader, 24),
            );
        }
        assert!(findings(&s).is_empty());
    }
}
