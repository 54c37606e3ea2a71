//! IP fragment reassembly for IPsec flows (IPv4 and IPv6), bounded in sets, bytes and time.
//!
//! Non-first UDP fragments carry no ports, so until the first fragment arrives we cannot know
//! whether a set belongs to IKE; such sets are held (within the caps) and dropped quietly once
//! the first fragment shows another port. ESP and AH sets are known from the protocol field.
//!
//! Only UDP sets keep their bytes (an IKE message must be rebuilt to be decoded); ESP sets keep
//! the ESP header of their first fragment and their lengths, which is all the tracker needs.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::event::{FragmentInfo, IncompleteFragments, IpInfo, PacketRef, Timestamp, ipproto};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ident: u32,
    pub proto: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Unknown,
    Ipsec,
    Other,
}

/// One fragment as it passed, kept so its event can be released once the set's flow is known.
#[derive(Clone, Copy, Debug)]
pub struct HeldFragment {
    pub pkt: PacketRef,
    pub ip: IpInfo,
    pub info: FragmentInfo,
}

struct Piece {
    offset: u32,
    len: u32,
    /// Bytes for UDP sets; empty otherwise.
    data: Vec<u8>,
}

struct FragSet {
    interest: Interest,
    first_seen: Timestamp,
    first_frame: u64,
    last_frame: u64,
    pieces: Vec<Piece>,
    /// Fragments whose events have not been released because the set's interest is unknown.
    held: Vec<HeldFragment>,
    /// Datagram payload size, known once the last fragment (MF clear) arrives.
    total: Option<u32>,
    had_first: bool,
    /// The first fragment's first bytes (UDP header or ESP header).
    head: [u8; 16],
    head_len: u8,
    bytes_seen: u32,
    count: u16,
    /// Identity of this set's generation in the eviction queue.
    generation: u64,
    /// The first fragment's packet, once seen.
    first: Option<(PacketRef, IpInfo)>,
}

/// A set given up on: what was seen of it, and for UDP sets the first fragment's bytes, so the
/// IKE header it carried can still be shown (as Wireshark shows an unreassembled first fragment).
pub struct Lost {
    pub key: FragKey,
    pub info: IncompleteFragments,
    pub first: Option<(PacketRef, IpInfo, Vec<u8>)>,
    /// False for sets cut off by the end of the capture before they could have completed.
    pub reportable: bool,
}

/// A datagram put back together.
pub struct Reassembled {
    pub data: Vec<u8>,
    /// For ESP sets only the first fragment's head is kept: `data` is that head and `total_len`
    /// the full payload length.
    pub total_len: u32,
    pub fragments: u16,
    pub first_frame: u64,
}

/// What one fragment did to its set.
pub struct Pushed {
    pub interest: Interest,
    /// UDP ports from the set's first fragment, when seen.
    pub ports: Option<(u16, u16)>,
    /// Fragment events to emit now (this one and any held ones, in arrival order).
    pub released: Vec<HeldFragment>,
    pub complete: Option<Reassembled>,
}

pub struct Limits {
    pub max_sets: usize,
    pub max_bytes: usize,
    /// Linux keeps fragments 30 s (net.ipv4.ipfrag_time); so do we.
    pub timeout_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sets: 8192,
            max_bytes: 32 << 20,
            timeout_secs: 30,
        }
    }
}

pub struct FragTable {
    sets: HashMap<FragKey, FragSet, crate::hash::KeyedHashState>,
    /// Insertion order for eviction; entries whose generation no longer matches are stale.
    order: VecDeque<(FragKey, u64)>,
    bytes: usize,
    limits: Limits,
    next_generation: u64,
    pub evicted: u64,
    pub completed: u64,
    pub expired: u64,
    /// Keep ESP fragments' bytes too (keys were given, so the whole datagram can be opened);
    /// otherwise only the head with the SPI and sequence number is kept.
    pub keep_esp: bool,
}

pub fn is_ipsec_port(port: u16) -> bool {
    port == 500 || port == 4500
}

impl FragTable {
    pub fn new(limits: Limits) -> Self {
        FragTable {
            sets: HashMap::default(),
            order: VecDeque::new(),
            bytes: 0,
            limits,
            next_generation: 0,
            evicted: 0,
            completed: 0,
            expired: 0,
            keep_esp: false,
        }
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Adds one fragment. `data` is the fragment's payload after the IP header(s).
    pub fn push(
        &mut self,
        key: FragKey,
        pkt: PacketRef,
        ip: IpInfo,
        offset: u32,
        more: bool,
        data: &[u8],
    ) -> Pushed {
        if !self.sets.contains_key(&key) {
            self.make_room(data.len());
            let generation = self.next_generation;
            self.next_generation += 1;
            let interest = match key.proto {
                ipproto::ESP | ipproto::AH => Interest::Ipsec,
                _ => Interest::Unknown,
            };
            self.sets.insert(
                key,
                FragSet {
                    interest,
                    first_seen: pkt.ts,
                    first_frame: pkt.frame,
                    last_frame: pkt.frame,
                    pieces: Vec::new(),
                    held: Vec::new(),
                    total: None,
                    had_first: false,
                    head: [0; 16],
                    head_len: 0,
                    bytes_seen: 0,
                    count: 0,
                    generation,
                    first: None,
                },
            );
            self.order.push_back((key, generation));
        }
        let Some(set) = self.sets.get_mut(&key) else {
            unreachable!("inserted above")
        };
        let info = FragmentInfo {
            ident: key.ident,
            offset,
            more_fragments: more,
            data_len: data.len() as u32,
            proto: key.proto,
            esp: None,
        };
        set.last_frame = pkt.frame;
        set.count = set.count.saturating_add(1);
        set.bytes_seen = set.bytes_seen.saturating_add(data.len() as u32);
        if !more {
            set.total = Some(offset.saturating_add(data.len() as u32));
        }
        if offset == 0 {
            set.had_first = true;
            set.first = Some((pkt, ip));
            let n = data.len().min(16);
            set.head[..n].copy_from_slice(&data[..n]);
            set.head_len = n as u8;
            if set.interest == Interest::Unknown && key.proto == ipproto::UDP {
                set.interest = match ports_of(data) {
                    Some((s, d)) if is_ipsec_port(s) || is_ipsec_port(d) => Interest::Ipsec,
                    _ => Interest::Other,
                };
            }
        }
        let keep_bytes = (key.proto == ipproto::UDP
            || (self.keep_esp && key.proto == ipproto::ESP))
            && set.interest != Interest::Other;
        let piece_data = if keep_bytes {
            data.to_vec()
        } else {
            Vec::new()
        };
        self.bytes += piece_data.len();
        set.pieces.push(Piece {
            offset,
            len: data.len() as u32,
            data: piece_data,
        });

        let held = HeldFragment { pkt, ip, info };
        let mut released = Vec::new();
        match set.interest {
            Interest::Ipsec => {
                released.append(&mut set.held);
                released.push(held);
                let esp = esp_of_head(key.proto, &set.head[..usize::from(set.head_len)]);
                for r in released.iter_mut().filter(|r| r.info.offset == 0) {
                    r.info.esp = esp;
                }
            }
            Interest::Unknown => set.held.push(held),
            Interest::Other => {
                set.held.clear();
                // Keep the set (without bytes) so later fragments of it are recognised as
                // uninteresting; free what it held.
                for p in &mut set.pieces {
                    self.bytes -= p.data.len();
                    p.data = Vec::new();
                }
            }
        }
        let interest = set.interest;
        let ports = if set.had_first && key.proto == ipproto::UDP {
            ports_of(&set.head[..usize::from(set.head_len)])
        } else {
            None
        };
        let complete = if interest == Interest::Ipsec && covers_all(set) {
            self.completed += 1;
            let set = self.sets.remove(&key).expect("present");
            Some(self.assemble(key.proto, set))
        } else {
            None
        };
        Pushed {
            interest,
            ports,
            released,
            complete,
        }
    }

    fn assemble(&mut self, proto: u8, set: FragSet) -> Reassembled {
        let total = set.total.unwrap_or(0);
        let whole = set.pieces.iter().all(|p| p.data.len() == p.len as usize);
        let data = if proto == ipproto::UDP || (proto == ipproto::ESP && self.keep_esp && whole) {
            let mut buf = vec![0u8; total as usize];
            for p in &set.pieces {
                let start = p.offset as usize;
                let end = (start + p.data.len()).min(buf.len());
                if start < end {
                    buf[start..end].copy_from_slice(&p.data[..end - start]);
                }
            }
            buf
        } else {
            set.head[..usize::from(set.head_len)].to_vec()
        };
        for p in &set.pieces {
            self.bytes -= p.data.len();
        }
        Reassembled {
            data,
            total_len: total,
            fragments: set.count,
            first_frame: set.first_frame,
        }
    }

    /// Removes sets that have waited longer than the timeout. Returns the IPsec ones: fragments
    /// lost on the path (or filtered) before the capture point's far side.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Lost> {
        let mut lost = Vec::new();
        let timeout = self.limits.timeout_secs;
        while let Some(&(key, generation)) = self.order.front() {
            let Some(set) = self.sets.get(&key) else {
                self.order.pop_front();
                continue;
            };
            if set.generation != generation {
                self.order.pop_front();
                continue;
            }
            if now.secs - set.first_seen.secs <= timeout {
                break;
            }
            self.order.pop_front();
            let set = self.sets.remove(&key).expect("present");
            self.bytes -= set.pieces.iter().map(|p| p.data.len()).sum::<usize>();
            if set.interest == Interest::Ipsec {
                self.expired += 1;
                lost.push(lost_set(key, set, true));
            }
        }
        lost
    }

    /// At the end of a capture: every IPsec set still open that has waited at least
    /// `min_age_secs`, as incomplete. Younger sets are dropped unreported: the capture may simply
    /// have stopped before their last fragment.
    pub fn drain_incomplete(&mut self, now: Timestamp, min_age_secs: i64) -> Vec<Lost> {
        let mut sets: Vec<_> = self.sets.drain().collect();
        self.order.clear();
        self.bytes = 0;
        sets.sort_by_key(|(_, s)| s.first_frame);
        sets.into_iter()
            .filter(|(_, s)| s.interest == Interest::Ipsec)
            .map(|(k, s)| {
                let old_enough = now.secs - s.first_seen.secs >= min_age_secs;
                lost_set(k, s, old_enough)
            })
            .collect()
    }

    fn make_room(&mut self, incoming: usize) {
        while self.sets.len() >= self.limits.max_sets
            || (self.bytes + incoming > self.limits.max_bytes && !self.sets.is_empty())
        {
            let Some((key, generation)) = self.order.pop_front() else {
                break;
            };
            if let Some(set) = self.sets.get(&key)
                && set.generation == generation
            {
                let set = self.sets.remove(&key).expect("present");
                self.bytes -= set.pieces.iter().map(|p| p.data.len()).sum::<usize>();
                self.evicted += 1;
            }
        }
    }
}

/// SPI and sequence number from a first fragment's head: ESP itself, or ESP in UDP 4500 (not
/// the non-ESP marker of IKE, not a keepalive).
fn esp_of_head(proto: u8, head: &[u8]) -> Option<(u32, u32)> {
    let esp = match proto {
        ipproto::ESP => head,
        ipproto::UDP => {
            let (s, d) = ports_of(head)?;
            if s != 4500 && d != 4500 {
                return None;
            }
            head.get(8..)?
        }
        _ => return None,
    };
    let h = esp.get(..8)?;
    let spi = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    (spi != 0).then(|| (spi, u32::from_be_bytes([h[4], h[5], h[6], h[7]])))
}

fn ports_of(udp: &[u8]) -> Option<(u16, u16)> {
    let h = udp.get(..4)?;
    Some((
        u16::from_be_bytes([h[0], h[1]]),
        u16::from_be_bytes([h[2], h[3]]),
    ))
}

fn covers_all(set: &FragSet) -> bool {
    let Some(total) = set.total else {
        return false;
    };
    if !set.had_first {
        return false;
    }
    let mut ranges: Vec<(u32, u32)> = set
        .pieces
        .iter()
        .map(|p| (p.offset, p.offset.saturating_add(p.len)))
        .collect();
    ranges.sort_unstable();
    let mut covered = 0u32;
    for (start, end) in ranges {
        if start > covered {
            return false;
        }
        covered = covered.max(end);
    }
    covered >= total
}

fn lost_set(key: FragKey, mut set: FragSet, reportable: bool) -> Lost {
    let info = incomplete(&key, &set);
    let first = set.first.and_then(|(pkt, ip)| {
        let piece = set.pieces.iter_mut().find(|p| p.offset == 0)?;
        (!piece.data.is_empty()).then(|| (pkt, ip, std::mem::take(&mut piece.data)))
    });
    Lost {
        key,
        info,
        first,
        reportable,
    }
}

fn incomplete(key: &FragKey, set: &FragSet) -> IncompleteFragments {
    let (sport, dport) = if key.proto == ipproto::UDP && set.had_first {
        ports_of(&set.head[..usize::from(set.head_len)]).unwrap_or((0, 0))
    } else {
        (0, 0)
    };
    IncompleteFragments {
        ident: key.ident,
        proto: key.proto,
        first_frame: set.first_frame,
        last_frame: set.last_frame,
        fragments_seen: set.count,
        bytes_seen: set.bytes_seen,
        had_first: set.had_first,
        had_last: set.total.is_some(),
        sport,
        dport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(proto: u8) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            ident: 7,
            proto,
        }
    }

    fn pkt(frame: u64, secs: i64) -> PacketRef {
        PacketRef {
            frame,
            ts: Timestamp::new(secs, 0),
            caplen: 0,
            origlen: 0,
        }
    }

    fn udp_head(sport: u16, dport: u16, rest: usize) -> Vec<u8> {
        let mut d = sport.to_be_bytes().to_vec();
        d.extend_from_slice(&dport.to_be_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend(std::iter::repeat_n(0xab, rest));
        d
    }

    #[test]
    fn out_of_order_udp_fragments_reassemble_once_the_first_arrives() {
        let mut t = FragTable::new(Limits::default());
        let tail = vec![0xcd; 100];
        let r = t.push(key(17), pkt(1, 0), IpInfo::default(), 1480, false, &tail);
        assert_eq!(r.interest, Interest::Unknown);
        assert!(r.released.is_empty());
        let head = udp_head(500, 500, 1472);
        let r = t.push(key(17), pkt(2, 0), IpInfo::default(), 0, true, &head);
        assert_eq!(r.interest, Interest::Ipsec);
        assert_eq!(r.released.len(), 2);
        assert_eq!(r.released[0].pkt.frame, 1);
        let done = r.complete.expect("complete");
        assert_eq!(done.data.len(), 1580);
        assert_eq!(&done.data[1480..], &tail[..]);
        assert_eq!(done.fragments, 2);
        assert!(t.is_empty());
    }

    #[test]
    fn non_ipsec_udp_sets_release_nothing_and_keep_no_bytes() {
        let mut t = FragTable::new(Limits::default());
        let r = t.push(
            key(17),
            pkt(1, 0),
            IpInfo::default(),
            0,
            true,
            &udp_head(53, 40000, 1000),
        );
        assert_eq!(r.interest, Interest::Other);
        let r = t.push(key(17), pkt(2, 0), IpInfo::default(), 1008, false, &[0; 10]);
        assert_eq!(r.interest, Interest::Other);
        assert!(r.released.is_empty() && r.complete.is_none());
        assert_eq!(t.bytes, 0);
    }

    #[test]
    fn an_esp_set_missing_its_tail_expires_as_incomplete() {
        let mut t = FragTable::new(Limits::default());
        let r = t.push(key(50), pkt(5, 100), IpInfo::default(), 0, true, &[1; 1480]);
        assert_eq!(r.released.len(), 1);
        assert!(t.expire(Timestamp::new(120, 0)).is_empty());
        let lost = t.expire(Timestamp::new(131, 0));
        assert_eq!(lost.len(), 1);
        assert!(lost[0].info.had_first && !lost[0].info.had_last);
        assert_eq!(lost[0].info.first_frame, 5);
        assert!(lost[0].first.is_none(), "ESP sets keep no bytes");
    }

    #[test]
    fn caps_evict_the_oldest_set() {
        let mut t = FragTable::new(Limits {
            max_sets: 2,
            max_bytes: 1 << 20,
            timeout_secs: 30,
        });
        for ident in 0..5 {
            let mut k = key(50);
            k.ident = ident;
            t.push(
                k,
                pkt(u64::from(ident), 0),
                IpInfo::default(),
                0,
                true,
                &[0; 8],
            );
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.evicted, 3);
    }

    #[test]
    fn overlapping_duplicates_do_not_break_completion() {
        let mut t = FragTable::new(Limits::default());
        let head = udp_head(4500, 4500, 92);
        t.push(key(17), pkt(1, 0), IpInfo::default(), 0, true, &head);
        t.push(key(17), pkt(2, 0), IpInfo::default(), 0, true, &head);
        let r = t.push(key(17), pkt(3, 0), IpInfo::default(), 96, false, &[9; 4]);
        let done = r.complete.expect("complete");
        assert_eq!(done.data.len(), 100);
        assert_eq!(done.fragments, 3);
    }
}
