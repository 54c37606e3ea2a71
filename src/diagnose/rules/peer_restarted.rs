//! `peer_restarted`: a peer lost its IKE and Child SAs (daemon restart, reboot, failover to a
//! box without the state) and a new IKE SA replaced them.
//!
//! Inferred when a new IKE SA between a pair authenticates while an older SA of the same pair,
//! which was up, shows that one side (the one that restarted) had dropped it: a request on the
//! old SA went unanswered though retransmitted, or the side answered with INVALID_IKE_SPI /
//! INVALID_SPI, and it sent nothing more on the old SA after that point. The other side's ESP
//! on the old Child SAs since then is counted as what went into the void. Judged when the new
//! SA authenticates, which is when the evidence is complete.
//!
//! `dead_peer` (the unanswered liveness checks) and `stale_sa` (INVALID_SPI notifies, ESP after
//! a Delete) are raised on time while it happens, before anyone can know a new SA will follow;
//! `dead_peer` is cleared when the new SA comes. This finding is the story once it is over,
//! and `stale_sa` leaves its own "the silent peer started a new SA" inference to it.

use std::net::IpAddr;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::names::exchange_label;
use crate::diagnose::rule::{Cx, Emit, PairNotes, Rule, RuleDef};
use crate::diagnose::unanswered::unanswered;
use crate::event::codes::NotifyType;
use crate::event::{Body, Timestamp};
use crate::track::ike::{IkeSa, SaState};
use crate::track::{Pair, PairKey, SaKey};

pub const KIND: FindingKind = FindingKind {
    id: "peer_restarted",
    title: "Peer lost its SAs (restart) and a new IKE SA replaced them",
    default_severity: Severity::Warning,
    explanation: "One peer stopped answering on an IKE SA that was up (requests retransmitted and never answered, or answered with INVALID_IKE_SPI / INVALID_SPI) while the other kept using the old SAs, and then a new IKE SA between the two authenticated: the silent peer had lost its state (daemon restart, reboot, failover) and traffic was lost until the new SA came up.",
    remedy: "Find out why the peer restarted (its logs around the time shown). To shorten the outage: dead peer detection on the surviving side (dpd_delay/dpdaction=restart), INITIAL_CONTACT on (re)connect so the survivor drops stale SAs at once, and on the restarting side start the connection itself (start_action=start / auto=start) rather than waiting.",
};

/// Transmissions of an old request that make silence a sign of lost state rather than one lost
/// packet.
const MIN_TRANSMISSIONS: u32 = 2;
/// INVALID_IKE_SPI / INVALID_SPI notifies kept per pair.
const MAX_NOTICES: usize = 8;

#[derive(Default)]
pub struct PeerRestarted {
    /// Per pair, INVALID_IKE_SPI / INVALID_SPI seen: (sender, type, time, frame). Such a notify
    /// may travel under SPIs that match no SA (a restarted peer knows none), so the rule keeps
    /// them itself.
    invalid: PairNotes<(IpAddr, NotifyType, Timestamp, u64)>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(PeerRestarted::default()),
};

/// What shows the restarted side had dropped the old SA.
struct Lost {
    /// When the restarted side was last heard on the old SA.
    silent_since: Option<Timestamp>,
    /// The first sign after it (request or notify) and the words for it.
    since: Timestamp,
    text: String,
    frames: Vec<u64>,
    observed: bool,
}

impl PeerRestarted {
    /// The evidence on `old` that `gone` had lost it, if any, before `by`.
    fn lost(&self, pair: &PairKey, old: &IkeSa, gone: IpAddr, by: Timestamp) -> Option<Lost> {
        let side = usize::from(gone != old.initiator);
        let silent_since = old.last_from[side];
        let quiet_after = |t: Timestamp| silent_since.is_none_or(|s| s <= t);
        let survivor = old.peer_of(gone);
        let request = old
            .exchanges
            .iter()
            .filter(|x| x.requester == survivor && x.first_ts < by)
            .filter_map(|x| unanswered(old, x).map(|r| (x, r)))
            .find(|(_, r)| r.count >= MIN_TRANSMISSIONS && quiet_after(r.times[0]));
        let notice = self.invalid.iter(pair).find(|(from, _, ts, _)| {
            *from == gone && *ts < by && old.authenticated_ts.or(old.established_ts).is_some_and(|u| u < *ts)
        });
        match (request, notice) {
            (_, Some(&(_, nt, ts, frame))) => Some(Lost {
                silent_since,
                since: ts,
                text: format!(
                    "{gone} answered {} on the old SA",
                    nt.label(old.version)
                ),
                frames: vec![frame],
                observed: true,
            }),
            (Some((x, r)), None) => Some(Lost {
                silent_since,
                since: r.times[0],
                text: format!(
                    "{survivor}'s {} request on it was sent {} times over {:.1} s and never answered",
                    exchange_label(old, x),
                    r.count,
                    r.last_ts.since(r.times[0])
                ),
                frames: r.frames.clone(),
                observed: false,
            }),
            (None, None) => None,
        }
    }
}

impl Rule for PeerRestarted {
    fn pair_closed(&mut self, pair: &Pair, _out: &mut Emit<'_>) {
        self.invalid.forget(&pair.key);
    }

    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Some(key) = cx.up.pair else {
            return;
        };
        if let Body::Ike(m) = &cx.ev.body
            && let Some(n) = m.notifies().find(|n| {
                matches!(
                    n.notify_type,
                    NotifyType::INVALID_IKE_SPI | NotifyType::INVALID_SPI
                )
            })
            // A flood of them says no more than the first few.
            && self.invalid.iter(&key).count() < MAX_NOTICES
        {
            self.invalid.add(
                key,
                (cx.ev.flow.src, n.notify_type, cx.ev.pkt.ts, cx.ev.pkt.frame),
            );
        }
        let up = matches!(
            cx.up.transition,
            Some((before, after)) if before < SaState::Authenticated
                && matches!(after, SaState::Authenticated | SaState::Established)
        );
        if !up {
            return;
        }
        let (Some(new), Some(pair)) = (cx.sa(), cx.pair()) else {
            return;
        };
        for s in pair.sas.iter().filter(|s| s.ispi != new.ispi && s.established) {
            let Some(old) = cx.t.sa(&SaKey { pair: key, ispi: s.ispi }) else {
                continue;
            };
            if old.first_ts >= new.first_ts || old.deleted_by.is_some() {
                continue;
            }
            for gone in [old.initiator, old.responder] {
                let Some(lost) = self.lost(&key, old, gone, new.first_ts) else {
                    continue;
                };
                report(cx, pair, old, new, gone, lost, out);
                break;
            }
        }
    }
}

fn report(
    cx: &Cx<'_>,
    pair: &Pair,
    old: &IkeSa,
    new: &IkeSa,
    gone: IpAddr,
    lost: Lost,
    out: &mut Emit<'_>,
) {
    let survivor = old.peer_of(gone);
    let at = |t: Timestamp| t.since(pair.first_ts);
    let silent = lost.silent_since.map_or(String::new(), |t| {
        format!(" (last heard on it {:.1} s into this pair's traffic)", at(t))
    });
    // The survivor's data plane on the old SA after the restarted side fell silent: what it
    // sent into SAs that no longer existed.
    let cut = lost.silent_since.unwrap_or(lost.since);
    let stale: Vec<_> = pair
        .children
        .iter()
        .filter(|c| c.ike_ispi == Some(old.ispi) && c.src == survivor && c.last_ts > cut)
        .collect();
    let esp = match stale.as_slice() {
        [] => String::new(),
        cs => format!(
            "; {survivor} kept sending {} on the old SPI{} {} until {:.1} s",
            if cs.iter().all(|c| c.ah) { "AH" } else { "ESP" },
            if cs.len() == 1 { "" } else { "s" },
            cs.iter()
                .map(|c| format!("0x{:08x}", c.spi))
                .collect::<Vec<_>>()
                .join(", "),
            cs.iter().map(|c| at(c.last_ts)).fold(0.0, f64::max)
        ),
    };
    let summary = format!(
        "{gone} lost IKE SA {:016x}/{:016x}{silent}: {}{esp}; at {:.1} s a new IKE SA {:016x}/{:016x} started by {} authenticated and replaces it",
        old.ispi,
        old.rspi,
        lost.text,
        at(cx.ev.pkt.ts),
        new.ispi,
        new.rspi,
        new.initiator
    );
    let confidence = if lost.observed {
        Confidence::Observed
    } else {
        Confidence::Inferred
    };
    let mut frames = lost.frames;
    frames.extend([new.first_frame, cx.ev.pkt.frame]);
    out.push(
        old.ispi,
        Finding::new(
            &KIND,
            confidence,
            Peers::new(survivor, gone),
            (lost.silent_since.unwrap_or(lost.since), cx.ev.pkt.ts),
            summary,
        )
        .frames(frames),
    );
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    /// The old SA's DPD goes unanswered while ESP on the old SPI continues, then the survivor
    /// sets up a new SA (strongSwan's dpd_action=restart).
    fn restart(s: &mut Script, by_restarted_peer: bool) {
        healthy_v2(s);
        for i in 0..10u32 {
            s.esp(11_000 + u64::from(i) * 500, A, B, 0xc1, 100 + i);
        }
        for ms in [13_000, 13_500, 14_500, 16_500, 20_500] {
            s.ike(ms, A, B, Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR).len(80).with(sk(52)));
        }
        let (i, r) = if by_restarted_peer { (B, A) } else { (A, B) };
        s.ike(30_000, i, r, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x77, 0).with(v2_sa(&[(4, 14)])));
        s.ike(30_010, r, i, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).spis(0x77, 0x88).with(v2_sa(&[(4, 14)])));
        s.ike(30_020, i, r, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).spis(0x77, 0x88).len(400).with(sk(370)));
        s.ike(30_030, r, i, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).spis(0x77, 0x88).len(300).with(sk(270)));
    }

    #[test]
    fn unanswered_dpd_then_a_new_sa() {
        let mut s = Script::default();
        restart(&mut s, false);
        let (live, _, _) = s.run();
        let f: Vec<_> = live.iter().filter(|f| f.kind == "peer_restarted").collect();
        assert_eq!(f.len(), 1, "{live:?}");
        let t = &f[0].summary;
        assert!(t.starts_with("198.51.100.2 lost IKE SA 0000000000001111/0000000000002222"), "{t}");
        assert!(t.contains("INFORMATIONAL (message ID 3) request on it was sent 5 times"), "{t}");
        assert!(t.contains("kept sending ESP on the old SPI 0x000000c1"), "{t}");
        assert!(t.contains("new IKE SA 0000000000000077/0000000000000088 started by 192.0.2.1"), "{t}");
        // The DPD failure was said on time, then cleared by the new SA: said once each.
        let d: Vec<_> = live.iter().filter(|f| f.kind == "dead_peer").collect();
        assert!(d.len() == 2 && d[1].clearing, "{d:?}");
        assert!(!kinds(&s.all()).contains(&"stale_sa"));
    }

    #[test]
    fn the_restarted_peer_starts_the_new_sa() {
        let mut s = Script::default();
        restart(&mut s, true);
        let all = s.all();
        let f = all.iter().find(|f| f.kind == "peer_restarted").expect("reported");
        assert!(f.summary.contains("started by 198.51.100.2"), "{}", f.summary);
        assert!(!kinds(&all).contains(&"stale_sa"), "{all:?}");
    }

    #[test]
    fn invalid_ike_spi_answer() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ike(12_000, A, B, Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR).len(80).with(sk(52)));
        s.ike(
            12_010,
            B,
            A,
            Msg::v2(X::INFORMATIONAL, 3, RESPONSE, RESPONDER).with(notify(N::INVALID_IKE_SPI, &[])),
        );
        s.ike(13_000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x77, 0).with(v2_sa(&[(4, 14)])));
        s.ike(13_010, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).spis(0x77, 0x88).with(v2_sa(&[(4, 14)])));
        s.ike(13_020, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).spis(0x77, 0x88).len(400).with(sk(370)));
        s.ike(13_030, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).spis(0x77, 0x88).len(300).with(sk(270)));
        let all = s.all();
        let f = all.iter().find(|f| f.kind == "peer_restarted").expect("reported");
        assert!(f.summary.contains("198.51.100.2 answered INVALID_IKE_SPI"), "{}", f.summary);
        assert_eq!(f.confidence, crate::diagnose::finding::Confidence::Observed);
    }

    /// Re-authentication (the old SA answered to the end, then a new one) is no restart, nor
    /// is a dead peer that never comes back.
    #[test]
    fn reauth_and_plain_dead_peer_are_not() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ike(12_000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x77, 0).with(v2_sa(&[(4, 14)])));
        s.ike(12_010, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).spis(0x77, 0x88).with(v2_sa(&[(4, 14)])));
        s.ike(12_020, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).spis(0x77, 0x88).len(400).with(sk(370)));
        s.ike(12_030, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).spis(0x77, 0x88).len(300).with(sk(270)));
        assert!(!kinds(&s.all()).contains(&"peer_restarted"));
        let mut d = Script::default();
        healthy_v2(&mut d);
        for ms in [13_000, 13_500, 14_500, 16_500, 20_500] {
            d.ike(ms, A, B, Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR).len(80).with(sk(52)));
        }
        assert!(!kinds(&d.all()).contains(&"peer_restarted"));
    }
}
