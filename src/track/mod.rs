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
pub mod leak;
pub mod lru;
pub mod nat;
mod pair;
pub mod tcp;

pub use pair::{Cadence, ChildSummary, Pair, PairKey, SaKey, SaSummary, Unanswered};

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;

use crate::event::codes::ExchangeType;
use crate::event::ike::{IkeMessage, PayloadBody};
use crate::event::{AhInfo, Body, EspInfo, Event, Integrity, Timestamp};
use esp::{EspKey, EspSa, SeqVerdict};
use ike::{IkeSa, Msg, Placed, SaState};
use lru::Lru;

/// Table caps and idle times. The defaults suit a gateway with a few thousand tunnels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// A data-plane packet answered the other side: the run of that side's packets it ended.
    pub ended_run: Option<Unanswered>,
    /// Entries that left the tables while handling this event (idle or evicted).
    pub closed_sas: Vec<(SaKey, IkeSa)>,
    pub closed_esp: Vec<(EspKey, EspSa)>,
    pub closed_pairs: Vec<Pair>,
    /// Clear packets that a tunnel's selectors cover and that no ESP carried.
    pub leaks: Vec<leak::Leak>,
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
    leaks: leak::LeakWatch,
}

const MAX_FIRST_FRAGMENTS: usize = 256;

impl Default for Tracker {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// An IKEv1 message that can only be a responder's answer when it opens an SA: phase 1 with
/// a responder cookie (the initiator's first message has none), or a cleartext Informational
/// with no responder cookie carrying an error notify (the refusal of a phase-1 request).
fn v1_answer(m: &IkeMessage) -> bool {
    match m.exchange {
        ExchangeType::MAIN | ExchangeType::AGGRESSIVE => m.rspi != 0,
        ExchangeType::INFORMATIONAL_V1 => {
            !m.encrypted && m.rspi == 0 && m.notifies().any(|n| n.notify_type.is_error())
        }
        _ => false,
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
            leaks: leak::LeakWatch::default(),
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
        let mut up = Update {
            closed_sas: self.sas.drain_oldest_first(),
            closed_esp: self.esps.drain_oldest_first(),
            ..Update::default()
        };
        self.leaks.expire(None, &mut up.leaks);
        up
    }

    /// No packet, but the clock says `now` (live mode on a quiet interface): idle entries close
    /// as a packet at `now` would have closed them.
    pub fn advance(&mut self, now: Timestamp) -> Update {
        let mut up = Update::default();
        self.sweep(now, &mut up);
        up
    }

    pub fn observe(&mut self, ev: &Event) -> Update {
        self.stats.events += 1;
        let mut up = Update::default();
        self.sweep(ev.pkt.ts, &mut up);
        if !self.leaks.is_idle() {
            self.leaks.expire(Some(ev.pkt.ts), &mut up.leaks);
        }
        match &ev.body {
            Body::Ike(m) => self.ike(ev, m, &mut up),
            Body::Esp(e) => self.on_esp(ev, e, &mut up),
            Body::Ah(ah) => self.on_ah(ev, ah, &mut up),
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
            Body::FragmentsIncomplete(_) => {
                let (key, _) = PairKey::of(ev.flow.src, ev.flow.dst);
                let p = self.pair_entry(key, ev, &mut up);
                p.incomplete_sets += 1;
                up.pair = Some(key);
            }
            Body::Plain(p) => self.leaks.clear(p, ev.pkt.ts, ev.pkt.frame),
            Body::Tcp(t) => {
                let (p, side) =
                    Self::touch_pair_in(&mut self.pairs, ev, ev.flow.src, ev.flow.dst, &mut up);
                p.tcp.segment(ev, t, side);
            }
            Body::Malformed(_) => {}
        }
        if ev.flow.proto == crate::event::ipproto::TCP
            && matches!(ev.body, Body::Ike(_) | Body::Esp(_))
            && let Some(p) = up.pair.and_then(|k| self.pairs.get_mut(&k))
        {
            let side = p.key.side(ev.flow.src);
            p.tcp.message(ev, side);
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
            self.leaks.forget(&kv.0);
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
        if let Some(c) = esp.cleartext {
            match e.cleartext_seen {
                None => {
                    e.cleartext_seen = Some(c);
                    e.cleartext = 1;
                }
                Some(first) if first.icv == c.icv => e.cleartext += 1,
                Some(_) => {}
            }
        }
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
        if !self.leaks.is_idle() {
            match esp.decrypted.as_deref() {
                Some(d) => {
                    if let Some(inner) = d.inner.filter(|_| d.integrity != Integrity::Failed) {
                        self.leaks.carried(&inner, ts);
                    }
                }
                None => self.leaks.esp_unopened(pk, ts),
            }
        }
        p.esp_packets[side] += 1;
        p.esp_bytes[side] += u64::from(len);
        if p.esp_first_frame[side] == 0 {
            p.esp_first_frame[side] = ev.pkt.frame;
        }
        p.esp_in_udp |= udp;
        if ev.ip.fragments > 0 {
            p.esp_fragmented += 1;
        }
        let bind = p.current_sa;
        up.ended_run = p.data_seen(side, ts, ev.pkt.frame, len, bind);
        e.child_log_index = p.log_child(e.child_log_index, ev, spi, false, len, bind);
        // ESP after authentication proves the IKE SA (and a Child SA) came up.
        let Some(ispi) = bind else { return };
        let Some(sa) = self.sas.get_mut(&SaKey { pair: pk, ispi }) else {
            return;
        };
        let gap = sa.heard(ev.flow.src, ts);
        p.sa_gap_from[side] = p.sa_gap_from[side].max(gap);
        let before = sa.state;
        sa.set_state(Msg::Used, ts);
        // Only a state change needs the pair's log updated (ESP is the hot path).
        if before != sa.state {
            up.transition = Some((before, sa.state));
            p.log_sa(SaSummary::of(sa));
        }
    }

    /// AH carries a Child SA's traffic like ESP (RFC 4302): counted per side, logged per SPI and
    /// bound to the IKE SA up on the pair, so the data-plane rules see it. There is no ESP SA
    /// entry: sequence checks read ESP only. AH's bytes are its whole IP datagram: AH has no
    /// trailer or length of its own that would delimit what it protects.
    fn on_ah(&mut self, ev: &Event, ah: &AhInfo, up: &mut Update) {
        let ts = ev.pkt.ts;
        let (p, side) = Self::touch_pair_in(&mut self.pairs, ev, ev.flow.src, ev.flow.dst, up);
        let len = ev.ip.total_len;
        p.ah_packets[side] += 1;
        p.ah_bytes[side] += u64::from(len);
        let bind = p.current_sa;
        up.ended_run = p.data_seen(side, ts, ev.pkt.frame, len, bind);
        // Without an SA entry to remember where its log entry is, every packet scans.
        p.log_child(u64::MAX, ev, ah.spi, true, len, bind);
        let Some(ispi) = bind else { return };
        let pk = p.key;
        if let Some(sa) = self.sas.get_mut(&SaKey { pair: pk, ispi }) {
            let gap = sa.heard(ev.flow.src, ts);
            p.sa_gap_from[side] = p.sa_gap_from[side].max(gap);
            let before = sa.state;
            sa.set_state(Msg::Used, ts);
            if before != sa.state {
                up.transition = Some((before, sa.state));
                p.log_sa(SaSummary::of(sa));
            }
        }
    }

    fn ike(&mut self, ev: &Event, m: &IkeMessage, up: &mut Update) {
        let (src, dst) = (ev.flow.src, ev.flow.dst);
        let side = self.touch_pair(ev, src, dst, up);
        let pk = up.pair.expect("set by touch_pair");
        let ts = ev.pkt.ts;
        // The first fragment of a set that never completed still yields the IKE header, in an
        // event for that fragment's frame (which passed as a Fragment event before).
        let first_fragment_only = ev.ip.fragments == 0
            && m.length > m.wire_len
            // No IP datagram is larger than 65535 bytes: beyond that the length field lies.
            && m.length <= 65_535 - 28
            && self.first_fragments.contains(&ev.pkt.frame);

        self.pairs
            .get_mut(&pk)
            .expect("present")
            .ike_seen(ev, m, side, first_fragment_only);
        let key = SaKey {
            pair: pk,
            ispi: m.ispi,
        };
        let (sa, new_sa, old) = self.sas.touch_or_insert_with(&key, || {
            // Who initiated: IKEv1's first message has no responder cookie; IKEv2 says so (I
            // flag), but an IKE_SA_INIT with a responder SPI can only be the responder's answer
            // (RFC 7296 §3.1: zero in the request), whatever its flags claim. Otherwise assume
            // the sender of the first message seen.
            let sender_is_initiator = if m.version == 2 {
                if m.exchange == ExchangeType::IKE_SA_INIT && m.rspi != 0 {
                    false
                } else {
                    m.from_original_initiator()
                }
            } else {
                !v1_answer(m)
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
        if new_sa {
            // Only a message that can be nothing but the answer to the opening request counts:
            // IKE_SA_INIT's response, MM2/AM2 (the chosen SA), a refusal. A capture that starts
            // at MM3..MM6 has both cookies too, but not the opening answer.
            sa.unsolicited = src == sa.responder
                && if m.version == 1 {
                    m.exchange == ExchangeType::INFORMATIONAL_V1 || m.proposals().is_some()
                } else {
                    m.exchange == ExchangeType::IKE_SA_INIT
                };
        }
        up.new_sa = new_sa;
        up.sa = Some(key);
        let t = sa.take(ev, m, first_fragment_only);
        if let Some((i, r)) = &t.selectors {
            self.leaks.protect(key, i, r);
        }
        if matches!(t.transition, Some((_, SaState::Deleted | SaState::Failed))) {
            self.leaks.forget(&key);
        }
        let retransmitted = t.placed.transmission > 1;
        up.placed = Some(t.placed);
        up.transition = t.transition;
        let sa_summary = SaSummary::of(sa);
        let p = self.pairs.get_mut(&pk).expect("present");
        if retransmitted {
            p.ike_retransmissions[side] += 1;
        }
        p.sa_gap_from[side] = p.sa_gap_from[side].max(t.gap);
        if let Some(us) = t.rtt_us {
            p.rtt.record_us(us);
        }
        // IKEv2 CREATE_CHILD_SA always rekeys or adds (the first Child SA comes with IKE_AUTH);
        // an IKEv1 SA's first Quick Mode creates, later ones rekey.
        let min = if m.version == 1 { 1 } else { 0 };
        if t.child_exchanges.is_some_and(|n| n > min) {
            p.child_exchanges += 1;
        }
        p.deletes += t.deletes;
        if t.deletes > 0 {
            for payload in m.trusted_payloads().iter().chain(m.inner_payloads()) {
                if let PayloadBody::Delete(d) = &payload.body {
                    p.children_deleted(src, d.protocol, &d.spis, ev.pkt.frame);
                }
            }
        }
        if t.now_up {
            p.current_sa = Some(key.ispi);
        }
        if let Some((sender_behind, receiver_behind)) = t.nat {
            p.nat_seen(src, sender_behind, receiver_behind, ev.pkt.frame);
        }
        p.log_sa(sa_summary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{A, B, Script, ip};
    use ike::SaEnd;
    use pair::MAX_CHILD_LOG;

    /// The tracker after every event of `s`.
    fn track(s: &Script) -> Tracker {
        let mut t = Tracker::default();
        for ev in &s.events {
            t.observe(ev);
        }
        t
    }

    /// AH after IKE_AUTH is the IKE SA's data plane like ESP: counted per side, logged with its
    /// SPI, bound to the SA, and it marks the SA established.
    #[test]
    fn ah_is_counted_and_bound_to_its_ike_sa() {
        let mut s = Script::default();
        crate::testutil::healthy_v2(&mut s);
        s.ah(3_000, A, B, 0xa1, 1);
        s.ah(3_050, B, A, 0xa2, 1);
        s.ah(3_100, A, B, 0xa1, 2);
        let t = track(&s);
        let p = t.pair(&PairKey::of(ip(A), ip(B)).0).expect("pair");
        let a = p.key.side(ip(A));
        assert_eq!(p.ah_packets[a], 2);
        assert_eq!(p.ah_packets[1 - a], 1);
        assert_eq!(p.ah_bytes[a], 280);
        let ah: Vec<_> = p.children.iter().filter(|c| c.ah).collect();
        assert_eq!(ah.len(), 2);
        assert!(ah.iter().all(|c| c.ike_ispi == Some(0x1111)));
        assert_eq!(
            ah.iter().find(|c| c.spi == 0xa1).map(|c| c.packets),
            Some(2)
        );
        assert!(p.established_ever);
    }

    /// IKEv1 answers a liveness check with an Informational of its own: three from one side and
    /// none back end the SA as not answering (as DPD runs out); one back keeps it up; Deletes
    /// (which are never answered) do not count.
    #[test]
    fn ikev1_sa_ends_not_answering_after_unanswered_informationals() {
        use crate::event::codes::NotifyType;
        use crate::testutil::{Msg, X, delete, notify};
        let end = |inner: Vec<crate::event::ike::Payload>, answered: bool| {
            let mut s = Script::default();
            crate::testutil::healthy_v1(&mut s);
            for (i, ms) in [20_000u64, 30_000, 40_000].into_iter().enumerate() {
                let m = Msg::v1(X::INFORMATIONAL_V1, 100 + i as u32).len(84);
                let m = if inner.is_empty() {
                    m.encrypted()
                } else {
                    m.opened(inner.clone())
                };
                s.ike(ms, A, B, m);
            }
            if answered {
                s.ike(
                    40_010,
                    B,
                    A,
                    Msg::v1(X::INFORMATIONAL_V1, 200).len(84).encrypted(),
                );
            }
            let key = PairKey::of(ip(A), ip(B)).0;
            track(&s).pair(&key).unwrap().sas[0].end
        };
        let dead = end(Vec::new(), false);
        assert!(
            matches!(
                dead,
                SaEnd::Unanswered {
                    count: 3,
                    frame: 10,
                    ..
                }
            ),
            "{dead:?}"
        );
        let r_u_there = end(vec![notify(NotifyType::R_U_THERE, &[])], false);
        assert!(
            matches!(r_u_there, SaEnd::Unanswered { count: 3, .. }),
            "{r_u_there:?}"
        );
        assert_eq!(end(Vec::new(), true), SaEnd::Up);
        assert_eq!(end(vec![delete(3, &[0x1234])], false), SaEnd::Up);
    }

    /// The unanswered run: what one side sent since the other side's last data-plane packet,
    /// restarted when the other side sends and when the IKE SA changes.
    /// The tunnel table's story of each SA: one that stops answering its liveness checks, then
    /// a fresh SA between the same peers that replaces it.
    #[test]
    fn sa_ends_not_answering_then_replaced() {
        use crate::testutil::{Msg, X, sk, v2_sa};
        let mut s = Script::default();
        crate::testutil::healthy_v2(&mut s);
        for ms in [20_000, 20_500, 21_500] {
            s.ike(
                ms,
                A,
                B,
                Msg::v2(X::INFORMATIONAL, 3, false, true)
                    .len(80)
                    .with(sk(52)),
            );
        }
        let key = PairKey::of(ip(A), ip(B)).0;
        let t = track(&s);
        let end = t.pair(&key).unwrap().sas[0].end;
        assert!(matches!(end, SaEnd::Unanswered { count: 3, .. }), "{end:?}");
        s.ike(
            30_000,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, false, true).spis(0x77, 0),
        );
        s.ike(
            30_010,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, true, false)
                .spis(0x77, 0x88)
                .with(v2_sa(&[(4, 14)])),
        );
        s.ike(
            30_020,
            A,
            B,
            Msg::v2(X::IKE_AUTH, 1, false, true)
                .spis(0x77, 0x88)
                .len(400)
                .with(sk(370)),
        );
        s.ike(
            30_030,
            B,
            A,
            Msg::v2(X::IKE_AUTH, 1, true, false)
                .spis(0x77, 0x88)
                .len(300)
                .with(sk(270)),
        );
        s.esp(30_040, A, B, 0xd1, 1);
        let t = track(&s);
        let sas = &t.pair(&key).unwrap().sas;
        assert_eq!(sas.len(), 2);
        assert_eq!(sas[0].end, SaEnd::Replaced { by: 0x77 });
        assert_eq!(sas[1].end, SaEnd::Up);
    }

    #[test]
    fn unanswered_runs() {
        let mut s = Script::default();
        s.esp(0, A, B, 0xc1, 1);
        s.esp(10, B, A, 0xc2, 1);
        s.esp(20, A, B, 0xc1, 2);
        s.esp(3_020, A, B, 0xc1, 3);
        s.esp(3_030, B, A, 0xc2, 2);
        s.esp(3_040, A, B, 0xc1, 4);
        let t = track(&s);
        let p = t.pair(&PairKey::of(ip(A), ip(B)).0).expect("pair");
        let a = p.key.side(ip(A));
        let longest = p.longest_unanswered[a];
        assert_eq!((longest.packets, longest.after_frame), (2, 2));
        assert!((longest.span() - 3.0).abs() < 1e-6);
        let now = p.unanswered[a];
        assert_eq!((now.packets, now.after_frame, now.first_frame), (1, 5, 6));
        assert_eq!(p.unanswered[1 - a].packets, 0);
    }

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
        let t = track(&s);
        let p = t.pair(&PairKey::of(ip(A), ip(B)).0).expect("pair");
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
