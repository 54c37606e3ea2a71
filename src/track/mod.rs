//! Track stage: follows peer pairs, IKE SAs, their exchanges and ESP SAs across events.
//!
//! Everything here is state about what was seen; nothing here decides what is wrong (that is
//! [`crate::diagnose`]) and nothing looks at bytes (that was [`crate::decode`]). A peer pair is
//! keyed by its two outer addresses only, so the NAT-T float from UDP 500 to 4500 (RFC 7296
//! §2.23, RFC 3947) stays one pair; ports are recorded. Every table is an [`lru::Lru`] with a
//! cap, and idle entries expire by packet time, so memory is bounded on any input.

pub mod esp;
pub mod hist;
pub mod ike;
pub mod lru;
pub mod nat;

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;

use crate::decode::ike::{IkeMessage, PayloadBody};
use crate::event::{Body, EspInfo, Event, Timestamp};
use esp::{EspKey, EspSa, SeqVerdict};
use hist::Histogram;
use ike::{IkeSa, Msg, Placed, SaState, Wire, n, x1, x2};
use lru::Lru;

/// Table caps and idle times. The defaults suit a gateway with a few thousand tunnels.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_pairs: usize,
    pub max_ike_sas: usize,
    pub max_esp_sas: usize,
    /// Seconds of packet time after which an idle IKE or ESP SA is closed.
    pub sa_idle_secs: i64,
    /// Seconds of packet time after which an idle peer pair is forgotten.
    pub pair_idle_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pairs: 4096,
            max_ike_sas: 16384,
            max_esp_sas: 32768,
            sa_idle_secs: 3600,
            pair_idle_secs: 86_400,
        }
    }
}

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
    fn tick(&mut self, ts: Timestamp, frame: u64) {
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
    pub first_ts: Timestamp,
    pub first_frame: u64,
}

impl SaSummary {
    fn of(sa: &IkeSa) -> Self {
        SaSummary {
            version: sa.version,
            ispi: sa.ispi,
            rspi: sa.rspi,
            initiator: sa.initiator,
            state: sa.state,
            established: sa.established(),
            first_ts: sa.first_ts,
            first_frame: sa.first_frame,
        }
    }
}

/// One ESP SPI as the tunnel summary lists it.
#[derive(Clone, Debug)]
pub struct ChildSummary {
    pub spi: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IKE SA it was bound to (the one up on this pair when the SPI first appeared).
    pub ike_ispi: Option<u64>,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

const MAX_LOG: usize = 16;
const MAX_CHILD_LOG: usize = 32;
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
    pub ike_on_500: bool,
    pub ike_on_4500: bool,
    /// First IKE message on 4500 after IKE on 500.
    pub float_frame: Option<u64>,
    pub esp_packets: [u64; 2],
    pub esp_bytes: [u64; 2],
    pub esp_in_udp: bool,
    pub esp_first_frame: [u64; 2],
    pub ah_packets: [u64; 2],
    /// NAT-D verdicts: side is behind NAT, per side; with supporting frames.
    pub nat_behind: [Option<bool>; 2],
    pub nat_frames: Vec<u64>,
    pub keepalives: [Cadence; 2],
    pub last_from: [Option<Timestamp>; 2],
    /// Longest silence between two packets from each side (any IPsec packet).
    pub max_gap_from: [f64; 2],
    /// Longest silence from each side within the life of one IKE SA (its IKE messages and the
    /// ESP bound to it): idle time while a tunnel was up.
    pub sa_gap_from: [f64; 2],
    pub ike_ip_fragmented: u32,
    pub ike_frag_frames: Vec<u64>,
    pub esp_fragmented: u64,
    pub esp_frag_frames: Vec<u64>,
    pub fragment_packets: u64,
    pub incomplete_sets: u32,
    pub incomplete_frames: Vec<u64>,
    pub ike_fragmentation_supported: [bool; 2],
    pub ike_fragments_used: bool,
    pub icmp_errors: u32,
    pub icmp_frag_needed: u32,
    /// ICMP "fragment reassembly time exceeded" about this pair's packets.
    pub icmp_reassembly: u32,
    /// ICMP errors quoting IKE (UDP 500/4500) whose quote does not reach the IKE SPIs.
    pub icmp_about_ike: u32,
    pub rtt: Histogram,
    pub sas: VecDeque<SaSummary>,
    pub children: VecDeque<ChildSummary>,
    /// Entries ever dropped from the front of `children`: entry `i` was the `dropped + i`th
    /// ever logged, which is what [`EspSa`]s remember to find theirs without a scan.
    children_dropped: u64,
    pub child_exchanges: u32,
    pub deletes: u32,
    pub established_ever: bool,
    /// The IKE SA most recently authenticated or established: ESP is bound to it.
    pub current_sa: Option<u64>,
    pub findings: Vec<&'static str>,
}

impl Pair {
    fn new(key: PairKey, ts: Timestamp, frame: u64) -> Self {
        Pair {
            key,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            ike_ports: [0; 2],
            ike_versions: 0,
            ike_packets: [0; 2],
            ike_on_500: false,
            ike_on_4500: false,
            float_frame: None,
            esp_packets: [0; 2],
            esp_bytes: [0; 2],
            esp_in_udp: false,
            esp_first_frame: [0; 2],
            ah_packets: [0; 2],
            nat_behind: [None; 2],
            nat_frames: Vec::new(),
            keepalives: [Cadence::default(); 2],
            last_from: [None; 2],
            max_gap_from: [0.0; 2],
            sa_gap_from: [0.0; 2],
            ike_ip_fragmented: 0,
            ike_frag_frames: Vec::new(),
            esp_fragmented: 0,
            esp_frag_frames: Vec::new(),
            fragment_packets: 0,
            incomplete_sets: 0,
            incomplete_frames: Vec::new(),
            ike_fragmentation_supported: [false; 2],
            ike_fragments_used: false,
            icmp_errors: 0,
            icmp_frag_needed: 0,
            icmp_reassembly: 0,
            icmp_about_ike: 0,
            rtt: Histogram::default(),
            sas: VecDeque::new(),
            children: VecDeque::new(),
            children_dropped: 0,
            child_exchanges: 0,
            deletes: 0,
            established_ever: false,
            current_sa: None,
            findings: Vec::new(),
        }
    }

    pub fn addr(&self, side: usize) -> IpAddr {
        if side == 0 { self.key.a } else { self.key.b }
    }

    pub fn ike_seen_both_ways(&self) -> bool {
        self.ike_packets[0] > 0 && self.ike_packets[1] > 0
    }

    fn touch(&mut self, ev: &Event, side: Option<usize>) {
        if ev.pkt.ts > self.last_ts {
            self.last_ts = ev.pkt.ts;
        }
        self.last_frame = ev.pkt.frame;
        if let Some(s) = side {
            if let Some(last) = self.last_from[s] {
                self.max_gap_from[s] = self.max_gap_from[s].max(ev.pkt.ts.since(last));
            }
            self.last_from[s] = Some(ev.pkt.ts);
        }
    }

    fn log_sa(&mut self, sum: SaSummary) {
        let established = sum.established;
        if let Some(s) = self.sas.iter_mut().find(|s| s.ispi == sum.ispi) {
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

    /// Findings reported about this pair, by id, in the order first reported.
    pub fn note_finding(&mut self, id: &'static str) {
        if !self.findings.contains(&id) && self.findings.len() < 64 {
            self.findings.push(id);
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TrackStats {
    pub pairs: usize,
    pub ike_sas: usize,
    pub esp_sas: usize,
    /// Entries ever created: the tables above shrink as entries expire.
    pub pairs_seen: u64,
    pub ike_sas_seen: u64,
    pub esp_sas_seen: u64,
    pub pairs_evicted: u64,
    pub ike_sas_evicted: u64,
    pub esp_sas_evicted: u64,
    pub pairs_expired: u64,
    pub ike_sas_expired: u64,
    pub esp_sas_expired: u64,
    pub events: u64,
}

/// What one event did to the tables: the rules' starting point.
#[derive(Debug, Default)]
pub struct Update {
    pub pair: Option<PairKey>,
    pub sa: Option<SaKey>,
    pub placed: Option<Placed>,
    pub new_sa: bool,
    /// State before and after, when the message moved the SA.
    pub transition: Option<(SaState, SaState)>,
    pub esp: Option<EspKey>,
    pub seq: Option<SeqVerdict>,
    /// Entries that left the tables while handling this event (idle or evicted).
    pub closed_sas: Vec<(SaKey, IkeSa)>,
    pub closed_esp: Vec<(EspKey, EspSa)>,
    pub closed_pairs: Vec<Pair>,
}

pub struct Tracker {
    limits: Limits,
    pairs: Lru<PairKey, Pair>,
    sas: Lru<SaKey, IkeSa>,
    esps: Lru<EspKey, EspSa>,
    stats: TrackStats,
    last_sweep: i64,
    /// Frames of recent first IP fragments (offset 0, more to come) of IPsec flows.
    first_fragments: VecDeque<u64>,
}

const MAX_FIRST_FRAGMENTS: usize = 256;

impl Default for Tracker {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Tracker {
    pub fn new(limits: Limits) -> Self {
        Tracker {
            limits,
            pairs: Lru::new(limits.max_pairs),
            sas: Lru::new(limits.max_ike_sas),
            esps: Lru::new(limits.max_esp_sas),
            stats: TrackStats::default(),
            last_sweep: i64::MIN,
            first_fragments: VecDeque::new(),
        }
    }

    pub fn pair(&self, k: &PairKey) -> Option<&Pair> {
        self.pairs.get(k)
    }
    pub fn pair_mut(&mut self, k: &PairKey) -> Option<&mut Pair> {
        self.pairs.get_mut(k)
    }
    pub fn sa(&self, k: &SaKey) -> Option<&IkeSa> {
        self.sas.get(k)
    }
    pub fn esp(&self, k: &EspKey) -> Option<&EspSa> {
        self.esps.get(k)
    }
    pub fn pairs(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.values()
    }
    pub fn sas(&self) -> impl Iterator<Item = (&SaKey, &IkeSa)> {
        self.sas.iter()
    }
    pub fn esps(&self) -> impl Iterator<Item = (&EspKey, &EspSa)> {
        self.esps.iter()
    }

    pub fn stats(&self) -> TrackStats {
        TrackStats {
            pairs: self.pairs.len(),
            ike_sas: self.sas.len(),
            esp_sas: self.esps.len(),
            pairs_seen: self.pairs.inserted,
            ike_sas_seen: self.sas.inserted,
            esp_sas_seen: self.esps.inserted,
            pairs_evicted: self.pairs.evicted,
            ike_sas_evicted: self.sas.evicted,
            esp_sas_evicted: self.esps.evicted,
            ..self.stats.clone()
        }
    }

    /// End of input: every SA and ESP SA leaves (pairs stay for the summary).
    pub fn close_all(&mut self) -> Update {
        Update {
            closed_sas: self.sas.drain_oldest_first(),
            closed_esp: self.esps.drain_oldest_first(),
            ..Update::default()
        }
    }

    pub fn observe(&mut self, ev: &Event) -> Update {
        self.stats.events += 1;
        let mut up = Update::default();
        self.sweep(ev.pkt.ts, &mut up);
        match &ev.body {
            Body::Ike(m) => self.ike(ev, m, &mut up),
            Body::Esp(e) => self.on_esp(ev, e, &mut up),
            Body::Ah(a) => {
                let side = self.touch_pair(ev, ev.flow.src, ev.flow.dst, &mut up);
                if let Some(p) = up.pair.and_then(|k| self.pairs.get_mut(&k)) {
                    p.ah_packets[side] += 1;
                }
                let _ = a;
            }
            Body::NatKeepalive => {
                let side = self.touch_pair(ev, ev.flow.src, ev.flow.dst, &mut up);
                if let Some(p) = up.pair.and_then(|k| self.pairs.get_mut(&k)) {
                    p.keepalives[side].tick(ev.pkt.ts, ev.pkt.frame);
                }
            }
            Body::IcmpError(e) => {
                // The quoted packet's flow names the pair: it is our IKE/ESP packet.
                if let Some(q) = e.quoted.flow {
                    let (key, _) = PairKey::of(q.src, q.dst);
                    let p = self.pair_entry(key, ev, &mut up);
                    p.icmp_errors += 1;
                    let frag_needed =
                        (!e.v6 && e.icmp_type == 3 && e.code == 4) || (e.v6 && e.icmp_type == 2);
                    if frag_needed {
                        p.icmp_frag_needed += 1;
                    }
                    if e.code == 1 && e.icmp_type == if e.v6 { 3 } else { 11 } {
                        p.icmp_reassembly += 1;
                    }
                    let ike_port = |x: u16| x == 500 || x == 4500;
                    if e.quoted.ike_spis.is_none()
                        && e.quoted.esp_spi.is_none()
                        && (ike_port(q.sport) || ike_port(q.dport))
                    {
                        p.icmp_about_ike += 1;
                    }
                    p.touch(ev, None);
                    up.pair = Some(key);
                    if let Some((ispi, _)) = e.quoted.ike_spis
                        && let Some(sa) = self.sas.get_mut(&SaKey { pair: key, ispi })
                    {
                        sa.icmp_errors += 1;
                    }
                }
            }
            Body::Fragment(f) => {
                if f.offset == 0 && f.more_fragments {
                    if self.first_fragments.len() >= MAX_FIRST_FRAGMENTS {
                        self.first_fragments.pop_front();
                    }
                    self.first_fragments.push_back(ev.pkt.frame);
                }
                self.touch_pair(ev, ev.flow.src, ev.flow.dst, &mut up);
                if let Some(p) = up.pair.and_then(|k| self.pairs.get_mut(&k)) {
                    p.fragment_packets += 1;
                }
                if f.offset == 0
                    && let Some((spi, seq)) = f.esp
                {
                    let key = EspKey::sent(&ev.flow, spi);
                    let (e, _, old) = self.esps.touch_or_insert_with(&key, || {
                        EspSa::new(key, ev.pkt.ts, ev.pkt.frame, seq)
                    });
                    if let Some(old) = old {
                        up.closed_esp.push(old);
                    }
                    up.seq = Some(e.sequence(ev.pkt.frame, seq));
                    up.esp = Some(key);
                }
            }
            Body::FragmentsIncomplete(inc) => {
                let (key, _) = PairKey::of(ev.flow.src, ev.flow.dst);
                let p = self.pair_entry(key, ev, &mut up);
                p.incomplete_sets += 1;
                push_capped(&mut p.incomplete_frames, inc.first_frame, MAX_FRAMES);
                push_capped(&mut p.incomplete_frames, inc.last_frame, MAX_FRAMES);
                up.pair = Some(key);
            }
            Body::Malformed(_) => {}
        }
        up
    }

    fn pair_entry(&mut self, key: PairKey, ev: &Event, up: &mut Update) -> &mut Pair {
        Self::pair_in(&mut self.pairs, key, ev, up)
    }

    /// [`Tracker::pair_entry`] borrowing only the pair table, so that the caller may hold an
    /// entry of another table at the same time.
    fn pair_in<'a>(
        pairs: &'a mut Lru<PairKey, Pair>,
        key: PairKey,
        ev: &Event,
        up: &mut Update,
    ) -> &'a mut Pair {
        let (p, _, old) =
            pairs.touch_or_insert_with(&key, || Pair::new(key, ev.pkt.ts, ev.pkt.frame));
        if let Some((_, old)) = old {
            up.closed_pairs.push(old);
        }
        p
    }

    /// Touches the pair of a packet from `src` to `dst`; returns the sender's side.
    fn touch_pair(&mut self, ev: &Event, src: IpAddr, dst: IpAddr, up: &mut Update) -> usize {
        Self::touch_pair_in(&mut self.pairs, ev, src, dst, up).1
    }

    /// Touches the pair of a packet from `src` to `dst`: the pair and the sender's side.
    fn touch_pair_in<'a>(
        pairs: &'a mut Lru<PairKey, Pair>,
        ev: &Event,
        src: IpAddr,
        dst: IpAddr,
        up: &mut Update,
    ) -> (&'a mut Pair, usize) {
        let (key, _) = PairKey::of(src, dst);
        let side = key.side(src);
        let p = Self::pair_in(pairs, key, ev, up);
        p.touch(ev, Some(side));
        up.pair = Some(key);
        (p, side)
    }

    fn sweep(&mut self, now: Timestamp, up: &mut Update) {
        if now.secs <= self.last_sweep {
            return;
        }
        self.last_sweep = now.secs;
        let idle = self.limits.sa_idle_secs;
        while let Some((_, sa)) = self.sas.oldest() {
            if now.since(sa.last_ts) <= idle as f64 {
                break;
            }
            let kv = self.sas.pop_oldest().expect("oldest exists");
            self.stats.ike_sas_expired += 1;
            up.closed_sas.push(kv);
        }
        while let Some((_, e)) = self.esps.oldest() {
            if now.since(e.last_ts) <= idle as f64 {
                break;
            }
            let kv = self.esps.pop_oldest().expect("oldest exists");
            self.stats.esp_sas_expired += 1;
            up.closed_esp.push(kv);
        }
        let pidle = self.limits.pair_idle_secs;
        while let Some((_, p)) = self.pairs.oldest() {
            if now.since(p.last_ts) <= pidle as f64 {
                break;
            }
            let (_, p) = self.pairs.pop_oldest().expect("oldest exists");
            self.stats.pairs_expired += 1;
            up.closed_pairs.push(p);
        }
    }

    /// The hot path: one lookup in each table the packet touches (ESP SA, pair, and the IKE SA
    /// it is bound to), each entry borrowed once.
    fn on_esp(&mut self, ev: &Event, esp: &EspInfo, up: &mut Update) {
        let (spi, len, udp) = (esp.spi, esp.len, esp.udp_encapsulated);
        let ts = ev.pkt.ts;
        let (p, side) = Self::touch_pair_in(&mut self.pairs, ev, ev.flow.src, ev.flow.dst, up);
        let key = EspKey::sent(&ev.flow, spi);
        let (e, _, old) = self
            .esps
            .touch_or_insert_with(&key, || EspSa::new(key, ts, ev.pkt.frame, esp.seq));
        if let Some(old) = old {
            up.closed_esp.push(old);
        }
        e.udp_encapsulated |= udp;
        up.seq = Some(e.observe(
            ts,
            ev.pkt.frame,
            esp.seq,
            len,
            ev.ip.total_len,
            ev.ip.fragments > 0,
        ));
        up.esp = Some(key);
        let pk = p.key;
        p.esp_packets[side] += 1;
        p.esp_bytes[side] += u64::from(len);
        if p.esp_first_frame[side] == 0 {
            p.esp_first_frame[side] = ev.pkt.frame;
        }
        p.esp_in_udp |= udp;
        if ev.ip.fragments > 0 {
            p.esp_fragmented += 1;
            push_capped(
                &mut p.esp_frag_frames,
                ev.ip.first_fragment_frame,
                MAX_FRAMES,
            );
            push_capped(&mut p.esp_frag_frames, ev.pkt.frame, MAX_FRAMES);
        }
        let bind = p.current_sa;
        let is_this = |c: &ChildSummary| c.spi == spi && c.src == ev.flow.src;
        // The SA's own entry, where it said it was; a scan only when the log moved on.
        let at = e
            .child_log_index
            .checked_sub(p.children_dropped)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| p.children.get(i).is_some_and(is_this))
            .or_else(|| p.children.iter().rposition(is_this));
        let at = match at {
            Some(i) => {
                let c = &mut p.children[i];
                c.packets += 1;
                c.bytes += u64::from(len);
                if ts > c.last_ts {
                    c.last_ts = ts;
                }
                i
            }
            None => {
                if p.children.len() >= MAX_CHILD_LOG {
                    p.children.pop_front();
                    p.children_dropped += 1;
                }
                p.children.push_back(ChildSummary {
                    spi,
                    src: ev.flow.src,
                    dst: ev.flow.dst,
                    ike_ispi: bind,
                    packets: 1,
                    bytes: u64::from(len),
                    first_ts: ts,
                    last_ts: ts,
                });
                p.children.len() - 1
            }
        };
        e.child_log_index = p.children_dropped + at as u64;
        // ESP after authentication proves the IKE SA (and a Child SA) came up.
        let Some(ispi) = bind else { return };
        let Some(sa) = self.sas.get_mut(&SaKey { pair: pk, ispi }) else {
            return;
        };
        let gap = sa.heard(ev.flow.src, ts);
        p.sa_gap_from[side] = p.sa_gap_from[side].max(gap);
        let before = sa.state;
        sa.esp_after_auth = true;
        sa.set_state(Msg::Used, ts);
        // Only a state change needs the pair's log updated (ESP is the hot path).
        if before != sa.state {
            up.transition = Some((before, sa.state));
            p.log_sa(SaSummary::of(sa));
        }
    }

    fn ike(&mut self, ev: &Event, m: &IkeMessage, up: &mut Update) {
        let (src, dst) = (ev.flow.src, ev.flow.dst);
        let side = self.touch_pair(ev, src, dst, up);
        let pk = up.pair.expect("set by touch_pair");
        let ts = ev.pkt.ts;
        let on_4500 = ev.flow.sport == 4500 || ev.flow.dport == 4500 || m.non_esp_marker;
        // The first fragment of a set that never completed still yields the IKE header, in an
        // event for that fragment's frame (which passed as a Fragment event before).
        let first_fragment_only = ev.ip.fragments == 0
            && m.length > m.wire_len
            // No IP datagram is larger than 65535 bytes: beyond that the length field lies.
            && m.length <= 65_535 - 28
            && self.first_fragments.contains(&ev.pkt.frame);

        {
            let p = self.pairs.get_mut(&pk).expect("present");
            p.ike_ports[side] = ev.flow.sport;
            p.ike_ports[1 - side] = ev.flow.dport;
            p.ike_versions |= 1 << m.version.min(7);
            p.ike_packets[side] += 1;
            if on_4500 {
                if p.ike_on_500 && !p.ike_on_4500 {
                    p.float_frame = Some(ev.pkt.frame);
                }
                p.ike_on_4500 = true;
            } else {
                p.ike_on_500 = true;
            }
            if ev.ip.fragments > 0 || first_fragment_only {
                p.ike_ip_fragmented += 1;
                push_capped(
                    &mut p.ike_frag_frames,
                    ev.ip.first_fragment_frame,
                    MAX_FRAMES,
                );
                push_capped(&mut p.ike_frag_frames, ev.pkt.frame, MAX_FRAMES);
            }
            if m.has_notify(n::IKEV2_FRAGMENTATION_SUPPORTED) {
                p.ike_fragmentation_supported[side] = true;
            }
            if !m.reassembled_from.is_empty()
                || m.payloads
                    .iter()
                    .any(|pl| matches!(pl.body, PayloadBody::EncryptedFragment { .. }))
            {
                p.ike_fragments_used = true;
            }
        }
        let key = SaKey {
            pair: pk,
            ispi: m.ispi,
        };
        let (sa, new_sa, old) = self.sas.touch_or_insert_with(&key, || {
            // Who initiated: IKEv2 says so (I flag); IKEv1's first message has no responder
            // cookie. Otherwise assume the sender of the first message seen.
            let sender_is_initiator = if m.version == 2 {
                m.from_original_initiator()
            } else {
                m.rspi == 0 || !matches!(m.exchange, x1::MAIN | x1::AGGRESSIVE)
            };
            let (i, r) = if sender_is_initiator {
                ((src, ev.flow.sport), (dst, ev.flow.dport))
            } else {
                ((dst, ev.flow.dport), (src, ev.flow.sport))
            };
            IkeSa::new(m.version, m.ispi, i, r, ts, ev.pkt.frame)
        });
        if let Some(old) = old {
            up.closed_sas.push(old);
        }
        up.new_sa = new_sa;
        up.sa = Some(key);
        if ts > sa.last_ts {
            sa.last_ts = ts;
        }
        sa.last_frame = ev.pkt.frame;
        if m.rspi != 0 {
            sa.rspi = m.rspi;
        }
        sa.on_4500 |= on_4500;
        // Latest ports: after the NAT-T float the SA lives on 4500 (or NAT-assigned ports).
        if src == sa.initiator {
            (sa.initiator_port, sa.responder_port) = (ev.flow.sport, ev.flow.dport);
        } else if src == sa.responder {
            (sa.responder_port, sa.initiator_port) = (ev.flow.sport, ev.flow.dport);
        }
        let gap = sa.heard(src, ts);
        let wire = Wire {
            src,
            dst,
            ts,
            frame: ev.pkt.frame,
            ip_len: if first_fragment_only {
                m.length.saturating_add(28)
            } else {
                ev.ip.total_len
            },
            ip_fragments: if first_fragment_only {
                1
            } else {
                ev.ip.fragments
            },
            dont_fragment: ev.ip.dont_fragment,
            msg: m,
        };
        let placed = sa.place(&wire);
        up.placed = Some(placed);
        let x = &sa.exchanges[placed.exchange];
        let step = &x.steps[placed.step];
        let response = step.response;
        let from_initiator = src == sa.initiator;
        // Response time: from the last request transmission before this first response.
        let mut rtt = None;
        if response && placed.transmission == 1 {
            rtt = x
                .steps
                .iter()
                .filter(|s| !s.response && s.last_ts <= ts)
                .map(|s| s.last_ts)
                .max()
                .map(|t| ts.nanos_since(t) / 1000);
        }
        // The sender's ordinal among its own distinct messages in this exchange (1-based).
        let ordinal = x.steps[..=placed.step]
            .iter()
            .filter(|s| s.from == src)
            .count();
        let exchange = x.exchange;
        let (step_sk_len, step_ike_fragments) = (step.sk_len, step.ike_fragments);
        sa.record_notifies(&wire, response);
        if m.has_notify(n::IKEV2_FRAGMENTATION_SUPPORTED) {
            sa.ike_fragmentation_offered[usize::from(!from_initiator)] = true;
        }
        sa.ike_fragments_used |= step_ike_fragments;
        if let Some(props) = m.proposals() {
            let phase1 = matches!(exchange, x2::IKE_SA_INIT | x1::MAIN | x1::AGGRESSIVE);
            if phase1 && !response && sa.offered.is_none() {
                sa.offered = Some(props.iter().take(32).cloned().collect());
                sa.offered_frame = ev.pkt.frame;
            } else if phase1 && response {
                sa.chosen = Some(props.iter().take(4).cloned().collect());
            } else if !response && sa.child_offered.is_none() {
                sa.child_offered = Some(props.iter().take(32).cloned().collect());
            } else if response {
                sa.child_chosen = Some(props.iter().take(4).cloned().collect());
            }
        }
        if !response {
            for p in &m.payloads {
                if let PayloadBody::Ke { group, .. } = p.body
                    && group != 0
                {
                    sa.ke_group = Some(group);
                }
            }
        }
        if m.version == 1 && matches!(exchange, x1::MAIN | x1::AGGRESSIVE) {
            sa.phase1 = Some(exchange);
        }
        let nat = nat_verdict(sa, m, ev);
        let msg = classify(sa, m, exchange, response, ordinal, step_sk_len);
        if exchange == x2::IKE_AUTH && response && m.version == 2 {
            if let Some(len) = step_sk_len {
                sa.auth_response_sk = Some((len, ev.pkt.frame));
            }
        }
        let counts_child = (m.version == 2 && exchange == x2::CREATE_CHILD_SA && response)
            || (m.version == 1 && exchange == x1::QUICK && response && ordinal == 1);
        if counts_child && placed.transmission == 1 {
            sa.child_exchanges += 1;
        }
        if matches!(msg, Msg::Used) && sa.state >= SaState::Authenticated {
            sa.used_after_auth = true;
        }
        let before = sa.state;
        sa.set_state(msg, ts);
        if before != sa.state {
            up.transition = Some((before, sa.state));
        }
        let deletes = m
            .payloads
            .iter()
            .filter(|p| matches!(p.body, PayloadBody::Delete(_)))
            .count() as u32;
        let now_up = matches!(sa.state, SaState::Authenticated | SaState::Established);
        let sa_summary = SaSummary::of(sa);
        let sa_child_exchanges = sa.child_exchanges;
        let p = self.pairs.get_mut(&pk).expect("present");
        p.sa_gap_from[side] = p.sa_gap_from[side].max(gap);
        if let Some(us) = rtt {
            p.rtt.record_us(us);
        }
        // IKEv2 CREATE_CHILD_SA always rekeys or adds (the first Child SA comes with IKE_AUTH);
        // an IKEv1 SA's first Quick Mode creates, later ones rekey.
        let min = if m.version == 1 { 1 } else { 0 };
        if counts_child && placed.transmission == 1 && sa_child_exchanges > min {
            p.child_exchanges += 1;
        }
        p.deletes += deletes;
        if now_up {
            p.current_sa = Some(key.ispi);
        }
        if let Some((sender_behind, receiver_behind)) = nat {
            let s = pk.side(src);
            if let Some(v) = sender_behind {
                p.nat_behind[s] = Some(p.nat_behind[s].unwrap_or(false) || v);
            }
            if let Some(v) = receiver_behind {
                p.nat_behind[1 - s] = Some(p.nat_behind[1 - s].unwrap_or(false) || v);
            }
            push_capped(&mut p.nat_frames, ev.pkt.frame, MAX_FRAMES);
        }
        p.log_sa(sa_summary);
    }
}

/// What a message means for its SA's state machine.
fn classify(
    sa: &IkeSa,
    m: &IkeMessage,
    exchange: u8,
    response: bool,
    ordinal: usize,
    sk_len: Option<u32>,
) -> Msg {
    if m.version == 2 {
        let clear_error = m
            .notifies()
            .any(|nt| nt.notify_type < 16384 && !matches!(nt.notify_type, n::INVALID_KE_PAYLOAD));
        return match (exchange, response) {
            (x2::IKE_SA_INIT, false) => Msg::InitRequest,
            (x2::IKE_SA_INIT, true) if clear_error => Msg::Fatal,
            (x2::IKE_SA_INIT, true) if m.proposals().is_some() => Msg::InitAccepted,
            (x2::IKE_AUTH, false) => Msg::AuthRequest,
            (x2::IKE_AUTH, true) if clear_error && !m.encrypted => Msg::Fatal,
            (x2::IKE_AUTH, true) => match sk_len {
                Some(l) if l >= ike::AUTH_RESPONSE_MIN_SK => Msg::AuthAccepted,
                Some(_) => Msg::AuthSmall,
                None => Msg::Other,
            },
            (x2::CREATE_CHILD_SA | x2::INFORMATIONAL, true) => Msg::Used,
            _ => Msg::Other,
        };
    }
    let deletes_isakmp = m
        .payloads
        .iter()
        .any(|p| matches!(&p.body, PayloadBody::Delete(d) if d.protocol == 1));
    match exchange {
        x1::MAIN => match (response, ordinal) {
            (false, 1) => Msg::InitRequest,
            (true, 1) if m.proposals().is_some() => Msg::InitAccepted,
            (false, 3) => Msg::AuthRequest,
            (true, 3) => Msg::AuthAccepted,
            _ => Msg::Other,
        },
        x1::AGGRESSIVE => match (response, ordinal) {
            (false, 1) => Msg::InitRequest,
            (true, 1) => Msg::InitAccepted,
            (false, 2) => Msg::AuthRequest,
            _ => Msg::Other,
        },
        x1::QUICK if response => Msg::Used,
        x1::TRANSACTION if response && sa.state >= SaState::Authenticating => Msg::Used,
        x1::INFORMATIONAL if deletes_isakmp => Msg::Delete,
        // An unprotected IKEv1 notification does not end the SA (RFC 2408 §5.5: it may be
        // forged, and implementations carry on): the rules report it, the state follows the
        // exchange.
        _ => Msg::Other,
    }
}

/// Checks NAT-D data against the wire: (sender behind NAT, receiver behind NAT).
fn nat_verdict(sa: &IkeSa, m: &IkeMessage, ev: &Event) -> Option<(Option<bool>, Option<bool>)> {
    let wsrc = (ev.flow.src, ev.flow.sport);
    let wdst = (ev.flow.dst, ev.flow.dport);
    let v = if m.version == 2 {
        let srcs: Vec<&[u8]> = m
            .notifies()
            .filter(|x| x.notify_type == n::NAT_DETECTION_SOURCE_IP)
            .map(|x| x.data.as_slice())
            .collect();
        let dst = m
            .notifies()
            .find(|x| x.notify_type == n::NAT_DETECTION_DESTINATION_IP)
            .map(|x| x.data.as_slice());
        if srcs.is_empty() && dst.is_none() {
            return None;
        }
        // In the IKE_SA_INIT request the responder SPI is still zero.
        nat::check(m.ispi, m.rspi, wsrc, wdst, &srcs, dst)
    } else {
        let hashes: Vec<&[u8]> = m
            .payloads
            .iter()
            .filter_map(|p| match &p.body {
                PayloadBody::NatDiscovery(h) => Some(h.as_slice()),
                _ => None,
            })
            .collect();
        let (first, rest) = hashes.split_first()?;
        let rspi = if m.rspi != 0 { m.rspi } else { sa.rspi };
        // RFC 3947 §3.2: the first NAT-D is the remote (destination) address.
        nat::check(m.ispi, rspi, wsrc, wdst, rest, Some(first))
    };
    if v.sender_translated.is_none() && v.receiver_translated.is_none() {
        return None;
    }
    Some((v.sender_translated, v.receiver_translated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testutil::{A, B, Script, ip};

    /// More SPIs on one pair than the child log keeps, each sending in turns: every entry still
    /// in the log counts exactly its own packets, whether found by its SA's hint or by a scan.
    #[test]
    fn child_log_counts_survive_its_front_being_dropped() {
        let spis = MAX_CHILD_LOG as u32 + 8;
        let rounds = 5u32;
        let mut s = Script::default();
        let mut ms = 0;
        for round in 0..rounds {
            // The first SPIs send only in the first round, so they leave the log for good.
            let from = if round == 0 { 0 } else { 8 };
            for spi in from..spis {
                s.esp(ms, A, B, 0x1000 + spi, round + 1);
                ms += 1;
            }
        }
        let mut t = Tracker::default();
        for ev in &s.events {
            t.observe(ev);
        }
        let (key, _) = PairKey::of(ip(A), ip(B));
        let p = t.pair(&key).expect("pair");
        assert_eq!(p.children.len(), MAX_CHILD_LOG);
        assert_eq!(p.children_dropped, 8);
        for c in &p.children {
            assert_eq!(c.packets, u64::from(rounds), "SPI {:#x}", c.spi);
            assert_eq!(c.bytes, u64::from(rounds) * 120);
        }
        let logged: Vec<u32> = p.children.iter().map(|c| c.spi).collect();
        let want: Vec<u32> = (8..spis).map(|s| 0x1000 + s).collect();
        assert_eq!(logged, want);
    }
}
