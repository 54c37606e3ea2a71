//! `auth_failed`: the peers do not accept each other's authentication.
//!
//! Observed: AUTHENTICATION_FAILED (24) in clear, IKEv1 INVALID_HASH_INFORMATION (23) or
//! INVALID_ID_INFORMATION (18) in a clear Informational. Inferred without keys: an IKEv2
//! IKE_AUTH response whose SK payload is too small to hold IDr and AUTH (a lone error notify)
//! after which the IKE SA is never used; an IKEv1 Main Mode whose encrypted MM5 is
//! retransmitted while the responder never sends MM6 (it repeats MM4 or goes silent: it could
//! not decrypt or verify MM5, typically a pre-shared key mismatch).

use std::collections::VecDeque;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::event::Timestamp;
use crate::track::Pair;
use crate::track::SaKey;
use crate::track::ike::{AUTH_RESPONSE_MIN_SK, IkeSa, SaState};
use crate::event::codes::{ExchangeType, NotifyType};

pub const KIND: FindingKind = FindingKind {
    id: "auth_failed",
    title: "IKE authentication failed",
    default_severity: Severity::Error,
    explanation: "The IKE SA's keys were agreed but authentication failed: the pre-shared keys differ, the identities (IDi/IDr) do not match what the peer expects, or a certificate is not trusted, expired or does not carry the expected identity.",
    remedy: "Compare the pre-shared key on both sides (no trailing spaces/encoding differences), check the local and remote IDs (leftid/rightid, FQDN vs IP vs DN), and check certificates: chain, CA trust, validity, subjectAltName matching the ID. The responder's log names the exact reason.",
};

#[derive(Default)]
pub struct AuthFailed {
    /// IKEv2 SAs whose IKE_AUTH response was too small, and when: judged once they have had
    /// [`USE_SECS`] to show use, so live mode need not wait for the end.
    watch: VecDeque<(SaKey, Timestamp)>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(AuthFailed::default()),
};

const USE_SECS: f64 = 10.0;
const MAX_WATCH: usize = 1024;

fn observed_type(version: u8, t: NotifyType) -> bool {
    t == NotifyType::AUTHENTICATION_FAILED
        || (version == 1 && matches!(t, NotifyType::INVALID_HASH_INFORMATION | NotifyType::INVALID_ID_INFORMATION))
}

impl Rule for AuthFailed {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let now = cx.ev.pkt.ts;
        while self
            .watch
            .front()
            .is_some_and(|(_, t)| now.since(*t) > USE_SECS)
        {
            let (k, _) = self.watch.pop_front().expect("front exists");
            if let Some(sa) = cx.t.sa(&k) {
                small_auth_response(sa, out);
            }
        }
        let (Body::Ike(m), Some(sa)) = (&cx.ev.body, cx.sa()) else {
            return;
        };
        if m.version == 2
            && m.exchange == ExchangeType::IKE_AUTH
            && m.is_response()
            && sa
                .auth_response_sk
                .is_some_and(|(l, _)| l < AUTH_RESPONSE_MIN_SK)
            && self.watch.len() < MAX_WATCH
            && let Some(k) = cx.up.sa
        {
            self.watch.push_back((k, now));
        }
        // After phase 1 has authenticated, IKEv1's INVALID_ID_INFORMATION refuses a Quick
        // Mode's IDs (the traffic selectors): `child_sa_refused` says that.
        let phase2 = m.version == 1 && sa.state >= SaState::Authenticated;
        let Some(nt) = m.notifies().find(|x| {
            observed_type(m.version, x.notify_type)
                && !(phase2 && x.notify_type == NotifyType::INVALID_ID_INFORMATION)
        }) else {
            return;
        };
        let summary = format!(
            "{} sent {} in {} to {} (SPIi {:016x}){}{}",
            cx.ev.flow.src,
            nt.notify_type.label(m.version),
            m.exchange.label(m.version),
            cx.ev.flow.dst,
            sa.ispi,
            if m.notify_was_encrypted(nt.notify_type) {
                ", inside the encrypted message (decrypted)"
            } else {
                ""
            },
            ids_text(sa),
        );
        let peers = Peers::with_ports(
            (cx.ev.flow.dst, cx.ev.flow.dport),
            (cx.ev.flow.src, cx.ev.flow.sport),
        );
        out.push(
            sa.ispi,
            Finding::new(
                &KIND,
                Confidence::Observed,
                peers,
                (sa.first_ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([cx.ev.pkt.frame]),
        );
    }

    fn sa_closed(&mut self, sa: &IkeSa, _pair: Option<&Pair>, out: &mut Emit<'_>) {
        let i = (sa.initiator, sa.initiator_port);
        let r = (sa.responder, sa.responder_port);
        if sa.version == 2 {
            small_auth_response(sa, out);
            return;
        }
        if sa.phase1 != Some(ExchangeType::MAIN) || sa.established() || sa.state == SaState::Failed {
            return;
        }
        let Some(mm) = sa.init_exchange() else { return };
        let mine: Vec<_> = mm.steps.iter().filter(|s| s.from == sa.initiator).collect();
        let theirs: Vec<_> = mm.steps.iter().filter(|s| s.from == sa.responder).collect();
        let (Some(mm5), 2) = (mine.get(2), theirs.len()) else {
            return;
        };
        if mm5.count < 2 || !mm5.encrypted {
            return;
        }
        let mm4 = theirs[1];
        let repeated = mm4.times.iter().filter(|t| **t > mm5.times[0]).count();
        // What the responder did meanwhile, as seen: encrypted Informationals after MM5 are
        // its refusals (INVALID_HASH_INFORMATION, PAYLOAD_MALFORMED… under the new keys).
        let refusals: Vec<u64> = sa
            .exchanges
            .iter()
            .filter(|x| {
                x.exchange == ExchangeType::INFORMATIONAL_V1
                    && x.requester == sa.responder
                    && x.first_ts >= mm5.times[0]
            })
            .flat_map(|x| x.steps.iter().flat_map(|s| s.frames.iter().copied()))
            .collect();
        let reaction = match (refusals.len(), repeated) {
            (n, _) if n > 0 => format!(
                "the responder answered with {n} encrypted Informational message{} instead (its refusal, encrypted)",
                if n == 1 { "" } else { "s" }
            ),
            (_, r) if r > 0 => format!("the responder repeated MM4 {r} time(s)"),
            _ => "the responder sent nothing back".to_string(),
        };
        let summary = format!(
            "{} sent the encrypted Main Mode message 5 (MM5) to {2} {1} times and never got message 6; {reaction}: it could not decrypt or verify MM5 (pre-shared key or identity mismatch){3}",
            sa.initiator, mm5.count, sa.responder, ids_text(sa)
        );
        let frames = mm5
            .frames
            .iter()
            .chain(mm4.frames.iter())
            .copied()
            .chain(refusals);
        out.push(
            sa.ispi,
            Finding::new(
                &KIND,
                Confidence::Inferred,
                Peers::with_ports(i, r),
                (mm5.times[0], mm5.last_ts),
                summary,
            )
            .frames(frames),
        );
    }
}

/// `. Identities: 192.0.2.10 used FQDN left.example, asked for FQDN right.example; …` — the
/// IDs seen in the SA's authentication exchange (in clear, or opened by keys), so the operator
/// can compare them with leftid/rightid. Empty when none was seen.
fn ids_text(sa: &IkeSa) -> String {
    let Some(ids) = sa.ids.as_deref() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(id) = &ids.initiator {
        let mut p = format!("{} used {}", sa.initiator, id.text(sa.version));
        if let Some(want) = &ids.requested {
            p.push_str(&format!(" and asked for {}", want.text(sa.version)));
        }
        parts.push(p);
    }
    if let Some(id) = &ids.responder {
        parts.push(format!("{} used {}", sa.responder, id.text(sa.version)));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(". Identities: {}", parts.join("; "))
}

/// IKEv2: an IKE_AUTH response too small for IDr+AUTH on an SA that never came up.
fn small_auth_response(sa: &IkeSa, out: &mut Emit<'_>) {
    let i = (sa.initiator, sa.initiator_port);
    let r = (sa.responder, sa.responder_port);
    // Keys opened the response: what it said was reported as observed (or it passed).
    if sa.auth_response_opened {
        return;
    }
    let Some((len, frame)) = sa.auth_response_sk else {
        return;
    };
    if len >= AUTH_RESPONSE_MIN_SK || sa.established() || sa.state == SaState::Authenticated {
        return;
    }
    let summary = format!(
        "{}'s IKE_AUTH response to {} carries only {len} bytes of encrypted payload, too small for IDr and AUTH (at least {AUTH_RESPONSE_MIN_SK}): it holds just a notify (typically AUTHENTICATION_FAILED), and the IKE SA {:016x} was never used afterwards",
        sa.responder, sa.initiator, sa.ispi
    );
    out.push(
        sa.ispi,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::with_ports(i, r),
            (sa.first_ts, sa.last_ts),
            summary,
        )
        .frames([sa.first_frame, frame]),
    );
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Confidence;
    use crate::diagnose::testutil::*;

    #[test]
    fn small_auth_response_then_silence() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).with(v2_sa(&[(4, 14)])));
        s.ike(
            20,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
        );
        s.ike(40, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(400).with(sk(370)));
        s.ike(60, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).len(80).with(sk(52)));
        let all = s.all();
        let f = all
            .iter()
            .find(|f| f.kind == "auth_failed")
            .expect("inferred");
        assert_eq!(f.confidence, Confidence::Inferred);
        assert!(!kinds(&all).contains(&"child_sa_refused"));
    }

    #[test]
    fn v1_mm5_retransmitted() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v1(X::MAIN, 0)
                .spis(0x1111, 0)
                .len(180)
                .with(v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)])),
        );
        s.ike(
            10,
            B,
            A,
            Msg::v1(X::MAIN, 0)
                .len(160)
                .with(v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)])),
        );
        s.ike(20, A, B, Msg::v1(X::MAIN, 0).len(300));
        s.ike(30, B, A, Msg::v1(X::MAIN, 0).len(300));
        for ms in [40, 5040, 10040] {
            s.ike(ms, A, B, Msg::v1(X::MAIN, 0).len(92).encrypted());
        }
        s.ike(5050, B, A, Msg::v1(X::MAIN, 0).len(300));
        let all = s.all();
        assert!(kinds(&all).contains(&"auth_failed"), "{all:?}");
    }

    /// The lab's Libreswan/strongSwan PSK mismatch: each MM5 copy draws an encrypted
    /// Informational. Said as seen, not as silence.
    #[test]
    fn v1_mm5_answered_by_encrypted_informationals() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v1(X::MAIN, 0).spis(0x1111, 0).len(180).with(v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)])));
        s.ike(10, B, A, Msg::v1(X::MAIN, 0).len(160).with(v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)])));
        s.ike(20, A, B, Msg::v1(X::MAIN, 0).len(300));
        s.ike(30, B, A, Msg::v1(X::MAIN, 0).len(300));
        for (i, ms) in [40u64, 540, 1540].iter().enumerate() {
            s.ike(*ms, A, B, Msg::v1(X::MAIN, 0).len(124).encrypted());
            s.ike(ms + 1, B, A, Msg::v1(X::INFORMATIONAL_V1, 0x100 + i as u32).len(92).encrypted());
        }
        let all = s.all();
        let f = all.iter().find(|f| f.kind == "auth_failed").expect("auth_failed");
        assert!(f.summary.contains("the responder answered with 3 encrypted Informational messages instead"), "{}", f.summary);
        assert!(!f.summary.contains("silent"), "{}", f.summary);
    }

    #[test]
    fn clear_notify_is_observed() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).with(sk(300)));
        s.ike(10, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).with(notify(N::AUTHENTICATION_FAILED, &[])));
        let f = s
            .all()
            .into_iter()
            .find(|f| f.kind == "auth_failed")
            .unwrap();
        assert_eq!(f.confidence, Confidence::Observed);
    }

    #[test]
    fn small_auth_response_is_reported_live_once_the_sa_stays_unused() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).with(v2_sa(&[(4, 14)])));
        s.ike(
            20,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
        );
        s.ike(40, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(400).with(sk(370)));
        s.ike(60, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).len(80).with(sk(48)));
        s.esp(11_000, "10.9.9.9", "10.9.9.8", 1, 1);
        let (live, end, _) = s.run();
        assert!(kinds(&live).contains(&"auth_failed"), "{live:?}");
        assert!(!kinds(&end).contains(&"auth_failed"));
    }
}
