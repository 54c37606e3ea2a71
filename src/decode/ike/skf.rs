//! Reassembly of IKEv2 messages split with RFC 7383 fragmentation (SKF payloads).
//!
//! Nothing of a fragment's ciphertext is kept: a set stores, per fragment, the frame that
//! carried it, its length and, when keys opened it, its plaintext. When every fragment of a set
//! has arrived the set yields one IKEv2 message with a single SK payload standing for the whole
//! encrypted message, as if it had not been fragmented, and the plaintext of the whole when
//! every fragment had one. Memory is bounded by a cap on the number of sets and on the bytes
//! they account for (plaintext included: one table, one eviction); sets dropped by a cap are
//! counted, sets that time out are returned by [`SkfReassembler::expire`] so the caller can
//! report lost fragments.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::HEADER_LEN;
use crate::event::Timestamp;
use crate::event::codes::PayloadType;
use crate::event::ike::{IkeMessage, Integrity, Payload, PayloadBody};

/// Bytes accounted per stored fragment (frame number, length, map overhead), on top of its
/// plaintext.
pub const FRAGMENT_COST: usize = 64;
/// Bytes accounted per fragment set, on top of its fragments (key, header copy).
pub const SET_COST: usize = 256;

/// Direction of a datagram: source address and port, destination address and port.
pub type FlowKey = (IpAddr, u16, IpAddr, u16);

/// RFC 7383 §2.6: fragments of one message share the IKE SPIs and the message ID (and the
/// direction, which the R flag and the flow say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SetKey {
    flow: FlowKey,
    ispi: u64,
    rspi: u64,
    message_id: u32,
    response: bool,
}

#[derive(Debug)]
struct FragmentSet {
    total: u16,
    /// When the set's first fragment was seen; expiry counts from here.
    first_seen: Timestamp,
    /// Creation order, for evicting the oldest set.
    serial: u64,
    /// Header of fragment 1 (payloads left empty) and its SKF's inner next payload.
    first: Option<(IkeMessage, u8)>,
    /// Fragment number → what is kept of it.
    fragments: BTreeMap<u16, Fragment>,
    /// Plaintext bytes held by `fragments`.
    plain_bytes: usize,
}

#[derive(Debug)]
struct Fragment {
    frame: u64,
    /// Encrypted length.
    len: u32,
    plain: Option<Opened>,
}

/// A fragment's (or the whole message's) inside: how its integrity check went and its
/// plaintext, padding removed.
pub type Opened = (Integrity, Vec<u8>);

impl FragmentSet {
    fn cost(&self) -> usize {
        SET_COST + self.fragments.len() * FRAGMENT_COST + self.plain_bytes
    }
}

/// Collects SKF fragments per message and rebuilds the message once all have arrived.
#[derive(Debug)]
pub struct SkfReassembler {
    max_sets: usize,
    max_bytes: usize,
    timeout_secs: u32,
    sets: HashMap<SetKey, FragmentSet>,
    bytes: usize,
    next_serial: u64,
    evicted: u64,
}

impl SkfReassembler {
    /// `max_sets` below 1 is taken as 1, so a set can always be started.
    pub fn new(max_sets: usize, max_bytes: usize, timeout_secs: u32) -> Self {
        SkfReassembler {
            max_sets: max_sets.max(1),
            max_bytes,
            timeout_secs,
            sets: HashMap::new(),
            bytes: 0,
            next_serial: 0,
            evicted: 0,
        }
    }

    /// `key` identifies the direction. If `msg` is an IKEv2 message with an SKF payload, stores
    /// it; when fragments 1..=total are all present, returns the reassembled message: header
    /// fields from fragment 1 (its next payload becomes SK), one SK payload whose `len` is the
    /// sum of the fragments' lengths, `encrypted` set, `reassembled_from` the frames in fragment
    /// order, and `length` = `wire_len` = 28 + 4 + that sum. Retransmitted duplicates are
    /// ignored; a fragment whose total differs from its set's starts the set anew (RFC 7383
    /// §2.6). Fragments numbered 0 or above their total are ignored. `plain` is the fragment's
    /// inside when keys opened it; the whole message's comes back with it when every fragment
    /// had one (the integrity of the worst fragment).
    pub fn push(
        &mut self,
        key: FlowKey,
        frame: u64,
        ts: Timestamp,
        msg: &IkeMessage,
        plain: Option<Opened>,
    ) -> Option<(IkeMessage, Option<Opened>)> {
        if msg.version != 2 {
            return None;
        }
        let (number, total, inner, len) = msg.payloads.iter().find_map(|p| match p.body {
            PayloadBody::EncryptedFragment {
                number,
                total,
                inner_first_payload,
                len,
            } => Some((number, total, inner_first_payload, len)),
            _ => None,
        })?;
        if number == 0 || number > total {
            return None;
        }
        let skey = SetKey {
            flow: key,
            ispi: msg.ispi,
            rspi: msg.rspi,
            message_id: msg.message_id,
            response: msg.is_response(),
        };
        if let Some(set) = self.sets.get(&skey) {
            if set.total != total {
                self.remove(&skey);
            } else if set.fragments.contains_key(&number) {
                return None;
            }
        }
        if !self.sets.contains_key(&skey) {
            while self.sets.len() >= self.max_sets || self.bytes + SET_COST > self.max_bytes {
                if !self.evict_oldest(None) {
                    break;
                }
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            self.sets.insert(
                skey,
                FragmentSet {
                    total,
                    first_seen: ts,
                    serial,
                    first: None,
                    fragments: BTreeMap::new(),
                    plain_bytes: 0,
                },
            );
            self.bytes += SET_COST;
        }
        // Make room for the fragment among the other sets; if this set alone is too big, it
        // goes too.
        let cost = FRAGMENT_COST + plain.as_ref().map_or(0, |(_, p)| p.len());
        while self.bytes + cost > self.max_bytes {
            if !self.evict_oldest(Some(&skey)) {
                self.remove(&skey);
                self.evicted += 1;
                return None;
            }
        }
        let set = self.sets.get_mut(&skey)?;
        set.plain_bytes += cost - FRAGMENT_COST;
        set.fragments.insert(number, Fragment { frame, len, plain });
        if number == 1 {
            let header = IkeMessage {
                payloads: Vec::new(),
                error: None,
                reassembled_from: Vec::new(),
                ..msg.clone()
            };
            set.first = Some((header, inner));
        }
        self.bytes += cost;
        if set.fragments.len() < usize::from(set.total) {
            return None;
        }
        let set = self.remove(&skey)?;
        let (header, inner) = set.first?;
        let sum: u32 = set
            .fragments
            .values()
            .fold(0u32, |s, f| s.saturating_add(f.len));
        let sk_len = sum.saturating_add(4);
        let total_len = sk_len.saturating_add(HEADER_LEN as u32);
        let reassembled_from = set.fragments.values().map(|f| f.frame).collect();
        let plain = whole_plaintext(set.fragments, set.plain_bytes);
        let whole = IkeMessage {
            first_payload: PayloadType::SK,
            length: total_len,
            wire_len: total_len,
            encrypted: true,
            payloads: vec![Payload {
                payload_type: PayloadType::SK,
                critical: false,
                length: u16::try_from(sk_len).unwrap_or(u16::MAX),
                offset: HEADER_LEN as u32,
                body: PayloadBody::Encrypted {
                    inner_first_payload: inner,
                    len: sum,
                },
            }],
            error: None,
            reassembled_from,
            ..header
        };
        Some((whole, plain))
    }

    /// Drops sets whose first fragment is older than the timeout; returns how many were
    /// dropped (all incomplete).
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let limit = u64::from(self.timeout_secs) * 1_000_000_000;
        let old: Vec<SetKey> = self
            .sets
            .iter()
            .filter(|(_, s)| now.nanos_since(s.first_seen) > limit)
            .map(|(k, _)| *k)
            .collect();
        for k in &old {
            self.remove(k);
        }
        old.len()
    }

    /// Sets dropped because of the caps on sets or bytes.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Sets waiting for fragments.
    pub fn pending(&self) -> usize {
        self.sets.len()
    }

    fn remove(&mut self, k: &SetKey) -> Option<FragmentSet> {
        let set = self.sets.remove(k)?;
        self.bytes = self.bytes.saturating_sub(set.cost());
        Some(set)
    }

    /// Evicts the oldest set other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<&SetKey>) -> bool {
        let oldest = self
            .sets
            .iter()
            .filter(|(k, _)| Some(*k) != keep)
            .min_by_key(|(_, s)| s.serial)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.remove(&k);
                self.evicted += 1;
                true
            }
            None => false,
        }
    }
}

/// The fragments' plaintexts joined in fragment order, if every fragment had one.
fn whole_plaintext(fragments: BTreeMap<u16, Fragment>, bytes: usize) -> Option<Opened> {
    let mut integrity = Integrity::Ok;
    let mut whole = Vec::with_capacity(bytes);
    for f in fragments.into_values() {
        let (i, p) = f.plain?;
        if i != Integrity::Ok {
            integrity = i;
        }
        whole.extend_from_slice(&p);
    }
    Some((integrity, whole))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ike::decode;
    use crate::event::codes::{ExchangeType, PayloadType};

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../../tests/fixtures/ikev2/", $name)).as_slice()
        };
    }

    fn key() -> FlowKey {
        (
            "172.16.158.1".parse().unwrap(),
            53725,
            "172.16.158.142".parse().unwrap(),
            4500,
        )
    }

    /// A fragment without keys: the message reassembled, if complete.
    fn push(
        r: &mut SkfReassembler,
        key: FlowKey,
        frame: u64,
        ts: Timestamp,
        msg: &IkeMessage,
    ) -> Option<IkeMessage> {
        r.push(key, frame, ts, msg, None).map(|(m, plain)| {
            assert_eq!(plain, None, "no fragment was opened");
            m
        })
    }

    fn ts(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    /// An IKEv2 message carrying one SKF payload.
    fn frag(message_id: u32, number: u16, total: u16, len: u32) -> IkeMessage {
        IkeMessage {
            version: 2,
            ispi: 0x1122,
            rspi: 0x3344,
            first_payload: PayloadType::SKF,
            exchange: ExchangeType(35),
            flags: 0x08,
            message_id,
            length: 28 + 8 + len,
            wire_len: 28 + 8 + len,
            encrypted: true,
            payloads: vec![Payload {
                payload_type: PayloadType::SKF,
                critical: false,
                length: (8 + len) as u16,
                offset: 28,
                body: PayloadBody::EncryptedFragment {
                    number,
                    total,
                    inner_first_payload: if number == 1 { 35 } else { 0 },
                    len,
                },
            }],
            ..IkeMessage::default()
        }
    }

    fn sk_len(m: &IkeMessage) -> u32 {
        match m.payloads[..] {
            [
                Payload {
                    body: PayloadBody::Encrypted { len, .. },
                    ..
                },
            ] => len,
            _ => panic!("{m:?}"),
        }
    }

    // ukncsc ikev2.pcap frames 5 and 6: IKE_AUTH split into SKF 1/2 (1200 bytes of ciphertext,
    // inner next payload IDi) and 2/2 (272 bytes).
    #[test]
    fn real_fragments_reassemble() {
        let f5 = decode(fixture!("ukncsc-f5.bin"), true).unwrap();
        let f6 = decode(fixture!("ukncsc-f6.bin"), true).unwrap();
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        assert_eq!(push(&mut r, key(), 5, ts(1), &f5), None);
        assert_eq!(r.pending(), 1);
        let m = push(&mut r, key(), 6, ts(1), &f6).expect("complete");
        assert_eq!(r.pending(), 0);
        assert_eq!((m.ispi, m.rspi, m.message_id), (f5.ispi, f5.rspi, 1));
        assert_eq!((m.exchange.0, m.flags, m.version), (35, 0x08, 2));
        assert!(m.non_esp_marker && m.encrypted);
        assert_eq!(m.first_payload, PayloadType::SK);
        assert_eq!(m.reassembled_from, [5, 6]);
        assert_eq!(m.length, 28 + 4 + 1200 + 272);
        assert_eq!(m.wire_len, m.length);
        assert_eq!(
            m.payloads,
            [Payload {
                payload_type: PayloadType::SK,
                critical: false,
                length: 4 + 1472,
                offset: 28,
                body: PayloadBody::Encrypted {
                    inner_first_payload: 35,
                    len: 1472
                },
            }]
        );
        assert_eq!(m.error, None);
    }

    #[test]
    fn not_a_fragment_is_ignored() {
        let f7 = decode(fixture!("ukncsc-f7.bin"), true).unwrap();
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        assert_eq!(push(&mut r, key(), 7, ts(1), &f7), None);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        assert_eq!(push(&mut r, key(), 10, ts(0), &frag(4, 3, 3, 50)), None);
        assert_eq!(push(&mut r, key(), 11, ts(0), &frag(4, 2, 3, 100)), None);
        // Retransmission of fragment 2: ignored, frame 11 is kept.
        assert_eq!(push(&mut r, key(), 12, ts(1), &frag(4, 2, 3, 100)), None);
        let m = push(&mut r, key(), 13, ts(1), &frag(4, 1, 3, 200)).unwrap();
        assert_eq!(m.reassembled_from, [13, 11, 10]);
        assert_eq!(sk_len(&m), 350);
        assert_eq!(m.length, 28 + 4 + 350);
        // A late duplicate after completion starts a new set, which never completes.
        assert_eq!(push(&mut r, key(), 14, ts(2), &frag(4, 3, 3, 50)), None);
        assert_eq!(r.pending(), 1);
        assert_eq!(r.evicted(), 0);
    }

    #[test]
    fn single_fragment_completes_at_once() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        let m = push(&mut r, key(), 1, ts(0), &frag(9, 1, 1, 64)).unwrap();
        assert_eq!(m.reassembled_from, [1]);
        assert_eq!(sk_len(&m), 64);
    }

    #[test]
    fn sets_are_kept_apart() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        let other = ("10.0.0.1".parse().unwrap(), 4500, key().0, 4500);
        push(&mut r, key(), 1, ts(0), &frag(1, 1, 2, 10));
        // Same message ID from another flow, another message ID, and a response.
        push(&mut r, other, 2, ts(0), &frag(1, 2, 2, 10));
        push(&mut r, key(), 3, ts(0), &frag(2, 2, 2, 10));
        let mut resp = frag(1, 2, 2, 10);
        resp.flags = 0x20;
        push(&mut r, key(), 4, ts(0), &resp);
        assert_eq!(r.pending(), 4);
        let m = push(&mut r, key(), 5, ts(0), &frag(1, 2, 2, 10)).unwrap();
        assert_eq!(m.reassembled_from, [1, 5]);
    }

    #[test]
    fn new_total_restarts_the_set() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        push(&mut r, key(), 1, ts(0), &frag(1, 1, 3, 100));
        push(&mut r, key(), 2, ts(0), &frag(1, 2, 3, 100));
        // The sender re-fragmented with a smaller size (RFC 7383 §2.6): total 4.
        assert_eq!(push(&mut r, key(), 3, ts(1), &frag(1, 4, 4, 10)), None);
        assert_eq!(r.pending(), 1);
        push(&mut r, key(), 4, ts(1), &frag(1, 2, 4, 70));
        push(&mut r, key(), 5, ts(1), &frag(1, 3, 4, 70));
        let m = push(&mut r, key(), 6, ts(1), &frag(1, 1, 4, 70)).unwrap();
        assert_eq!(m.reassembled_from, [6, 4, 5, 3]);
        assert_eq!(sk_len(&m), 220);
        assert_eq!(r.evicted(), 0);
    }

    #[test]
    fn bad_numbers_are_ignored() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        assert_eq!(push(&mut r, key(), 1, ts(0), &frag(1, 0, 2, 10)), None);
        assert_eq!(push(&mut r, key(), 2, ts(0), &frag(1, 3, 2, 10)), None);
        assert_eq!(r.pending(), 0);
        let mut v1 = frag(1, 1, 1, 10);
        v1.version = 1;
        assert_eq!(push(&mut r, key(), 3, ts(0), &v1), None);
    }

    #[test]
    fn set_cap_evicts_oldest() {
        let mut r = SkfReassembler::new(2, 1 << 20, 30);
        push(&mut r, key(), 1, ts(0), &frag(1, 1, 2, 10));
        push(&mut r, key(), 2, ts(1), &frag(2, 1, 2, 10));
        push(&mut r, key(), 3, ts(2), &frag(3, 1, 2, 10));
        assert_eq!((r.pending(), r.evicted()), (2, 1));
        // Message 1 was evicted: its second fragment starts a new set (evicting message 2).
        assert_eq!(push(&mut r, key(), 4, ts(3), &frag(1, 2, 2, 10)), None);
        assert_eq!(r.evicted(), 2);
        assert!(push(&mut r, key(), 5, ts(3), &frag(3, 2, 2, 10)).is_some());
    }

    #[test]
    fn byte_cap_evicts_oldest() {
        // Room for one set of three fragments, not two sets.
        let cap = SET_COST + 3 * FRAGMENT_COST;
        let mut r = SkfReassembler::new(100, cap, 30);
        push(&mut r, key(), 1, ts(0), &frag(1, 1, 3, 10));
        push(&mut r, key(), 2, ts(0), &frag(1, 2, 3, 10));
        push(&mut r, key(), 3, ts(1), &frag(2, 1, 3, 10));
        assert_eq!((r.pending(), r.evicted()), (1, 1));
        push(&mut r, key(), 4, ts(1), &frag(2, 2, 3, 10));
        let m = push(&mut r, key(), 5, ts(1), &frag(2, 3, 3, 10)).unwrap();
        assert_eq!(m.reassembled_from, [3, 4, 5]);
        // A set that alone outgrows the cap is dropped.
        let mut r = SkfReassembler::new(100, SET_COST + FRAGMENT_COST, 30);
        push(&mut r, key(), 1, ts(0), &frag(1, 1, 3, 10));
        assert_eq!(push(&mut r, key(), 2, ts(0), &frag(1, 2, 3, 10)), None);
        assert_eq!((r.pending(), r.evicted()), (0, 1));
    }

    #[test]
    fn timeout_expires_incomplete_sets() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        push(&mut r, key(), 1, ts(100), &frag(1, 1, 2, 10));
        push(&mut r, key(), 2, ts(120), &frag(2, 1, 2, 10));
        assert_eq!(r.expire(ts(130)), 0);
        assert_eq!(r.expire(Timestamp::new(130, 1)), 1);
        assert_eq!(r.pending(), 1);
        assert_eq!(r.expire(ts(200)), 1);
        assert_eq!(r.pending(), 0);
        assert_eq!(r.evicted(), 0);
        // Bytes were given back: a full-cap set still fits.
        let mut r = SkfReassembler::new(16, SET_COST + 2 * FRAGMENT_COST, 1);
        push(&mut r, key(), 1, ts(0), &frag(1, 1, 2, 10));
        r.expire(ts(5));
        push(&mut r, key(), 2, ts(6), &frag(2, 1, 2, 10));
        assert!(push(&mut r, key(), 3, ts(6), &frag(2, 2, 2, 10)).is_some());
        assert_eq!(r.evicted(), 0);
    }

    /// Opened fragments' plaintext is joined in fragment order, whatever the arrival order; it
    /// counts against the byte cap like the rest of the set; a set with one fragment unopened
    /// yields the message without plaintext.
    #[test]
    fn plaintext_of_opened_fragments_is_joined_and_counted() {
        let mut r = SkfReassembler::new(16, 1 << 20, 30);
        let opened = |b: &[u8]| Some((Integrity::Ok, b.to_vec()));
        assert_eq!(
            r.push(key(), 1, ts(0), &frag(1, 2, 2, 10), opened(b"world")),
            None
        );
        assert_eq!(r.bytes, SET_COST + FRAGMENT_COST + 5);
        let unchecked = Some((Integrity::Unchecked, b"hello ".to_vec()));
        let (m, plain) = r
            .push(key(), 2, ts(0), &frag(1, 1, 2, 10), unchecked)
            .unwrap();
        assert_eq!(m.reassembled_from, vec![2, 1]);
        assert_eq!(plain, Some((Integrity::Unchecked, b"hello world".to_vec())));
        assert_eq!(r.bytes, 0);

        r.push(key(), 3, ts(0), &frag(2, 1, 2, 10), opened(b"a"));
        let (_, plain) = r.push(key(), 4, ts(0), &frag(2, 2, 2, 10), None).unwrap();
        assert_eq!(plain, None);

        // Plaintext larger than the cap: the set cannot be held.
        let mut small = SkfReassembler::new(16, SET_COST + FRAGMENT_COST + 4, 30);
        assert_eq!(
            small.push(key(), 5, ts(0), &frag(3, 1, 2, 10), opened(b"12345")),
            None
        );
        assert_eq!((small.pending(), small.evicted()), (0, 1));
    }
}
