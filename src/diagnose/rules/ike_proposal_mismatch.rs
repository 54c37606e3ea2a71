//! `ike_proposal_mismatch`: the responder rejected every IKE SA proposal (NO_PROPOSAL_CHOSEN,
//! notify 14) in IKEv2 IKE_SA_INIT or IKEv1 phase 1, where the offer is in clear and can be
//! listed.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::names;
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::track::ike::SaState;
use crate::event::codes::{ExchangeType, NotifyType};

pub const KIND: FindingKind = FindingKind {
    id: "ike_proposal_mismatch",
    title: "IKE SA proposals rejected (NO_PROPOSAL_CHOSEN)",
    default_severity: Severity::Error,
    explanation: "The peer answered the IKE SA proposal with NO_PROPOSAL_CHOSEN: none of the offered combinations of encryption, integrity/PRF and Diffie-Hellman group is configured on its side.",
    remedy: "Make the IKE proposals match: compare the offered list below with the peer's configuration (strongSwan ike=, Libreswan ike=, Cisco 'crypto ikev2 proposal') and add at least one common combination (e.g. aes256-sha256-modp2048 or aes256gcm16-prfsha384-ecp384).",
};

pub struct ProposalMismatch;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(ProposalMismatch),
};

impl Rule for ProposalMismatch {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Body::Ike(m), Some(sa)) = (&cx.ev.body, cx.sa()) else {
            return;
        };
        // A refusal of a request nobody here sent (`ike_reflection`) is no mismatch of ours; a
        // real one is refused again when the request is resent.
        if m.encrypted || !m.has_notify(NotifyType::NO_PROPOSAL_CHOSEN) || sa.unasked() {
            return;
        }
        let phase1 = match m.version {
            2 => m.exchange == ExchangeType::IKE_SA_INIT,
            _ => {
                matches!(m.exchange, ExchangeType::MAIN | ExchangeType::AGGRESSIVE)
                    || (m.exchange == ExchangeType::INFORMATIONAL_V1 && sa.state < SaState::Authenticated)
            }
        };
        if !phase1 {
            return;
        }
        let offered = sa
            .offered
            .as_deref()
            .map(|p| names::proposals(m.version, p))
            .unwrap_or_else(|| "not seen in this capture".to_string());
        let chosen = sa
            .chosen
            .as_deref()
            .map(|p| format!(" (the responder chose {})", names::proposals(m.version, p)))
            .unwrap_or_default();
        let notifier = cx.ev.flow.src;
        let (summary, peers) = if notifier == sa.initiator && sa.chosen.is_some() {
            // The initiator refuses what the responder picked (it must be one of its offers:
            // a broken or mismatched responder).
            (
                format!(
                    "initiator {notifier} answered responder {}'s choice with NO_PROPOSAL_CHOSEN (IKEv{}){chosen}; offered: {offered}",
                    sa.responder, m.version
                ),
                Peers::with_ports(
                    (sa.initiator, sa.initiator_port),
                    (sa.responder, sa.responder_port),
                ),
            )
        } else {
            (
                format!(
                    "{notifier} rejected the IKEv{} IKE SA proposal from {} with NO_PROPOSAL_CHOSEN; offered: {offered}{chosen}",
                    m.version, cx.ev.flow.dst
                ),
                Peers::with_ports(
                    (cx.ev.flow.dst, cx.ev.flow.dport),
                    (notifier, cx.ev.flow.sport),
                ),
            )
        };
        let frames = [sa.offered_frame, cx.ev.pkt.frame];
        out.push(
            sa.ispi,
            Finding::new(
                &KIND,
                Confidence::Observed,
                peers,
                (sa.first_ts, cx.ev.pkt.ts),
                summary,
            )
            .frames(frames),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn rejection_lists_offer_with_names() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).with(v2_sa(&[(1, 3), (2, 2), (3, 2), (4, 2)])),
        );
        s.ike(
            10,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x1111, 0)
                .with(notify(N::NO_PROPOSAL_CHOSEN, &[])),
        );
        let (live, _, _) = s.run();
        let f = live
            .iter()
            .find(|f| f.kind == "ike_proposal_mismatch")
            .expect("reported at once");
        assert!(
            f.summary.contains("3DES") && f.summary.contains("MODP_1024"),
            "{}",
            f.summary
        );
        assert_eq!(f.peers.a, ip(A));
    }

    /// zeek-spicy-ipsec ipsec.cap: an unprotected Informational with message ID 0 (like Main
    /// Mode's) carries NO_PROPOSAL_CHOSEN from the initiator, and Main Mode carries on.
    #[test]
    fn v1_informational_with_message_id_zero_is_its_own_exchange() {
        let mut s = Script::default();
        let p1 = || v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)]);
        s.ike(0, A, B, Msg::v1(X::MAIN, 0).spis(0x1111, 0).len(180).with(p1()));
        s.ike(10, B, A, Msg::v1(X::MAIN, 0).len(160).with(p1()));
        s.ike(
            20,
            A,
            B,
            Msg::v1(X::INFORMATIONAL_V1, 0).spis(0x1111, 0).len(40).with(notify(N::NO_PROPOSAL_CHOSEN, &[])),
        );
        s.ike(30, A, B, Msg::v1(X::MAIN, 0).len(300));
        s.ike(40, B, A, Msg::v1(X::MAIN, 0).len(300));
        s.ike(50, A, B, Msg::v1(X::MAIN, 0).len(92).encrypted());
        s.ike(60, B, A, Msg::v1(X::MAIN, 0).len(92).encrypted());
        s.ike(70, A, B, Msg::v1(X::QUICK, 5).len(300).encrypted());
        s.ike(80, B, A, Msg::v1(X::QUICK, 5).len(300).encrypted());
        s.ike(90, A, B, Msg::v1(X::QUICK, 5).len(60).encrypted());
        let (live, end, a) = s.run();
        let f = live
            .iter()
            .find(|f| f.kind == "ike_proposal_mismatch")
            .expect("reported");
        assert!(f.summary.starts_with("initiator"), "{}", f.summary);
        assert!(a.pairs().next().expect("one pair").0.established_ever);
        assert!(!kinds(&end).contains(&"auth_failed"), "{end:?}");
    }
}
