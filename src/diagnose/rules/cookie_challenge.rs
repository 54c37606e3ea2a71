//! `cookie_challenge`: the responder answered IKE_SA_INIT with a COOKIE (notify 16390,
//! RFC 7296 §2.6) instead of proceeding: it is under load (or configured to always demand
//! cookies) and wants proof of the initiator's address. Normal once (info); when the challenge
//! repeats for the same initiator or the initiator never gets past it, it is a warning.

use std::collections::HashMap;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::{Body, Timestamp};
use crate::track::ike::{IkeSa, SaState};
use crate::track::{Pair, PairKey, SaKey};
use crate::event::codes::{ExchangeType, NotifyType};

pub const KIND: FindingKind = FindingKind {
    id: "cookie_challenge",
    title: "Responder demands an IKE cookie",
    default_severity: Severity::Info,
    explanation: "The responder answered IKE_SA_INIT with a COOKIE notify, asking the initiator to repeat the request with the cookie to prove its address: it considers itself under attack or load (many half-open SAs), or is configured to always require cookies. One challenge costs a round trip; a loop means the initiator's retries are not accepted.",
    remedy: "Usually nothing to do. If it loops: check that the initiator returns the cookie unchanged (old or buggy clients), that a NAT is not changing the initiator's address or port between attempts, and the responder's half-open SA threshold (strongSwan charon.cookie_threshold, Cisco 'crypto ikev2 cookie-challenge').",
};

/// Challenges to one initiator SPI that make a loop.
const LOOP: u32 = 3;

struct Seen {
    count: u32,
    first: Timestamp,
    frames: Vec<u64>,
    peers: Peers,
}

#[derive(Default)]
pub struct CookieChallenge {
    open: HashMap<SaKey, Seen>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(CookieChallenge::default()),
};

const MAX_OPEN: usize = 1024;

impl CookieChallenge {
    fn emit(pair: PairKey, s: &Seen, ok: Option<(Timestamp, u64)>, out: &mut Emit<'_>) {
        let _ = pair;
        let (sev, scope, outcome, last) = match ok {
            Some((ts, _)) if s.count < LOOP => (
                Severity::Info,
                0,
                "the retry with the cookie was accepted".to_string(),
                ts,
            ),
            Some((ts, _)) => (
                Severity::Warning,
                1,
                "the exchange went on only after repeated challenges".to_string(),
                ts,
            ),
            None if s.count >= LOOP => (
                Severity::Warning,
                1,
                "the initiator never got past the challenge".to_string(),
                s.first,
            ),
            None => (
                Severity::Info,
                0,
                "no successful IKE_SA_INIT with this SPI followed in the capture".to_string(),
                s.first,
            ),
        };
        let summary = format!(
            "{} answered IKE_SA_INIT from {} with COOKIE {} time{}; {outcome}",
            s.peers.b,
            s.peers.a,
            s.count,
            if s.count == 1 { "" } else { "s" }
        );
        let frames: Vec<u64> = s.frames.iter().copied().chain(ok.map(|(_, f)| f)).collect();
        out.push(
            scope,
            Finding::new(
                &KIND,
                Confidence::Observed,
                s.peers,
                (s.first, last),
                summary,
            )
            .severity(sev)
            .frames(frames),
        );
    }
}

impl Rule for CookieChallenge {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Body::Ike(m), Some(key)) = (&cx.ev.body, cx.up.sa) else {
            return;
        };
        if m.version != 2 || m.exchange != ExchangeType::IKE_SA_INIT || !m.is_response() {
            return;
        }
        if m.has_notify(NotifyType::COOKIE) {
            if !self.open.contains_key(&key) && self.open.len() >= MAX_OPEN {
                return;
            }
            let s = self.open.entry(key).or_insert_with(|| Seen {
                count: 0,
                first: cx.ev.pkt.ts,
                frames: Vec::new(),
                peers: Peers::with_ports(
                    (cx.ev.flow.dst, cx.ev.flow.dport),
                    (cx.ev.flow.src, cx.ev.flow.sport),
                ),
            });
            s.count += 1;
            if s.frames.len() < 16 {
                s.frames.push(cx.ev.pkt.frame);
            }
            if s.count == LOOP {
                Self::emit(key.pair, s, None, out);
            }
        } else if matches!(cx.up.transition, Some((_, SaState::KeysExchanged)))
            && let Some(s) = self.open.remove(&key)
        {
            Self::emit(key.pair, &s, Some((cx.ev.pkt.ts, cx.ev.pkt.frame)), out);
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        let Some(p) = pair else { return };
        let key = SaKey {
            pair: p.key,
            ispi: sa.ispi,
        };
        if let Some(s) = self.open.remove(&key) {
            Self::emit(key.pair, &s, None, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Severity;
    use crate::diagnose::testutil::*;

    #[test]
    fn one_challenge_then_success_is_info() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(
            10,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x1111, 0)
                .len(60)
                .with(notify(N::COOKIE, &[1; 20])),
        );
        s.ike(
            20,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR)
                .len(330)
                .with(notify(N::COOKIE, &[1; 20])),
        );
        s.ike(
            30,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
        );
        let all = s.all();
        let f = all
            .iter()
            .find(|f| f.kind == "cookie_challenge")
            .expect("reported");
        assert_eq!(f.severity, Severity::Info);
        assert_quiet(&all);
    }

    #[test]
    fn challenge_loop_is_warning() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        for i in 0..3u32 {
            s.ike(
                10 + u64::from(i) * 100,
                B,
                A,
                Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                    .spis(0x1111, 0)
                    .len(60 + i)
                    .with(notify(N::COOKIE, &[i as u8; 20])),
            );
            s.ike(
                20 + u64::from(i) * 100,
                A,
                B,
                Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(330 + i),
            );
        }
        let (live, _, _) = s.run();
        let f = live
            .iter()
            .find(|f| f.kind == "cookie_challenge")
            .expect("live");
        assert_eq!(f.severity, Severity::Warning);
    }
}
