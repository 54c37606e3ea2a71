//! `rekey_collision`: both peers start a Child SA rekey at the same time.
//!
//! A CREATE_CHILD_SA (IKEv1: Quick Mode) request from each side, each sent before the other's
//! was answered. RFC 7296 §2.8.1 resolves it (the SA with the lowest nonce is deleted), so one
//! collision costs only a redundant SA; repeated collisions mean both peers use the same
//! rekey timing.

use std::collections::HashMap;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::track::PairKey;
use crate::event::codes::ExchangeType;


pub const KIND: FindingKind = FindingKind {
    id: "rekey_collision",
    title: "Simultaneous rekeys from both peers",
    default_severity: Severity::Info,
    explanation: "Both peers started a CREATE_CHILD_SA (or Quick Mode) exchange while the other's was still in progress: a rekey collision. The protocol resolves it by deleting the redundant SA, but it costs extra SAs and some implementations get it wrong (traffic black-holed on a deleted SA).",
    remedy: "Give the peers different rekey timing: a shorter lifetime or larger rekey margin/fuzz on one side (strongSwan rekey_time/rand_time, Libreswan rekeymargin/rekeyfuzz), so one side always rekeys first.",
};

const REPEATED: u32 = 3;

#[derive(Default)]
pub struct RekeyCollision {
    counts: HashMap<PairKey, u32>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(RekeyCollision::default()),
};

impl Rule for RekeyCollision {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Some(p), Some(sa), Some(pk)) = (cx.up.placed, cx.sa(), cx.up.pair) else {
            return;
        };
        let x = &sa.exchanges[p.exchange];
        let child = matches!(
            (sa.version, x.exchange),
            (2, ExchangeType::CREATE_CHILD_SA) | (1, ExchangeType::QUICK)
        );
        if !child || p.transmission != 1 || p.step != 0 || x.steps[0].response {
            return;
        }
        let now = cx.ev.pkt.ts;
        let crossing = sa.exchanges.iter().find(|o| {
            o.exchange == x.exchange
                && o.requester != x.requester
                && o.first_ts <= now
                && o.responses().next().is_none_or(|r| r.times[0] > now)
        });
        let Some(o) = crossing else { return };
        if self.counts.len() >= 4096 && !self.counts.contains_key(&pk) {
            return;
        }
        let c = self.counts.entry(pk).or_insert(0);
        *c += 1;
        let (sev, scope) = if *c >= REPEATED {
            (Severity::Warning, 1)
        } else {
            (Severity::Info, 0)
        };
        if *c != 1 && *c != REPEATED {
            return;
        }
        let summary = format!(
            "{} and {} both started a {} exchange within {:.2} s (message IDs {} and {}) on IKE SA {:016x}{}",
            o.requester,
            x.requester,
            if sa.version == 2 {
                "CREATE_CHILD_SA"
            } else {
                "Quick Mode"
            },
            now.since(o.first_ts),
            o.msg_id,
            x.msg_id,
            sa.ispi,
            if *c >= REPEATED {
                format!("; {c} collisions so far")
            } else {
                String::new()
            }
        );
        let frames: Vec<u64> = o.steps[0]
            .frames
            .iter()
            .copied()
            .chain([cx.ev.pkt.frame])
            .collect();
        out.push(
            scope,
            Finding::new(
                &KIND,
                Confidence::Inferred,
                Peers::new(o.requester, x.requester),
                (o.first_ts, now),
                summary,
            )
            .severity(sev)
            .frames(frames),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn crossing_create_child_requests() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ike(
            30_000,
            A,
            B,
            Msg::v2(X::CREATE_CHILD_SA, 3, REQUEST, INITIATOR).len(300).with(sk(270)),
        );
        s.ike(
            30_005,
            B,
            A,
            Msg::v2(X::CREATE_CHILD_SA, 0, REQUEST, RESPONDER).len(300).with(sk(270)),
        );
        s.ike(
            30_020,
            B,
            A,
            Msg::v2(X::CREATE_CHILD_SA, 3, RESPONSE, RESPONDER).len(300).with(sk(270)),
        );
        s.ike(
            30_025,
            A,
            B,
            Msg::v2(X::CREATE_CHILD_SA, 0, RESPONSE, INITIATOR).len(300).with(sk(270)),
        );
        let all = s.all();
        assert!(kinds(&all).contains(&"rekey_collision"), "{all:?}");
        assert_quiet(&all);
    }

    #[test]
    fn in_flight_requests_from_one_side_are_not_a_collision() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ike(
            30_000,
            A,
            B,
            Msg::v2(X::CREATE_CHILD_SA, 3, REQUEST, INITIATOR).len(300).with(sk(270)),
        );
        s.ike(
            30_001,
            A,
            B,
            Msg::v2(X::CREATE_CHILD_SA, 4, REQUEST, INITIATOR).len(300).with(sk(270)),
        );
        s.ike(
            30_020,
            B,
            A,
            Msg::v2(X::CREATE_CHILD_SA, 3, RESPONSE, RESPONDER).len(300).with(sk(270)),
        );
        s.ike(
            30_021,
            B,
            A,
            Msg::v2(X::CREATE_CHILD_SA, 4, RESPONSE, RESPONDER).len(300).with(sk(270)),
        );
        assert!(!kinds(&s.all()).contains(&"rekey_collision"));
    }
}
