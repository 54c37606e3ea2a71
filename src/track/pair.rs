//! A peer pair: the two outer addresses of a tunnel and everything seen between them (IKE and
//! ESP counters per side, NAT-T, fragmentation, response times, the logs of its IKE SAs and
//! ESP SPIs that the tunnel summary lists).

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;

use super::hist::Histogram;
use super::ike::{IkeSa, SaEnd, SaState};
use crate::event::codes::NotifyType;
use crate::event::ike::{IkeMessage, PayloadBody};
use crate::event::{Event, Timestamp};

/// The two outer addresses of a tunnel, in a fixed order (`a < b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairKey {
    pub a: IpAddr,
    pub b: IpAddr,
}

impl std::hash::Hash for PairKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        crate::hash::hash_addr_pair(&self.a, &self.b, h);
    }
}

impl PairKey {
    /// The key and whether `src` is side `a`.
    pub fn of(src: IpAddr, dst: IpAddr) -> (PairKey, bool) {
        if src <= dst {
            (PairKey { a: src, b: dst }, true)
        } else {
            (PairKey { a: dst, b: src }, false)
        }
    }
    pub fn side(&self, addr: IpAddr) -> usize {
        usize::from(addr != self.a)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SaKey {
    pub pair: PairKey,
    pub ispi: u64,
}

/// Cadence of one side's NAT-T keepalives (RFC 3948 §2.3).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cadence {
    pub count: u64,
    #[serde(skip)]
    pub last: Option<Timestamp>,
    pub min_interval: Option<f64>,
    pub max_interval: Option<f64>,
    #[serde(skip)]
    pub sum_interval: f64,
    pub first_frame: u64,
}

impl Cadence {
    pub(super) fn tick(&mut self, ts: Timestamp, frame: u64) {
        if let Some(last) = self.last {
            let d = ts.since(last).max(0.0);
            self.min_interval = Some(self.min_interval.map_or(d, |m| m.min(d)));
            self.max_interval = Some(self.max_interval.map_or(d, |m| m.max(d)));
            self.sum_interval += d;
        } else {
            self.first_frame = frame;
        }
        self.count += 1;
        self.last = Some(ts);
    }
    pub fn mean_interval(&self) -> Option<f64> {
        (self.count > 1).then(|| self.sum_interval / (self.count - 1) as f64)
    }
}

/// One IKE SA as the tunnel summary lists it.
#[derive(Clone, Debug)]
pub struct SaSummary {
    pub version: u8,
    pub ispi: u64,
    pub rspi: u64,
    pub initiator: IpAddr,
    pub state: SaState,
    pub established: bool,
    pub end: SaEnd,
    pub first_ts: Timestamp,
    pub first_frame: u64,
}

impl SaSummary {
    pub(super) fn of(sa: &IkeSa) -> Self {
        SaSummary {
            version: sa.version,
            ispi: sa.ispi,
            rspi: sa.rspi,
            initiator: sa.initiator,
            state: sa.state,
            established: sa.established(),
            end: sa.end(),
            first_ts: sa.first_ts,
            first_frame: sa.first_frame,
        }
    }
}

/// One ESP or AH SPI as the tunnel summary lists it.
#[derive(Clone, Debug)]
pub struct ChildSummary {
    pub spi: u32,
    /// AH (RFC 4302) rather than ESP: both carry a Child SA's traffic, but the SPI spaces are
    /// separate, so an entry is one SPI of one protocol.
    pub ah: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IKE SA it was bound to (the one up on this pair when the SPI first appeared).
    pub ike_ispi: Option<u64>,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Who named this SPI in a Delete, and in which frame: the receiver of an SA deletes it
    /// (RFC 7296 §3.11, RFC 2408 §3.15 list the sender's inbound SPIs).
    pub deleted_by: Option<(IpAddr, u64)>,
}

/// SPIs of one Delete payload matched against the child log: a Delete can list thousands, the
/// log holds far fewer.
const MAX_DELETE_SPIS: usize = 64;

/// Data-plane packets (ESP or AH) one side sent since the other side last sent any: what went
/// unanswered. Only counted once the other side has sent at all, so "never two-way" and
/// "stopped one way" stay apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unanswered {
    /// The other side's last data-plane packet: when its direction went silent.
    pub after_ts: Option<Timestamp>,
    pub after_frame: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Option<Timestamp>,
    pub first_frame: u64,
    pub last_ts: Option<Timestamp>,
    pub last_frame: u64,
    /// The IKE SA the run's packets were bound to.
    pub sa: Option<u64>,
}

impl Unanswered {
    /// Seconds from the first to the last unanswered packet.
    pub fn span(&self) -> f64 {
        match (self.first_ts, self.last_ts) {
            (Some(f), Some(l)) => l.since(f),
            _ => 0.0,
        }
    }
}

const MAX_LOG: usize = 16;
pub(super) const MAX_CHILD_LOG: usize = 32;
const MAX_FRAMES: usize = 16;

fn push_capped<T>(v: &mut Vec<T>, x: T, cap: usize) {
    if v.len() < cap {
        v.push(x);
    }
}

/// Everything known about one peer pair.
#[derive(Clone, Debug)]
pub struct Pair {
    pub key: PairKey,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Last IKE port each side used, [a, b].
    pub ike_ports: [u16; 2],
    /// Bit v set: IKEv`v` seen.
    pub ike_versions: u8,
    pub ike_packets: [u64; 2],
    /// IKE messages each side sent again (a step's second and later transmissions).
    pub ike_retransmissions: [u64; 2],
    pub ike_on_500: bool,
    pub ike_on_4500: bool,
    /// IKE messages each side sent in UDP (500 or 4500); the rest came in TCP (`tcp`).
    pub ike_udp: [u64; 2],
    /// IKE and ESP carried in TCP (RFC 8229).
    pub tcp: super::tcp::TcpEncap,
    /// First IKE message on 4500 after IKE on 500.
    pub float_frame: Option<u64>,
    pub esp_packets: [u64; 2],
    pub esp_bytes: [u64; 2],
    pub esp_in_udp: bool,
    pub esp_first_frame: [u64; 2],
    pub ah_packets: [u64; 2],
    pub ah_bytes: [u64; 2],
    /// Each side's last ESP or AH packet (time, frame).
    pub last_data: [Option<(Timestamp, u64)>; 2],
    /// Per side, the run of its data-plane packets the other side has not answered yet, and the
    /// longest such run that ended (the other side spoke again).
    pub unanswered: [Unanswered; 2],
    pub longest_unanswered: [Unanswered; 2],
    /// NAT-D verdicts: side is behind NAT, per side; with supporting frames.
    pub nat_behind: [Option<bool>; 2],
    pub nat_frames: Vec<u64>,
    pub keepalives: [Cadence; 2],
    pub last_from: [Option<Timestamp>; 2],
    /// Longest silence from each side within the life of one IKE SA (its IKE messages and the
    /// ESP bound to it): idle time while a tunnel was up.
    pub sa_gap_from: [f64; 2],
    pub ike_ip_fragmented: u32,
    pub esp_fragmented: u64,
    pub incomplete_sets: u32,
    pub ike_fragmentation_supported: [bool; 2],
    pub ike_fragments_used: bool,
    pub rtt: Histogram,
    pub sas: VecDeque<SaSummary>,
    pub children: VecDeque<ChildSummary>,
    /// Entries ever dropped from the front of `children`: entry `i` was the `dropped + i`th
    /// ever logged, which is what [`EspSa`]s remember to find theirs without a scan.
    pub(super) children_dropped: u64,
    pub child_exchanges: u32,
    pub deletes: u32,
    pub established_ever: bool,
    /// The IKE SA most recently authenticated or established: ESP is bound to it.
    pub current_sa: Option<u64>,
}

impl Pair {
    pub(super) fn new(key: PairKey, ts: Timestamp, frame: u64) -> Self {
        Pair {
            key,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            ike_ports: [0; 2],
            ike_versions: 0,
            ike_packets: [0; 2],
            ike_retransmissions: [0; 2],
            ike_on_500: false,
            ike_on_4500: false,
            ike_udp: [0; 2],
            tcp: Default::default(),
            float_frame: None,
            esp_packets: [0; 2],
            esp_bytes: [0; 2],
            esp_in_udp: false,
            esp_first_frame: [0; 2],
            ah_packets: [0; 2],
            ah_bytes: [0; 2],
            last_data: [None; 2],
            unanswered: [Unanswered::default(); 2],
            longest_unanswered: [Unanswered::default(); 2],
            nat_behind: [None; 2],
            nat_frames: Vec::new(),
            keepalives: [Cadence::default(); 2],
            last_from: [None; 2],
            sa_gap_from: [0.0; 2],
            ike_ip_fragmented: 0,
            esp_fragmented: 0,
            incomplete_sets: 0,
            ike_fragmentation_supported: [false; 2],
            ike_fragments_used: false,
            rtt: Histogram::default(),
            sas: VecDeque::new(),
            children: VecDeque::new(),
            children_dropped: 0,
            child_exchanges: 0,
            deletes: 0,
            established_ever: false,
            current_sa: None,
        }
    }

    pub fn addr(&self, side: usize) -> IpAddr {
        if side == 0 { self.key.a } else { self.key.b }
    }

    pub fn ike_seen_both_ways(&self) -> bool {
        self.ike_packets[0] > 0 && self.ike_packets[1] > 0
    }

    pub(super) fn touch(&mut self, ev: &Event, side: Option<usize>) {
        if ev.pkt.ts > self.last_ts {
            self.last_ts = ev.pkt.ts;
        }
        self.last_frame = ev.pkt.frame;
        if let Some(s) = side {
            self.last_from[s] = Some(ev.pkt.ts);
        }
    }

    /// An ESP or AH packet of `len` bytes from `side`, bound to IKE SA `sa`: it extends that
    /// side's unanswered run and answers the other side's, whose run it returns if there was one.
    pub(super) fn data_seen(
        &mut self,
        side: usize,
        ts: Timestamp,
        frame: u64,
        len: u32,
        sa: Option<u64>,
    ) -> Option<Unanswered> {
        if self.last_data[1 - side].is_some() {
            // A new IKE SA starts a new run: the first packets on it go out before the peer's,
            // and counting them with the old SA's would stretch the run over the idle time of
            // the re-establishment.
            if self.unanswered[side].packets > 0 && self.unanswered[side].sa != sa {
                self.end_run(side);
                let u = &mut self.unanswered[side];
                *u = Unanswered {
                    after_ts: u.after_ts,
                    after_frame: u.after_frame,
                    ..Unanswered::default()
                };
            }
            let u = &mut self.unanswered[side];
            u.sa = sa;
            if u.first_ts.is_none() {
                u.first_ts = Some(ts);
                u.first_frame = frame;
            }
            u.packets += 1;
            u.bytes += u64::from(len);
            u.last_ts = Some(ts);
            u.last_frame = frame;
        }
        self.end_run(1 - side);
        let ended = std::mem::replace(
            &mut self.unanswered[1 - side],
            Unanswered {
                after_ts: Some(ts),
                after_frame: frame,
                ..Unanswered::default()
            },
        );
        self.last_data[side] = Some((ts, frame));
        (ended.packets > 0).then_some(ended)
    }

    /// Keeps `side`'s current run if it is the longest that ended.
    fn end_run(&mut self, side: usize) {
        let run = self.unanswered[side];
        if run.packets > 0 && run.span() > self.longest_unanswered[side].span() {
            self.longest_unanswered[side] = run;
        }
    }

    /// Logs an SA as it stands after one of its messages (or a state change).
    pub(super) fn log_sa(&mut self, mut sum: SaSummary) {
        let established = sum.established;
        if established {
            // An SA established after others that were up replaces them.
            for s in self.sas.iter_mut() {
                if s.ispi != sum.ispi
                    && s.established
                    && s.first_ts < sum.first_ts
                    && matches!(s.end, SaEnd::Up | SaEnd::Unanswered { .. })
                {
                    s.end = SaEnd::Replaced { by: sum.ispi };
                }
            }
        }
        if let Some(s) = self.sas.iter_mut().find(|s| s.ispi == sum.ispi) {
            // An SA that speaks again after a newer one came up was not replaced (two
            // connections between the same peers); a state change alone keeps the mark.
            if let SaEnd::Replaced { .. } = s.end
                && s.state != sum.state
            {
                sum.end = s.end;
            }
            *s = sum;
        } else {
            if self.sas.len() >= MAX_LOG {
                self.sas.pop_front();
            }
            self.sas.push_back(sum);
        }
        if established {
            self.established_ever = true;
        }
    }

    /// Counts an ESP packet in the child log entry of its SA, found through `hint` (where the
    /// SA last found it) while it is still there, else by a scan, else added; returns the new
    /// hint.
    #[inline]
    pub(super) fn log_child(
        &mut self,
        hint: u64,
        ev: &Event,
        spi: u32,
        ah: bool,
        len: u32,
        bind: Option<u64>,
    ) -> u64 {
        let ts = ev.pkt.ts;
        let is_this = |c: &ChildSummary| c.spi == spi && c.ah == ah && c.src == ev.flow.src;
        // The SA's own entry, where it said it was; a scan only when the log moved on.
        let at = hint
            .checked_sub(self.children_dropped)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| self.children.get(i).is_some_and(is_this))
            .or_else(|| self.children.iter().rposition(is_this));
        let at = match at {
            Some(i) => {
                let c = &mut self.children[i];
                c.packets += 1;
                c.bytes += u64::from(len);
                if ts > c.last_ts {
                    c.last_ts = ts;
                }
                i
            }
            None => {
                if self.children.len() >= MAX_CHILD_LOG {
                    self.children.pop_front();
                    self.children_dropped += 1;
                }
                self.children.push_back(ChildSummary {
                    spi,
                    ah,
                    src: ev.flow.src,
                    dst: ev.flow.dst,
                    ike_ispi: bind,
                    packets: 1,
                    bytes: u64::from(len),
                    first_ts: ts,
                    last_ts: ts,
                    deleted_by: None,
                });
                self.children.len() - 1
            }
        };
        self.children_dropped + at as u64
    }

    /// A Delete from `sender` naming Child SA SPIs (protocol 2 AH, 3 ESP): each names an SA
    /// that carries traffic to the sender.
    pub(super) fn children_deleted(
        &mut self,
        sender: IpAddr,
        protocol: u8,
        spis: &[u64],
        frame: u64,
    ) {
        let ah = match protocol {
            2 => true,
            3 => false,
            _ => return,
        };
        for &spi in spis.iter().take(MAX_DELETE_SPIS) {
            for c in self.children.iter_mut().filter(|c| {
                u64::from(c.spi) == spi && c.ah == ah && c.dst == sender && c.deleted_by.is_none()
            }) {
                c.deleted_by = Some((sender, frame));
            }
        }
    }

    /// An IKE message from `side`: ports, versions, NAT-T float, fragmentation.
    pub(super) fn ike_seen(
        &mut self,
        ev: &Event,
        m: &IkeMessage,
        side: usize,
        first_fragment_only: bool,
    ) {
        let on_4500 = ev.flow.sport == 4500 || ev.flow.dport == 4500 || m.non_esp_marker;
        self.ike_ports[side] = ev.flow.sport;
        self.ike_ports[1 - side] = ev.flow.dport;
        self.ike_versions |= 1 << m.version.min(7);
        self.ike_packets[side] += 1;
        if ev.flow.proto == crate::event::ipproto::TCP {
            // Not a NAT-T float: the peers moved to TCP (see `tcp`).
        } else if on_4500 {
            if self.ike_on_500 && !self.ike_on_4500 {
                self.float_frame = Some(ev.pkt.frame);
            }
            self.ike_on_4500 = true;
        } else {
            self.ike_on_500 = true;
        }
        if ev.flow.proto == crate::event::ipproto::UDP {
            self.ike_udp[side] += 1;
        }
        if ev.ip.fragments > 0 || first_fragment_only {
            self.ike_ip_fragmented += 1;
        }
        if m.has_notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED) {
            self.ike_fragmentation_supported[side] = true;
        }
        if !m.reassembled_from.is_empty()
            || m.payloads
                .iter()
                .any(|pl| matches!(pl.body, PayloadBody::EncryptedFragment { .. }))
        {
            self.ike_fragments_used = true;
        }
    }

    /// A NAT-D verdict from a message sent by `src`: whether each side is behind NAT.
    pub(super) fn nat_seen(
        &mut self,
        src: IpAddr,
        sender_behind: Option<bool>,
        receiver_behind: Option<bool>,
        frame: u64,
    ) {
        let s = self.key.side(src);
        if let Some(v) = sender_behind {
            self.nat_behind[s] = Some(self.nat_behind[s].unwrap_or(false) || v);
        }
        if let Some(v) = receiver_behind {
            self.nat_behind[1 - s] = Some(self.nat_behind[1 - s].unwrap_or(false) || v);
        }
        push_capped(&mut self.nat_frames, frame, MAX_FRAMES);
    }
}
