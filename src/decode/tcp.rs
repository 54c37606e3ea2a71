//! IKE and ESP carried in TCP (RFC 8229): the TCP header, and a per-direction stream
//! reassembler that cuts the byte stream back into the messages it carries.
//!
//! The stream (RFC 8229 §3): the side that opened the connection first sends the six bytes
//! `IKETCP` (§3.1), then each side sends messages, each behind a 2-byte length that counts
//! itself; an IKE message follows a 4-byte zero non-ESP marker, an ESP packet starts with its
//! non-zero SPI. A TCP segment may hold part of a message or several.
//!
//! What a capture gives is not what the receiver got: segments resent by TCP, out of order, or
//! lost before the capture point. Resent bytes are dropped here (so an IKE message is seen
//! once however often TCP resent it, and the resend is counted as TCP's, not IKE's); a hole
//! that the peer's ACK shows was filled elsewhere, or that outlasts what is held, is skipped,
//! counted, and the stream found again at the next plausible message. Like the IP fragment
//! table ([`super::frag`]) this is byte-level state only, bounded in streams and bytes; who
//! talks to whom is the tracker's business.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::event::{DecodeError, Layer, LenError, LenSource, LenSubject, Timestamp};

/// Most ports `--tcp-encap-port` takes: a fixed array keeps the per-packet test a short scan.
pub const MAX_PORTS: usize = 8;

/// The TCP ports whose streams are read as RFC 8229 (4500 unless told otherwise: Libreswan's
/// `tcp-remoteport`, and some deployments use 443).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncapPorts {
    ports: [u16; MAX_PORTS],
    len: u8,
}

impl Default for EncapPorts {
    fn default() -> Self {
        let mut ports = [0; MAX_PORTS];
        ports[0] = 4500;
        EncapPorts { ports, len: 1 }
    }
}

impl EncapPorts {
    /// The ports given, duplicates folded; at least one, at most [`MAX_PORTS`], none zero.
    pub fn new(list: &[u16]) -> Result<Self, String> {
        let mut ports = [0; MAX_PORTS];
        let mut len = 0usize;
        for &p in list {
            if p == 0 {
                return Err("port 0: give a TCP port from 1 to 65535".into());
            }
            if ports[..len].contains(&p) {
                continue;
            }
            if len == MAX_PORTS {
                return Err(format!("at most {MAX_PORTS} TCP encapsulation ports"));
            }
            ports[len] = p;
            len += 1;
        }
        if len == 0 {
            return Ok(Self::default());
        }
        Ok(EncapPorts {
            ports,
            len: len as u8,
        })
    }

    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        self.as_slice().contains(&port)
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ports[..usize::from(self.len)]
    }
}

/// TCP flag bits (RFC 9293 §3.1).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// A TCP segment: the header fields the reassembler and diagnosis need, and its payload.
pub struct Segment<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub payload: &'a [u8],
}

/// Reads a TCP header (RFC 9293 §3.1); the payload is what was captured after the options,
/// cut at `wire_len` (the IP payload length) so Ethernet padding is not taken for data.
pub fn parse(data: &[u8], wire_len: u32) -> Result<Segment<'_>, DecodeError> {
    let Some(h) = data.get(..20) else {
        return Err(LenError {
            need: 20,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::Header,
        }
        .at(Layer::TcpHeader, 0));
    };
    let off = usize::from(h[12] >> 4) * 4;
    if off < 20 {
        return Err(LenError {
            need: 20,
            have: off,
            source: LenSource::Field(crate::event::LenField::TcpDataOffset),
            what: LenSubject::LengthBelowMin,
        }
        .at(Layer::TcpHeader, 12));
    }
    let Some(rest) = data.get(off..) else {
        return Err(LenError {
            need: off,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::Header,
        }
        .at(Layer::TcpHeader, 0));
    };
    let wire = (wire_len as usize).saturating_sub(off);
    let payload = &rest[..rest.len().min(wire)];
    Ok(Segment {
        sport: u16::from_be_bytes([h[0], h[1]]),
        dport: u16::from_be_bytes([h[2], h[3]]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        flags: h[13],
        window: u16::from_be_bytes([h[14], h[15]]),
        payload,
    })
}

/// One direction of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

impl StreamKey {
    fn reversed(&self) -> StreamKey {
        StreamKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

/// Caps: however many connections and bytes arrive, this much is held at most.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_streams: usize,
    /// In-order bytes waiting for the rest of their message, per stream: a whole message (up
    /// to 64 KiB) must fit.
    pub max_stream_bytes: usize,
    /// Out-of-order bytes held per stream while a hole may still be filled.
    pub max_held_bytes: usize,
    pub max_held_segments: usize,
    /// Across all streams; past it the oldest stream is dropped.
    pub max_total_bytes: usize,
    /// Seconds of packet time after which a quiet stream is forgotten.
    pub idle_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: 4096,
            max_stream_bytes: 80 << 10,
            max_held_bytes: 64 << 10,
            max_held_segments: 16,
            max_total_bytes: 32 << 20,
            idle_secs: 600,
        }
    }
}

/// The RFC 8229 §3.1 stream prefix.
pub const PREFIX: &[u8; 6] = b"IKETCP";

/// Shortest frame worth reading: the length field and an ESP header (SPI and sequence number).
const MIN_FRAME: usize = 2 + 8;

struct Stream {
    /// The sequence number of the next byte expected: the one after `buf`'s last.
    next: u32,
    /// In-order bytes not yet cut into messages.
    buf: Vec<u8>,
    /// Segments that came ahead of a hole: (sequence number, bytes).
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    /// This side opened the connection: its first bytes should be the prefix.
    expect_prefix: bool,
    /// `buf[0]` starts a message. False after a hole or on a stream caught mid-way, until a
    /// plausible message is found again.
    aligned: bool,
    /// Positions of `buf` already found not to start a message while searching.
    scanned: usize,
    /// The highest ACK the other side sent for this direction.
    acked: Option<u32>,
    /// Resends since the other side's ACK last moved forward.
    resends_unacked: u16,
    zero_window: bool,
    last_ts: Timestamp,
    generation: u64,
}

impl Stream {
    fn new(next: u32, aligned: bool, expect_prefix: bool, ts: Timestamp, generation: u64) -> Self {
        Stream {
            next,
            buf: Vec::new(),
            held: Vec::new(),
            held_bytes: 0,
            expect_prefix,
            aligned,
            scanned: 0,
            acked: None,
            resends_unacked: 0,
            zero_window: false,
            last_ts: ts,
            generation,
        }
    }

    fn bytes(&self) -> usize {
        self.buf.len() + self.held_bytes
    }
}

/// What one segment showed about its connection, beyond the messages it completed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// All of the segment's data had been seen before: TCP resent it.
    pub resent: bool,
    /// Bytes the stream skipped at this segment: a hole never filled (lost before the capture
    /// point) and bytes thrown away while finding the next message.
    pub lost: u32,
    /// The segment's data came ahead of a hole and is held until the hole fills.
    pub out_of_order: bool,
    /// The stream prefix was read.
    pub prefix: bool,
    /// The sender's receive window went to zero (`Some(true)`) or opened again (`Some(false)`).
    pub zero_window: Option<bool>,
    /// This resend's count since the receiver last acknowledged anything new.
    pub resends_unacked: u16,
}

/// The reassembler's counters, for the end-of-run summary.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct TcpStats {
    pub segments: u64,
    pub resent: u64,
    pub out_of_order: u64,
    pub lost_bytes: u64,
    pub streams_evicted: u64,
}

/// A message cut from a stream: its place in [`TcpReassembler`]'s output buffer.
pub type FrameRange = std::ops::Range<usize>;

pub struct TcpReassembler {
    streams: HashMap<StreamKey, Stream>,
    /// Streams in creation order, for eviction; stale entries (a stream gone, or replaced by
    /// a newer one under the same key) are skipped when met.
    order: VecDeque<(StreamKey, u64)>,
    bytes: usize,
    generation: u64,
    limits: Limits,
    pub stats: TcpStats,
}

/// `a` after `b` in sequence space (RFC 9293 §3.4: comparisons are modulo 2^32).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl TcpReassembler {
    pub fn new(limits: Limits) -> Self {
        TcpReassembler {
            streams: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            generation: 0,
            limits,
            stats: TcpStats::default(),
        }
    }

    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// Takes one segment; the messages it completes are appended to `data` (the message bytes
    /// after the length field) with their ranges in `frames`.
    pub fn push(
        &mut self,
        key: StreamKey,
        seg: &Segment<'_>,
        ts: Timestamp,
        data: &mut Vec<u8>,
        frames: &mut Vec<FrameRange>,
    ) -> Facts {
        self.stats.segments += 1;
        let mut facts = Facts::default();
        if seg.flags & flags::ACK != 0
            && let Some(rev) = self.streams.get_mut(&key.reversed())
            && rev.acked.is_none_or(|a| after(seg.ack, a))
        {
            rev.acked = Some(seg.ack);
            rev.resends_unacked = 0;
        }
        if seg.flags & flags::RST != 0 {
            self.remove(&key);
            self.remove(&key.reversed());
            return facts;
        }
        let mut start = seg.seq;
        if seg.flags & flags::SYN != 0 {
            // A new connection (or a SYN resent): the stream starts after the SYN's number.
            self.remove(&key);
            let opener = seg.flags & flags::ACK == 0;
            self.insert(
                key,
                Stream::new(seg.seq.wrapping_add(1), true, opener, ts, 0),
            );
            start = seg.seq.wrapping_add(1);
        }
        let payload = seg.payload;
        if !self.streams.contains_key(&key) {
            if payload.is_empty() {
                return facts;
            }
            // Caught mid-connection: where a message starts is found by looking.
            self.insert(key, Stream::new(seg.seq, false, false, ts, 0));
        }
        let limits = self.limits;
        let before;
        {
            let s = self.streams.get_mut(&key).expect("inserted above");
            before = s.bytes();
            s.last_ts = ts;
            let zero = seg.window == 0 && seg.flags & (flags::SYN | flags::FIN) == 0;
            if zero != s.zero_window {
                s.zero_window = zero;
                facts.zero_window = Some(zero);
            }
            accept(s, start, payload, &limits, &mut facts);
            cut(s, data, frames, &mut facts);
        }
        let after_len = self.streams.get(&key).map_or(0, Stream::bytes);
        self.bytes = self.bytes + after_len - before;
        if facts.resent {
            self.stats.resent += 1;
        }
        if facts.out_of_order {
            self.stats.out_of_order += 1;
        }
        self.stats.lost_bytes += u64::from(facts.lost);
        if seg.flags & flags::FIN != 0 && after_len == 0 {
            // Nothing more will come this way; a resent FIN finds no stream and is ignored.
            self.remove(&key);
        }
        self.enforce_total();
        facts
    }

    /// Forgets streams quiet for longer than the idle time.
    pub fn expire(&mut self, now: Timestamp) {
        let idle = self.limits.idle_secs as f64;
        let mut freed = 0;
        self.streams.retain(|_, s| {
            let keep = now.since(s.last_ts) <= idle;
            if !keep {
                freed += s.bytes();
            }
            keep
        });
        self.bytes -= freed;
        if self.order.len() > 2 * self.limits.max_streams {
            let streams = &self.streams;
            self.order
                .retain(|(k, g)| streams.get(k).is_some_and(|s| s.generation == *g));
        }
    }

    fn insert(&mut self, key: StreamKey, mut s: Stream) {
        while self.streams.len() >= self.limits.max_streams {
            if !self.evict_oldest() {
                break;
            }
        }
        self.generation += 1;
        s.generation = self.generation;
        self.order.push_back((key, self.generation));
        if self.order.len() > 2 * self.limits.max_streams.max(1) {
            let streams = &self.streams;
            self.order
                .retain(|(k, g)| streams.get(k).is_some_and(|s| s.generation == *g));
        }
        self.streams.insert(key, s);
    }

    fn remove(&mut self, key: &StreamKey) {
        if let Some(s) = self.streams.remove(key) {
            self.bytes -= s.bytes();
        }
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((k, g)) = self.order.pop_front() {
            if self.streams.get(&k).is_some_and(|s| s.generation == g) {
                self.remove(&k);
                self.stats.streams_evicted += 1;
                return true;
            }
        }
        false
    }

    fn enforce_total(&mut self) {
        while self.bytes > self.limits.max_total_bytes {
            if !self.evict_oldest() {
                break;
            }
        }
    }
}

/// Places a segment's data in its stream: in order onto `buf`, ahead of a hole into `held`,
/// resent bytes dropped. A hole is given up on (and its size counted lost) once the other
/// side's ACK shows the receiver got past it, or once more is held than the caps allow.
fn accept(s: &mut Stream, start: u32, payload: &[u8], limits: &Limits, facts: &mut Facts) {
    if payload.is_empty() {
        return;
    }
    let end = start.wrapping_add(payload.len() as u32);
    if !after(end, s.next) {
        // A TCP keepalive probe is one old byte (or none) just before the next expected: not
        // a resend of data.
        let probe = payload.len() <= 1 && end == s.next;
        if !probe {
            facts.resent = true;
            s.resends_unacked = s.resends_unacked.saturating_add(1);
            facts.resends_unacked = s.resends_unacked;
        }
        return;
    }
    let mut data = payload;
    let mut start = start;
    if after(s.next, start) {
        // Partly resent: the new tail is kept.
        let skip = s.next.wrapping_sub(start) as usize;
        data = &data[skip..];
        start = s.next;
        facts.resent = true;
    }
    if start == s.next {
        append(s, data, limits, facts);
        drain_held(s, limits, facts);
        return;
    }
    facts.out_of_order = true;
    if !s.held.iter().any(|(q, _)| *q == start) {
        s.held_bytes += data.len();
        s.held.push((start, data.to_vec()));
    }
    let acked_past = s.acked.is_some_and(|a| after(a, s.next));
    if acked_past || s.held_bytes > limits.max_held_bytes || s.held.len() > limits.max_held_segments
    {
        skip_hole(s, limits, facts);
    }
}

fn append(s: &mut Stream, data: &[u8], limits: &Limits, facts: &mut Facts) {
    s.buf.extend_from_slice(data);
    s.next = s.next.wrapping_add(data.len() as u32);
    if s.buf.len() > limits.max_stream_bytes {
        // More than a whole message without finding its end: what is kept is the tail, read
        // as a stream caught mid-way.
        let drop = s.buf.len() - limits.max_stream_bytes;
        s.buf.drain(..drop);
        facts.lost = facts.lost.saturating_add(drop as u32);
        s.aligned = false;
        s.scanned = 0;
    }
}

/// Moves held segments that now follow on onto `buf`.
fn drain_held(s: &mut Stream, limits: &Limits, facts: &mut Facts) {
    while let Some(i) = s.held.iter().position(|(q, d)| {
        let end = q.wrapping_add(d.len() as u32);
        !after(*q, s.next) && after(end, s.next)
    }) {
        let (q, d) = s.held.swap_remove(i);
        s.held_bytes -= d.len();
        let skip = s.next.wrapping_sub(q) as usize;
        append(s, &d[skip..], limits, facts);
    }
    // Held data now wholly behind `next` is stale.
    let next = s.next;
    let mut freed = 0;
    s.held.retain(|(q, d)| {
        let keep = after(q.wrapping_add(d.len() as u32), next);
        if !keep {
            freed += d.len();
        }
        keep
    });
    s.held_bytes -= freed;
}

/// Gives up on the hole before the earliest held segment: the bytes of the hole and of the
/// message cut short by it are lost, and the stream is read from the held data on.
fn skip_hole(s: &mut Stream, limits: &Limits, facts: &mut Facts) {
    let Some(first) = s
        .held
        .iter()
        .map(|(q, _)| *q)
        .min_by_key(|q| q.wrapping_sub(s.next))
    else {
        return;
    };
    let hole = first.wrapping_sub(s.next);
    facts.lost = facts
        .lost
        .saturating_add(hole)
        .saturating_add(s.buf.len() as u32);
    s.buf.clear();
    s.next = first;
    s.aligned = false;
    s.scanned = 0;
    s.expect_prefix = false;
    drain_held(s, limits, facts);
}

/// Cuts whole messages off the front of `buf`.
fn cut(s: &mut Stream, data: &mut Vec<u8>, frames: &mut Vec<FrameRange>, facts: &mut Facts) {
    let mut pos = 0;
    loop {
        let rest = &s.buf[pos..];
        if s.expect_prefix {
            if rest.len() < PREFIX.len() && PREFIX.starts_with(rest) {
                break;
            }
            s.expect_prefix = false;
            if rest.starts_with(PREFIX) {
                facts.prefix = true;
                pos += PREFIX.len();
                continue;
            }
        }
        if !s.aligned {
            match find_message(rest, s.scanned.saturating_sub(pos)) {
                Search::At(at, prefix) => {
                    facts.lost = facts.lost.saturating_add(at as u32);
                    pos += at;
                    s.aligned = true;
                    s.scanned = 0;
                    if prefix {
                        facts.prefix = true;
                        pos += PREFIX.len();
                    }
                    continue;
                }
                Search::Wait(at) => {
                    s.scanned = pos + at;
                    break;
                }
            }
        }
        let Some(len) = rest
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            break;
        };
        if len < MIN_FRAME {
            // Not a length RFC 8229 allows: lost track of the stream.
            s.aligned = false;
            s.scanned = 0;
            continue;
        }
        if rest.len() < len {
            break;
        }
        let from = data.len();
        data.extend_from_slice(&rest[2..len]);
        frames.push(from..data.len());
        pos += len;
    }
    if pos > 0 {
        s.buf.drain(..pos);
        s.scanned = s.scanned.saturating_sub(pos);
    }
}

enum Search {
    /// A message starts at this offset (after the prefix, when the flag says one is there).
    At(usize, bool),
    /// None found before this offset; what follows needs more bytes to tell.
    Wait(usize),
}

/// Looks for the first offset from `from` on where a message plausibly starts, in a stream
/// whose alignment was lost. An IKE message is recognised by its marker, version and its own
/// length agreeing with the frame's; ESP has no such redundancy, so an ESP frame is believed
/// only when the frame after it is plausible too (the same SPI, or IKE).
fn find_message(buf: &[u8], from: usize) -> Search {
    // A candidate that cannot be judged yet (its frame runs past the bytes present) does not
    // stop the search: junk read as a length points up to 64 KiB ahead, and waiting for that
    // much would hold back every message behind it.
    let mut undecided = None;
    for p in from..buf.len() {
        if buf[p..].starts_with(PREFIX) {
            return Search::At(p, true);
        }
        match plausible(&buf[p..], true) {
            Some(true) => return Search::At(p, false),
            Some(false) => {}
            None => {
                undecided.get_or_insert(p);
            }
        }
    }
    Search::Wait(undecided.unwrap_or(buf.len().max(from)))
}

/// Whether a message starts at `b[0]`: `None` when more bytes are needed to tell. `chain`
/// asks for an ESP frame to be vouched for by the frame after it.
fn plausible(b: &[u8], chain: bool) -> Option<bool> {
    if b.len() < 6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
    if len < MIN_FRAME {
        return Some(false);
    }
    let spi = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
    if spi == 0 {
        // IKE: the header's version and length must agree with the frame.
        let ike = b.get(6..6 + 28)?;
        let version = ike[17];
        let ike_len = u32::from_be_bytes([ike[24], ike[25], ike[26], ike[27]]) as usize;
        return Some((version == 0x10 || version == 0x20) && ike_len + 6 == len);
    }
    if spi < 256 {
        return Some(false);
    }
    if !chain {
        return Some(true);
    }
    let next = b.get(len..)?;
    if next.len() < 6 {
        return None;
    }
    let next_spi = u32::from_be_bytes([next[2], next[3], next[4], next[5]]);
    if next_spi != 0 && next_spi != spi {
        return Some(false);
    }
    plausible(next, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "192.0.2.1";
    const B: &str = "198.51.100.2";

    fn key() -> StreamKey {
        StreamKey {
            src: A.parse().unwrap(),
            dst: B.parse().unwrap(),
            sport: 40000,
            dport: 4500,
        }
    }

    fn seg(seq: u32, fl: u8, payload: &[u8]) -> Segment<'_> {
        Segment {
            sport: 40000,
            dport: 4500,
            seq,
            ack: 0,
            flags: fl,
            window: 64000,
            payload,
        }
    }

    /// An IKEv2 message of `len` bytes in its RFC 8229 frame (length, marker, header, zeros).
    fn ike_frame(len: usize, mid: u8) -> Vec<u8> {
        let mut f = ((len + 6) as u16).to_be_bytes().to_vec();
        f.extend_from_slice(&[0; 4]);
        let mut ike = vec![0u8; len];
        ike[0] = 1;
        ike[17] = 0x20;
        ike[18] = 34;
        ike[23] = mid;
        ike[24..28].copy_from_slice(&(len as u32).to_be_bytes());
        f.extend_from_slice(&ike);
        f
    }

    fn esp_frame(spi: u32, seq: u32, len: usize) -> Vec<u8> {
        let mut f = ((len + 2) as u16).to_be_bytes().to_vec();
        f.extend_from_slice(&spi.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.resize(len + 2, 0xab);
        f
    }

    struct Run {
        r: TcpReassembler,
        data: Vec<u8>,
        frames: Vec<FrameRange>,
    }

    impl Run {
        fn new() -> Self {
            Self::with(Limits::default())
        }
        fn with(l: Limits) -> Self {
            Run {
                r: TcpReassembler::new(l),
                data: Vec::new(),
                frames: Vec::new(),
            }
        }
        fn push(&mut self, s: &Segment<'_>) -> Facts {
            self.push_key(key(), s)
        }
        fn push_key(&mut self, k: StreamKey, s: &Segment<'_>) -> Facts {
            self.r
                .push(k, s, Timestamp::new(1, 0), &mut self.data, &mut self.frames)
        }
        fn messages(&self) -> Vec<Vec<u8>> {
            self.frames
                .iter()
                .map(|r| self.data[r.clone()].to_vec())
                .collect()
        }
    }

    /// A connection opened by A: SYN at 999, data from 1000 with the prefix first.
    fn opened() -> Run {
        let mut r = Run::new();
        r.push(&seg(999, flags::SYN, &[]));
        r
    }

    #[test]
    fn prefix_then_messages_split_and_coalesced() {
        let mut r = opened();
        let mut stream = PREFIX.to_vec();
        stream.extend(ike_frame(100, 0));
        stream.extend(ike_frame(60, 1));
        stream.extend(esp_frame(0xc0ffee01, 1, 80));
        // The prefix and half the first message; the rest of it, the second whole and the
        // ESP packet in one segment.
        let f1 = r.push(&seg(1000, flags::ACK, &stream[..50]));
        assert!(f1.prefix);
        assert!(r.frames.is_empty());
        r.push(&seg(1050, flags::ACK, &stream[50..]));
        let m = r.messages();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].len(), 104);
        assert_eq!(&m[0][..4], &[0; 4]);
        assert_eq!(m[1].len(), 64);
        assert_eq!(&m[2][..4], &0xc0ffee01u32.to_be_bytes());
        assert_eq!(r.r.held_bytes(), 0);
    }

    #[test]
    fn a_resent_segment_yields_no_second_message() {
        let mut r = opened();
        let mut stream = PREFIX.to_vec();
        stream.extend(ike_frame(100, 0));
        r.push(&seg(1000, flags::ACK, &stream));
        let f = r.push(&seg(1000, flags::ACK, &stream));
        assert!(f.resent);
        assert_eq!(f.resends_unacked, 1);
        assert_eq!(r.messages().len(), 1);
        assert_eq!(r.r.stats.resent, 1);
        // The receiver's ACK moving on resets the count of resends without progress.
        let mut back = seg(5000, flags::ACK, &[]);
        back.ack = 1000 + stream.len() as u32;
        r.push_key(key().reversed(), &back);
        let f = r.push(&seg(1000, flags::ACK, &stream));
        assert_eq!(f.resends_unacked, 1);
    }

    #[test]
    fn out_of_order_segments_are_put_back_in_order() {
        let mut r = opened();
        let mut stream = PREFIX.to_vec();
        stream.extend(ike_frame(100, 0));
        stream.extend(ike_frame(40, 1));
        let cut = 70;
        let f = r.push(&seg(1000 + cut as u32, flags::ACK, &stream[cut..]));
        assert!(f.out_of_order && r.frames.is_empty());
        let f = r.push(&seg(1000, flags::ACK, &stream[..cut]));
        assert_eq!(f.lost, 0);
        let m = r.messages();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1][4 + 23], 1);
    }

    #[test]
    fn a_hole_acked_past_is_skipped_counted_and_the_stream_found_again() {
        let mut r = opened();
        let mut stream = PREFIX.to_vec();
        stream.extend(esp_frame(0x1000, 1, 200));
        stream.extend(esp_frame(0x1000, 2, 200));
        stream.extend(ike_frame(80, 2));
        stream.extend(esp_frame(0x1000, 3, 120));
        stream.extend(esp_frame(0x1000, 4, 120));
        // The first 100 bytes arrive; 100..300 are lost before the capture point.
        r.push(&seg(1000, flags::ACK, &stream[..100]));
        let mut back = seg(5000, flags::ACK, &[]);
        back.ack = 1000 + 300;
        r.push_key(key().reversed(), &back);
        let f = r.push(&seg(1300, flags::ACK, &stream[300..]));
        // Lost: the hole (200) plus the 94 bytes of the first frame that had come; then the
        // rest of the second ESP frame up to the IKE message, found by its header.
        let ike_at = 6 + 202 + 202;
        assert_eq!(f.lost as usize, 200 + 94 + (ike_at - 300));
        let m = r.messages();
        assert_eq!(
            m.len(),
            3,
            "the IKE message and the two ESP packets after it"
        );
        assert_eq!(&m[0][..4], &[0; 4]);
        assert_eq!(&m[2][4..8], &4u32.to_be_bytes());
    }

    #[test]
    fn a_hole_never_filled_is_given_up_when_too_much_is_held() {
        let mut r = Run::with(Limits {
            max_held_segments: 2,
            ..Limits::default()
        });
        r.push(&seg(999, flags::SYN, &[]));
        let mut stream = PREFIX.to_vec();
        for i in 0..8 {
            stream.extend(esp_frame(0x2000, i, 100));
        }
        r.push(&seg(1000, flags::ACK, &stream[..6]));
        // Frame 0 lost; frames 1..8 come in three segments.
        let at = |i: usize| 6 + i * 102;
        r.push(&seg(1000 + at(1) as u32, flags::ACK, &stream[at(1)..at(3)]));
        r.push(&seg(1000 + at(3) as u32, flags::ACK, &stream[at(3)..at(5)]));
        let f = r.push(&seg(1000 + at(5) as u32, flags::ACK, &stream[at(5)..]));
        assert_eq!(f.lost, 102);
        assert_eq!(r.messages().len(), 7);
        assert_eq!(r.r.stats.lost_bytes, 102);
    }

    #[test]
    fn a_stream_caught_mid_way_starts_at_a_plausible_message() {
        let mut r = Run::new();
        let mut stream = esp_frame(0x3000, 9, 50)[20..].to_vec();
        stream.extend(ike_frame(40, 7));
        stream.extend(esp_frame(0x3000, 10, 50));
        let f = r.push(&seg(777, flags::ACK, &stream));
        assert_eq!(f.lost, 32);
        assert_eq!(r.messages().len(), 2);
    }

    #[test]
    fn a_bad_length_loses_track_and_the_stream_is_found_again() {
        let mut r = opened();
        let mut stream = PREFIX.to_vec();
        stream.extend([0, 3, 9, 9, 9]);
        stream.extend(ike_frame(40, 1));
        let f = r.push(&seg(1000, flags::ACK, &stream));
        assert_eq!(f.lost, 5);
        assert_eq!(r.messages().len(), 1);
    }

    #[test]
    fn memory_stays_bounded_whatever_arrives() {
        let limits = Limits {
            max_streams: 8,
            max_stream_bytes: 4096,
            max_held_bytes: 2048,
            max_held_segments: 4,
            max_total_bytes: 16 << 10,
            idle_secs: 60,
        };
        let mut r = Run::with(limits);
        let junk = vec![0x41u8; 1400];
        for i in 0..2000u32 {
            let mut k = key();
            k.sport = (i % 50) as u16 + 1;
            // Gaps everywhere, nothing plausible: every stream holds what it may.
            r.push_key(k, &seg(i.wrapping_mul(7919), flags::ACK, &junk));
            assert!(r.r.streams() <= limits.max_streams);
            assert!(r.r.held_bytes() <= limits.max_total_bytes);
            let actual: usize = r.r.streams.values().map(Stream::bytes).sum();
            assert_eq!(actual, r.r.held_bytes());
        }
        assert!(r.r.stats.streams_evicted > 0);
        r.r.expire(Timestamp::new(1000, 0));
        assert_eq!((r.r.streams(), r.r.held_bytes()), (0, 0));
    }

    #[test]
    fn reset_forgets_both_directions_and_fin_the_finished_one() {
        let mut r = opened();
        r.push_key(key().reversed(), &seg(5000, flags::SYN | flags::ACK, &[]));
        assert_eq!(r.r.streams(), 2);
        r.push(&seg(1000, flags::RST, &[]));
        assert_eq!(r.r.streams(), 0);
        let mut r = opened();
        r.push(&seg(1000, flags::FIN | flags::ACK, &[]));
        assert_eq!(r.r.streams(), 0);
    }

    #[test]
    fn zero_window_is_reported_when_it_starts_and_ends() {
        let mut r = opened();
        let mut s = seg(1000, flags::ACK, &[]);
        s.window = 0;
        assert_eq!(r.push(&s).zero_window, Some(true));
        assert_eq!(r.push(&s).zero_window, None);
        s.window = 100;
        assert_eq!(r.push(&s).zero_window, Some(false));
    }

    #[test]
    fn keepalive_probe_is_no_resend() {
        let mut r = opened();
        let mut stream = PREFIX.to_vec();
        stream.extend(ike_frame(40, 0));
        r.push(&seg(1000, flags::ACK, &stream));
        let end = 1000 + stream.len() as u32;
        let f = r.push(&seg(end - 1, flags::ACK, &stream[stream.len() - 1..]));
        assert!(!f.resent);
    }

    #[test]
    fn ports_are_checked_and_deduplicated() {
        assert_eq!(EncapPorts::default().as_slice(), &[4500]);
        let p = EncapPorts::new(&[443, 4500, 443]).unwrap();
        assert_eq!(p.as_slice(), &[443, 4500]);
        assert!(p.contains(443) && !p.contains(500));
        assert!(EncapPorts::new(&[0]).is_err());
        assert!(EncapPorts::new(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
    }

    /// Raw IPv4 (link type 101) carrying a TCP segment from 192.0.2.1:40000 to
    /// 198.51.100.2:`dport`.
    fn ipv4_tcp(dport: u16, seq: u32, fl: u8, payload: &[u8]) -> Vec<u8> {
        let total = (40 + payload.len()) as u16;
        let mut p = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, fl, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn decode_all(d: &mut crate::decode::Decoder, pkts: &[Vec<u8>]) -> Vec<crate::event::Event> {
        let mut out = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            let raw = crate::capture::RawPacket {
                frame: i as u64 + 1,
                ts: Timestamp::new(1, 0),
                caplen: p.len() as u32,
                origlen: p.len() as u32,
                linktype: 101,
                data: p,
            };
            d.decode(&raw, &mut out);
        }
        out
    }

    #[test]
    fn the_decoder_turns_a_stream_into_ike_events_once() {
        use crate::event::{Body, ipproto};
        let mut stream = PREFIX.to_vec();
        stream.extend(ike_frame(100, 0));
        let pkts = [
            ipv4_tcp(4500, 999, flags::SYN, &[]),
            ipv4_tcp(4500, 1000, flags::ACK, &stream),
            ipv4_tcp(4500, 1000, flags::ACK, &stream),
        ];
        let mut d = crate::decode::Decoder::new();
        let evs = decode_all(&mut d, &pkts);
        let ike: Vec<_> = evs
            .iter()
            .filter(|e| matches!(e.body, Body::Ike(_)))
            .collect();
        assert_eq!(ike.len(), 1, "the resent segment yields no second message");
        assert_eq!(ike[0].flow.proto, ipproto::TCP);
        assert_eq!(ike[0].pkt.frame, 2);
        let resent = evs
            .iter()
            .filter(|e| matches!(e.body, Body::Tcp(t) if t.resent))
            .count();
        assert_eq!(resent, 1);
        let t = d.stats.clone();
        assert_eq!(t.ike, 1);
        // Another port is not read unless asked for, and then 4500 is not.
        let mut d = crate::decode::Decoder::new();
        let moved = [
            ipv4_tcp(443, 999, flags::SYN, &[]),
            ipv4_tcp(443, 1000, flags::ACK, &stream),
        ];
        assert!(decode_all(&mut d, &moved).is_empty());
        d.set_tcp_ports(EncapPorts::new(&[443]).unwrap());
        assert_eq!(decode_all(&mut d, &moved).len(), 3);
        assert!(decode_all(&mut d, &pkts).is_empty());
    }

    #[test]
    fn header_errors_point_at_the_field() {
        let mut h = [0u8; 20];
        h[12] = 0x40;
        let e = parse(&h, 20).err().unwrap();
        assert_eq!(e.layer, Layer::TcpHeader);
        assert!(parse(&h[..10], 10).is_err());
        h[12] = 0x50;
        let s = parse(&h, 20).unwrap();
        assert!(s.payload.is_empty());
    }
}
