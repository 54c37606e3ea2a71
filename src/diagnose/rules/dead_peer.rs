//! `dead_peer`: liveness checks on an established SA go unanswered.
//!
//! IKEv2 liveness checks are empty INFORMATIONAL requests (RFC 7296 §1.4), encrypted, so any
//! INFORMATIONAL request on an SA that was up, retransmitted and never answered is one (or a
//! Delete that is equally lost). IKEv1 DPD (RFC 3706) sends R-U-THERE in encrypted
//! Informationals with a fresh message ID each time and no response exchange, so the sign is a
//! run of Informationals from one side while the other side sends nothing at all.

use crate::diagnose::unanswered::{Cause, cause, describe, unanswered};
use crate::diagnose::finding::{Confidence, Finding, FindingKind, Severity, exchange_peers};
use std::net::IpAddr;

use crate::diagnose::rule::{Cx, Emit, PairNotes, Rule, RuleDef};
use crate::event::Body;
use crate::track::ike::{IkeSa, SaState};
use crate::track::{Pair, PairKey};
use crate::event::codes::ExchangeType;

pub const KIND: FindingKind = FindingKind {
    id: "dead_peer",
    title: "Peer stopped answering liveness checks",
    default_severity: Severity::Error,
    explanation: "On an IKE SA that was up, one peer's liveness checks (DPD) were retransmitted and never answered: the other peer is down, rebooted without telling, or the path between them broke (NAT mapping expired, route change).",
    remedy: "Check the peer is up and reachable on UDP 500/4500 (or 4500 behind NAT); keep NAT mappings alive (NAT-T keepalives); set dpdaction=restart / dpd_action=restart so the tunnel is re-established automatically.",
};

/// IKEv1: Informationals from one side in a row with the other side silent.
const V1_RUN: usize = 3;

#[derive(Default)]
pub struct DeadPeer {
    /// Reported and not back yet, per pair: (the dead SA's SPIi, the peer that went silent).
    dead: PairNotes<(u64, IpAddr)>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(DeadPeer::default()),
};

impl DeadPeer {
    /// The silent peer sent IKE again (it answered, or it restarted and started a new SA), or
    /// a new IKE SA between the two came up: the liveness failure is over.
    fn back(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Some(pair), Body::Ike(m)) = (cx.up.pair, &cx.ev.body) else {
            return;
        };
        let from = cx.ev.flow.src;
        let new_sa_up = matches!(
            cx.up.transition,
            Some((before, after)) if before < SaState::Authenticated && after >= SaState::Authenticated && after != SaState::Failed && after != SaState::Deleted
        );
        let at = (cx.ev.pkt.ts, cx.ev.pkt.frame);
        self.dead.settle(&pair, |&(ispi, silent)| {
            let same_sa = m.ispi == ispi;
            let reason = if from == silent && same_sa {
                format!(
                    "{silent} answered again on IKE SA {ispi:016x} ({} {})",
                    m.exchange_name().unwrap_or("IKE"),
                    if m.is_response() { "response" } else { "request" }
                )
            } else if from == silent {
                format!(
                    "{silent} is back: it {} {} on a new IKE SA (SPIi {:016x}); the old SA {ispi:016x} is gone",
                    if m.is_response() { "answered" } else { "started" },
                    m.exchange_name().unwrap_or("an exchange"),
                    m.ispi
                )
            } else if new_sa_up && !same_sa {
                format!(
                    "a new IKE SA (SPIi {:016x}) between them authenticated: it replaces the dead SA {ispi:016x}",
                    m.ispi
                )
            } else {
                return false;
            };
            out.clear(KIND.id, pair, ispi, at, |_| reason);
            true
        });
    }

    fn remember(&mut self, sa: &IkeSa, requester: IpAddr) {
        let silent = sa.peer_of(requester);
        self.dead
            .add(PairKey::of(sa.initiator, sa.responder).0, (sa.ispi, silent));
    }
}

impl Rule for DeadPeer {
    fn pair_closed(&mut self, pair: &Pair, _out: &mut Emit<'_>) {
        self.dead.forget(&pair.key);
    }

    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        if !self.dead.is_empty() {
            self.back(cx, out);
        }
        let (Some(p), Some(sa)) = (cx.up.placed, cx.sa()) else {
            return;
        };
        if p.transmission < 3 {
            return;
        }
        let x = &sa.exchanges[p.exchange];
        if let Some(req) = unanswered(sa, x)
            && cause(sa, x, req) == Cause::Liveness
        {
            report(
                sa,
                x.requester,
                &describe(sa, x, req),
                req.times[0],
                req.last_ts,
                req.frames.clone(),
                out,
            );
            self.remember(sa, x.requester);
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        if sa.version == 2 {
            for x in &sa.exchanges {
                if let Some(req) = unanswered(sa, x).filter(|r| r.count >= 2)
                    && cause(sa, x, req) == Cause::Liveness
                {
                    report(
                        sa,
                        x.requester,
                        &describe(sa, x, req),
                        req.times[0],
                        req.last_ts,
                        req.frames.clone(),
                        out,
                    );
                }
            }
            return;
        }
        if !sa.established() {
            return;
        }
        // IKEv1: trailing run of Informationals from one side after the other's last message.
        let Some(last) = sa
            .exchanges
            .back()
            .filter(|x| x.exchange == ExchangeType::INFORMATIONAL_V1)
        else {
            return;
        };
        let who = last.requester;
        let other_last = sa
            .exchanges
            .iter()
            .flat_map(|x| x.steps.iter())
            .filter(|s| s.from != who)
            .map(|s| s.last_ts)
            .max();
        let run: Vec<_> = sa
            .exchanges
            .iter()
            .filter(|x| {
                x.exchange == ExchangeType::INFORMATIONAL_V1
                    && x.requester == who
                    && other_last.is_none_or(|o| x.first_ts > o)
            })
            .collect();
        if run.len() < V1_RUN {
            return;
        }
        let other = sa.peer_of(who);
        let other_side = pair.map(|p| p.key.side(other));
        let silent_since = other_side.and_then(|s| pair.and_then(|p| p.last_from[s]));
        if silent_since.is_some_and(|t| t > run[0].first_ts) {
            return; // The other side still sends (ESP or other IKE): not dead.
        }
        let text = format!(
            "{who} sent {} encrypted Informational messages (IKEv1 DPD R-U-THERE) to {other} over {:.0} s and {other} sent nothing back",
            run.len(),
            run[run.len() - 1].last_ts.since(run[0].first_ts)
        );
        let frames: Vec<u64> = run
            .iter()
            .flat_map(|x| x.steps.iter().flat_map(|s| s.frames.iter().copied()))
            .collect();
        report(
            sa,
            who,
            &text,
            run[0].first_ts,
            run[run.len() - 1].last_ts,
            frames,
            out,
        );
    }
}

fn report(
    sa: &IkeSa,
    requester: IpAddr,
    text: &str,
    first: crate::event::Timestamp,
    last: crate::event::Timestamp,
    frames: Vec<u64>,
    out: &mut Emit<'_>,
) {
    let summary = format!(
        "{text}, on IKE SA {:016x} that was up; the peer is gone or unreachable",
        sa.ispi
    );
    out.push(
        sa.ispi,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            exchange_peers(sa, requester),
            (first, last),
            summary,
        )
        .frames(frames),
    );
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn unanswered_informational_on_established_sa() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        for ms in [20_000, 25_000, 35_000, 55_000] {
            s.ike(ms, A, B, Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR).len(80).with(sk(52)));
        }
        let (live, end, _) = s.run();
        assert!(kinds(&live).contains(&"dead_peer"), "{live:?}");
        assert!(!kinds(&end).contains(&"ike_unanswered"));
    }

    /// The peer restarts: a new IKE SA comes up between the two, which clears the finding.
    #[test]
    fn a_new_sa_clears_it() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        for ms in [20_000, 20_500, 21_500, 23_500] {
            s.ike(ms, A, B, Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR).len(80).with(sk(52)));
        }
        s.ike(40_000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x77, 0));
        s.ike(
            40_010,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).spis(0x77, 0x88).with(v2_sa(&[(4, 14)])),
        );
        let (live, _, _) = s.run();
        let f: Vec<_> = live.iter().filter(|f| f.kind == "dead_peer").collect();
        assert_eq!(f.len(), 2, "{live:?}");
        assert!(f[1].clearing && f[1].id == f[0].id);
        let reason = &f[1].cleared.as_ref().unwrap().reason;
        assert!(reason.contains("is back: it answered IKE_SA_INIT on a new IKE SA (SPIi 0000000000000077)"), "{reason}");
    }

    /// The capture starts after the handshake: the liveness checks alone show the SA was up.
    #[test]
    fn capture_started_mid_tunnel() {
        let mut s = Script::default();
        for ms in [0, 5_000, 15_000, 35_000] {
            s.ike(ms, A, B, Msg::v2(X::INFORMATIONAL, 9, REQUEST, INITIATOR).len(80).with(sk(52)));
        }
        let k = kinds(&s.all());
        assert!(
            k.contains(&"dead_peer") && !k.contains(&"ike_unanswered"),
            "{k:?}"
        );
    }
}
