//! What one tunnel's ladder diagram needs, collected as the events pass: each IKE message as an
//! arrow with what the tracker made of it (which transmission of its step, whether its exchange
//! was answered, whether it was the NAT-T float), ICMP errors from a third lane, NAT-T
//! keepalives, and the ESP data plane per direction in time buckets. Everything is capped, so a
//! tunnel that lives for months costs the same as one that lived a minute.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;

use crate::event::ike::IkeMessage;
use crate::event::{Event, IcmpError};
use crate::track::Tracker;
use crate::track::esp::EspKey;
use crate::track::{PairKey, SaKey};

/// Arrows kept from a tunnel's start; then the last [`MAX_TAIL`], the ones between counted by
/// exchange. A negotiation rarely needs more than a dozen arrows; 48 keep a retransmission
/// back-off and a rekey or two whole.
pub const MAX_HEAD: usize = 48;
pub const MAX_TAIL: usize = 16;
/// Exchange names counted among the arrows left out (DPD, rekeys: a handful of kinds).
const MAX_OMITTED_KINDS: usize = 16;
/// ESP time buckets per direction: when time runs past them, buckets merge two by two.
const MAX_BUCKETS: usize = 256;
/// Sequence gaps and keepalives drawn per direction; later ones are counted.
const MAX_MARKS: usize = 32;
/// Routers (ICMP senders) named on the third lane.
const MAX_ROUTERS: usize = 3;
/// A packet line past this many bytes is cut: `-v` lines list every proposal.
const MAX_LINE: usize = 300;

/// One message between the lanes (0: peer a, 1: peer b, 2: a router).
#[derive(Clone, Debug, Serialize)]
pub struct Arrow {
    /// Frame number.
    pub f: u64,
    /// Capture time, epoch seconds.
    pub t: f64,
    /// `ike`, `icmp` or `lost` (IP fragments of an IKE message that never all arrived).
    pub k: &'static str,
    pub from: u8,
    pub to: u8,
    /// Exchange name, request or response, message ID; or the ICMP error.
    pub label: String,
    /// The payload list as the packet line has it (inner payloads too when keys opened it).
    pub payloads: String,
    /// The tracker's transmission number within its step (2 and up: a retransmission).
    pub tx: u32,
    /// Seconds since the previous transmission of the same step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// A request whose exchange the tracker has not seen answered.
    pub unanswered: bool,
    pub response: bool,
    /// An error notify (in clear, or inside when keys opened the message), an ICMP error, or
    /// a message whose IP fragments did not all arrive.
    pub error: bool,
    /// `ip N` (reassembled from N IP fragments), `ip incomplete` (decoded from a first
    /// fragment whose others never came) or `ike N` (RFC 7383 fragments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frag: Option<String>,
    /// On UDP 4500 behind the non-ESP marker.
    pub natt: bool,
    /// The message the pair floated to UDP 4500 with.
    pub float: bool,
    /// The packet line, as the text report prints it with `-#` and `-v`.
    pub line: String,
    /// Tracker key of the exchange (IKE SPI, message ID, requester), to mark it answered.
    #[serde(skip)]
    exchange: Option<(u64, u32, IpAddr)>,
}

/// The ESP packets one way, bucketed over time.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EspLane {
    pub packets: u64,
    pub first: Option<f64>,
    pub last: Option<f64>,
    pub last_frame: u64,
    /// Start of the first bucket (epoch seconds) and each bucket's width.
    pub origin: f64,
    pub width: f64,
    pub counts: Vec<u32>,
    /// (time, frame, sequence numbers the tracker found missing there).
    pub gaps: Vec<(f64, u64, u64)>,
    pub gaps_more: u64,
    /// The SA last seen this way and its `missing` count then.
    #[serde(skip)]
    seen: Option<(u32, u64)>,
}

impl EspLane {
    fn add(&mut self, t: f64, frame: u64) {
        if self.first.is_none() {
            self.first = Some(t);
            self.origin = t.floor();
            self.width = 1.0;
        }
        self.packets += 1;
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        self.last_frame = frame;
        // Merged captures are not always in time order: a packet before the origin counts in
        // the first bucket.
        let mut i = ((t - self.origin) / self.width).max(0.0) as usize;
        while i >= MAX_BUCKETS {
            self.counts = self
                .counts
                .chunks(2)
                .map(|c| c.iter().fold(0u32, |a, &x| a.saturating_add(x)))
                .collect();
            self.width *= 2.0;
            i = ((t - self.origin) / self.width).max(0.0) as usize;
        }
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    /// The tracker's count of missing sequence numbers for the SA after this packet: a rise is
    /// a gap here.
    fn missing(&mut self, t: f64, frame: u64, spi: u32, missing: u64) {
        let before = match self.seen {
            Some((s, m)) if s == spi => m,
            _ => 0,
        };
        self.seen = Some((spi, missing));
        if missing > before {
            if self.gaps.len() < MAX_MARKS {
                self.gaps.push((t, frame, missing - before));
            } else {
                self.gaps_more += 1;
            }
        }
    }
}

/// NAT-T keepalives one way.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Keepalives {
    pub count: u64,
    pub times: Vec<f64>,
}

/// One tunnel's diagram data.
#[derive(Clone, Debug, Serialize)]
pub struct Ladder {
    pub peers: [String; 2],
    pub routers: Vec<String>,
    pub head: Vec<Arrow>,
    pub tail: VecDeque<Arrow>,
    /// Arrows between head and tail left out, and their labels' exchange names with counts.
    pub omitted: u64,
    pub omitted_kinds: Vec<(String, u64)>,
    pub esp: [EspLane; 2],
    pub keepalives: [Keepalives; 2],
    pub first_ts: f64,
    pub last_ts: f64,
    #[serde(skip)]
    key: PairKey,
}

impl Ladder {
    pub fn new(key: PairKey, t: f64) -> Self {
        Ladder {
            peers: [key.a.to_string(), key.b.to_string()],
            routers: Vec::new(),
            head: Vec::new(),
            tail: VecDeque::new(),
            omitted: 0,
            omitted_kinds: Vec::new(),
            esp: Default::default(),
            keepalives: Default::default(),
            first_ts: t,
            last_ts: t,
            key,
        }
    }

    pub fn key(&self) -> PairKey {
        self.key
    }

    fn arrows_mut(&mut self) -> impl Iterator<Item = &mut Arrow> {
        self.head.iter_mut().chain(self.tail.iter_mut())
    }

    fn push(&mut self, a: Arrow) {
        if self.head.len() < MAX_HEAD {
            self.head.push(a);
            return;
        }
        if self.tail.len() == MAX_TAIL
            && let Some(old) = self.tail.pop_front()
        {
            self.omitted += 1;
            let name = old.label.split(' ').next().unwrap_or("").to_string();
            if let Some(k) = self.omitted_kinds.iter_mut().find(|k| k.0 == name) {
                k.1 += 1;
            } else if self.omitted_kinds.len() < MAX_OMITTED_KINDS {
                self.omitted_kinds.push((name, 1));
            }
        }
        self.tail.push_back(a);
    }

    /// Takes in one event of this pair. `line` renders the event's packet line.
    pub fn observe(&mut self, ev: &Event, t: &Tracker, line: &mut dyn FnMut(&Event) -> String) {
        let ts = ev.pkt.ts.as_secs_f64();
        self.last_ts = self.last_ts.max(ts);
        self.first_ts = self.first_ts.min(ts);
        match &ev.body {
            crate::event::Body::Ike(m) => self.ike(ev, m, t, line),
            crate::event::Body::IcmpError(e) => self.icmp(ev, e, line),
            crate::event::Body::NatKeepalive => {
                let k = &mut self.keepalives[self.key.side(ev.flow.src)];
                k.count += 1;
                if k.times.len() < MAX_MARKS {
                    k.times.push(ts);
                }
            }
            crate::event::Body::Esp(e) => {
                let side = self.key.side(ev.flow.src);
                let lane = &mut self.esp[side];
                lane.add(ts, ev.pkt.frame);
                if let Some(sa) = t.esp(&EspKey::sent(&ev.flow, e.spi)) {
                    lane.missing(ts, ev.pkt.frame, e.spi, sa.missing);
                }
            }
            // A set whose first fragment came shows as the IKE message decoded from it.
            crate::event::Body::FragmentsIncomplete(f)
                if !f.had_first
                    && f.proto == crate::event::ipproto::UDP
                    && [500, 4500].contains(&f.sport)
                    && [500, 4500].contains(&f.dport) =>
            {
                let from = self.key.side(ev.flow.src) as u8;
                self.push(Arrow {
                    f: f.first_frame,
                    t: ts,
                    k: "lost",
                    from,
                    to: 1 - from,
                    label: format!("{} IP fragments, never completed", f.fragments_seen),
                    payloads: format!(
                        "{} bytes seen, frames {}-{}",
                        f.bytes_seen, f.first_frame, f.last_frame
                    ),
                    tx: 1,
                    interval: None,
                    unanswered: false,
                    response: false,
                    error: true,
                    frag: Some(format!("ip {}", f.fragments_seen)),
                    natt: f.sport == 4500,
                    float: false,
                    line: cut(line(ev)),
                    exchange: None,
                });
            }
            _ => {}
        }
    }

    fn ike(
        &mut self,
        ev: &Event,
        m: &IkeMessage,
        t: &Tracker,
        line: &mut dyn FnMut(&Event) -> String,
    ) {
        let from = self.key.side(ev.flow.src) as u8;
        let frame = ev.pkt.frame;
        // What the tracker filed this message under: its step and exchange.
        let placed = t
            .sa(&SaKey {
                pair: self.key,
                ispi: m.ispi,
            })
            .and_then(|sa| {
                sa.exchanges.iter().rev().find_map(|x| {
                    x.steps
                        .iter()
                        .find(|s| s.last_frame == frame)
                        .map(|s| (x, s))
                })
            });
        let (tx, interval, response, answered, exchange) = match placed {
            Some((x, s)) => (
                s.count,
                (s.count > 1)
                    .then(|| s.intervals().last().copied())
                    .flatten(),
                s.response,
                x.answered(),
                Some((m.ispi, x.msg_id, x.requester)),
            ),
            None => (1, None, m.is_response(), true, None),
        };
        if answered && let Some(key) = exchange {
            for a in self.arrows_mut().filter(|a| a.exchange == Some(key)) {
                a.unanswered = false;
            }
        }
        let floated = t
            .pair(&self.key)
            .is_some_and(|p| p.float_frame == Some(frame));
        let exch = m
            .exchange_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("exchange-{}", m.exchange));
        let dir = match (m.version, response) {
            (2, true) => " response",
            (2, false) => " request",
            _ => "",
        };
        let text = line(ev);
        let payloads = match (text.find(" ["), text.rfind(']')) {
            (Some(a), Some(b)) if b > a => text[a + 1..=b].to_string(),
            _ => String::new(),
        };
        let frag = if ev.ip.incomplete {
            Some("ip incomplete".to_string())
        } else if !m.reassembled_from.is_empty() {
            Some(format!("ike {}", m.reassembled_from.len()))
        } else if ev.ip.fragments > 0 {
            Some(format!("ip {}", ev.ip.fragments))
        } else {
            None
        };
        self.push(Arrow {
            f: frame,
            t: ev.pkt.ts.as_secs_f64(),
            k: "ike",
            from,
            to: 1 - from,
            label: format!("{exch}{dir} mid {}", m.message_id),
            payloads: cut(payloads),
            tx,
            interval: interval.map(|s| (s * 1000.0).round() / 1000.0),
            unanswered: !response && !answered,
            response,
            error: m.notifies().any(|n| n.notify_type.is_error()) || ev.ip.incomplete,
            frag,
            natt: m.non_esp_marker,
            float: floated,
            line: cut(text),
            exchange,
        });
    }

    fn icmp(&mut self, ev: &Event, e: &IcmpError, line: &mut dyn FnMut(&Event) -> String) {
        let router = ev.flow.src.to_string();
        let is_peer = ev.flow.src == self.key.a || ev.flow.src == self.key.b;
        let from = if is_peer {
            self.key.side(ev.flow.src) as u8
        } else {
            if !self.routers.contains(&router) && self.routers.len() < MAX_ROUTERS {
                self.routers.push(router);
            }
            2
        };
        // The error goes back to the sender of the quoted packet.
        let to = if ev.flow.dst == self.key.a || ev.flow.dst == self.key.b {
            self.key.side(ev.flow.dst) as u8
        } else {
            e.quoted.flow.map_or(0, |q| self.key.side(q.src) as u8)
        };
        let what = format!(
            "ICMP {}",
            crate::event::names::icmp_type_name(e.v6, e.icmp_type, e.code)
        );
        let text = line(ev);
        self.push(Arrow {
            f: ev.pkt.frame,
            t: ev.pkt.ts.as_secs_f64(),
            k: "icmp",
            from,
            to,
            label: what,
            payloads: e.mtu.map(|m| format!("MTU {m}")).unwrap_or_default(),
            tx: 1,
            interval: None,
            unanswered: false,
            response: false,
            error: true,
            frag: None,
            natt: false,
            float: false,
            line: cut(text),
            exchange: None,
        });
    }
}

/// `s` cut to [`MAX_LINE`] bytes at a character boundary.
fn cut(mut s: String) -> String {
    if s.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Analyzer;
    use crate::testutil::*;

    /// Feeds `s` through an analyzer and one ladder per pair, as the report stage does.
    fn ladders(s: &Script) -> Vec<Ladder> {
        let mut a = Analyzer::new();
        let mut out = Vec::new();
        let mut ls: Vec<Ladder> = Vec::new();
        for ev in &s.events {
            a.observe(ev, &mut out);
            let (src, dst) = match &ev.body {
                crate::event::Body::IcmpError(e) => {
                    let q = e.quoted.flow.unwrap();
                    (q.src, q.dst)
                }
                _ => (ev.flow.src, ev.flow.dst),
            };
            let (key, _) = PairKey::of(src, dst);
            let i = match ls.iter().position(|l| l.key() == key) {
                Some(i) => i,
                None => {
                    ls.push(Ladder::new(key, ev.pkt.ts.as_secs_f64()));
                    ls.len() - 1
                }
            };
            ls[i].observe(ev, a.tracker(), &mut |e| format!("frame {}", e.pkt.frame));
        }
        ls
    }

    #[test]
    fn a_healthy_negotiation_is_one_arrow_per_message_all_answered() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        let l = &ladders(&s)[0];
        assert_eq!(l.head.len(), 6);
        assert!(
            l.head
                .iter()
                .all(|a| a.tx == 1 && !a.unanswered && !a.error)
        );
        assert_eq!(l.head[1].label, "IKE_SA_INIT response mid 0");
        assert_eq!([l.esp[0].packets, l.esp[1].packets], [20, 20]);
        assert_eq!(l.esp[0].counts.iter().sum::<u32>(), 20);
    }

    #[test]
    fn a_retransmission_loop_is_capped_and_counted() {
        let mut s = Script::default();
        for i in 0..100u64 {
            s.ike(
                i * 1000,
                A,
                B,
                Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(300),
            );
        }
        let l = &ladders(&s)[0];
        assert_eq!(
            (l.head.len(), l.tail.len(), l.omitted),
            (MAX_HEAD, MAX_TAIL, 36)
        );
        assert_eq!(l.omitted_kinds, vec![("IKE_SA_INIT".to_string(), 36)]);
        // The tracker's count of transmissions, and its interval.
        assert_eq!(l.head[1].tx, 2);
        assert_eq!(l.head[1].interval, Some(1.0));
        assert!(l.head.iter().chain(&l.tail).all(|a| a.unanswered));
    }

    #[test]
    fn an_answer_clears_the_unanswered_mark_of_its_request() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(300),
        );
        s.ike(
            500,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(300),
        );
        let l = &ladders(&s)[0];
        assert!(l.head.iter().all(|a| a.unanswered));
        s.ike(
            600,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).len(300),
        );
        let l = &ladders(&s)[0];
        assert!(l.head.iter().all(|a| !a.unanswered), "{:?}", l.head);
        assert_eq!(l.head[1].tx, 2);
    }

    #[test]
    fn an_icmp_error_from_a_router_comes_from_the_third_lane() {
        let mut s = Script::default();
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(300),
        );
        icmp(&mut s, 5, 3, 13, None);
        let l = &ladders(&s)[0];
        assert_eq!(l.routers, vec!["203.0.113.1".to_string()]);
        let i = &l.head[1];
        assert_eq!((i.k, i.from, i.error), ("icmp", 2, true));
        assert_eq!(i.to as usize, l.key().side(ip(A)));
    }

    #[test]
    fn esp_buckets_merge_and_keep_every_packet() {
        let mut lane = EspLane::default();
        for i in 0..10_000u64 {
            lane.add(1_700_000_000.0 + i as f64 * 10.0, i);
        }
        assert!(lane.counts.len() <= MAX_BUCKETS);
        assert_eq!(
            lane.counts.iter().map(|&c| u64::from(c)).sum::<u64>(),
            10_000
        );
        assert_eq!(lane.width, 512.0);
    }

    #[test]
    fn a_rise_in_missing_sequence_numbers_is_a_gap() {
        let mut lane = EspLane::default();
        lane.missing(1.0, 1, 7, 0);
        lane.missing(2.0, 2, 7, 3);
        lane.missing(3.0, 3, 7, 3);
        assert_eq!(lane.gaps, vec![(2.0, 2, 3)]);
    }
}
