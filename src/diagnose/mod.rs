//! Diagnose stage: turns what the tracker saw into findings an operator can act on.
//!
//! Each rule lives in its own file under `rules/` and is one line in the list there; a rule
//! describes the kinds of finding it reports ([`FindingKind`]: id, title, explanation, default
//! severity, remedy), and `--list-findings` prints [`catalogue`], built from the same list. A
//! finding is `observed` when a packet states the problem (a clear notify, an ICMP error) and
//! `inferred` when it follows from behaviour (retransmissions, sizes, silence). Each problem is
//! reported once: the [`Analyzer`] remembers what it has said.
//!
//! What this stage leaves to others: the tables and their facts are the tracker's (rules only
//! read them), wording of lines and tables is the report's.

pub mod finding;
pub mod names;
mod path;
pub mod rule;
mod rules;
#[cfg(test)]
pub(crate) mod testutil;
pub mod unanswered;

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

pub use finding::{Confidence, Finding, FindingKind, Peers, Severity};

use crate::event::Event;
use crate::event::Timestamp;
use crate::track::{Limits, Pair, PairKey, TrackStats, Tracker, Update};
use rule::{Cx, Emit, Rule, Said, Wakes};

/// Every kind of finding the rules can report, in the order of the rules.
pub fn catalogue() -> &'static [FindingKind] {
    static CATALOGUE: OnceLock<Vec<FindingKind>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        rules::RULES
            .iter()
            .flat_map(|r| r.kinds.iter().copied())
            .collect()
    })
}

/// Most finding ids remembered per pair for its tunnel line.
const MAX_PAIR_FINDINGS: usize = 64;

/// Owns the tracker and the rules; the pipeline feeds it events.
pub struct Analyzer {
    tracker: Tracker,
    rules: Vec<Box<dyn Rule>>,
    said: Said,
    wakes: Wakes,
    /// Ids of the findings about each pair the tracker holds, in the order first reported. Kept
    /// here, not in the tracker: the tracker only tracks.
    notes: HashMap<PairKey, Vec<&'static str>>,
    /// Pairs that left the tables, with their findings (bounded like the pair table), so the
    /// tunnel summary still lists them.
    gone: VecDeque<(Pair, Vec<&'static str>)>,
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
            rules: rules::RULES.iter().map(|r| (r.make)()).collect(),
            said: Said::new(),
            wakes: Wakes::default(),
            notes: HashMap::new(),
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
        // Time moved on to this packet: what was due before it is judged first.
        self.wake_due(ev.pkt.ts, out);
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
                wakes: &mut self.wakes,
                rule: 0,
            };
            for (i, r) in self.rules.iter_mut().enumerate() {
                em.rule = i;
                r.event(&cx, &mut em);
            }
        }
        self.closed(up, out);
        self.said.refresh(&mut out[start..]);
        self.note(&out[start..]);
    }

    /// Live mode on a quiet interface: the clock says it is `now` though no packet came.
    /// Wake-ups due by then are judged and idle entries close, as a packet at `now` would have
    /// made them. A `now` before the last packet changes nothing.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        let start = out.len();
        self.wake_due(now, out);
        let up = self.tracker.advance(now);
        self.closed(up, out);
        self.said.refresh(&mut out[start..]);
        self.note(&out[start..]);
    }

    fn wake_due(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        while let Some((rule, what, at)) = self.wakes.pop_due(now) {
            let mut em = Emit {
                out,
                said: &mut self.said,
                wakes: &mut self.wakes,
                rule,
            };
            self.rules[rule].wake(what, at, &self.tracker, &mut em);
        }
    }

    /// Findings that grew since they were reported (more retransmissions, a longer span), in
    /// their fuller form with `update` set. The end of input calls it; live mode also at each
    /// periodic summary.
    pub fn updates(&mut self, out: &mut Vec<Finding>) {
        self.said.take_changed(out);
    }

    fn closed(&mut self, up: Update, out: &mut Vec<Finding>) {
        let start = out.len();
        let mut em = Emit {
            out,
            said: &mut self.said,
            wakes: &mut self.wakes,
            rule: 0,
        };
        for (k, sa) in &up.closed_sas {
            let p = self.tracker.pair(&k.pair);
            for (i, r) in self.rules.iter_mut().enumerate() {
                em.rule = i;
                r.sa_closed(sa, p, &mut em);
            }
        }
        for (k, e) in &up.closed_esp {
            let p = self.tracker.pair(&PairKey::of(k.src, k.dst).0);
            for (i, r) in self.rules.iter_mut().enumerate() {
                em.rule = i;
                r.esp_closed(k, e, p, &mut em);
            }
        }
        for l in &up.leaks {
            for (i, r) in self.rules.iter_mut().enumerate() {
                em.rule = i;
                r.leaked(l, &self.tracker, &mut em);
            }
        }
        for p in &up.closed_pairs {
            for (i, r) in self.rules.iter_mut().enumerate() {
                em.rule = i;
                r.pair_closed(p, &mut em);
            }
        }
        for p in up.closed_pairs {
            let mut notes = self.notes.remove(&p.key).unwrap_or_default();
            for f in &out[start..] {
                if f.peers.key() == p.key {
                    note_into(&mut notes, f.kind);
                }
            }
            if self.gone.len() >= self.max_gone {
                self.gone.pop_front();
            }
            self.gone.push_back((p, notes));
        }
    }

    /// Remembers which findings were about which pair, for pairs the tracker holds.
    fn note(&mut self, fs: &[Finding]) {
        for f in fs {
            let key = f.peers.key();
            if self.tracker.pair(&key).is_some() {
                note_into(self.notes.entry(key).or_default(), f.kind);
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
                wakes: &mut self.wakes,
                rule: 0,
            };
            let mut pairs: Vec<&Pair> = self.tracker.pairs().collect();
            pairs.sort_by_key(|p| (p.first_ts, p.key));
            for p in pairs {
                for (i, r) in self.rules.iter_mut().enumerate() {
                    em.rule = i;
                    r.pair_closed(p, &mut em);
                }
            }
            for (i, r) in self.rules.iter_mut().enumerate() {
                em.rule = i;
                r.finish(&self.tracker, &mut em);
            }
        }
        // The peers' text is part of the order (it is what the reader sees): made once per
        // finding, not once per comparison.
        self.said.refresh(&mut out[start..]);
        // The peers' text (the order a reader sees) only breaks ties: formatting it for every
        // finding was most of the sort.
        out[start..].sort_by(|x, y| {
            (x.first_ts, x.kind)
                .cmp(&(y.first_ts, y.kind))
                .then_with(|| x.peers.strings().cmp(&y.peers.strings()))
        });
        self.note(&out[start..]);
        self.updates(out);
    }

    /// Every pair known — those that left the tables first, then the live ones — with the ids
    /// of the findings about it, in the order first reported.
    pub fn pairs(&self) -> impl Iterator<Item = (&Pair, &[&'static str])> {
        let live = self.tracker.pairs().map(|p| {
            let notes = self.notes.get(&p.key).map_or(&[][..], Vec::as_slice);
            (p, notes)
        });
        self.gone
            .iter()
            .map(|(p, notes)| (p, notes.as_slice()))
            .chain(live)
    }

    pub fn stats(&self) -> TrackStats {
        self.tracker.stats()
    }
}

fn note_into(notes: &mut Vec<&'static str>, id: &'static str) {
    if !notes.contains(&id) && notes.len() < MAX_PAIR_FINDINGS {
        notes.push(id);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

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

    /// Every file under rules/ is a rule in the list, and every rule in the list is a file.
    #[test]
    fn every_rule_file_is_registered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/diagnose/rules");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "mod.rs")
            .map(|n| n.trim_end_matches(".rs").to_string())
            .collect();
        files.sort();
        let mut listed: Vec<String> = rules::NAMES.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed);
        assert_eq!(rules::RULES.len(), rules::NAMES.len());
        assert!(rules::RULES.iter().all(|r| !r.kinds.is_empty()));
    }
}

#[cfg(test)]
mod analyzer_tests {
    use super::testutil::*;
    use super::*;
    use crate::track::Limits;

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
                Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(u64::from(i) + 1, 0),
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
        assert!(a.pairs().count() <= 16);
    }

    /// Live on a quiet interface: no packet follows, the clock alone brings the finding out.
    #[test]
    fn the_clock_brings_out_what_waits_for_quiet() {
        let mut s = Script::default();
        torn_down_after_auth(&mut s);
        let mut a = Analyzer::new();
        let mut out = Vec::new();
        for e in &s.events {
            a.observe(e, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        let last = s.events.last().unwrap().pkt.ts;
        a.advance(last.plus(20.0), &mut out);
        assert!(out.is_empty(), "too early: {out:?}");
        a.advance(last.plus(30.0), &mut out);
        assert_eq!(kinds(&out), ["child_sa_refused"]);
    }

    #[test]
    fn idle_sas_expire_by_packet_time() {
        let mut s = Script::default();
        for ms in [0, 1000, 3000] {
            s.ike(ms, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
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
