//! `dh_group_mismatch`: the responder wants another Diffie-Hellman group (INVALID_KE_PAYLOAD,
//! notify 17, RFC 7296 §1.2): its two data bytes name the group it accepts. The initiator is
//! expected to retry with that group; if the retry succeeds this is only a wasted round trip
//! (info), otherwise the SA cannot come up (error).

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::names;
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::{Body, Timestamp};
use crate::track::{PairKey, Tracker};
use crate::event::codes::{ExchangeType, NotifyType};

pub const KIND: FindingKind = FindingKind {
    id: "dh_group_mismatch",
    title: "Diffie-Hellman group rejected (INVALID_KE_PAYLOAD)",
    default_severity: Severity::Error,
    explanation: "The initiator sent its key exchange in a Diffie-Hellman group the responder does not accept; the responder named the group it wants. A retry with that group costs one round trip; if the initiator cannot use it, the SA never comes up.",
    remedy: "Put the responder's group first in the initiator's IKE proposal (e.g. ike=aes256-sha256-modp3072 for group 15), or allow the initiator's group on the responder.",
};

struct Pending {
    pair: PairKey,
    peers: Peers,
    ispi: u64,
    offered: Option<u16>,
    wanted: Option<u16>,
    first: Timestamp,
    /// When the INVALID_KE_PAYLOAD came.
    at: Timestamp,
    frames: Vec<u64>,
}

/// The retry follows the INVALID_KE_PAYLOAD within a round trip; after this long without a
/// successful IKE_SA_INIT the outcome is known (live mode reports it then).
const RETRY_SECS: f64 = 10.0;

#[derive(Default)]
pub struct DhGroupMismatch {
    pending: Vec<Pending>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(DhGroupMismatch::default()),
};

const MAX_PENDING: usize = 256;

fn text(p: &Pending, outcome: &str) -> String {
    format!(
        "{} answered {}'s IKE_SA_INIT (KE in {}) with INVALID_KE_PAYLOAD asking for {}; {outcome}",
        p.peers.b,
        p.peers.a,
        p.offered
            .map_or("an unknown group".to_string(), names::dh_group),
        p.wanted
            .map_or("an unnamed group".to_string(), names::dh_group),
    )
}

/// strongSwan's proposal keyword for a group (swanctl.conf / ipsec.conf `ike=`).
fn strongswan_keyword(g: u16) -> Option<&'static str> {
    Some(match g {
        1 => "modp768",
        2 => "modp1024",
        5 => "modp1536",
        14 => "modp2048",
        15 => "modp3072",
        16 => "modp4096",
        17 => "modp6144",
        18 => "modp8192",
        19 => "ecp256",
        20 => "ecp384",
        21 => "ecp521",
        22 => "modp1024s160",
        23 => "modp2048s224",
        24 => "modp2048s256",
        25 => "ecp192",
        26 => "ecp224",
        27 => "ecp224bp",
        28 => "ecp256bp",
        29 => "ecp384bp",
        30 => "ecp512bp",
        31 => "curve25519",
        32 => "curve448",
        _ => return None,
    })
}

/// The remedy for the group the responder asked for, in the words each daemon's
/// configuration uses; the catalogue's generic text when the responder named none.
fn remedy(p: &Pending) -> String {
    let Some(w) = p.wanted else {
        return KIND.remedy.to_string();
    };
    let strongswan = strongswan_keyword(w)
        .map(|k| format!("strongSwan ike=aes256-sha256-{k}, "))
        .unwrap_or_default();
    let offered = p
        .offered
        .map_or("the initiator's group".to_string(), names::dh_group);
    format!(
        "Put {} first in the initiator's IKE proposal ({strongswan}Libreswan ike=aes256-sha2;dh{w}, Cisco 'group {w}' in the IKEv2 proposal), or allow {offered} on the responder.",
        names::dh_group(w)
    )
}

impl DhGroupMismatch {
    fn emit(p: Pending, ok: Option<(Timestamp, u64, Option<u16>)>, out: &mut Emit<'_>) {
        let (sev, outcome, last, extra) = match ok {
            Some((ts, frame, g)) => (
                Severity::Info,
                format!(
                    "the retry{} succeeded",
                    g.map(|g| format!(" with {}", names::dh_group(g)))
                        .unwrap_or_default()
                ),
                ts,
                Some(frame),
            ),
            None => (
                Severity::Error,
                "no successful retry followed".to_string(),
                p.first,
                None,
            ),
        };
        let summary = text(&p, &outcome);
        let remedy = remedy(&p);
        let frames: Vec<u64> = p.frames.iter().copied().chain(extra).collect();
        out.push(
            p.ispi,
            Finding::new(
                &KIND,
                Confidence::Observed,
                p.peers,
                (p.first, last),
                summary,
            )
            .severity(sev)
            .remedy(remedy)
            .frames(frames),
        );
    }
}

impl Rule for DhGroupMismatch {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let now = cx.ev.pkt.ts;
        while self
            .pending
            .first()
            .is_some_and(|p| now.since(p.at) > RETRY_SECS)
        {
            let p = self.pending.remove(0);
            Self::emit(p, None, out);
        }
        let (Body::Ike(m), Some(sa), Some(pk)) = (&cx.ev.body, cx.sa(), cx.up.pair) else {
            return;
        };
        if m.version != 2 || m.exchange != ExchangeType::IKE_SA_INIT || !m.is_response() {
            return;
        }
        if let Some(nt) = m
            .notifies()
            .find(|x| x.notify_type == NotifyType::INVALID_KE_PAYLOAD)
        {
            let wanted = nt.invalid_ke_group().map(|g| g.0);
            if self
                .pending
                .iter()
                .any(|p| p.pair == pk && p.ispi == sa.ispi && p.wanted == wanted)
            {
                return;
            }
            if self.pending.len() >= MAX_PENDING {
                let p = self.pending.remove(0);
                Self::emit(p, None, out);
            }
            self.pending.push(Pending {
                pair: pk,
                peers: Peers::with_ports(
                    (cx.ev.flow.dst, cx.ev.flow.dport),
                    (cx.ev.flow.src, cx.ev.flow.sport),
                ),
                ispi: sa.ispi,
                offered: sa.ke_group,
                wanted,
                first: sa.first_ts,
                at: cx.ev.pkt.ts,
                frames: vec![sa.first_frame, cx.ev.pkt.frame],
            });
            return;
        }
        // An IKE_SA_INIT response that carries an SA payload is a successful retry, whatever
        // the state machine made of it: in captures merged out of order (nDPI's
        // ipsec_isakmp_esp.pcap) the SA's IKE_AUTH comes first, so the SA is already past
        // KeysExchanged when its IKE_SA_INIT shows up.
        if m.proposals().is_some() {
            // A successful IKE_SA_INIT on the same pair from the same initiator resolves it.
            let mut i = 0;
            while i < self.pending.len() {
                if self.pending[i].pair == pk && self.pending[i].peers.a == sa.initiator {
                    let p = self.pending.remove(i);
                    Self::emit(p, Some((cx.ev.pkt.ts, cx.ev.pkt.frame, sa.ke_group)), out);
                } else {
                    i += 1;
                }
            }
        }
    }

    fn finish(&mut self, _t: &Tracker, out: &mut Emit<'_>) {
        for p in self.pending.drain(..) {
            Self::emit(p, None, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Severity;
    use crate::diagnose::testutil::*;

    /// The remedy names the group the responder asked for (issue 11 §1), not a fixed example.
    #[test]
    fn remedy_names_the_group_asked_for() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(
            10,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(notify(N::INVALID_KE_PAYLOAD, &[0, 19])),
        );
        let all = s.all();
        let f = all.iter().find(|f| f.kind == "dh_group_mismatch").expect("reported");
        assert!(f.remedy.starts_with("Put ECP_256 (group 19) first"), "{}", f.remedy);
        assert!(f.remedy.contains("ike=aes256-sha256-ecp256"), "{}", f.remedy);
        assert!(f.remedy.contains("dh19") && f.remedy.contains("'group 19'"), "{}", f.remedy);
    }
    use crate::event::ike::PayloadBody;

    fn ke(g: u16) -> crate::event::ike::Payload {
        payload(PayloadBody::Ke {
            group: g,
            data_len: 256,
        })
    }

    #[test]
    fn retry_success_is_info() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR)
                .with(v2_sa(&[(4, 14)]))
                .with(ke(14)),
        );
        s.ike(
            10,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x1111, 0)
                .with(notify(N::INVALID_KE_PAYLOAD, &[0, 15])),
        );
        s.ike(
            20,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR)
                .len(400)
                .with(v2_sa(&[(4, 15)]))
                .with(ke(15)),
        );
        s.ike(
            30,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .len(400)
                .with(v2_sa(&[(4, 15)]))
                .with(ke(15)),
        );
        let all = s.all();
        let f = all
            .iter()
            .find(|f| f.kind == "dh_group_mismatch")
            .expect("reported");
        assert_eq!(f.severity, Severity::Info, "{}", f.summary);
        assert!(f.summary.contains("MODP_3072"), "{}", f.summary);
    }

    #[test]
    fn no_retry_is_error() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).with(ke(2)));
        s.ike(
            10,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x1111, 0)
                .with(notify(N::INVALID_KE_PAYLOAD, &[0, 19])),
        );
        let f = s
            .all()
            .into_iter()
            .find(|f| f.kind == "dh_group_mismatch")
            .unwrap();
        assert_eq!(f.severity, Severity::Error);
    }

    #[test]
    fn no_retry_is_reported_live_after_the_retry_window() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).with(ke(2)));
        s.ike(
            10,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x1111, 0)
                .with(notify(N::INVALID_KE_PAYLOAD, &[0, 19])),
        );
        s.esp(11_000, "10.9.9.9", "10.9.9.8", 1, 1);
        let (live, _, _) = s.run();
        let f = live
            .iter()
            .find(|f| f.kind == "dh_group_mismatch")
            .expect("live");
        assert_eq!(f.severity, Severity::Error);
    }
}
