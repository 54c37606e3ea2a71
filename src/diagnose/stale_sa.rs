//! `stale_sa`: traffic on SAs the peer no longer has.
//!
//! Observed: INVALID_SPI (11) or INVALID_IKE_SPI (4) notifies in clear (the peer got ESP or
//! IKE for an SA it does not know, typically after it rebooted or deleted the SA), and ESP that
//! keeps going to an SPI after a clear Delete for it (IKEv1 Informational).

use std::collections::VecDeque;

use super::{Confidence, Cx, Emit, Finding, FindingKind, Peers, Rule, Severity, names};
use crate::decode::ike::PayloadBody;
use crate::event::{Body, Timestamp};
use crate::track::ike::n;

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

impl Rule for StaleSa {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        match &cx.ev.body {
            Body::Ike(m) => {
                if let Some(nt) = m
                    .notifies()
                    .find(|x| matches!(x.notify_type, n::INVALID_SPI | n::INVALID_IKE_SPI))
                {
                    let spi = match nt.data.len().max(nt.spi.len()) {
                        _ if nt.spi.len() == 4 => format!(" for SPI 0x{}", hex(&nt.spi)),
                        _ if nt.data.len() == 4 => format!(" for SPI 0x{}", hex(&nt.data)),
                        _ => String::new(),
                    };
                    let summary = format!(
                        "{} sent {}{spi} to {}: it received traffic for an SA it does not have",
                        cx.ev.flow.src,
                        names::notify(m.version, nt.notify_type),
                        cx.ev.flow.dst
                    );
                    out.push(
                        u64::from(nt.notify_type),
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
                for p in &m.payloads {
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
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn esp_after_delete() {
        let mut s = Script::default();
        s.ike(0, B, A, Msg::v1(5, 7).with(delete(3, &[0xc1])));
        s.esp(1000, A, B, 0xc1, 1);
        s.esp(10_000, A, B, 0xc1, 2);
        let (live, _, _) = s.run();
        assert_eq!(kinds(&live), vec!["stale_sa"]);
    }

    #[test]
    fn invalid_spi_notify() {
        let mut s = Script::default();
        s.ike(0, B, A, Msg::v1(5, 7).with(notify(11, &[0, 0, 0, 0xc1])));
        assert!(kinds(&s.all()).contains(&"stale_sa"));
    }
}
