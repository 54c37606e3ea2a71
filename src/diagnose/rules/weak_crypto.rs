//! `weak_crypto`: broken or deprecated algorithms offered or chosen in a clear SA payload.
//!
//! DES, 3DES (RFC 8247 §2.2: MUST NOT / SHOULD NOT), NULL encryption, MD5 integrity or PRF,
//! and Diffie-Hellman groups 1, 2, 5 (768–1536-bit MODP) and 22 (RFC 8247 §2.4). Chosen: a
//! warning. Only offered, with something stronger chosen: information. Offered with no answer
//! seen: a warning when every proposal is weak, information otherwise.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::names;
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::event::ike::Proposal;
use crate::track::Pair;
use crate::track::ike::IkeSa;
use crate::event::codes::TransformType;

pub const KIND: FindingKind = FindingKind {
    id: "weak_crypto",
    title: "Weak cryptographic algorithms",
    default_severity: Severity::Warning,
    explanation: "The SA proposals include algorithms that are broken or deprecated for IKE and IPsec (RFC 8247, RFC 8221): DES, 3DES, NULL encryption, MD5, and Diffie-Hellman groups 1, 2, 5 and 22.",
    remedy: "Remove the weak algorithms from both peers' proposals: use AES-GCM or AES-CBC with SHA-256 or better, and DH group 14 or higher (19/20/31 preferred).",
};

/// The weak algorithms in one proposal, by name.
pub(crate) fn weak_parts(version: u8, p: &Proposal) -> Vec<String> {
    let mut v = Vec::new();
    for t in &p.transforms {
        if version == 2 {
            let weak = match t.transform_type {
                TransformType::ENCR => matches!(t.id, 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 11),
                TransformType::PRF => t.id == 1,
                TransformType::INTEG => matches!(t.id, 1 | 3 | 4 | 6),
                TransformType::KE => matches!(t.id, 1 | 2 | 5 | 22),
                _ => false,
            };
            if weak {
                v.push(names::v2_transform(t.transform_type, t.id));
            }
        } else if p.protocol == 1 {
            for a in &t.attributes {
                let Some(x) = a.value.number() else { continue };
                let weak = match a.attr_type {
                    1 => (1..=6).contains(&x),
                    2 => x == 1,
                    4 => matches!(x, 1 | 2 | 5 | 22),
                    _ => false,
                };
                if weak {
                    v.push(names::v1_p1(a.attr_type, x));
                }
            }
        } else {
            match t.id {
                1 | 2 => v.push("DES".into()),
                3 => v.push("3DES".into()),
                11 => v.push("NULL encryption".into()),
                _ => {}
            }
            for a in &t.attributes {
                match (a.attr_type, a.value.number()) {
                    (5, Some(1)) => v.push("HMAC-MD5".into()),
                    (3, Some(g @ (1 | 2 | 5 | 22))) => v.push(names::dh_group(g as u16)),
                    _ => {}
                }
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

fn all_weak(version: u8, ps: &[Proposal]) -> Vec<String> {
    let mut v: Vec<String> = ps.iter().flat_map(|p| weak_parts(version, p)).collect();
    v.sort();
    v.dedup();
    v
}

pub struct WeakCrypto;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(WeakCrypto),
};

impl WeakCrypto {
    fn judge(
        sa: &IkeSa,
        chosen: Option<&[Proposal]>,
        ts: crate::event::Timestamp,
        frame: u64,
        out: &mut Emit<'_>,
    ) {
        let offered = sa.offered.as_deref().unwrap_or(&[]);
        let weak_offered = all_weak(sa.version, offered);
        let weak_chosen = chosen.map(|c| all_weak(sa.version, c));
        let peers = Peers::with_ports(
            (sa.initiator, sa.initiator_port),
            (sa.responder, sa.responder_port),
        );
        let chose_weak = weak_chosen.as_ref().is_some_and(|w| !w.is_empty());
        let (sev, summary) = match &weak_chosen {
            Some(w) if !w.is_empty() => (
                Severity::Warning,
                format!(
                    "{} chose {} for the IKEv{} SA with {}",
                    sa.responder,
                    w.join(", "),
                    sa.version,
                    sa.initiator
                ),
            ),
            Some(_) if !weak_offered.is_empty() => (
                Severity::Info,
                format!(
                    "{} offered {} to {} (a stronger proposal was chosen)",
                    sa.initiator,
                    weak_offered.join(", "),
                    sa.responder
                ),
            ),
            None if !weak_offered.is_empty() => {
                let every = offered
                    .iter()
                    .all(|p| !weak_parts(sa.version, p).is_empty());
                (
                    if every {
                        Severity::Warning
                    } else {
                        Severity::Info
                    },
                    format!(
                        "{} offered {} to {}{}",
                        sa.initiator,
                        weak_offered.join(", "),
                        sa.responder,
                        if every { " in every proposal" } else { "" }
                    ),
                )
            }
            _ => return,
        };
        // Once per pair for a weak choice and once for weak offers: every rekey repeats them.
        out.push(
            u64::from(!chose_weak),
            Finding::new(
                &KIND,
                Confidence::Observed,
                peers,
                (sa.first_ts, ts),
                summary,
            )
            .severity(sev)
            .frames([sa.offered_frame, frame]),
        );
    }
}

impl Rule for WeakCrypto {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let (Body::Ike(m), Some(sa)) = (&cx.ev.body, cx.sa()) else {
            return;
        };
        // An unasked answer's choice is the responder's alone, not held against the initiator.
        if cx.ev.flow.src != sa.responder || m.proposals().is_none() || sa.unasked() {
            return;
        }
        if let Some(ch) = sa.chosen.as_deref() {
            Self::judge(sa, Some(ch), cx.ev.pkt.ts, cx.ev.pkt.frame, out);
        }
    }

    fn sa_closed(&mut self, sa: &IkeSa, _pair: Option<&Pair>, out: &mut Emit<'_>) {
        if sa.chosen.is_none() && sa.offered.is_some() {
            Self::judge(sa, None, sa.last_ts, 0, out);
        } else if sa.unsolicited && !sa.unasked() {
            // The capture began at the responder's answer and the initiator went on with it:
            // the choice is the tunnel's.
            Self::judge(sa, sa.chosen.as_deref(), sa.last_ts, 0, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Severity;
    use crate::diagnose::testutil::*;

    #[test]
    fn weak_dh_offered_alone_is_warning() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).with(v2_sa(&[(1, 12), (2, 2), (3, 2), (4, 2)])),
        );
        let f = s
            .all()
            .into_iter()
            .find(|f| f.kind == "weak_crypto")
            .unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.summary.contains("MODP_1024"), "{}", f.summary);
    }

    #[test]
    fn strong_choice_is_quiet() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        assert!(!kinds(&s.all()).contains(&"weak_crypto"));
    }
}
