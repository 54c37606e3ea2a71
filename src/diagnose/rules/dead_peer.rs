//! `dead_peer`: liveness checks on an established SA go unanswered.
//!
//! IKEv2 liveness checks are empty INFORMATIONAL requests (RFC 7296 §1.4), encrypted, so any
//! INFORMATIONAL request on an SA that was up, retransmitted and never answered is one (or a
//! Delete that is equally lost). IKEv1 DPD (RFC 3706) sends R-U-THERE in encrypted
//! Informationals with a fresh message ID each time and no response exchange, so the sign is a
//! run of Informationals from one side while the other side sends nothing at all.
//!
//! With keys the request is read instead of guessed: an empty INFORMATIONAL (or IKEv1
//! R-U-THERE) is a liveness check, one with a Delete was a close that the peer never
//! acknowledged. IKEv1 Deletes are never answered (RFC 2408 §4.8), so a run of them is a
//! teardown, not a dead peer.

use crate::diagnose::unanswered::{Cause, cause, describe, unanswered};
use crate::diagnose::finding::{Confidence, Finding, FindingKind, Severity, exchange_peers};
use crate::event::codes::{NotifyType, PayloadType};
use std::net::IpAddr;

use crate::diagnose::rule::{Cx, Emit, PairNotes, Rule, RuleDef};
use crate::event::Body;
use crate::track::ike::{IkeSa, Inside, SaState, Step, V1_UNANSWERED_RUN};
use crate::track::{Pair, PairKey};

pub const KIND: FindingKind = FindingKind {
    id: "dead_peer",
    title: "Peer stopped answering liveness checks",
    default_severity: Severity::Error,
    explanation: "On an IKE SA that was up, one peer's liveness checks (DPD) were retransmitted and never answered: the other peer is down, rebooted without telling, or the path between them broke (NAT mapping expired, route change).",
    remedy: "Check the peer is up and reachable on UDP 500/4500 (or 4500 behind NAT); keep NAT mappings alive (NAT-T keepalives); set dpdaction=restart / dpd_action=restart so the tunnel is re-established automatically.",
};

pub const DELETE_KIND: FindingKind = FindingKind {
    id: "delete_unacknowledged",
    title: "Peer never acknowledged a Delete",
    default_severity: Severity::Warning,
    explanation: "Keys showed that an unanswered INFORMATIONAL request was a Delete, not a liveness check: one peer was closing the IKE SA or a Child SA, retransmitted the Delete and never got the answer RFC 7296 §1.4.1 requires. The sender drops the SA anyway; the other peer, if it is still up, keeps the SA (and sends ESP into it) until its own DPD or lifetime ends it.",
    remedy: "Check the peer is up and reachable on UDP 500/4500 (4500 behind NAT); if it is, it will hold a stale SA: enable DPD on it (dpd_delay / dpdaction=clear or restart) so it notices the close.",
};


#[derive(Default)]
pub struct DeadPeer {
    /// Reported and not back yet, per pair: (the dead SA's SPIi, the peer that went silent, the
    /// kind said).
    dead: PairNotes<(u64, IpAddr, &'static str)>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND, DELETE_KIND],
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
        self.dead.settle(&pair, |&(ispi, silent, kind)| {
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
            out.clear(kind, pair, ispi, at, |_| reason);
            true
        });
    }

    fn remember(&mut self, sa: &IkeSa, requester: IpAddr, kind: &'static str) {
        let silent = sa.peer_of(requester);
        self.dead
            .add(PairKey::of(sa.initiator, sa.responder).0, (sa.ispi, silent, kind));
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
            let kind = report_v2(sa, x.requester, &describe(sa, x, req), req, out);
            self.remember(sa, x.requester, kind);
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        if sa.version == 2 {
            for x in &sa.exchanges {
                if let Some(req) = unanswered(sa, x).filter(|r| r.count >= 2)
                    && cause(sa, x, req) == Cause::Liveness
                {
                    report_v2(sa, x.requester, &describe(sa, x, req), req, out);
                }
            }
            return;
        }
        if !sa.established() {
            return;
        }
        // IKEv1: trailing run of Informationals from one side after the other's last message.
        let Some((who, run)) = sa.v1_silent_run() else {
            return;
        };
        let inside = |x: &crate::track::ike::Exchange| x.steps.iter().find_map(|s| s.inside.clone());
        if run.len() < V1_UNANSWERED_RUN {
            return;
        }
        let other = sa.peer_of(who);
        let other_side = pair.map(|p| p.key.side(other));
        let silent_since = other_side.and_then(|s| pair.and_then(|p| p.last_from[s]));
        if silent_since.is_some_and(|t| t > run[0].first_ts) {
            return; // The other side still sends (ESP or other IKE): not dead.
        }
        let opened = run.iter().filter(|x| inside(x).is_some()).count();
        let what = if opened == run.len() {
            "DPD R-U-THERE, decrypted"
        } else if opened > 0 {
            "DPD R-U-THERE; decrypted where keys opened them"
        } else {
            "IKEv1 DPD R-U-THERE"
        };
        let text = format!(
            "{who} sent {} encrypted Informational messages ({what}) to {other} over {:.0} s and {other} sent nothing back",
            run.len(),
            run[run.len() - 1].last_ts.since(run[0].first_ts)
        );
        let frames: Vec<u64> = run
            .iter()
            .flat_map(|x| x.steps.iter().flat_map(|s| s.frames.iter().copied()))
            .collect();
        let confidence = if opened == run.len() {
            Confidence::Observed
        } else {
            Confidence::Inferred
        };
        let summary = format!(
            "{text}, on IKE SA {:016x} that was up; the peer is gone or unreachable",
            sa.ispi
        );
        out.push(
            sa.ispi,
            Finding::new(
                &KIND,
                confidence,
                exchange_peers(sa, who),
                (run[0].first_ts, run[run.len() - 1].last_ts),
                summary,
            )
            .frames(frames),
        );
    }
}

/// An unanswered IKEv2 INFORMATIONAL request. Keys tell a liveness check (the finding is then
/// observed) from a close the peer never acknowledged (`delete_unacknowledged`: the sender
/// meant to end the SA anyway, only the confirmation is missing). Returns the kind said.
fn report_v2(
    sa: &IkeSa,
    requester: IpAddr,
    text: &str,
    req: &Step,
    out: &mut Emit<'_>,
) -> &'static str {
    let other = sa.peer_of(requester);
    let (opened, closing) = match &req.inside {
        None => (String::new(), false),
        Some(Inside::Liveness) => (
            "; decrypted, it is an empty INFORMATIONAL: a liveness check (DPD)".to_string(),
            false,
        ),
        Some(Inside::Delete { ike, child }) => (
            format!(
                "; decrypted, it is {requester}'s Delete of {}: {requester} was closing it, and {other} never acknowledged the close",
                deleted(sa, *ike, child)
            ),
            true,
        ),
        Some(Inside::Other(types)) => (
            format!("; decrypted, it carries {}", carried(sa.version, types)),
            false,
        ),
    };
    let summary = format!(
        "{text}{opened}, on IKE SA {:016x} that was up; {other} is gone or unreachable",
        sa.ispi
    );
    let confidence = if req.inside.is_some() {
        Confidence::Observed
    } else {
        Confidence::Inferred
    };
    let kind = if closing { &DELETE_KIND } else { &KIND };
    let f = Finding::new(
        kind,
        confidence,
        exchange_peers(sa, requester),
        (req.times[0], req.last_ts),
        summary,
    )
    .frames(req.frames.clone());
    out.push(sa.ispi, f);
    kind.id
}

/// "the IKE SA 0123… (and with it its Child SAs)", "Child SA ESP 0xc1a2b3c4".
fn deleted(sa: &IkeSa, ike: bool, child: &[(u8, u32)]) -> String {
    let children = child
        .iter()
        .map(|&(proto, spi)| {
            let p = if proto == 2 { "AH" } else { "ESP" };
            format!("{p} 0x{spi:08x}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    match (ike, children.is_empty()) {
        (true, true) => format!("the IKE SA {:016x} (and with it its Child SAs)", sa.ispi),
        (true, false) => format!("the IKE SA {:016x} and Child SA {children}", sa.ispi),
        (false, _) => format!("Child SA {children}"),
    }
}

/// Payload names, notifies by name: "N(UPDATE_SA_ADDRESSES) N(NAT_DETECTION_SOURCE_IP)".
fn carried(version: u8, types: &[(PayloadType, Option<NotifyType>)]) -> String {
    types
        .iter()
        .map(|(t, n)| match n {
            Some(n) => format!("N({})", n.label(version)),
            None => t.name(version).unwrap_or("?").to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::event::codes::NotifyType;

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

    fn unanswered_informational(inner: Vec<crate::event::ike::Payload>) -> Vec<crate::diagnose::Finding> {
        let mut s = Script::default();
        healthy_v2(&mut s);
        for ms in [20_000, 20_500, 21_500, 23_500, 27_500] {
            s.ike(
                ms,
                A,
                B,
                Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR)
                    .len(80)
                    .with(sk(52))
                    .opened(inner.clone()),
            );
        }
        s.settled()
    }

    /// Keys show an empty INFORMATIONAL: the liveness check is seen, not guessed.
    #[test]
    fn an_opened_empty_informational_is_an_observed_liveness_check() {
        let f = unanswered_informational(vec![]);
        let d = f.iter().find(|f| f.kind == "dead_peer").expect("dead_peer");
        assert_eq!(d.confidence, crate::diagnose::finding::Confidence::Observed);
        assert!(d.summary.contains("decrypted, it is an empty INFORMATIONAL: a liveness check (DPD)"), "{}", d.summary);
        assert!(!kinds(&f).contains(&"delete_unacknowledged"));
    }

    /// Keys show a Delete of the IKE SA: a close the peer never confirmed, not a failed check.
    #[test]
    fn an_opened_delete_is_a_close_never_acknowledged() {
        let f = unanswered_informational(vec![delete(1, &[])]);
        assert_eq!(kinds(&f), ["delete_unacknowledged"], "{f:?}");
        assert_eq!(f[0].severity, crate::diagnose::finding::Severity::Warning);
        assert!(f[0].summary.contains("Delete of the IKE SA 0000000000001111 (and with it its Child SAs)"), "{}", f[0].summary);
        let child = unanswered_informational(vec![delete(3, &[0xc1a2b3c4, 0x0000beef])]);
        assert!(child[0].summary.contains("Delete of Child SA ESP 0xc1a2b3c4, ESP 0x0000beef"), "{}", child[0].summary);
    }

    /// Keys show something else (a MOBIKE address update): named, and still a dead peer.
    #[test]
    fn an_opened_other_request_is_named() {
        let f = unanswered_informational(vec![notify(NotifyType(16400), &[])]);
        let d = f.iter().find(|f| f.kind == "dead_peer").expect("dead_peer");
        assert!(d.summary.contains("decrypted, it carries N(UPDATE_SA_ADDRESSES)"), "{}", d.summary);
    }

    /// IKEv1 Deletes are never answered: a run of them from one side is a teardown.
    #[test]
    fn ikev1_deletes_are_not_a_dead_peer() {
        let run = |inner: Vec<crate::event::ike::Payload>| {
            let mut s = Script::default();
            healthy_v1(&mut s);
            for (i, ms) in [20_000u64, 30_000, 40_000, 50_000].into_iter().enumerate() {
                s.ike(ms, A, B, Msg::v1(X::INFORMATIONAL_V1, 100 + i as u32).len(84).opened(inner.clone()));
            }
            kinds(&s.all()).contains(&"dead_peer")
        };
        assert!(!run(vec![delete(3, &[0x1234])]));
        assert!(run(vec![notify(NotifyType::R_U_THERE, &[])]));
    }
}
