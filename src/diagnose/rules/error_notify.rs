//! Clear error notifies that no more specific rule covers: `ts_unacceptable`,
//! `temporary_failure`, `invalid_syntax`, and `ike_error_notify` for the rest (including
//! INVALID_MAJOR_VERSION: the peer does not speak this IKE version).
//!
//! Error notifies are types below 16384 in IKEv2 (RFC 7296 §3.10.1) and below 8192 in IKEv1
//! (RFC 2408 §3.14.1). Ones other rules own are skipped here.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::event::codes::NotifyType;

pub const TS_UNACCEPTABLE: FindingKind = FindingKind {
    id: "ts_unacceptable",
    title: "Traffic selectors rejected (TS_UNACCEPTABLE)",
    default_severity: Severity::Error,
    explanation: "The peer refused the Child SA because the proposed traffic selectors (the subnets/ports to protect) do not match its policy.",
    remedy: "Make the local/remote subnets match on both peers (leftsubnet/rightsubnet, local_ts/remote_ts, crypto ACLs mirrored exactly).",
};

pub const TEMPORARY_FAILURE: FindingKind = FindingKind {
    id: "temporary_failure",
    title: "Peer reports a temporary failure",
    default_severity: Severity::Warning,
    explanation: "The peer answered TEMPORARY_FAILURE (RFC 7296 §2.25): it cannot handle the request now, typically because a rekey of the same SA is in progress. The requester should retry after a short delay.",
    remedy: "Usually resolves itself; if it repeats, check for rekey collisions and stagger the rekey timers (different lifetimes or margins on the two peers).",
};

pub const INVALID_SYNTAX: FindingKind = FindingKind {
    id: "invalid_syntax",
    title: "Peer cannot parse our IKE message (INVALID_SYNTAX)",
    default_severity: Severity::Error,
    explanation: "The peer answered INVALID_SYNTAX: it found the message malformed or inconsistent. This points to an interoperability bug or a middlebox altering IKE packets.",
    remedy: "Check for middleboxes rewriting IKE (SIP/IPsec ALGs, 'IPsec passthrough' on home routers), and update both IKE implementations.",
};

pub const IKE_ERROR_NOTIFY: FindingKind = FindingKind {
    id: "ike_error_notify",
    title: "Peer sent an IKE error notify",
    default_severity: Severity::Error,
    explanation: "The peer sent an error notification in clear that no more specific finding explains; its name says what the peer objected to. INVALID_MAJOR_VERSION means the peer does not run this IKE version.",
    remedy: "Look the notify up in the peer's log; for INVALID_MAJOR_VERSION configure both peers for the same IKE version (keyexchange=ikev1/ikev2).",
};

pub struct ErrorNotify;

pub const RULE: RuleDef = RuleDef {
    kinds: &[TS_UNACCEPTABLE, TEMPORARY_FAILURE, INVALID_SYNTAX, IKE_ERROR_NOTIFY],
    make: || Box::new(ErrorNotify),
};

fn owned_elsewhere(version: u8, t: NotifyType) -> bool {
    matches!(
        t,
        NotifyType::NO_PROPOSAL_CHOSEN
            | NotifyType::INVALID_KE_PAYLOAD
            | NotifyType::AUTHENTICATION_FAILED
            | NotifyType::INVALID_SPI
            | NotifyType::INVALID_IKE_SPI
    ) || (version == 1 && matches!(t, NotifyType::INVALID_HASH_INFORMATION | NotifyType::INVALID_ID_INFORMATION))
}

impl Rule for ErrorNotify {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Ike(m) = &cx.ev.body else { return };
        let limit = if m.version == 2 { 16384 } else { 8192 };
        for nt in m.notifies() {
            let t = nt.notify_type;
            if t.0 == 0 || t.0 >= limit || owned_elsewhere(m.version, t) {
                continue;
            }
            let kind = match (m.version, t) {
                (2, NotifyType::TS_UNACCEPTABLE) => &TS_UNACCEPTABLE,
                (2, NotifyType::TEMPORARY_FAILURE) => &TEMPORARY_FAILURE,
                (2, NotifyType::INVALID_SYNTAX) => &INVALID_SYNTAX,
                _ => &IKE_ERROR_NOTIFY,
            };
            let mut summary = format!(
                "{} sent {} ({}) in {} to {}",
                cx.ev.flow.src,
                t.label(m.version),
                t.0,
                m.exchange.label(m.version),
                cx.ev.flow.dst
            );
            if m.notify_was_encrypted(t) {
                summary.push_str(" (inside the encrypted message, decrypted)");
            }
            // With keys, what was refused: the selectors of the request it answers.
            if t == NotifyType::TS_UNACCEPTABLE
                && let Some(ts) = cx.sa().and_then(|sa| sa.offered_ts.as_deref())
            {
                let list = |v: &[crate::event::ike::TrafficSelector]| {
                    v.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
                };
                summary.push_str(&format!(
                    "; {} had offered TSi {} and TSr {}: the responder's policy does not cover them (compare leftsubnet/rightsubnet, local_ts/remote_ts or the crypto ACL on both sides)",
                    cx.ev.flow.dst,
                    list(&ts.0),
                    list(&ts.1)
                ));
            }
            let peers = Peers::with_ports(
                (cx.ev.flow.dst, cx.ev.flow.dport),
                (cx.ev.flow.src, cx.ev.flow.sport),
            );
            let mut f = Finding::new(
                kind,
                Confidence::Observed,
                peers,
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([cx.ev.pkt.frame]);
            // CHILD_SA_NOT_FOUND (44, RFC 7296 §2.25): the answer to rekeying or deleting a Child SA the peer has just
            // deleted itself, as a rekey collision resolves: part of the protocol, not a fault.
            if m.version == 2 && t.0 == 44 {
                f = f
                    .severity(Severity::Info)
                    .remedy("Nothing to do when it follows simultaneous rekeying (a rekey collision) or a Delete that crossed the request; if it repeats, compare the rekey/lifetime settings (rekey_time, margintime) on both peers.".to_string());
            }
            out.push(m.ispi ^ u64::from(t.0), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn named_and_generic() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::CREATE_CHILD_SA, 3, REQUEST, INITIATOR).with(sk(200)));
        s.ike(10, B, A, Msg::v2(X::CREATE_CHILD_SA, 3, RESPONSE, RESPONDER).with(notify(N::TEMPORARY_FAILURE, &[])));
        s.ike(20, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(9, 0));
        s.ike(
            30,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).spis(9, 0).with(notify(N::INVALID_MAJOR_VERSION, &[])),
        );
        let k = kinds(&s.all());
        assert!(
            k.contains(&"temporary_failure") && k.contains(&"ike_error_notify"),
            "{k:?}"
        );
    }
}
