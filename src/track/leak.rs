//! Traffic a tunnel should carry, seen in the clear while the tunnel is up.
//!
//! The selectors come from the peers themselves: an IKEv2 IKE_AUTH or CREATE_CHILD_SA response,
//! or an IKEv1 Quick Mode response, that the operator's keys opened. A packet outside IPsec
//! whose addresses (and protocol and ports) fall inside them is a candidate.
//!
//! A candidate is not yet a leak. A capture taken on the gateway itself (`-i any`) sees each
//! packet twice: in the clear on the inside interface and inside ESP on the outside one, a few
//! microseconds to milliseconds apart, in either order. So a candidate waits [`WINDOW`] for its
//! twin among the inner packets that decryption revealed, and only one that no ESP carried is a
//! leak. When the tunnel's ESP flowed near that moment but could not be opened (no key for its
//! SPI), the twin cannot be looked for: the candidate is reported as not judged, never as a
//! leak.
//!
//! Every table here is capped; what overflows is dropped oldest first and counted, so the
//! verdict errs towards "no leak" rather than towards unbounded memory.

use std::collections::{HashMap, VecDeque};

use super::pair::{PairKey, SaKey};
use crate::event::ike::TrafficSelector;
use crate::event::{InnerPacket, Timestamp};
use crate::hash::KeyedHashState;

/// How far apart a packet's clear copy and its ESP copy can be on one capture: a gateway's
/// encryption or decryption delay, with a wide margin for a loaded userspace data path.
pub const WINDOW: f64 = 1.0;

/// Tunnels whose selectors are watched at once.
const MAX_TUNNELS: usize = 256;
/// Selectors kept per side of a tunnel.
const MAX_SELECTORS: usize = 8;
/// Inner packets remembered from decrypted ESP (one window's worth on a busy tunnel).
const MAX_CARRIED: usize = 65_536;
/// Clear packets waiting for their twin.
const MAX_PENDING: usize = 65_536;

/// A tunnel's traffic selectors, as its peers agreed them.
#[derive(Clone, Debug)]
struct Protected {
    pair: PairKey,
    tsi: Vec<TrafficSelector>,
    tsr: Vec<TrafficSelector>,
}

/// A packet in the clear that a tunnel's selectors cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    pub sa: SaKey,
    pub frame: u64,
    pub ts: Timestamp,
    pub packet: InnerPacket,
    /// The selectors it matched (TSi, TSr of the tunnel).
    pub selectors: (TrafficSelector, TrafficSelector),
    /// The tunnel's ESP flowed within the window but could not be opened, so whether this
    /// packet was also carried encrypted is unknown.
    pub unjudged: bool,
}

struct Pending {
    seq: u64,
    leak: Leak,
}

#[derive(Default)]
pub struct LeakWatch {
    tunnels: HashMap<SaKey, Protected>,
    order: VecDeque<SaKey>,
    /// Per peer pair: when ESP that no key opened last passed.
    unopened: HashMap<PairKey, Timestamp>,
    /// Fingerprints of inner packets decrypted within the window, and how many of each.
    carried: HashMap<u64, u32>,
    carried_order: VecDeque<(Timestamp, u64)>,
    /// Candidates per fingerprint, oldest first, and all of them in arrival order.
    pending: HashMap<u64, VecDeque<Pending>>,
    pending_order: VecDeque<(Timestamp, u64, u64)>,
    next_seq: u64,
    hash: KeyedHashState,
    /// Candidates and carried packets dropped because a table was full.
    pub overflowed: u64,
}

impl LeakWatch {
    pub fn is_idle(&self) -> bool {
        self.tunnels.is_empty() && self.pending_order.is_empty()
    }

    /// The peers of `sa` agreed these selectors: traffic between them must be in ESP.
    pub fn protect(&mut self, sa: SaKey, tsi: &[TrafficSelector], tsr: &[TrafficSelector]) {
        let take = |v: &[TrafficSelector]| -> Vec<TrafficSelector> {
            v.iter()
                .filter(|t| t.start_addr.is_some() && t.end_addr.is_some())
                .take(MAX_SELECTORS)
                .cloned()
                .collect()
        };
        let (tsi, tsr) = (take(tsi), take(tsr));
        if tsi.is_empty() || tsr.is_empty() {
            return;
        }
        if !self.tunnels.contains_key(&sa) {
            while self.tunnels.len() >= MAX_TUNNELS {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.tunnels.remove(&old);
            }
            self.order.push_back(sa);
        }
        self.tunnels.insert(
            sa,
            Protected {
                pair: sa.pair,
                tsi,
                tsr,
            },
        );
    }

    /// The IKE SA ended: its selectors no longer say what must be protected.
    pub fn forget(&mut self, sa: &SaKey) {
        if self.tunnels.remove(sa).is_some() {
            self.order.retain(|k| k != sa);
        }
    }

    /// ESP between `pair` that no key opened.
    pub fn esp_unopened(&mut self, pair: PairKey, ts: Timestamp) {
        if self.tunnels.values().any(|t| t.pair == pair) {
            self.unopened.insert(pair, ts);
        }
    }

    /// An inner packet that decryption revealed: it was carried, so its clear copy (if any)
    /// is its twin.
    pub fn carried(&mut self, p: &InnerPacket, ts: Timestamp) {
        if self.tunnels.is_empty() {
            return;
        }
        let fp = fingerprint(&self.hash, p);
        if let Some(q) = self.pending.get_mut(&fp)
            && q.pop_front().is_some()
        {
            if q.is_empty() {
                self.pending.remove(&fp);
            }
            return;
        }
        if self.carried_order.len() >= MAX_CARRIED {
            self.overflowed += 1;
            self.drop_carried();
        }
        *self.carried.entry(fp).or_insert(0) += 1;
        self.carried_order.push_back((ts, fp));
    }

    /// A packet outside IPsec.
    pub fn clear(&mut self, p: &InnerPacket, ts: Timestamp, frame: u64) {
        if self.tunnels.is_empty() {
            return;
        }
        let Some((sa, selectors)) = self
            .tunnels
            .iter()
            .find_map(|(k, t)| t.covers(p).map(|s| (*k, s)))
        else {
            return;
        };
        let fp = fingerprint(&self.hash, p);
        if let Some(n) = self.carried.get_mut(&fp) {
            // Its twin went by in ESP already: the gateway decrypted it and forwarded it.
            *n -= 1;
            if *n == 0 {
                self.carried.remove(&fp);
            }
            return;
        }
        if self.pending_order.len() >= MAX_PENDING {
            self.overflowed += 1;
            if let Some((_, fp, _)) = self.pending_order.pop_front() {
                self.pop_pending(fp);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.entry(fp).or_default().push_back(Pending {
            seq,
            leak: Leak {
                sa,
                frame,
                ts,
                packet: *p,
                selectors,
                unjudged: false,
            },
        });
        self.pending_order.push_back((ts, fp, seq));
    }

    /// Candidates whose window has passed without a twin, as of `now` (`None`: the input
    /// ended, so every candidate is judged).
    pub fn expire(&mut self, now: Option<Timestamp>, out: &mut Vec<Leak>) {
        let due = |ts: Timestamp| now.is_none_or(|n| n.since(ts) > WINDOW);
        while let Some(&(ts, fp)) = self.carried_order.front() {
            if !due(ts) {
                break;
            }
            let _ = fp;
            self.drop_carried();
        }
        while let Some(&(ts, fp, seq)) = self.pending_order.front() {
            if !due(ts) {
                break;
            }
            self.pending_order.pop_front();
            let Some(q) = self.pending.get_mut(&fp) else {
                continue;
            };
            // Already taken by its twin: the queue's front is a later candidate.
            if q.front().is_none_or(|p| p.seq != seq) {
                continue;
            }
            let mut leak = self.pop_pending(fp).expect("front exists").leak;
            leak.unjudged = self
                .unopened
                .get(&leak.sa.pair)
                .is_some_and(|&u| u.since(ts).abs() <= WINDOW);
            out.push(leak);
        }
        if self.pending_order.is_empty() && self.unopened.len() > MAX_TUNNELS {
            self.unopened.clear();
        }
    }

    fn drop_carried(&mut self) {
        if let Some((_, fp)) = self.carried_order.pop_front()
            && let Some(n) = self.carried.get_mut(&fp)
        {
            *n -= 1;
            if *n == 0 {
                self.carried.remove(&fp);
            }
        }
    }

    fn pop_pending(&mut self, fp: u64) -> Option<Pending> {
        let q = self.pending.get_mut(&fp)?;
        let p = q.pop_front();
        if q.is_empty() {
            self.pending.remove(&fp);
        }
        p
    }
}

impl Protected {
    /// The selectors `p` falls in, either way round (a tunnel carries both directions).
    fn covers(&self, p: &InnerPacket) -> Option<(TrafficSelector, TrafficSelector)> {
        for i in &self.tsi {
            for r in &self.tsr {
                let there =
                    covers(i, p.src, p.proto, p.sport) && covers(r, p.dst, p.proto, p.dport);
                let back = covers(r, p.src, p.proto, p.sport) && covers(i, p.dst, p.proto, p.dport);
                if there || back {
                    return Some((i.clone(), r.clone()));
                }
            }
        }
        None
    }
}

/// RFC 7296 §3.13.1: an address range, a protocol (0: any) and a port range; for ICMP the
/// "port" is the type in the high byte and the code in the low one (RFC 4301 §4.4.1.1).
fn covers(ts: &TrafficSelector, addr: std::net::IpAddr, proto: u8, port: u16) -> bool {
    let (Some(a), Some(b)) = (ts.start_addr, ts.end_addr) else {
        return false;
    };
    let inside = match (a, b, addr) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b), std::net::IpAddr::V4(x)) => {
            (a..=b).contains(&x)
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b), std::net::IpAddr::V6(x)) => {
            (a..=b).contains(&x)
        }
        _ => false,
    };
    if !inside || (ts.ip_protocol != 0 && ts.ip_protocol != proto) {
        return false;
    }
    if (ts.start_port, ts.end_port) == (0, 65535) {
        return true;
    }
    (ts.start_port..=ts.end_port).contains(&port)
}

/// What identifies one packet well enough to find its copy on the other side of the
/// encryption: addresses, protocol, ports or ICMP type/code, length, IPv4 identification and
/// the head of the transport header (two pings differ in their ICMP sequence number, two TCP
/// segments in their sequence number).
fn fingerprint(keyed: &KeyedHashState, p: &InnerPacket) -> u64 {
    use std::hash::BuildHasher;
    keyed.hash_one((
        p.src, p.dst, p.proto, p.sport, p.dport, p.len, p.ident, p.l4_head,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::echo_request;
    use std::net::IpAddr;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::new(
            ms.div_euclid(1000),
            (ms.rem_euclid(1000) * 1_000_000) as u32,
        )
    }

    fn sel(net: &str, last: &str) -> TrafficSelector {
        TrafficSelector {
            ts_type: 7,
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start_addr: Some(net.parse().unwrap()),
            end_addr: Some(last.parse().unwrap()),
        }
    }

    fn watch() -> (LeakWatch, SaKey) {
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let b: IpAddr = "198.51.100.20".parse().unwrap();
        let sa = SaKey {
            pair: PairKey::of(a, b).0,
            ispi: 1,
        };
        let mut w = LeakWatch::default();
        w.protect(
            sa,
            &[sel("10.1.0.0", "10.1.0.255")],
            &[sel("10.2.0.0", "10.2.0.255")],
        );
        (w, sa)
    }

    #[test]
    fn clear_packet_without_a_twin_is_a_leak_once_the_window_passes() {
        let (mut w, sa) = watch();
        w.clear(&echo_request("10.1.0.1", "10.2.0.1", 84), ts(0), 7);
        let mut out = Vec::new();
        w.expire(Some(ts(900)), &mut out);
        assert!(out.is_empty(), "still inside the window");
        w.expire(Some(ts(1_100)), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].sa, out[0].frame, out[0].unjudged), (sa, 7, false));
    }

    #[test]
    fn twin_in_esp_before_or_after_is_no_leak() {
        let (mut w, _) = watch();
        let p = echo_request("10.1.0.1", "10.2.0.1", 84);
        let q = echo_request("10.2.0.1", "10.1.0.1", 84);
        // Outbound on a gateway: clear on the inside first, then ESP.
        w.clear(&p, ts(0), 1);
        w.carried(&p, ts(2));
        // Inbound: ESP first, then the decrypted packet leaves in the clear.
        w.carried(&q, ts(10));
        w.clear(&q, ts(11), 3);
        let mut out = Vec::new();
        w.expire(None, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    /// Two pings of one run differ only in their ICMP sequence number: one carried in ESP is
    /// no twin of the other sent around the tunnel.
    #[test]
    fn packets_alike_but_for_their_transport_head_are_not_twins() {
        let (mut w, _) = watch();
        let mut p = echo_request("10.1.0.1", "10.2.0.1", 84);
        p.l4_head = 0x0800_0000_586f_0001;
        w.carried(&p, ts(0));
        p.l4_head = 0x0800_0000_586f_0002;
        w.clear(&p, ts(300), 5);
        let mut out = Vec::new();
        w.expire(None, &mut out);
        assert_eq!(out.iter().map(|l| l.frame).collect::<Vec<_>>(), [5]);
    }

    #[test]
    fn one_twin_answers_one_copy_only() {
        let (mut w, _) = watch();
        let p = echo_request("10.1.0.1", "10.2.0.1", 84);
        w.clear(&p, ts(0), 1);
        w.clear(&p, ts(1), 2);
        w.carried(&p, ts(2));
        let mut out = Vec::new();
        w.expire(None, &mut out);
        assert_eq!(out.iter().map(|l| l.frame).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn traffic_outside_the_selectors_or_after_the_sa_ends_is_ignored() {
        let (mut w, sa) = watch();
        w.clear(&echo_request("10.1.0.1", "10.3.0.1", 84), ts(0), 1);
        w.clear(&echo_request("192.0.2.10", "198.51.100.20", 84), ts(0), 2);
        w.forget(&sa);
        w.clear(&echo_request("10.1.0.1", "10.2.0.1", 84), ts(5), 3);
        let mut out = Vec::new();
        w.expire(None, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn esp_without_a_key_near_the_packet_leaves_it_unjudged() {
        let (mut w, sa) = watch();
        w.esp_unopened(sa.pair, ts(500));
        w.clear(&echo_request("10.2.0.1", "10.1.0.1", 84), ts(600), 1);
        w.clear(&echo_request("10.2.0.1", "10.1.0.1", 90), ts(5_000), 2);
        let mut out = Vec::new();
        w.expire(None, &mut out);
        assert_eq!(
            out.iter()
                .map(|l| (l.frame, l.unjudged))
                .collect::<Vec<_>>(),
            [(1, true), (2, false)]
        );
    }

    #[test]
    fn ports_and_protocol_narrow_the_selector() {
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let b: IpAddr = "198.51.100.20".parse().unwrap();
        let sa = SaKey {
            pair: PairKey::of(a, b).0,
            ispi: 1,
        };
        let mut w = LeakWatch::default();
        let mut r = sel("10.2.0.1", "10.2.0.1");
        (r.ip_protocol, r.start_port, r.end_port) = (6, 22, 22);
        w.protect(sa, &[sel("10.1.0.0", "10.1.0.255")], &[r]);
        let mut ssh = echo_request("10.1.0.1", "10.2.0.1", 60);
        (ssh.proto, ssh.sport, ssh.dport) = (6, 40000, 22);
        let mut web = ssh;
        web.dport = 80;
        w.clear(&ssh, ts(0), 1);
        w.clear(&web, ts(0), 2);
        let mut out = Vec::new();
        w.expire(None, &mut out);
        assert_eq!(out.iter().map(|l| l.frame).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn tables_stay_bounded() {
        let (mut w, _) = watch();
        for i in 0..(MAX_PENDING as u32 + 10) {
            w.clear(
                &echo_request("10.1.0.1", "10.2.0.1", i),
                ts(0),
                u64::from(i),
            );
            w.carried(&echo_request("10.2.0.2", "10.1.0.2", i), ts(0));
        }
        assert!(w.pending_order.len() <= MAX_PENDING);
        assert!(w.carried_order.len() <= MAX_CARRIED);
        assert!(w.overflowed >= 10);
    }
}
