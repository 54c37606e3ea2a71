//! `child_sa_refused`: the IKE SA came up but no Child SA did.
//!
//! IKEv2: the IKE_AUTH response was large enough to hold IDr and AUTH (so authentication
//! passed), the IKE SA stays alive (later exchanges are answered), yet no ESP ever flows: the
//! responder refused the Child SA inside IKE_AUTH (NO_PROPOSAL_CHOSEN or TS_UNACCEPTABLE,
//! encrypted). IKEv1: after phase 1, Quick Mode is never answered, or is answered only by an
//! encrypted Informational (the notify that refuses it).

use crate::diagnose::unanswered::{unanswered, unanswered_finding};
use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, PairNotes, Rule, RuleDef, Wake};
use crate::event::{Body, Timestamp};
use crate::track::{PairKey, Tracker};
use crate::track::Pair;
use crate::track::ike::{IkeSa, SaState};
use crate::event::codes::{ExchangeType, NotifyType};

pub const KIND: FindingKind = FindingKind {
    id: "child_sa_refused",
    title: "IKE SA up, Child SA refused",
    default_severity: Severity::Warning,
    explanation: "The IKE SA authenticated and stays alive, but no IPsec (Child) SA was set up: no ESP flows. Without keys the refusal itself is encrypted; the usual causes are an ESP proposal mismatch (NO_PROPOSAL_CHOSEN for the Child SA) or traffic selectors the peer does not accept (TS_UNACCEPTABLE: subnets differ).",
    remedy: "Compare the ESP/phase-2 proposals (esp=, PFS group) and the traffic selectors (leftsubnet/rightsubnet, crypto ACLs, 'local/remote_ts') on both peers; they must match exactly or be narrowable. The responder's log names the reason.",
};

/// Seconds an IKE SA must stay up (and answer a later exchange) without ESP before it counts as
/// Child-less: the first Child SA is created by IKE_AUTH itself (RFC 7296 §1.2) and the traffic
/// that triggered the tunnel follows within milliseconds.
const QUIET_SECS: f64 = 5.0;

/// While the SA is still in the tables, how long after IKE_AUTH without ESP before it is
/// judged: traffic on a working SA can pause for longer than [`QUIET_SECS`] (after a peer
/// restart the lab saw DPD every 3 s on the new SA and its first ESP only 8.7 s after IKE_AUTH,
/// the inner TCP backing off), and an early INFORMATIONAL may be a Delete (daemons delete an
/// IKE SA whose first Child SA failed within a second) or anything else. 30 s covers TCP's
/// back-off to its 16 s step and the common 30 s DPD delay. At the end of a capture the SA is
/// judged over what the capture holds, with [`QUIET_SECS`].
const LIVE_WAIT: f64 = 30.0;

#[derive(Default)]
pub struct ChildSaRefused {
    /// IKEv2 SAs reported Child-less while still in the tables, per pair: their SPIi.
    refused: PairNotes<u64>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(ChildSaRefused::default()),
};

impl ChildSaRefused {
    /// ESP or AH on the pair, or an answered CREATE_CHILD_SA on the SA, after it was reported
    /// Child-less: a Child SA came up after all.
    fn child_came(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Some(pair) = cx.up.pair else { return };
        let what = match &cx.ev.body {
            Body::Esp(_) | Body::Ah(_) => None,
            Body::Ike(m)
                if m.exchange == ExchangeType::CREATE_CHILD_SA && m.is_response() =>
            {
                Some(m.ispi)
            }
            _ => return,
        };
        let at = (cx.ev.pkt.ts, cx.ev.pkt.frame);
        let proto = if matches!(cx.ev.body, Body::Ah(_)) { "AH" } else { "ESP" };
        self.refused.settle(&pair, |&ispi| {
            if what.is_some_and(|i| i != ispi) {
                return false;
            }
            let reason = match what {
                None => format!(
                    "{proto} from {} to {}: a Child SA came up after all",
                    cx.ev.flow.src, cx.ev.flow.dst
                ),
                Some(_) => format!(
                    "a CREATE_CHILD_SA exchange on IKE SA {ispi:016x} was answered by {}: a Child SA came up after all",
                    cx.ev.flow.src
                ),
            };
            out.clear(KIND.id, pair, ispi, at, |_| reason);
            true
        });
    }
}

impl Rule for ChildSaRefused {
    /// IKEv2 is judged while the SA lives: when a later exchange shows the SA alive past the
    /// quiet time, and by a wake-up at the end of the quiet time (an SA torn down right after
    /// IKE_AUTH sends nothing more), not only when the SA leaves the tables.
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        if !self.refused.is_empty() {
            self.child_came(cx, out);
        }
        let (Some(key), Body::Ike(_)) = (cx.up.sa, &cx.ev.body) else {
            return;
        };
        let Some(sa) = cx.sa().filter(|sa| sa.version == 2) else {
            return;
        };
        let Some(auth) = sa.authenticated_ts else {
            return;
        };
        if matches!(cx.up.transition, Some((_, SaState::Authenticated))) {
            out.wake_at(auth.plus(LIVE_WAIT), Wake::Sa(key));
        }
        if sa.last_ts.since(auth) >= LIVE_WAIT
            && !out.already(KIND.id, key.pair, sa.ispi)
            && judge_v2(sa, cx.pair(), out)
        {
            self.remember(key.pair, sa.ispi);
        }
    }

    fn wake(&mut self, what: Wake, _now: Timestamp, t: &Tracker, out: &mut Emit<'_>) {
        let Wake::Sa(key) = what else { return };
        if let Some(sa) = t.sa(&key)
            && !out.already(KIND.id, key.pair, sa.ispi)
            && judge_v2(sa, t.pair(&key.pair), out)
        {
            self.remember(key.pair, sa.ispi);
        }
    }

    fn pair_closed(&mut self, pair: &Pair, _out: &mut Emit<'_>) {
        self.refused.forget(&pair.key);
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        if sa.version == 2 {
            let key = PairKey::of(sa.initiator, sa.responder).0;
            self.refused.settle(&key, |&x| x == sa.ispi);
            judge_v2(sa, pair, out);
            return;
        }
        v1(sa, out);
    }
}

impl ChildSaRefused {
    fn remember(&mut self, pair: PairKey, ispi: u64) {
        self.refused.add(pair, ispi);
    }
}

/// `; 192.0.2.10 offered #1 ESP: AES-CBC-256, …` when the refusal is of the proposals and
/// keys opened the request that made them.
fn offered_text(sa: &IkeSa, refusal: NotifyType) -> String {
    match (&sa.offered_child, refusal == NotifyType::NO_PROPOSAL_CHOSEN) {
        (Some(p), true) => format!(
            "; {} offered {}",
            sa.initiator,
            crate::diagnose::names::proposals(sa.version, p)
        ),
        _ => String::new(),
    }
}

/// IKEv2: whether the SA authenticated and then lived (or was torn down) without a Child SA;
/// reports it if so.
fn judge_v2(sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) -> bool {
    let i = (sa.initiator, sa.initiator_port);
    let r = (sa.responder, sa.responder_port);
    let Some(auth) = sa.authenticated_ts else {
        return false;
    };
    // With keys the refusal is seen: TS_UNACCEPTABLE is `ts_unacceptable`'s; any other error
    // the responder put in IKE_AUTH beside its AUTH is said here as observed.
    let refusal = sa.notifies.iter().find(|n| {
        n.response
            && n.exchange == ExchangeType::IKE_AUTH
            && n.from == sa.responder
            && !n.notify_type.is_status()
    });
    if let Some(n) = refusal {
        if n.notify_type == NotifyType::TS_UNACCEPTABLE {
            return false;
        }
        let summary = format!(
            "IKE SA {:016x} between {} and {} authenticated, but {} refused the Child SA: {} inside its IKE_AUTH response (decrypted){}",
            sa.ispi,
            sa.initiator,
            sa.responder,
            sa.responder,
            n.notify_type.label(2),
            offered_text(sa, n.notify_type),
        );
        out.push(
            sa.ispi,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::with_ports(i, r),
                (auth, sa.last_ts),
                summary,
            )
            .frames([n.frame]),
        );
        return true;
    }
    let esp = pair.is_some_and(|p| {
        p.children.iter().any(|c| c.last_ts >= auth) || p.ah_packets != [0, 0]
    });
    let child_later = sa
        .exchanges
        .iter()
        .any(|x| x.exchange == ExchangeType::CREATE_CHILD_SA && x.answered());
    if esp || child_later || !sa.used_after_auth {
        return false;
    }
    let after_auth: Vec<_> = sa.exchanges.iter().filter(|x| x.first_ts > auth).collect();
    // strongSwan and Libreswan delete an IKE SA whose first Child SA was refused right
    // away: an INFORMATIONAL within seconds of IKE_AUTH, and nothing after it. A healthy
    // SA would have carried the traffic that triggered it by then.
    let torn_down = !after_auth.is_empty()
        && after_auth
            .iter()
            .all(|x| x.exchange == ExchangeType::INFORMATIONAL && x.answered())
        && after_auth[0].first_ts.since(auth) < QUIET_SECS
        && sa.last_ts.since(auth) < QUIET_SECS;
    let lived = sa.last_ts.since(auth) >= QUIET_SECS;
    if !lived && !torn_down {
        return false;
    }
    let fate = if lived {
        format!("stayed alive for {:.0} s", sa.last_ts.since(auth))
    } else {
        format!(
            "was torn down {:.1} s later by an INFORMATIONAL exchange (a Delete, as daemons do when the first Child SA fails)",
            after_auth[0].first_ts.since(auth)
        )
    };
    let summary = format!(
        "IKE SA {:016x} between {} and {} authenticated (IKE_AUTH response of {} bytes of encrypted payload) and {fate}, but no ESP flowed and no Child SA was created",
        sa.ispi,
        sa.initiator,
        sa.responder,
        sa.auth_response_sk.map_or(0, |(l, _)| l),
    );
    out.push(
        sa.ispi,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::with_ports(i, r),
            (auth, sa.last_ts),
            summary,
        )
        .frames(sa.auth_response_sk.map(|(_, f)| f)),
    );
    true
}

/// IKEv1: a Quick Mode after phase 1 that got no Quick Mode answer.
fn v1(sa: &IkeSa, out: &mut Emit<'_>) {
        if sa.state < SaState::Authenticating {
            return;
        }
        for x in sa.exchanges.iter().filter(|x| x.exchange == ExchangeType::QUICK) {
            let Some(req) = unanswered(sa, x) else {
                continue;
            };
            let info_reply = sa.exchanges.iter().any(|o| {
                o.exchange == ExchangeType::INFORMATIONAL_V1
                    && o.requester != x.requester
                    && o.first_ts >= req.times[0]
                    && o.first_ts.since(req.times[0]) < 10.0
            });
            if req.count < 2 && !info_reply {
                continue;
            }
            // With keys the Informational's notify is known.
            let said = sa.notifies.iter().find(|n| {
                n.exchange == ExchangeType::INFORMATIONAL_V1
                    && n.from != x.requester
                    && n.ts >= req.times[0]
                    && !n.notify_type.is_status()
            });
            if let Some(n) = said {
                let why = if n.notify_type == NotifyType::INVALID_ID_INFORMATION {
                    ": the Quick Mode's IDs (the subnets, proxy IDs) are not what its policy allows"
                } else {
                    ""
                };
                let summary = format!(
                    "Phase 1 between {} and {} completed, but {} refused the Quick Mode (message ID {:#x}) from {} with {} in an encrypted Informational (decrypted){why}{}",
                    sa.initiator,
                    sa.responder,
                    n.from,
                    x.msg_id,
                    x.requester,
                    n.notify_type.label(1),
                    offered_text(sa, n.notify_type),
                );
                let (scope, finding) = unanswered_finding(&KIND, sa, x, req, summary);
                let mut finding = finding;
                finding.confidence = Confidence::Observed;
                out.push(scope, finding.frames([n.frame]));
                continue;
            }
            let how = if info_reply {
                "answered only by an encrypted Informational (the refusal)".to_string()
            } else {
                format!("sent {} times and never answered", req.count)
            };
            let summary = format!(
                "Phase 1 between {} and {} completed, but the Quick Mode (message ID {:#x}) from {} was {how}",
                sa.initiator, sa.responder, x.msg_id, x.requester
            );
            let (scope, finding) = unanswered_finding(&KIND, sa, x, req, summary);
            out.push(scope, finding);
        }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn ike_alive_without_esp() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(
            20,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
        );
        s.ike(40, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(400).with(sk(370)));
        s.ike(60, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).len(200).with(sk(170)));
        for (i, ms) in [30_000u64, 60_000, 90_000].iter().enumerate() {
            s.ike(
                *ms,
                A,
                B,
                Msg::v2(X::INFORMATIONAL, 2 + i as u32, REQUEST, INITIATOR).len(80).with(sk(52)),
            );
            s.ike(
                ms + 20,
                B,
                A,
                Msg::v2(X::INFORMATIONAL, 2 + i as u32, RESPONSE, RESPONDER).len(80).with(sk(52)),
            );
        }
        let all = s.all();
        assert!(kinds(&all).contains(&"child_sa_refused"), "{all:?}");
        assert!(!kinds(&all).contains(&"auth_failed"));
    }

    /// The Libreswan lab capture (ikev2_cookie_libreswan.pcap): TS_UNACCEPTABLE inside
    /// IKE_AUTH, then the initiator deletes the IKE SA within a second.
    #[test]
    fn ike_sa_deleted_right_after_auth_without_esp() {
        let mut s = Script::default();
        torn_down_after_auth(&mut s);
        let all = s.all();
        assert!(kinds(&all).contains(&"child_sa_refused"), "{all:?}");
    }

    /// Torn down right after IKE_AUTH: said once 30 s passed with nothing more (the next
    /// packet, from another pair, moves the clock), not when the SA leaves the tables; and
    /// ESP that flows later clears it.
    #[test]
    fn said_when_the_quiet_time_passes_and_cleared_by_esp() {
        let mut s = Script::default();
        torn_down_after_auth(&mut s);
        s.esp(31_000, "10.9.9.9", "10.9.9.8", 1, 1);
        s.esp(40_000, A, B, 0xc1, 1);
        let (live, _, _) = s.run();
        let f: Vec<_> = live.iter().filter(|f| f.kind == "child_sa_refused").collect();
        assert_eq!(f.len(), 2, "{live:?}");
        assert!(!f[0].clearing && f[1].clearing);
        assert_eq!(f[1].cleared.as_ref().unwrap().frame, 8);
    }

    #[test]
    fn healthy_has_child() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        assert!(!kinds(&s.all()).contains(&"child_sa_refused"));
    }
}
