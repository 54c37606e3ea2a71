//! `stale_sa`: traffic on SAs the peer no longer has.
//!
//! Observed: INVALID_SPI (11) or INVALID_IKE_SPI (4) notifies in clear (the peer got ESP or
//! IKE for an SA it does not know, typically after it rebooted or deleted the SA), and ESP that
//! keeps going to an SPI after a clear Delete for it (IKEv1 Informational). Inferred: one peer
//! keeps sending ESP on an IKE SA's Child SAs long after the other stopped, and the silent
//! peer meanwhile starts a brand-new IKE SA: it lost the old one (restart, failover) and the
//! sender has not noticed; when the old SA's own IKE shows the loss too (requests unanswered,
//! INVALID_IKE_SPI), `peer_restarted` tells it and this inference stays silent. A new IKE SA
//! between the pair clears the notify form: the stale SAs are replaced.

use std::collections::VecDeque;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::ike::PayloadBody;
use crate::event::{Body, Timestamp};
use crate::track::Pair;
use crate::track::ike::SaState;
use crate::event::codes::NotifyType;

/// How much longer one side's ESP must outlast the other's on the same IKE SA: rekeys and
/// deletes switch both directions within a second or two.
const OUTLAST_SECS: f64 = 10.0;

pub const KIND: FindingKind = FindingKind {
    id: "stale_sa",
    title: "Traffic on SAs the peer no longer has",
    default_severity: Severity::Warning,
    explanation: "One peer keeps sending on an SA the other has dropped (it rebooted, deleted the SA, or missed a Delete): the peer answers INVALID_SPI, or ESP continues after a Delete. Traffic is lost until a new IKE SA replaces the stale one.",
    remedy: "Enable dead peer detection / liveness checks on both sides (dpdaction=restart, dpd_delay) so stale SAs are noticed and replaced, send INITIAL_CONTACT on (re)connect, and make sure Delete notifications are not filtered.",
};

/// After a Delete, ESP in flight may still arrive for this long.
const GRACE_SECS: f64 = 5.0;
const MAX_DELETED: usize = 1024;

#[derive(Default)]
pub struct StaleSa {
    /// (receiver of the ESP, SPI, time and frame of the Delete).
    deleted: VecDeque<(std::net::IpAddr, u32, Timestamp, u64)>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(StaleSa::default()),
};

impl StaleSa {
    /// A new IKE SA between the pair authenticated: the SAs the peer said it no longer had are
    /// replaced, so an INVALID_SPI / INVALID_IKE_SPI finding is over.
    fn replaced(&self, cx: &Cx<'_>, ispi: u64, out: &mut Emit<'_>) {
        let (Some(pair), Some((before, after))) = (cx.up.pair, cx.up.transition) else {
            return;
        };
        if before >= SaState::Authenticated
            || !matches!(after, SaState::Authenticated | SaState::Established)
        {
            return;
        }
        for nt in [NotifyType::INVALID_SPI, NotifyType::INVALID_IKE_SPI] {
            out.clear(
                KIND.id,
                pair,
                u64::from(nt.0),
                (cx.ev.pkt.ts, cx.ev.pkt.frame),
                |_| format!("a new IKE SA (SPIi {ispi:016x}) between them authenticated and replaces the SAs the peer no longer had"),
            );
        }
    }
}

impl Rule for StaleSa {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        match &cx.ev.body {
            Body::Ike(m) => {
                self.replaced(cx, m.ispi, out);
                if let Some(nt) = m
                    .notifies()
                    .find(|x| matches!(x.notify_type, NotifyType::INVALID_SPI | NotifyType::INVALID_IKE_SPI))
                {
                    let spi = match nt.data.len().max(nt.spi.len()) {
                        _ if nt.spi.len() == 4 => format!(" for SPI 0x{}", hex(&nt.spi)),
                        _ if nt.data.len() == 4 => format!(" for SPI 0x{}", hex(&nt.data)),
                        _ => String::new(),
                    };
                    let summary = format!(
                        "{} sent {}{spi} to {}: it received traffic for an SA it does not have",
                        cx.ev.flow.src,
                        nt.notify_type.label(m.version),
                        cx.ev.flow.dst
                    );
                    out.push(
                        u64::from(nt.notify_type.0),
                        Finding::new(
                            &KIND,
                            Confidence::Observed,
                            Peers::new(cx.ev.flow.dst, cx.ev.flow.src),
                            (cx.ev.pkt.ts, cx.ev.pkt.ts),
                            summary,
                        )
                        .frames([cx.ev.pkt.frame]),
                    );
                }
                for p in m.trusted_payloads() {
                    if let PayloadBody::Delete(d) = &p.body
                        && matches!(d.protocol, 2 | 3)
                    {
                        for &spi in &d.spis {
                            if self.deleted.len() >= MAX_DELETED {
                                self.deleted.pop_front();
                            }
                            // A Delete names the sender's inbound SPIs: ESP to the sender.
                            self.deleted.push_back((
                                cx.ev.flow.src,
                                spi as u32,
                                cx.ev.pkt.ts,
                                cx.ev.pkt.frame,
                            ));
                        }
                    }
                }
            }
            Body::Esp(e) => {
                let Some(&(_, _, ts, frame)) = self
                    .deleted
                    .iter()
                    .find(|(dst, spi, ..)| *dst == cx.ev.flow.dst && *spi == e.spi)
                else {
                    return;
                };
                let late = cx.ev.pkt.ts.since(ts);
                if late < GRACE_SECS {
                    return;
                }
                let summary = format!(
                    "{} kept sending ESP on SPI 0x{:08x} to {} {late:.1} s after {} deleted that SA",
                    cx.ev.flow.src, e.spi, cx.ev.flow.dst, cx.ev.flow.dst
                );
                out.push(
                    u64::from(e.spi),
                    Finding::new(
                        &KIND,
                        Confidence::Observed,
                        Peers::new(cx.ev.flow.src, cx.ev.flow.dst),
                        (ts, cx.ev.pkt.ts),
                        summary,
                    )
                    .frames([frame, cx.ev.pkt.frame]),
                );
            }
            _ => {}
        }
    }

    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        for old in p.sas.iter().filter(|s| s.established) {
            let last = |side: usize| {
                p.children
                    .iter()
                    .filter(|c| c.ike_ispi == Some(old.ispi) && p.key.side(c.src) == side)
                    .max_by(|a, b| a.last_ts.cmp(&b.last_ts))
            };
            for x in 0..2 {
                let (Some(cx), Some(cy)) = (last(x), last(1 - x)) else {
                    continue;
                };
                if cx.last_ts.since(cy.last_ts) < OUTLAST_SECS {
                    continue;
                }
                let silent = p.addr(1 - x);
                // The same loss told with its IKE evidence: said once, there.
                if out.already(super::peer_restarted::KIND.id, p.key, old.ispi) {
                    continue;
                }
                let Some(new) = p.sas.iter().find(|s| {
                    s.ispi != old.ispi
                        && s.initiator == silent
                        && s.first_ts > cy.last_ts
                        && s.first_ts < cx.last_ts
                }) else {
                    continue;
                };
                let proto = if cx.ah { "AH" } else { "ESP" };
                let summary = format!(
                    "{} kept sending {proto} on SPI 0x{:08x} (IKE SA {:016x}) until {:.1} s after {silent}'s last {proto} on that SA, while {silent} started a new IKE SA {:016x}: {silent} had lost the old SA (restart or failover) and {} did not notice",
                    cx.src,
                    cx.spi,
                    old.ispi,
                    cx.last_ts.since(cy.last_ts),
                    new.ispi,
                    cx.src
                );
                out.push(
                    u64::from(cx.spi) | 1 << 40,
                    Finding::new(
                        &KIND,
                        Confidence::Inferred,
                        Peers::new(cx.src, silent),
                        (cy.last_ts, cx.last_ts),
                        summary,
                    )
                    .frames([new.first_frame]),
                );
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn esp_after_delete() {
        let mut s = Script::default();
        s.ike(0, B, A, Msg::v1(X::INFORMATIONAL_V1, 7).with(delete(3, &[0xc1])));
        s.esp(1000, A, B, 0xc1, 1);
        s.esp(10_000, A, B, 0xc1, 2);
        let (live, _, _) = s.run();
        assert_eq!(kinds(&live), vec!["stale_sa"]);
    }

    #[test]
    fn peer_restarts_and_reinitiates_while_old_esp_continues() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        // B restarts at ~3 s: its ESP stops; A keeps sending on the old SPI; B initiates anew.
        for i in 0..30u32 {
            s.esp(3_000 + u64::from(i) * 1000, A, B, 0xc1, 100 + i);
        }
        s.ike(20_000, B, A, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x7777, 0));
        s.ike(
            20_010,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x7777, 0x8888)
                .with(v2_sa(&[(4, 14)])),
        );
        let all = s.all();
        let f = all.iter().find(|f| f.kind == "stale_sa").expect("inferred");
        assert!(f.summary.contains("0x000000c1"), "{}", f.summary);
        let mut h = Script::default();
        healthy_v2(&mut h);
        assert!(!kinds(&h.all()).contains(&"stale_sa"));
    }

    /// AH Child SAs are data plane too: the same restart shape on AH is reported.
    #[test]
    fn peer_restarts_while_old_ah_continues() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ah(2_100, A, B, 0xa1, 1);
        s.ah(2_150, B, A, 0xa2, 1);
        for i in 0..30u32 {
            s.ah(3_000 + u64::from(i) * 1000, A, B, 0xa1, 2 + i);
        }
        s.ike(20_000, B, A, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x7777, 0));
        let all = s.all();
        let f = all
            .iter()
            .find(|f| f.kind == "stale_sa" && f.summary.contains("AH on SPI 0x000000a1"));
        assert!(f.is_some(), "{all:?}");
    }

    /// The peer answered INVALID_IKE_SPI, then a new IKE SA came up: raised, then cleared.
    #[test]
    fn a_new_sa_clears_the_notify_form() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ike(12_000, A, B, Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR).with(sk(52)));
        s.ike(
            12_010,
            B,
            A,
            Msg::v2(X::INFORMATIONAL, 3, RESPONSE, RESPONDER).with(notify(N::INVALID_IKE_SPI, &[])),
        );
        s.ike(13_000, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x77, 0));
        s.ike(
            13_010,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).spis(0x77, 0x88).with(v2_sa(&[(4, 14)])),
        );
        s.ike(13_020, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).spis(0x77, 0x88).len(400).with(sk(370)));
        s.ike(13_030, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).spis(0x77, 0x88).len(300).with(sk(270)));
        let (live, _, _) = s.run();
        let f: Vec<_> = live.iter().filter(|f| f.kind == "stale_sa").collect();
        assert!(f.len() == 2 && f[1].clearing, "{live:?}");
    }

    #[test]
    fn invalid_spi_notify() {
        let mut s = Script::default();
        s.ike(0, B, A, Msg::v1(X::INFORMATIONAL_V1, 7).with(notify(N::INVALID_SPI, &[0, 0, 0, 0xc1])));
        assert!(kinds(&s.all()).contains(&"stale_sa"));
    }
}
