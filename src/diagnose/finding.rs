//! What the diagnose stage says: a finding (kind, severity, confidence, the peers, the frames
//! that support it, a summary and a remedy) and the kinds it can be of. Formatting for people
//! and programs is the report stage's.

use std::net::IpAddr;

use serde::Serialize;

use crate::event::Timestamp;
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
    fn fmt_one(addr: IpAddr, port: Option<u16>) -> String {
        match (addr, port) {
            (IpAddr::V4(a), Some(p)) => format!("{a}:{p}"),
            (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
            (a, None) => a.to_string(),
        }
    }
    pub fn strings(&self) -> [String; 2] {
        [
            Self::fmt_one(self.a, self.a_port),
            Self::fmt_one(self.b, self.b_port),
        ]
    }
}

impl Serialize for Peers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.strings().serialize(s)
    }
}

/// Most frames a finding lists: the first and last halves are kept.
pub const MAX_FRAMES: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
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
