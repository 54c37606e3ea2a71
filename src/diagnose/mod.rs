//! Diagnose stage: turns what the tracker saw into findings an operator can act on.
//!
//! Each rule lives in its own file as a small unit: a [`FindingKind`] that describes it (id,
//! title, explanation, default severity, remedy) and a [`Rule`] that watches the tracker's
//! updates. `--list-findings` prints [`catalogue`], built from the same definitions. A finding
//! is `observed` when a packet states the problem (a clear notify, an ICMP error) and
//! `inferred` when it follows from behaviour (retransmissions, sizes, silence). Each problem is
//! reported once: the [`Analyzer`] remembers what it has said.

mod aggressive_mode_psk;
mod auth_failed;
mod child_sa_refused;
mod cookie_challenge;
mod dead_peer;
mod dh_group_mismatch;
mod error_notify;
mod esp_fragmented;
mod esp_one_way;
mod esp_sequence_anomaly;
mod fragments_lost;
mod icmp_frag_needed;
mod ike_fragments_lost;
mod ike_ip_fragmented;
mod ike_proposal_mismatch;
mod ike_redirect;
mod ike_response_lost;
mod ike_unanswered;
mod names;
mod nat_detected;
mod nat_keepalive;
mod peer_unreachable;
mod pmtu_blackhole;
mod rekey_collision;
mod stale_sa;
mod weak_crypto;

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;

use serde::Serialize;

use crate::event::{Event, Timestamp};
use crate::track::esp::{EspKey, EspSa};
use crate::track::hist::RttSummary;
use crate::track::ike::IkeSa;
use crate::track::{ChildSummary, Limits, Pair, PairKey, SaSummary, TrackStats, Tracker, Update};

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

static CATALOGUE: [FindingKind; 28] = [
    peer_unreachable::KIND,
    ike_unanswered::KIND,
    ike_response_lost::KIND,
    ike_proposal_mismatch::KIND,
    dh_group_mismatch::KIND,
    auth_failed::KIND,
    child_sa_refused::KIND,
    cookie_challenge::KIND,
    ike_redirect::KIND,
    error_notify::TS_UNACCEPTABLE,
    error_notify::TEMPORARY_FAILURE,
    error_notify::INVALID_SYNTAX,
    error_notify::IKE_ERROR_NOTIFY,
    ike_ip_fragmented::KIND,
    ike_fragments_lost::KIND,
    esp_fragmented::KIND,
    fragments_lost::KIND,
    icmp_frag_needed::KIND,
    pmtu_blackhole::KIND,
    nat_detected::KIND,
    nat_keepalive::KIND,
    esp_one_way::KIND,
    dead_peer::KIND,
    stale_sa::KIND,
    esp_sequence_anomaly::KIND,
    rekey_collision::KIND,
    aggressive_mode_psk::KIND,
    weak_crypto::KIND,
];

/// Every kind of finding the rules can report, in a stable order.
pub fn catalogue() -> &'static [FindingKind] {
    &CATALOGUE
}

/// What a rule sees on each event: the event, what it did to the tables, and the tables.
pub struct Cx<'a> {
    pub ev: &'a Event,
    pub up: &'a Update,
    pub t: &'a Tracker,
}

impl Cx<'_> {
    pub fn sa(&self) -> Option<&IkeSa> {
        self.up.sa.as_ref().and_then(|k| self.t.sa(k))
    }
    pub fn pair(&self) -> Option<&Pair> {
        self.up.pair.as_ref().and_then(|k| self.t.pair(k))
    }
}

/// Where rules put findings. A finding whose (kind, peers, scope) was already reported is
/// dropped, so each problem is said once however often its evidence repeats.
pub struct Emit<'a> {
    out: &'a mut Vec<Finding>,
    said: &'a mut Said,
}

impl Emit<'_> {
    /// Reports `f` unless the same kind was already reported for the same pair and `scope`
    /// (an SPI, a message ID… or 0 for once per pair). Returns whether it went out.
    pub fn push(&mut self, scope: u64, f: Finding) -> bool {
        let key = (f.kind, f.peers.key(), scope);
        if !self.said.insert(key) {
            return false;
        }
        self.out.push(f);
        true
    }
    pub fn already(&self, kind: &'static str, pair: PairKey, scope: u64) -> bool {
        self.said.set.contains(&(kind, pair, scope))
    }
}

type SaidKey = (&'static str, PairKey, u64);

/// The bounded memory of what was said.
struct Said {
    set: HashSet<SaidKey>,
    order: VecDeque<SaidKey>,
}

const MAX_SAID: usize = 1 << 16;

impl Said {
    fn insert(&mut self, k: SaidKey) -> bool {
        if !self.set.insert(k) {
            return false;
        }
        if self.order.len() >= MAX_SAID
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(k);
        true
    }
}

/// A rule: watches updates and closing entries, reports findings.
pub(crate) trait Rule {
    /// After the tracker has taken in an event.
    fn event(&mut self, _cx: &Cx<'_>, _out: &mut Emit<'_>) {}
    /// An IKE SA leaves the tables (idle, evicted, or end of input).
    fn sa_closed(&mut self, _sa: &IkeSa, _pair: Option<&Pair>, _out: &mut Emit<'_>) {}
    /// An ESP SA leaves the tables.
    fn esp_closed(
        &mut self,
        _key: &EspKey,
        _esp: &EspSa,
        _pair: Option<&Pair>,
        _out: &mut Emit<'_>,
    ) {
    }
    /// A pair leaves the tables, or the input ends (then the pair stays for the summary).
    fn pair_closed(&mut self, _pair: &Pair, _out: &mut Emit<'_>) {}
    /// End of input, after everything was closed.
    fn finish(&mut self, _t: &Tracker, _out: &mut Emit<'_>) {}
}

fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(peer_unreachable::PeerUnreachable),
        Box::new(ike_unanswered::IkeUnanswered),
        Box::new(ike_response_lost::IkeResponseLost),
        Box::new(ike_proposal_mismatch::ProposalMismatch),
        Box::new(dh_group_mismatch::DhGroupMismatch::default()),
        Box::new(auth_failed::AuthFailed::default()),
        Box::new(child_sa_refused::ChildSaRefused),
        Box::new(cookie_challenge::CookieChallenge::default()),
        Box::new(ike_redirect::IkeRedirect),
        Box::new(error_notify::ErrorNotify),
        Box::new(ike_ip_fragmented::IkeIpFragmented),
        Box::new(ike_fragments_lost::IkeFragmentsLost),
        Box::new(esp_fragmented::EspFragmented),
        Box::new(fragments_lost::FragmentsLost),
        Box::new(icmp_frag_needed::IcmpFragNeeded),
        Box::new(pmtu_blackhole::PmtuBlackhole::default()),
        Box::new(nat_detected::NatDetected),
        Box::new(nat_keepalive::NatKeepalive),
        Box::new(esp_one_way::EspOneWay),
        Box::new(dead_peer::DeadPeer),
        Box::new(stale_sa::StaleSa::default()),
        Box::new(esp_sequence_anomaly::EspSequenceAnomaly),
        Box::new(rekey_collision::RekeyCollision::default()),
        Box::new(aggressive_mode_psk::AggressiveModePsk),
        Box::new(weak_crypto::WeakCrypto),
    ]
}

/// One tunnel (peer pair) at the end of the run.
#[derive(Clone, Debug)]
pub struct TunnelSummary {
    pub peers: [String; 2],
    /// IKE versions seen (1, 2 or both).
    pub ike_version: Vec<u8>,
    pub established: bool,
    pub state: &'static str,
    pub ike_sas: Vec<SaSummary>,
    /// Child SAs as SPI pairs: the a→b and b→a SPIs bound to the same IKE SA, matched in the
    /// order they appeared (a rekey's new pair appears together).
    pub child_sas: Vec<ChildPair>,
    /// [a→b, b→a], a being the first of `peers`.
    pub esp_packets: [u64; 2],
    pub esp_bytes: [u64; 2],
    pub child_rekeys: u32,
    pub deleted: u32,
    pub nat: NatSummary,
    pub fragmentation: FragSummary,
    pub ike_response_time: Option<RttSummary>,
    pub findings: Vec<&'static str>,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

#[derive(Clone, Debug, Serialize)]
pub struct NatSummary {
    /// Addresses found behind NAT by the NAT-D hashes.
    pub behind_nat: Vec<IpAddr>,
    pub ike_on_4500: bool,
    pub floated_to_4500: bool,
    pub esp_in_udp: bool,
    pub keepalives: u64,
    pub keepalive_interval_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FragSummary {
    pub ike_ip_fragmented: u32,
    pub esp_ip_fragmented: u64,
    pub incomplete_fragment_sets: u32,
    /// IKEV2_FRAGMENTATION_SUPPORTED sent by [a, b].
    pub ike_fragmentation_supported: [bool; 2],
    pub ike_fragments_used: bool,
}

/// One Child SA: its two ESP SPIs (either may be missing when only one direction was seen).
#[derive(Clone, Debug)]
pub struct ChildPair {
    /// ESP SPIs [a→b, b→a].
    pub spis: [Option<u32>; 2],
    pub ike_ispi: Option<u64>,
    /// [a→b, b→a].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

fn child_pairs(p: &Pair) -> Vec<ChildPair> {
    let mut sides: [Vec<&ChildSummary>; 2] = [Vec::new(), Vec::new()];
    for c in &p.children {
        sides[p.key.side(c.src)].push(c);
    }
    let mut out: Vec<ChildPair> = Vec::new();
    let mut used = vec![false; sides[1].len()];
    for c in &sides[0] {
        // The first unused reverse SPI of the same IKE SA, nearest in time.
        let back = sides[1]
            .iter()
            .enumerate()
            .filter(|(i, r)| !used[*i] && r.ike_ispi == c.ike_ispi)
            .min_by(|(_, x), (_, y)| {
                let dx = x.first_ts.since(c.first_ts).abs();
                let dy = y.first_ts.since(c.first_ts).abs();
                dx.total_cmp(&dy)
            })
            .map(|(i, r)| (i, *r));
        if let Some((i, _)) = back {
            used[i] = true;
        }
        out.push(ChildPair {
            spis: [Some(c.spi), back.map(|(_, r)| r.spi)],
            ike_ispi: c.ike_ispi,
            packets: [c.packets, back.map_or(0, |(_, r)| r.packets)],
            bytes: [c.bytes, back.map_or(0, |(_, r)| r.bytes)],
        });
    }
    for (i, r) in sides[1].iter().enumerate().filter(|(i, _)| !used[*i]) {
        let _ = i;
        out.push(ChildPair {
            spis: [None, Some(r.spi)],
            ike_ispi: r.ike_ispi,
            packets: [0, r.packets],
            bytes: [0, r.bytes],
        });
    }
    out
}

fn tunnel_summary(p: &Pair) -> TunnelSummary {
    let last = p.sas.back();
    let state = match last {
        None if p.esp_packets != [0, 0] => "esp_only",
        None => "no_ike",
        Some(s) => match s.state {
            crate::track::ike::SaState::Init => "connecting",
            crate::track::ike::SaState::KeysExchanged => "connecting",
            crate::track::ike::SaState::Authenticating => "authenticating",
            crate::track::ike::SaState::Authenticated => "authenticated",
            crate::track::ike::SaState::Established => "established",
            crate::track::ike::SaState::Failed => "failed",
            crate::track::ike::SaState::Deleted => "deleted",
        },
    };
    let ka = p.keepalives[0].count + p.keepalives[1].count;
    let interval = p.keepalives[0]
        .mean_interval()
        .into_iter()
        .chain(p.keepalives[1].mean_interval())
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
    TunnelSummary {
        peers: [p.key.a.to_string(), p.key.b.to_string()],
        ike_version: (1..=2).filter(|v| p.ike_versions & (1 << v) != 0).collect(),
        established: p.established_ever,
        state,
        ike_sas: p.sas.iter().cloned().collect(),
        child_sas: child_pairs(p),
        esp_packets: p.esp_packets,
        esp_bytes: p.esp_bytes,
        child_rekeys: p.child_exchanges,
        deleted: p.deletes,
        nat: NatSummary {
            behind_nat: (0..2)
                .filter(|&s| p.nat_behind[s] == Some(true))
                .map(|s| p.addr(s))
                .collect(),
            ike_on_4500: p.ike_on_4500,
            floated_to_4500: p.float_frame.is_some(),
            esp_in_udp: p.esp_in_udp,
            keepalives: ka,
            keepalive_interval_s: interval.map(|x| (x * 1000.0).round() / 1000.0),
        },
        fragmentation: FragSummary {
            ike_ip_fragmented: p.ike_ip_fragmented,
            esp_ip_fragmented: p.esp_fragmented,
            incomplete_fragment_sets: p.incomplete_sets,
            ike_fragmentation_supported: p.ike_fragmentation_supported,
            ike_fragments_used: p.ike_fragments_used,
        },
        ike_response_time: p.rtt.summary(),
        findings: p.findings.clone(),
        first_frame: p.first_frame,
        last_frame: p.last_frame,
        first_ts: p.first_ts,
        last_ts: p.last_ts,
    }
}

/// Owns the tracker and the rules; the pipeline feeds it events.
pub struct Analyzer {
    tracker: Tracker,
    rules: Vec<Box<dyn Rule>>,
    said: Said,
    /// Summaries of pairs that left the tables (bounded like the pair table).
    gone: VecDeque<TunnelSummary>,
    max_gone: usize,
    finished: bool,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        Analyzer {
            tracker: Tracker::new(limits),
            rules: rules(),
            said: Said {
                set: HashSet::new(),
                order: VecDeque::new(),
            },
            gone: VecDeque::new(),
            max_gone: limits.max_pairs,
            finished: false,
        }
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Takes in one event; findings known now are appended to `out`.
    pub fn observe(&mut self, ev: &Event, out: &mut Vec<Finding>) {
        let start = out.len();
        let up = self.tracker.observe(ev);
        {
            let cx = Cx {
                ev,
                up: &up,
                t: &self.tracker,
            };
            let mut em = Emit {
                out,
                said: &mut self.said,
            };
            for r in &mut self.rules {
                r.event(&cx, &mut em);
            }
        }
        self.closed(up, out);
        self.note(&out[start..]);
    }

    fn closed(&mut self, up: Update, out: &mut Vec<Finding>) {
        let start = out.len();
        let mut em = Emit {
            out,
            said: &mut self.said,
        };
        for (k, sa) in &up.closed_sas {
            let p = self.tracker.pair(&k.pair);
            for r in &mut self.rules {
                r.sa_closed(sa, p, &mut em);
            }
        }
        for (k, e) in &up.closed_esp {
            let p = self.tracker.pair(&PairKey::of(k.src, k.dst).0);
            for r in &mut self.rules {
                r.esp_closed(k, e, p, &mut em);
            }
        }
        for p in &up.closed_pairs {
            for r in &mut self.rules {
                r.pair_closed(p, &mut em);
            }
        }
        let new: Vec<(PairKey, &'static str)> = if up.closed_pairs.is_empty() {
            Vec::new()
        } else {
            out[start..]
                .iter()
                .map(|f| (f.peers.key(), f.kind))
                .collect()
        };
        for p in up.closed_pairs {
            let mut p = p;
            for &(key, kind) in &new {
                if key == p.key {
                    p.note_finding(kind);
                }
            }
            if self.gone.len() >= self.max_gone {
                self.gone.pop_front();
            }
            self.gone.push_back(tunnel_summary(&p));
        }
    }

    fn note(&mut self, fs: &[Finding]) {
        for f in fs {
            if let Some(p) = self.tracker.pair_mut(&f.peers.key()) {
                p.note_finding(f.kind);
            }
        }
    }

    /// End of input: evaluates everything still open. Findings come out in time order.
    pub fn finish(&mut self, out: &mut Vec<Finding>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let start = out.len();
        let up = self.tracker.close_all();
        self.closed(up, out);
        {
            let mut em = Emit {
                out,
                said: &mut self.said,
            };
            let mut pairs: Vec<&Pair> = self.tracker.pairs().collect();
            pairs.sort_by_key(|p| (p.first_ts, p.key));
            for p in pairs {
                for r in &mut self.rules {
                    r.pair_closed(p, &mut em);
                }
            }
            for r in &mut self.rules {
                r.finish(&self.tracker, &mut em);
            }
        }
        // The peers' text is part of the order (it is what the reader sees): made once per
        // finding, not once per comparison.
        out[start..].sort_by_cached_key(|f| (f.first_ts, f.kind, f.peers.strings()));
        self.note(&out[start..]);
    }

    /// One summary per peer pair, in order of first appearance.
    pub fn tunnels(&self) -> Vec<TunnelSummary> {
        let mut v: Vec<TunnelSummary> = self.gone.iter().cloned().collect();
        v.extend(self.tracker.pairs().map(tunnel_summary));
        v.sort_by(|a, b| (a.first_ts, &a.peers).cmp(&(b.first_ts, &b.peers)));
        v
    }

    pub fn stats(&self) -> TrackStats {
        self.tracker.stats()
    }
}

/// Formats a list of intervals as "0.5 s, 1.0 s, 2.0 s".
pub(crate) fn fmt_intervals(iv: &[f64]) -> String {
    iv.iter()
        .map(|d| format!("{d:.1} s"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_described() {
        let mut ids = HashSet::new();
        for k in catalogue() {
            assert!(ids.insert(k.id), "duplicate {}", k.id);
            assert!(!k.title.is_empty() && !k.explanation.is_empty() && !k.remedy.is_empty());
            assert!(
                k.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            );
        }
        for required in [
            "ike_unanswered",
            "ike_response_lost",
            "peer_unreachable",
            "ike_proposal_mismatch",
            "dh_group_mismatch",
            "auth_failed",
            "child_sa_refused",
            "cookie_challenge",
            "ike_ip_fragmented",
            "ike_fragments_lost",
            "esp_fragmented",
            "fragments_lost",
            "icmp_frag_needed",
            "pmtu_blackhole",
            "nat_detected",
            "nat_keepalive",
            "esp_one_way",
            "dead_peer",
            "stale_sa",
            "esp_sequence_anomaly",
            "rekey_collision",
            "aggressive_mode_psk",
            "weak_crypto",
        ] {
            assert!(ids.contains(required), "{required} missing");
        }
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

/// Requester → responder of an exchange, with the SA's ports.
pub(crate) fn exchange_peers(sa: &IkeSa, requester: IpAddr) -> Peers {
    let i = (sa.initiator, sa.initiator_port);
    let r = (sa.responder, sa.responder_port);
    if requester == sa.initiator {
        Peers::with_ports(i, r)
    } else {
        Peers::with_ports(r, i)
    }
}

/// "IKE_AUTH (message 1)" for summaries.
pub(crate) fn exchange_label(sa: &IkeSa, x: &crate::track::ike::Exchange) -> String {
    format!(
        "{} (message ID {})",
        names::exchange(sa.version, x.exchange),
        x.msg_id
    )
}

#[cfg(test)]
mod analyzer_tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn healthy_tunnel_summary() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        let (live, end, a) = s.run();
        assert_quiet(&live);
        assert_quiet(&end);
        let t = a.tunnels();
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert!(t.established);
        assert_eq!(t.state, "established");
        assert_eq!(t.ike_version, vec![2]);
        assert_eq!(t.esp_packets, [20, 20]);
        assert_eq!(t.child_sas.len(), 1);
        assert_eq!(t.child_sas[0].packets, [20, 20]);
        assert_eq!(t.ike_sas.len(), 1);
        let rtt = t.ike_response_time.as_ref().unwrap();
        assert_eq!(rtt.samples, 3);
        assert!((rtt.max_ms - 20.0).abs() < 1.5, "{rtt:?}");
        assert_eq!(t.ike_sas[0].ispi, 0x1111);
        assert_eq!(t.child_sas[0].spis, [Some(0xc1), Some(0xc2)]);
        assert_eq!(t.child_sas[0].ike_ispi, Some(0x1111));
    }

    #[test]
    fn tables_stay_bounded_and_count_evictions() {
        let limits = Limits {
            max_pairs: 8,
            max_ike_sas: 8,
            max_esp_sas: 8,
            ..Limits::default()
        };
        let mut a = Analyzer::with_limits(limits);
        let mut s = Script::default();
        for i in 0..100u32 {
            let src = format!("10.0.{}.{}", i / 200, i % 200 + 1);
            s.ike(
                u64::from(i),
                &src,
                B,
                Msg::v2(34, 0, false, true).spis(u64::from(i) + 1, 0),
            );
            s.esp(u64::from(i), &src, B, i, 1);
        }
        let mut out = Vec::new();
        for e in &s.events {
            a.observe(e, &mut out);
        }
        let st = a.stats();
        assert!(
            st.pairs <= 8 && st.ike_sas <= 8 && st.esp_sas <= 8,
            "{st:?}"
        );
        assert!(st.pairs_evicted >= 90 && st.ike_sas_evicted >= 90 && st.esp_sas_evicted >= 90);
        a.finish(&mut out);
        assert!(a.tunnels().len() <= 16);
    }

    #[test]
    fn idle_sas_expire_by_packet_time() {
        let mut s = Script::default();
        for ms in [0, 1000, 3000] {
            s.ike(ms, A, B, Msg::v2(34, 0, false, true));
        }
        s.esp(5_000_000, "10.9.9.9", "10.9.9.8", 1, 1);
        let mut a = Analyzer::new();
        let mut live = Vec::new();
        for e in &s.events {
            a.observe(e, &mut live);
        }
        // The unanswered SA was closed by idleness and judged then, before the end.
        assert!(kinds(&live).contains(&"ike_unanswered"), "{live:?}");
        assert_eq!(a.stats().ike_sas, 0);
    }
}
