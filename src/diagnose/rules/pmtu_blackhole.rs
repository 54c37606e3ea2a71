//! `pmtu_blackhole`: large packets that may not be fragmented vanish, small ones get through,
//! and no ICMP "fragmentation needed" / "packet too big" comes back.
//!
//! A DF-marked IPv4 packet or any IPv6 packet larger than a link's MTU is dropped by the router
//! in front of that link, which should say so by ICMP (RFC 1191, RFC 8201). When the ICMP is
//! filtered the sender never learns, and retransmits the same size for ever.

use crate::diagnose::unanswered::{Cause, cause, describe, unanswered, unanswered_finding};
use std::collections::HashMap;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::path::{icmp_about_pair, is_frag_needed};
use crate::diagnose::rule::{PairCounts, Cx, Emit, Rule, RuleDef};
use crate::event::{Body, Timestamp};
use crate::hash::KeyedHashState;
use crate::track::Pair;
use crate::track::esp::EspKey;
use crate::track::ike::IkeSa;

pub const KIND: FindingKind = FindingKind {
    id: "pmtu_blackhole",
    title: "Path MTU black hole",
    default_severity: Severity::Error,
    explanation: "Large packets that routers may not fragment (IPv4 with DF, or IPv6) are retransmitted and never answered, while smaller ones between the same peers are answered, and no ICMP 'fragmentation needed'/'packet too big' was seen. A link on the path has a smaller MTU and its ICMP errors are filtered.",
    remedy: "Let ICMP type 3 code 4 (IPv4) and ICMPv6 type 2 through on every firewall on the path; meanwhile lower the MTU on the sending side (and the tunnel MTU / TCP MSS), and enable IKE fragmentation with a fragment size below the path MTU.",
};

/// A large ESP packet that vanished is retransmitted by the inner TCP with a doubling timeout
/// (RFC 6298 §5.5): this many growing gaps in a row, with nothing else sent on the SA in between,
/// is the signature.
const ESP_BACKOFF_STEPS: u32 = 3;
/// Below this, a packet fits any path that carries IPsec at all (IPv6 minimum MTU).
const ESP_LARGE_BYTES: u32 = 1280;
/// The first retransmission timeout TCP uses is at least 200 ms on Linux, 1 s per RFC 6298.
const MIN_FIRST_GAP_SECS: f64 = 0.15;
/// Per-direction state is small, but a flood of SPIs must not grow it without bound.
const MAX_TRACKED_SPIS: usize = 65_536;

/// What the last packets on one ESP SA direction looked like.
#[derive(Default)]
struct EspRun {
    last_len: u32,
    last_ts: Timestamp,
    last_gap: f64,
    /// Growing gaps between same-size large packets, with nothing else sent between them.
    steps: u32,
    frames: Vec<u64>,
    first_ts: Timestamp,
    /// A packet smaller than `ESP_LARGE_BYTES` went out on this SA before: small ones get through.
    saw_small: bool,
    reported: bool,
}

#[derive(Default)]
pub struct PmtuBlackhole {
    esp: HashMap<EspKey, EspRun, KeyedHashState>,
    /// ICMP "fragmentation needed" / "packet too big" per pair: the path did say it.
    frag_needed: PairCounts,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(PmtuBlackhole::default()),
};

impl PmtuBlackhole {
    fn esp_packet(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Esp(e) = &cx.ev.body else { return };
        let ev = cx.ev;
        if self.esp.len() >= MAX_TRACKED_SPIS {
            self.esp.clear();
        }
        let run = self.esp.entry(EspKey::sent(&ev.flow, e.spi)).or_default();
        let len = ev.ip.total_len;
        // Only packets a router may not fragment can fall into a black hole.
        let unfragmentable = (ev.ip.dont_fragment || ev.ip.version == 6) && ev.ip.fragments == 0;
        if len < ESP_LARGE_BYTES || !unfragmentable {
            run.saw_small |= len < ESP_LARGE_BYTES;
            run.steps = 0;
            run.frames.clear();
            run.last_len = len;
            run.last_ts = ev.pkt.ts;
            return;
        }
        let gap = ev.pkt.ts.since(run.last_ts);
        let backoff = run.last_len == len
            && gap >= MIN_FIRST_GAP_SECS
            && (run.steps == 0 || gap >= 1.5 * run.last_gap);
        if backoff {
            if run.steps == 0 {
                run.first_ts = run.last_ts;
            }
            run.steps += 1;
        } else {
            run.steps = 0;
            run.frames.clear();
        }
        run.frames.push(ev.pkt.frame);
        run.last_gap = gap;
        run.last_len = len;
        run.last_ts = ev.pkt.ts;
        let icmp_seen = cx
            .pair()
            .is_some_and(|p| self.frag_needed.get(&p.key) > 0);
        if run.steps < ESP_BACKOFF_STEPS || !run.saw_small || run.reported || icmp_seen {
            return;
        }
        run.reported = true;
        let summary = format!(
            "ESP SPI 0x{:08x} from {} to {}: {}-byte packets with {} were resent {} times with doubling gaps (last {:.1} s) and nothing else was sent on the SA meanwhile, while smaller packets got through; no ICMP error came back. The inner TCP is retransmitting a segment that never arrives",
            e.spi,
            ev.flow.src,
            ev.flow.dst,
            len,
            if ev.ip.version == 6 {
                "IPv6 (no router fragmentation)"
            } else {
                "DF set"
            },
            run.steps,
            gap
        );
        out.push(
            u64::from(e.spi),
            Finding::new(
                &KIND,
                Confidence::Inferred,
                Peers::new(ev.flow.src, ev.flow.dst),
                (run.first_ts, ev.pkt.ts),
                summary,
            )
            .frames(run.frames.iter().copied()),
        );
    }
}

impl Rule for PmtuBlackhole {
    fn pair_closed(&mut self, pair: &Pair, _out: &mut Emit<'_>) {
        self.frag_needed.forget(&pair.key);
    }

    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        if let Some((key, e)) = icmp_about_pair(cx.ev)
            && is_frag_needed(e)
        {
            self.frag_needed.add(key);
        }
        self.esp_packet(cx, out);
    }

    fn sa_closed(&mut self, sa: &IkeSa, pair: Option<&Pair>, out: &mut Emit<'_>) {
        if pair.is_some_and(|p| self.frag_needed.get(&p.key) > 0) {
            return;
        }
        for x in &sa.exchanges {
            let Some(req) = unanswered(sa, x) else {
                continue;
            };
            if req.count < 2 || cause(sa, x, req) != Cause::Blackhole {
                continue;
            }
            let summary = format!(
                "{} with {} and never answered, while smaller messages from {} were answered; no ICMP error came back",
                describe(sa, x, req),
                if req.from.is_ipv6() {
                    "IPv6 (no router fragmentation)"
                } else {
                    "DF set"
                },
                req.from
            );
            let (scope, finding) = unanswered_finding(&KIND, sa, x, req, summary);
            out.push(scope, finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn large_df_auth_vanishes() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(400))
            .ip
            .dont_fragment = true;
        s.ike(30, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).len(330));
        for ms in [70, 1070, 3070] {
            s.ike(
                ms,
                A,
                B,
                Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(1700).with(sk(1650)),
            )
            .ip
            .dont_fragment = true;
        }
        let all = kinds(&s.all());
        assert!(all.contains(&"pmtu_blackhole"), "{all:?}");
        assert!(!all.contains(&"ike_unanswered"), "{all:?}");
    }

    fn esp_sized(s: &mut Script, ms: u64, seq: u32, len: u32) {
        let ev = s.esp(ms, A, B, 7, seq);
        ev.ip.total_len = len;
        ev.ip.dont_fragment = true;
    }

    /// The shape of the lab's pmtu_blackhole.pcap: small packets pass, then one 1482-byte DF
    /// packet is resent at 0.2, 0.4, 0.8, 1.7 s.
    #[test]
    fn large_df_esp_resent_with_backoff() {
        let mut s = Script::default();
        esp_sized(&mut s, 0, 1, 136);
        esp_sized(&mut s, 10, 2, 1482);
        for (i, ms) in [220u64, 640, 1470, 3130].iter().enumerate() {
            esp_sized(&mut s, *ms, 3 + i as u32, 1482);
        }
        let all = kinds(&s.all());
        assert!(all.contains(&"pmtu_blackhole"), "{all:?}");
    }

    /// A bulk transfer of full-size packets at a steady pace is not a black hole.
    #[test]
    fn steady_large_esp_is_healthy() {
        let mut s = Script::default();
        esp_sized(&mut s, 0, 1, 136);
        for i in 0..50u32 {
            esp_sized(&mut s, 300 + u64::from(i) * 300, 2 + i, 1482);
        }
        assert!(!kinds(&s.all()).contains(&"pmtu_blackhole"));
    }
}
