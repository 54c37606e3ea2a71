//! What the diagnose stage says: a finding (kind, severity, confidence, the peers, the frames
//! that support it, a summary and a remedy) and the kinds it can be of. Formatting for people
//! and programs is the report stage's.

use std::net::IpAddr;

use serde::Serialize;

use crate::event::Timestamp;
use crate::event::text::ipv4_text;
use crate::track::PairKey;
use crate::track::ike::IkeSa;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Observed,
    Inferred,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Observed => "observed",
            Confidence::Inferred => "inferred",
        }
    }
}

/// What a finding is about: the two outer endpoints, in the order that reads naturally for the
/// finding (requester first, sender first…). Ports are given where they matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peers {
    pub a: IpAddr,
    pub a_port: Option<u16>,
    pub b: IpAddr,
    pub b_port: Option<u16>,
}

impl Peers {
    pub fn new(a: IpAddr, b: IpAddr) -> Self {
        Peers {
            a,
            a_port: None,
            b,
            b_port: None,
        }
    }
    pub fn with_ports(a: (IpAddr, u16), b: (IpAddr, u16)) -> Self {
        Peers {
            a: a.0,
            a_port: Some(a.1),
            b: b.0,
            b_port: Some(b.1),
        }
    }
    pub fn of_pair(k: &PairKey) -> Self {
        Peers::new(k.a, k.b)
    }
    pub fn key(&self) -> PairKey {
        PairKey::of(self.a, self.b).0
    }
    pub fn strings(&self) -> [String; 2] {
        [
            PeerText(self.a, self.a_port).to_string(),
            PeerText(self.b, self.b_port).to_string(),
        ]
    }
}

impl Serialize for Peers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As `strings()`, without the two `String`s: every finding line has it.
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&PeerText(self.a, self.a_port))?;
        t.serialize_element(&PeerText(self.b, self.b_port))?;
        t.end()
    }
}

/// One of [`Peers::strings`], written where it goes.
struct PeerText(IpAddr, Option<u16>);

impl PeerText {
    /// The IPv4 text laid out in `buf`, `None` for IPv6.
    fn v4<'b>(&self, buf: &'b mut [u8; 21]) -> Option<&'b str> {
        let IpAddr::V4(a) = self.0 else {
            return None;
        };
        let mut ip = [0u8; 15];
        let ip = ipv4_text(a, &mut ip);
        let mut n = ip.len();
        buf[..n].copy_from_slice(ip.as_bytes());
        if let Some(p) = self.1 {
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(p).as_bytes();
            buf[n] = b':';
            buf[n + 1..n + 1 + digits.len()].copy_from_slice(digits);
            n += 1 + digits.len();
        }
        std::str::from_utf8(&buf[..n]).ok()
    }
}

impl std::fmt::Display for PeerText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(text) = self.v4(&mut [0u8; 21]) {
            return f.write_str(text);
        }
        match (self.0, self.1) {
            (a, Some(p)) => write!(f, "[{a}]:{p}"),
            (a, None) => write!(f, "{a}"),
        }
    }
}

impl Serialize for PeerText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.v4(&mut [0u8; 21]) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

/// How a condition ended: the packet that showed it and what it showed ("ESP from B flows
/// again", "the peer answered"). A finding stays what it was; the clearing is a fact added to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cleared {
    pub ts: Timestamp,
    /// 0 when the clock, not a packet, ended it (live mode on a quiet interface).
    pub frame: u64,
    pub reason: String,
}

/// Most frames a finding lists: the first and last halves are kept.
pub const MAX_FRAMES: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Stable for the cause (kind, pair, scope): the same in every run over the same packets,
    /// so a later update of the finding refers to the one first reported. Set when emitted.
    pub id: u64,
    /// This is a later, fuller version of a finding reported before under the same `id`.
    pub update: bool,
    /// Reports of the same cause folded in after the first, each about other packets (a
    /// second fragmented ESP packet, another ICMP error of the same kind).
    pub repeats: u32,
    /// The wording changed since it was first reported: the cause was judged again over more
    /// evidence (a retransmission loop that went on), not merely seen again.
    pub reworded: bool,
    /// This record announces that the condition ended (a `finding_cleared` line), not the
    /// finding itself.
    pub clearing: bool,
    /// The condition ended: set on the clearing record and on any later update of the finding.
    pub cleared: Option<Box<Cleared>>,
    pub kind: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    pub peers: Peers,
    /// Supporting frames, ascending; at most [`MAX_FRAMES`] (first and last kept).
    pub frames: Vec<u64>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub summary: String,
    pub remedy: String,
}

impl Finding {
    pub fn new(
        kind: &FindingKind,
        confidence: Confidence,
        peers: Peers,
        ts: (Timestamp, Timestamp),
        summary: String,
    ) -> Self {
        Finding {
            id: 0,
            update: false,
            repeats: 0,
            reworded: false,
            clearing: false,
            cleared: None,
            kind: kind.id,
            severity: kind.default_severity,
            confidence,
            peers,
            frames: Vec::new(),
            first_ts: ts.0,
            last_ts: ts.1.max(ts.0),
            summary,
            remedy: kind.remedy.to_string(),
        }
    }
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }
    pub fn remedy(mut self, r: String) -> Self {
        self.remedy = r;
        self
    }
    pub fn frames(mut self, frames: impl IntoIterator<Item = u64>) -> Self {
        self.frames = cap_frames(frames.into_iter().filter(|&f| f != 0).collect());
        self
    }
}

/// The id of the finding about `kind` on `pair` under `scope`: FNV-1a over the three, so it
/// does not depend on the process (std's hasher is seeded per run).
pub fn finding_id(kind: &str, pair: &PairKey, scope: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(kind.as_bytes());
    for addr in [pair.a, pair.b] {
        match addr {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
    }
    eat(&scope.to_be_bytes());
    h
}

impl Finding {
    /// Folds a later report of the same cause into this one: frames and time span grow, the
    /// graver severity and the stronger confidence stay. A report whose frames cover all of
    /// this one's, or whose evidence starts at the same frame and reaches as far, judged the
    /// cause again over more evidence (a run of packets that went on): its wording replaces
    /// this one's. Any other is the cause seen again in other packets: it counts as a repeat
    /// and the first wording stays. Returns whether anything changed.
    pub fn absorb(&mut self, later: Finding) -> bool {
        let same_start = !self.frames.is_empty()
            && self.frames.first() == later.frames.first()
            && later.last_ts >= self.last_ts;
        let rejudged = same_start || self.frames.iter().all(|f| later.frames.contains(f));
        let mut frames = self.frames.clone();
        frames.extend_from_slice(&later.frames);
        let (summary, remedy, repeats, reworded) = if rejudged {
            let reworded = self.reworded || later.summary != self.summary;
            (later.summary, later.remedy, self.repeats, reworded)
        } else {
            let (summary, remedy) = (self.summary.clone(), self.remedy.clone());
            (
                summary,
                remedy,
                self.repeats.saturating_add(1),
                self.reworded,
            )
        };
        let merged = Finding {
            id: self.id,
            update: self.update,
            repeats,
            reworded,
            clearing: false,
            cleared: self.cleared.clone(),
            kind: self.kind,
            severity: self.severity.min(later.severity),
            confidence: if self.confidence == Confidence::Observed {
                self.confidence
            } else {
                later.confidence
            },
            peers: self.peers,
            frames: cap_frames(frames),
            first_ts: self.first_ts.min(later.first_ts),
            last_ts: self.last_ts.max(later.last_ts),
            summary,
            remedy,
        };
        if merged == *self {
            return false;
        }
        *self = merged;
        true
    }
}

/// Sorts, dedups and keeps the first and last [`MAX_FRAMES`]/2 frames.
pub fn cap_frames(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v.dedup();
    if v.len() > MAX_FRAMES {
        let tail = v.split_off(v.len() - MAX_FRAMES / 2);
        v.truncate(MAX_FRAMES / 2);
        v.extend(tail);
    }
    v
}

/// A kind of finding, as `--list-findings` shows it. Each rule file defines one (or more).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FindingKind {
    pub id: &'static str,
    pub title: &'static str,
    pub default_severity: Severity,
    pub explanation: &'static str,
    pub remedy: &'static str,
}

/// Requester → responder of an exchange, with the SA's ports.
pub fn exchange_peers(sa: &IkeSa, requester: IpAddr) -> Peers {
    let i = (sa.initiator, sa.initiator_port);
    let r = (sa.responder, sa.responder_port);
    if requester == sa.initiator {
        Peers::with_ports(i, r)
    } else {
        Peers::with_ports(r, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(frames: &[u64], summary: &str) -> Finding {
        let kind = FindingKind {
            id: "k",
            title: "t",
            default_severity: Severity::Warning,
            explanation: "e",
            remedy: "r",
        };
        let ts = Timestamp::new(frames[0] as i64, 0);
        let last = Timestamp::new(*frames.last().unwrap() as i64, 0);
        let peers = Peers::new("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        Finding::new(
            &kind,
            Confidence::Inferred,
            peers,
            (ts, last),
            summary.into(),
        )
        .frames(frames.iter().copied())
    }

    /// A report over more of the same packets rewords the finding (the count grew); a report
    /// about other packets is a repeat and keeps the first wording.
    #[test]
    fn absorb_tells_a_rejudged_cause_from_a_repeat() {
        let mut first = f(&[1, 2, 3, 4], "sent 4 times");
        assert!(first.absorb(f(&[1, 2, 3, 4, 5], "sent 5 times")));
        assert_eq!(first.summary, "sent 5 times");
        assert!(first.reworded && first.repeats == 0);
        assert_eq!(first.last_ts.secs, 5);

        let mut one = f(&[7], "packet 7 fragmented");
        assert!(one.absorb(f(&[23], "packet 23 fragmented")));
        assert_eq!(one.summary, "packet 7 fragmented");
        assert_eq!((one.repeats, one.reworded), (1, false));
        assert_eq!(one.frames, vec![7, 23]);
        assert_eq!((one.first_ts.secs, one.last_ts.secs), (7, 23));

        // A run that went on: same first frame, later end, the middle frames not all kept.
        let mut run = f(&[3, 5, 9], "9 so far");
        assert!(run.absorb(f(&[3, 5, 14], "14 in all")));
        assert_eq!((run.summary.as_str(), run.repeats), ("14 in all", 0));

        // Nothing new: nothing to update.
        let mut same = f(&[1, 2], "x");
        assert!(!same.absorb(f(&[1, 2], "x")));
    }

    #[test]
    fn ids_are_stable_and_tell_causes_apart() {
        let (k, _) = PairKey::of("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert_eq!(finding_id("a", &k, 1), finding_id("a", &k, 1));
        assert_ne!(finding_id("a", &k, 1), finding_id("a", &k, 2));
        assert_ne!(finding_id("a", &k, 1), finding_id("b", &k, 1));
        // Pinned: ids appear in reports that people diff across runs and versions.
        assert_eq!(finding_id("ike_unanswered", &k, 0), 0x9462_8619_403c_d678);
    }

    #[test]
    fn frames_keep_first_and_last() {
        let v = cap_frames((1..=200).rev().collect());
        assert_eq!(v.len(), MAX_FRAMES);
        assert_eq!(v[0], 1);
        assert_eq!(*v.last().unwrap(), 200);
    }

    #[test]
    fn peers_render_with_ports() {
        let p = Peers::with_ports(
            ("192.0.2.1".parse().unwrap(), 500),
            ("2001:db8::1".parse().unwrap(), 4500),
        );
        assert_eq!(
            p.strings(),
            [
                "192.0.2.1:500".to_string(),
                "[2001:db8::1]:4500".to_string()
            ]
        );
    }
}
