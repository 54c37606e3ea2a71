//! `aggressive_mode_psk`: IKEv1 Aggressive Mode with pre-shared-key authentication.
//!
//! In Aggressive Mode the responder's second message carries a hash keyed with the PSK over
//! values all visible on the wire, so anyone who captures it can brute-force the PSK offline
//! (ike-scan/psk-crack), and the identities travel in clear.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::event::codes::ExchangeType;

pub const KIND: FindingKind = FindingKind {
    id: "aggressive_mode_psk",
    title: "IKEv1 Aggressive Mode with pre-shared key",
    default_severity: Severity::Warning,
    explanation: "IKEv1 Aggressive Mode with pre-shared-key authentication exposes a hash of the PSK to anyone who sees the exchange, allowing offline brute force of the key, and sends the identities unencrypted.",
    remedy: "Move to IKEv2 (or at least Main Mode); if Aggressive Mode must stay, use certificates, or a long random PSK, and restrict which peers may use it.",
};

/// Phase-1 Authentication Method values that are pre-shared keys (RFC 2409 App. A; XAUTH
/// draft values 65001/65002).
fn is_psk(v: u64) -> bool {
    matches!(v, 1 | 65001 | 65002)
}

pub struct AggressiveModePsk;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(AggressiveModePsk),
};

impl Rule for AggressiveModePsk {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Ike(m) = &cx.ev.body else { return };
        // An answer nobody here asked for (`ike_reflection`) is not this host's Aggressive Mode.
        if m.version != 1
            || m.exchange != ExchangeType::AGGRESSIVE
            || cx.sa().is_some_and(|sa| sa.unasked())
        {
            return;
        }
        let Some(props) = m.proposals() else { return };
        let psk = props
            .iter()
            .flat_map(|p| p.transforms.iter())
            .filter_map(|t| t.attribute(3).and_then(|v| v.number()))
            .any(is_psk);
        if !psk {
            return;
        }
        let summary = format!(
            "{} and {} use IKEv1 Aggressive Mode with pre-shared-key authentication (cookie {:016x}): the PSK hash can be cracked offline from this capture",
            cx.ev.flow.src, cx.ev.flow.dst, m.ispi
        );
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::with_ports(
                    (cx.ev.flow.src, cx.ev.flow.sport),
                    (cx.ev.flow.dst, cx.ev.flow.dport),
                ),
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([cx.ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn aggressive_psk_is_flagged_main_mode_is_not() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v1(X::AGGRESSIVE, 0)
                .spis(1, 0)
                .with(v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)])),
        );
        assert!(kinds(&s.all()).contains(&"aggressive_mode_psk"));
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v1(X::MAIN, 0)
                .spis(1, 0)
                .with(v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)])),
        );
        assert!(!kinds(&s.all()).contains(&"aggressive_mode_psk"));
    }
}
