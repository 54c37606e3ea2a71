//! How a rule meets the pipeline: what it sees on each event ([`Cx`]), where it puts findings
//! ([`Emit`], which says each problem once), the [`Rule`] trait, and [`RuleDef`], the line a rule
//! takes in the one list of rules (`rules/mod.rs`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::finding::{Cleared, Finding, FindingKind, finding_id};
use crate::event::{Event, Timestamp};
use crate::track::esp::{EspKey, EspSa};
use crate::track::ike::IkeSa;
use crate::track::leak::Leak;
use crate::track::{Pair, PairKey, SaKey, Tracker, Update};

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
/// reports the fuller version as an update (same `id`) at the end or at the next summary. A
/// condition that ends is cleared ([`Emit::clear`]); evidence of a new episode after that
/// raises the finding again under the same `id`.
pub struct Emit<'a> {
    pub(super) out: &'a mut Vec<Finding>,
    pub(super) said: &'a mut Said,
    pub(super) wakes: &'a mut Wakes,
    /// The rule being run (its place in the list), for the wake-ups it asks for.
    pub(super) rule: usize,
}

impl Emit<'_> {
    /// Reports `f` unless the same kind was already reported for the same pair and `scope`
    /// (an SPI, a message ID… or 0 for once per pair), in which case `f` updates it. Returns
    /// whether it went out as a new finding (or raised a cleared one again).
    pub fn push(&mut self, scope: u64, mut f: Finding) -> bool {
        let key = (f.kind, f.peers.key(), scope);
        f.id = finding_id(f.kind, &key.1, scope);
        match self.said.insert(key, &f) {
            Said::NEW => {}
            Said::RAISED_AGAIN => f.repeats = 0,
            _ => {
                self.said.update(&key, f);
                return false;
            }
        }
        self.out.push(f);
        true
    }

    pub fn already(&self, kind: &'static str, pair: PairKey, scope: u64) -> bool {
        self.said.set.contains_key(&(kind, pair, scope))
    }

    /// The finding was reported and its condition has not been cleared since.
    pub fn active(&self, kind: &'static str, pair: PairKey, scope: u64) -> bool {
        self.said.active(&(kind, pair, scope))
    }

    /// The condition behind an active finding ended, shown by the packet `frame` at `ts` (0
    /// when the clock showed it): writes a `finding_cleared` record under the finding's id,
    /// with the reason `reason` words from the finding as it stands. Returns whether there was
    /// an active finding to clear.
    pub fn clear(
        &mut self,
        kind: &'static str,
        pair: PairKey,
        scope: u64,
        at: (Timestamp, u64),
        reason: impl FnOnce(&Finding) -> String,
    ) -> bool {
        match self.said.clear(&(kind, pair, scope), at, reason) {
            Some(f) => {
                self.out.push(f);
                true
            }
            None => false,
        }
    }

    /// Asks for [`Rule::wake`] with `what` once packet time (or, live, the clock) reaches `at`:
    /// for evidence that is complete when nothing happens for a while.
    pub fn wake_at(&mut self, at: Timestamp, what: Wake) {
        self.wakes.push(at, self.rule, what);
    }
}

/// What a wake-up is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Sa(SaKey),
    Pair(PairKey),
}

/// Most wake-ups pending; past it new ones are refused and counted (a rule that misses one
/// still judges at close, as before wake-ups existed).
const MAX_WAKES: usize = 1 << 16;

struct Pending {
    at: Timestamp,
    seq: u64,
    rule: usize,
    what: Wake,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Wake-ups the rules asked for, earliest first (ties in the order asked).
#[derive(Default)]
pub(super) struct Wakes {
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    pub(super) refused: u64,
}

impl Wakes {
    fn push(&mut self, at: Timestamp, rule: usize, what: Wake) {
        if self.heap.len() >= MAX_WAKES {
            self.refused += 1;
            return;
        }
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            at,
            seq: self.seq,
            rule,
            what,
        }));
    }

    /// The next wake-up due at `now`, if any.
    pub(super) fn pop_due(&mut self, now: Timestamp) -> Option<(usize, Wake, Timestamp)> {
        if self.heap.peek().is_none_or(|p| p.0.at > now) {
            return None;
        }
        self.heap.pop().map(|Reverse(p)| (p.rule, p.what, p.at))
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

    const NEW: u8 = 0;
    const KNOWN: u8 = 1;
    const RAISED_AGAIN: u8 = 2;

    /// Remembers a cause: [`Said::NEW`], [`Said::KNOWN`] (fold `f` in with [`Said::update`]),
    /// or [`Said::RAISED_AGAIN`] when the cause was cleared and `f`'s evidence starts after the
    /// clearing: a new episode, which replaces the finding kept. Evidence from before the
    /// clearing belongs to the episode that ended and is folded in.
    fn insert(&mut self, k: SaidKey, f: &Finding) -> u8 {
        if let Some(slot) = self.set.get(&k) {
            if let Some(kept) = slot.and_then(|s| self.kept.get_mut(s))
                && kept
                    .finding
                    .cleared
                    .as_ref()
                    .is_some_and(|c| f.first_ts >= c.ts)
            {
                let mut again = f.clone();
                again.repeats = 0;
                kept.finding = again;
                kept.changed = false;
                return Self::RAISED_AGAIN;
            }
            return Self::KNOWN;
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
        Self::NEW
    }

    fn kept(&self, k: &SaidKey) -> Option<&Kept> {
        self.set
            .get(k)
            .copied()
            .flatten()
            .and_then(|s| self.kept.get(s))
    }

    fn active(&self, k: &SaidKey) -> bool {
        self.kept(k)
            .is_some_and(|kept| kept.finding.cleared.is_none())
    }

    /// Marks the kept finding cleared; returns the clearing record to write, or `None` when
    /// the cause is unknown, no longer kept, or already cleared.
    fn clear(
        &mut self,
        k: &SaidKey,
        at: (Timestamp, u64),
        reason: impl FnOnce(&Finding) -> String,
    ) -> Option<Finding> {
        let slot = self.set.get(k).copied().flatten()?;
        let kept = self.kept.get_mut(slot)?;
        if kept.finding.cleared.is_some() {
            return None;
        }
        let reason = reason(&kept.finding);
        kept.finding.cleared = Some(Box::new(Cleared {
            ts: at.0,
            frame: at.1,
            reason,
        }));
        let mut record = kept.finding.clone();
        record.clearing = true;
        Some(record)
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
        for f in fs.iter_mut().filter(|f| !f.clearing) {
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
    /// A clear packet that a tunnel's selectors cover was judged: no ESP carried it.
    fn leaked(&mut self, _leak: &Leak, _t: &Tracker, _out: &mut Emit<'_>) {}
    /// End of input, after everything was closed.
    fn finish(&mut self, _t: &Tracker, _out: &mut Emit<'_>) {}
    /// A wake-up this rule asked for ([`Emit::wake_at`]) is due: packet time, or live the
    /// clock, reached `now` with nothing else having happened to make it moot.
    fn wake(&mut self, _what: Wake, _now: Timestamp, _t: &Tracker, _out: &mut Emit<'_>) {}
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

/// Most pairs a [`PairState`] remembers.
const MAX_STATE_PAIRS: usize = 4096;

/// A rule's own record per peer pair (what `mss_too_large` measured, what `cleartext_leak`
/// counted): one entry per pair, made on first use, forgotten with the pair; past
/// [`MAX_STATE_PAIRS`] the oldest made is forgotten.
pub struct PairState<T> {
    pairs: HashMap<PairKey, T>,
    order: VecDeque<PairKey>,
}

impl<T> Default for PairState<T> {
    fn default() -> Self {
        PairState {
            pairs: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T: Default> PairState<T> {
    pub fn entry(&mut self, key: PairKey) -> &mut T {
        if !self.pairs.contains_key(&key) {
            while self.pairs.len() >= MAX_STATE_PAIRS {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.pairs.remove(&old);
            }
            if self.order.len() > 2 * MAX_STATE_PAIRS {
                let pairs = &self.pairs;
                self.order.retain(|k| pairs.contains_key(k));
            }
            self.order.push_back(key);
        }
        self.pairs.entry(key).or_default()
    }

    pub fn forget(&mut self, key: &PairKey) {
        self.pairs.remove(key);
    }
}

/// Most pairs a [`PairNotes`] remembers.
const MAX_NOTED_PAIRS: usize = 4096;

/// What a rule remembers about pairs until something happens on them (a finding to clear
/// when the peer answers, say): found with one lookup per event on the pair, forgotten with
/// the pair; past [`MAX_NOTED_PAIRS`] pairs the oldest noted is forgotten.
pub struct PairNotes<T> {
    notes: HashMap<PairKey, Vec<T>>,
    order: VecDeque<PairKey>,
}

impl<T> Default for PairNotes<T> {
    fn default() -> Self {
        PairNotes {
            notes: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T: PartialEq> PairNotes<T> {
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// Notes `x` on `pair` (once).
    pub fn add(&mut self, pair: PairKey, x: T) {
        let v = self.notes.entry(pair).or_default();
        if v.contains(&x) {
            return;
        }
        v.push(x);
        if v.len() == 1 {
            self.order.push_back(pair);
        }
        while self.notes.len() > MAX_NOTED_PAIRS {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.notes.remove(&old);
        }
        if self.order.len() > 2 * MAX_NOTED_PAIRS {
            let notes = &self.notes;
            self.order.retain(|k| notes.contains_key(k));
        }
    }

    /// Takes out the notes on `pair` that `done` says are done with.
    pub fn settle(&mut self, pair: &PairKey, mut done: impl FnMut(&T) -> bool) {
        if let Some(v) = self.notes.get_mut(pair) {
            v.retain(|x| !done(x));
            if v.is_empty() {
                self.notes.remove(pair);
            }
        }
    }

    /// The notes on `pair`, oldest first.
    pub fn iter(&self, pair: &PairKey) -> impl Iterator<Item = &T> {
        self.notes.get(pair).into_iter().flatten()
    }

    pub fn forget(&mut self, pair: &PairKey) {
        self.notes.remove(pair);
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
