//! How a rule meets the pipeline: what it sees on each event ([`Cx`]), where it puts findings
//! ([`Emit`], which says each problem once), the [`Rule`] trait, and [`RuleDef`], the line a rule
//! takes in the one list of rules (`rules/mod.rs`).

use std::collections::{HashMap, VecDeque};

use super::finding::{Finding, FindingKind, finding_id};
use crate::event::Event;
use crate::track::esp::{EspKey, EspSa};
use crate::track::ike::IkeSa;
use crate::track::{Pair, PairKey, Tracker, Update};

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

/// Where rules put findings. A finding whose (kind, peers, scope) was already reported is not
/// said again: it is folded into the one reported ([`Finding::absorb`]), and the analyzer
/// reports the fuller version as an update (same `id`) at the end or at the next summary.
pub struct Emit<'a> {
    pub(super) out: &'a mut Vec<Finding>,
    pub(super) said: &'a mut Said,
}

impl Emit<'_> {
    /// Reports `f` unless the same kind was already reported for the same pair and `scope`
    /// (an SPI, a message ID… or 0 for once per pair), in which case `f` updates it. Returns
    /// whether it went out as a new finding.
    pub fn push(&mut self, scope: u64, mut f: Finding) -> bool {
        let key = (f.kind, f.peers.key(), scope);
        f.id = finding_id(f.kind, &key.1, scope);
        if !self.said.insert(key, &f) {
            self.said.update(&key, f);
            return false;
        }
        self.out.push(f);
        true
    }
    pub fn already(&self, kind: &'static str, pair: PairKey, scope: u64) -> bool {
        self.said.set.contains_key(&(kind, pair, scope))
    }
}

type SaidKey = (&'static str, PairKey, u64);

/// The bounded memory of what was said: every cause reported (up to [`MAX_SAID`]) and, for the
/// most recent [`MAX_KEPT`] of them, the finding as it now stands, so updates can be told.
pub(super) struct Said {
    /// Cause → index of its finding in `kept`, if still kept.
    set: HashMap<SaidKey, Option<usize>>,
    order: VecDeque<SaidKey>,
    kept: Vec<Kept>,
    /// Finding id → its slot in `kept`, so a finding about to go out finds its latest form
    /// without a scan.
    slots: HashMap<u64, usize>,
    /// Next slot of `kept` to reuse once it is full (oldest first).
    next: usize,
}

struct Kept {
    key: SaidKey,
    finding: Finding,
    /// Changed since it was last written out.
    changed: bool,
}

const MAX_SAID: usize = 1 << 16;
/// Findings kept whole for updates; a cause older than this is still said once, but later
/// evidence for it is no longer folded in.
const MAX_KEPT: usize = 4096;

impl Said {
    pub(super) fn new() -> Self {
        Said {
            set: HashMap::new(),
            order: VecDeque::new(),
            kept: Vec::new(),
            slots: HashMap::new(),
            next: 0,
        }
    }

    fn insert(&mut self, k: SaidKey, f: &Finding) -> bool {
        if self.set.contains_key(&k) {
            return false;
        }
        // The oldest cause is forgotten; its kept slot, if any, waits to be reused.
        if self.order.len() >= MAX_SAID
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        let entry = Kept {
            key: k,
            finding: f.clone(),
            changed: false,
        };
        let slot = if self.kept.len() < MAX_KEPT {
            self.kept.push(entry);
            self.kept.len() - 1
        } else {
            let slot = self.next;
            self.next = (self.next + 1) % MAX_KEPT;
            let old = std::mem::replace(&mut self.kept[slot], entry);
            if let Some(s) = self.set.get_mut(&old.key) {
                *s = None;
            }
            self.slots.remove(&old.finding.id);
            slot
        };
        self.set.insert(k, Some(slot));
        self.slots.insert(f.id, slot);
        self.order.push_back(k);
        true
    }

    fn update(&mut self, k: &SaidKey, f: Finding) {
        if let Some(Some(slot)) = self.set.get(k)
            && let Some(kept) = self.kept.get_mut(*slot)
            && kept.finding.absorb(f)
        {
            kept.changed = true;
        }
    }

    /// Findings about to go out for the first time take their latest form (a rule may have
    /// added to them before they were written).
    pub(super) fn refresh(&mut self, fs: &mut [Finding]) {
        for f in fs {
            if let Some(kept) = self.slots.get(&f.id).and_then(|&s| self.kept.get_mut(s))
                && kept.changed
            {
                *f = kept.finding.clone();
                kept.changed = false;
            }
        }
    }

    /// Findings changed since they were written, as updates, oldest cause first.
    pub(super) fn take_changed(&mut self, out: &mut Vec<Finding>) {
        let mut changed: Vec<&mut Kept> = self.kept.iter_mut().filter(|k| k.changed).collect();
        changed.sort_by_cached_key(|k| {
            (
                k.finding.first_ts,
                k.finding.kind,
                k.finding.peers.strings(),
            )
        });
        for k in changed {
            k.changed = false;
            let mut f = k.finding.clone();
            f.update = true;
            out.push(f);
        }
    }
}

/// A rule: watches updates and closing entries, reports findings.
pub trait Rule {
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

/// A rule's entry in the list: the kinds of finding it reports (what `--list-findings` and the
/// docs show) and how to make a fresh one (rules may keep state across events).
pub struct RuleDef {
    pub kinds: &'static [FindingKind],
    pub make: fn() -> Box<dyn Rule>,
}

/// Most pairs a [`PairCounts`] remembers, like the tracker's pair table by default.
const MAX_COUNTED_PAIRS: usize = 4096;

/// A rule's own count per peer pair (of one kind of ICMP error, say): facts only that rule
/// reads stay with it instead of in the tracker. The rule forgets a pair when the tracker does
/// (`pair_closed`); past [`MAX_COUNTED_PAIRS`] the oldest pair counted is forgotten.
#[derive(Default)]
pub struct PairCounts {
    counts: HashMap<PairKey, u32>,
    order: VecDeque<PairKey>,
}

impl PairCounts {
    pub fn add(&mut self, key: PairKey) {
        let n = self.counts.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        if *n > 1 {
            return;
        }
        self.order.push_back(key);
        while self.counts.len() > MAX_COUNTED_PAIRS {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.counts.remove(&old);
        }
        // Forgotten pairs leave stale keys behind in `order`: drop them once they are half.
        if self.order.len() > 2 * MAX_COUNTED_PAIRS {
            let counts = &self.counts;
            self.order.retain(|k| counts.contains_key(k));
        }
    }

    pub fn get(&self, key: &PairKey) -> u32 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    pub fn forget(&mut self, key: &PairKey) {
        self.counts.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> PairKey {
        let a = std::net::IpAddr::from(i.to_be_bytes());
        PairKey::of(a, "192.0.2.1".parse().unwrap()).0
    }

    #[test]
    fn pair_counts_stay_bounded_and_forget() {
        let mut c = PairCounts::default();
        for i in 0..3 * MAX_COUNTED_PAIRS as u32 {
            c.add(key(i));
            c.add(key(i));
            if i % 2 == 0 {
                c.forget(&key(i));
            }
        }
        assert!(c.counts.len() <= MAX_COUNTED_PAIRS);
        assert!(c.order.len() <= 2 * MAX_COUNTED_PAIRS + 1);
        let last = 3 * MAX_COUNTED_PAIRS as u32 - 1;
        assert_eq!(c.get(&key(last)), 2);
        assert_eq!(c.get(&key(last - 1)), 0);
        assert_eq!(c.get(&key(0)), 0);
    }
}
