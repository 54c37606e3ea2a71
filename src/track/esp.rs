//! Per ESP SA (one SPI, one direction): packets, bytes, and what the sequence numbers say.
//!
//! RFC 4303 §3.3.3: a sender never reuses a sequence number within an SA and sends them in
//! increasing order, so on the wire a gap means loss before the capture point, a repeat means a
//! replayed (or twice-captured) packet, and a step back means reordering. A 64-packet window,
//! like the receiver's anti-replay window (§3.4.3), tells a late packet from a duplicate.

use std::net::IpAddr;

use serde::Serialize;

use crate::event::{Cleartext, Flow, Timestamp};

/// How far behind the highest sequence number a packet may arrive and still be placed.
const WINDOW: u32 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EspKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
}

impl EspKey {
    /// The SA of an ESP packet sent along `flow`.
    pub fn sent(flow: &Flow, spi: u32) -> EspKey {
        EspKey {
            src: flow.src,
            dst: flow.dst,
            spi,
        }
    }
}

impl std::hash::Hash for EspKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        crate::hash::hash_addr_pair(&self.src, &self.dst, h);
        h.write_u32(self.spi);
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct EspSa {
    pub spi: u32,
    #[serde(skip)]
    pub key: EspKey,
    pub packets: u64,
    pub bytes: u64,
    #[serde(skip)]
    pub first_ts: Timestamp,
    #[serde(skip)]
    pub last_ts: Timestamp,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_seq: u32,
    pub highest_seq: u32,
    /// Sequence numbers skipped and not (yet) seen late.
    pub missing: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Frames where each kind of anomaly was first seen (0: none).
    pub first_gap_frame: u64,
    pub first_dup_frame: u64,
    pub first_reorder_frame: u64,
    pub largest: u32,
    pub largest_ip: u32,
    pub fragmented: u64,
    pub udp_encapsulated: bool,
    /// Packets whose payload read as cleartext (NULL encryption) with the ICV length of the
    /// first that did, and what that first one held.
    #[serde(skip)]
    pub cleartext: u64,
    #[serde(skip)]
    pub cleartext_seen: Option<Cleartext>,
    /// Bit i set: highest_seq - i was seen.
    #[serde(skip)]
    window: u64,
    /// Sequence numbers taken in (packets, plus first fragments of packets never completed).
    sequenced: u64,
    /// Where this SA's entry was last seen in its pair's child log, counted from the first
    /// entry ever logged (see `Pair::children_dropped`); a hint, checked before use.
    #[serde(skip)]
    pub(crate) child_log_index: u64,
}

impl EspSa {
    pub fn new(key: EspKey, ts: Timestamp, frame: u64, seq: u32) -> Self {
        EspSa {
            spi: key.spi,
            key,
            packets: 0,
            bytes: 0,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            first_seq: seq,
            highest_seq: seq.wrapping_sub(1),
            missing: 0,
            duplicates: 0,
            reordered: 0,
            first_gap_frame: 0,
            first_dup_frame: 0,
            first_reorder_frame: 0,
            largest: 0,
            largest_ip: 0,
            fragmented: 0,
            cleartext: 0,
            cleartext_seen: None,
            udp_encapsulated: false,
            window: 0,
            sequenced: 0,
            child_log_index: u64::MAX,
        }
    }

    /// Takes in one packet. Returns what its sequence number was.
    pub fn observe(
        &mut self,
        ts: Timestamp,
        frame: u64,
        seq: u32,
        len: u32,
        ip_len: u32,
        fragmented: bool,
    ) -> SeqVerdict {
        self.packets += 1;
        self.bytes += u64::from(len);
        if ts > self.last_ts {
            self.last_ts = ts;
        }
        self.last_frame = frame;
        self.largest = self.largest.max(len);
        self.largest_ip = self.largest_ip.max(ip_len);
        if fragmented {
            self.fragmented += 1;
            // Its sequence number was taken from its first fragment as that passed.
            return SeqVerdict::InOrder;
        }
        self.sequence(frame, seq)
    }

    /// Sequence analysis alone: for a packet, or for the first fragment of one (which carries
    /// the ESP header even when the rest of the datagram is lost on the way).
    pub fn sequence(&mut self, frame: u64, seq: u32) -> SeqVerdict {
        self.sequenced += 1;
        if self.sequenced == 1 {
            self.highest_seq = seq;
            self.window = 1;
            return SeqVerdict::InOrder;
        }
        let ahead = seq.wrapping_sub(self.highest_seq);
        if ahead != 0 && ahead < u32::MAX / 2 {
            // New highest. A wrap of the 32-bit counter reads as a small step forward here.
            if ahead > 1 {
                self.missing += u64::from(ahead - 1);
                if self.first_gap_frame == 0 {
                    self.first_gap_frame = frame;
                }
            }
            self.window = if ahead >= 64 {
                1
            } else {
                (self.window << ahead) | 1
            };
            self.highest_seq = seq;
            return if ahead > 1 {
                SeqVerdict::Gap(ahead - 1)
            } else {
                SeqVerdict::InOrder
            };
        }
        let behind = self.highest_seq.wrapping_sub(seq);
        if behind < WINDOW && self.window & (1u64 << behind) != 0 {
            self.duplicates += 1;
            if self.first_dup_frame == 0 {
                self.first_dup_frame = frame;
            }
            return SeqVerdict::Duplicate;
        }
        if behind < WINDOW {
            self.window |= 1u64 << behind;
            self.missing = self.missing.saturating_sub(1);
        }
        self.reordered += 1;
        if self.first_reorder_frame == 0 {
            self.first_reorder_frame = frame;
        }
        SeqVerdict::Late
    }

    pub fn has_anomaly(&self) -> bool {
        self.missing > 0 || self.duplicates > 0 || self.reordered > 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    InOrder,
    Gap(u32),
    Duplicate,
    Late,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn sa() -> EspSa {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        EspSa::new(
            EspKey {
                src: a,
                dst: b,
                spi: 7,
            },
            Timestamp::default(),
            1,
            1,
        )
    }

    fn feed(s: &mut EspSa, seqs: &[u32]) -> Vec<SeqVerdict> {
        seqs.iter()
            .enumerate()
            .map(|(i, &q)| {
                s.observe(
                    Timestamp::new(i as i64, 0),
                    i as u64 + 1,
                    q,
                    100,
                    120,
                    false,
                )
            })
            .collect()
    }

    #[test]
    fn in_order_is_clean() {
        let mut s = sa();
        feed(&mut s, &[5, 6, 7, 8]);
        assert!(!s.has_anomaly());
        assert_eq!((s.packets, s.bytes), (4, 400));
    }

    #[test]
    fn gap_then_late_arrival_is_reordering_not_loss() {
        let mut s = sa();
        let v = feed(&mut s, &[1, 2, 4, 3, 5]);
        assert_eq!(v[2], SeqVerdict::Gap(1));
        assert_eq!(v[3], SeqVerdict::Late);
        assert_eq!((s.missing, s.reordered, s.duplicates), (0, 1, 0));
    }

    #[test]
    fn loss_and_duplicates_are_counted() {
        let mut s = sa();
        feed(&mut s, &[1, 2, 6, 6, 7]);
        assert_eq!((s.missing, s.duplicates, s.reordered), (3, 1, 0));
        assert_eq!(s.first_gap_frame, 3);
        assert_eq!(s.first_dup_frame, 4);
    }
}
