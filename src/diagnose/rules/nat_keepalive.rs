//! `nat_keepalive`: NAT-T keepalives (a single 0xFF byte on UDP 4500, RFC 3948 §2.3) and
//! their cadence. Information when present; a warning when a peer behind NAT sends none and
//! stays silent long enough for typical NAT UDP mappings (30–120 s) to expire.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Emit, Rule, RuleDef};
use crate::track::Pair;

pub const KIND: FindingKind = FindingKind {
    id: "nat_keepalive",
    title: "NAT-T keepalives",
    default_severity: Severity::Info,
    explanation: "A peer behind NAT sends NAT-T keepalives so the NAT keeps its UDP 4500 mapping while the tunnel is idle. Without them an idle tunnel's mapping expires and the other peer's packets no longer reach it until it sends again.",
    remedy: "Enable NAT-T keepalives on the peer behind NAT with an interval below the NAT's UDP timeout (strongSwan keep_alive=20s, Libreswan keep-alive=20, Cisco 'crypto isakmp nat keepalive 20').",
};

/// Silence from a peer behind NAT that outlasts common NAT UDP timeouts.
const IDLE_SECS: f64 = 60.0;

/// The shortest UDP mapping timeout common NATs use (RFC 4787 REQ-5 asks for at least 120 s,
/// but many home and carrier NATs drop idle UDP mappings after 30 s): keepalives further
/// apart than this may not hold the mapping.
const SHORT_NAT_TIMEOUT_SECS: f64 = 30.0;

/// What to do about keepalives that are present: nothing while they come often enough; lower
/// the interval when the longest gap outlasts short NAT timeouts. Never "enable" them.
fn present_remedy(max_gap: Option<f64>) -> String {
    match max_gap {
        Some(g) if g > SHORT_NAT_TIMEOUT_SECS => format!(
            "Keepalives are on, but up to {g:.0} s apart: lower the interval below the NAT's UDP timeout (often 30 s) (strongSwan keep_alive=20s, Libreswan keep-alive=20, Cisco 'crypto isakmp nat keepalive 20')."
        ),
        _ => "Nothing to change: keepalives are on and come often enough for common NAT UDP timeouts (30 s and up).".to_string(),
    }
}

pub struct NatKeepalive;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(NatKeepalive),
};

impl Rule for NatKeepalive {
    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        for s in 0..2 {
            let ka = &p.keepalives[s];
            let me = p.addr(s);
            let other = p.addr(1 - s);
            if ka.count > 0 {
                let cadence = ka
                    .mean_interval()
                    .map(|m| {
                        format!(
                            " every {m:.1} s on average ({:.1}–{:.1} s)",
                            ka.min_interval.unwrap_or(m),
                            ka.max_interval.unwrap_or(m)
                        )
                    })
                    .unwrap_or_default();
                let summary = format!(
                    "{me} sent {} NAT-T keepalive{} to {other}{cadence}",
                    ka.count,
                    if ka.count == 1 { "" } else { "s" }
                );
                out.push(
                    s as u64,
                    Finding::new(
                        &KIND,
                        Confidence::Observed,
                        Peers::new(me, other),
                        (p.first_ts, ka.last.unwrap_or(p.last_ts)),
                        summary,
                    )
                    .remedy(present_remedy(ka.max_interval))
                    .frames([ka.first_frame]),
                );
            } else if p.nat_behind[s] == Some(true)
                && p.sa_gap_from[s] > IDLE_SECS
                && p.established_ever
            {
                let summary = format!(
                    "{me} is behind NAT but sent no NAT-T keepalives, and was silent for up to {:.0} s while its IKE SA was up: long enough for the NAT to drop its UDP 4500 mapping",
                    p.sa_gap_from[s]
                );
                out.push(
                    s as u64,
                    Finding::new(
                        &KIND,
                        Confidence::Inferred,
                        Peers::new(me, other),
                        (p.first_ts, p.last_ts),
                        summary,
                    )
                    .severity(Severity::Warning),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    /// Keepalives that are present are never met with advice to enable them (issue 11 §1).
    #[test]
    fn present_keepalives_get_no_advice_to_enable_them() {
        let ok = super::present_remedy(Some(20.0));
        assert!(ok.starts_with("Nothing to change"), "{ok}");
        assert!(!ok.contains("Enable"));
        let sparse = super::present_remedy(Some(45.0));
        assert!(sparse.contains("up to 45 s apart") && !sparse.contains("Enable"), "{sparse}");
        assert!(super::present_remedy(None).starts_with("Nothing to change"));
    }
    use crate::event::{Body, ipproto};

    #[test]
    fn cadence_is_reported() {
        let mut s = Script::default();
        for i in 0..4 {
            s.event(
                i * 20_000,
                A,
                B,
                4500,
                4500,
                ipproto::UDP,
                Body::NatKeepalive,
            );
        }
        let f = s
            .all()
            .into_iter()
            .find(|f| f.kind == "nat_keepalive")
            .unwrap();
        assert!(f.summary.contains("every 20.0 s"), "{}", f.summary);
    }
}
