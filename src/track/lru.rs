//! A bounded table that forgets the least recently seen entry when full.
//!
//! Every table in the tracker goes through this type, so memory stays bounded whatever the
//! capture holds. Recency is a counter bumped on each touch (not packet time, which may go
//! backwards in merged captures); idle expiry by packet time is the caller's business.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use crate::hash::KeyedHashState;

/// Exact least-recently-used order without a tree: every touch appends `(tick, key)` to a log,
/// and a log entry counts only while the map still holds that key at that tick. Touching is
/// O(1) (the ESP hot path touches two tables per packet); stale log entries are skipped when
/// the oldest is wanted, and the log is compacted once it holds twice the live entries, so it
/// stays bounded too.
pub struct Lru<K, V> {
    cap: usize,
    map: HashMap<K, (V, u64), KeyedHashState>,
    log: VecDeque<(u64, K)>,
    tick: u64,
    /// Entries pushed out because the table was full.
    pub evicted: u64,
    /// Distinct entries ever inserted (a key inserted again after leaving counts again).
    pub inserted: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(cap: usize) -> Self {
        Lru {
            cap: cap.max(1),
            map: HashMap::default(),
            log: VecDeque::new(),
            tick: 0,
            evicted: 0,
            inserted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    /// Mutable access that also marks the entry as just seen.
    pub fn touch(&mut self, k: &K) -> Option<&mut V> {
        let latest = self.tick;
        let (_, t) = self.map.get_mut(k)?;
        // Already the most recent entry (a burst on one SA): nothing to log.
        if *t != latest {
            self.tick += 1;
            *t = self.tick;
            self.log.push_back((self.tick, k.clone()));
            self.compact();
        }
        self.map.get_mut(k).map(|(v, _)| v)
    }

    /// Mutable access without changing recency.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(v, _)| v)
    }

    /// Inserts a new entry (or replaces one); returns what had to leave to make room.
    pub fn insert(&mut self, k: K, v: V) -> Option<(K, V)> {
        let mut out = None;
        if !self.map.contains_key(&k) {
            self.inserted += 1;
            if self.map.len() >= self.cap {
                out = self.pop_oldest();
                self.evicted += 1;
            }
        }
        self.tick += 1;
        self.log.push_back((self.tick, k.clone()));
        self.map.insert(k, (v, self.tick));
        self.compact();
        out
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.map.remove(k).map(|(v, _)| v)
    }

    /// The least recently seen entry.
    pub fn oldest(&mut self) -> Option<(&K, &V)> {
        self.skip_stale();
        let (_, k) = self.log.front()?;
        self.map.get_key_value(k).map(|(k, (v, _))| (k, v))
    }

    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        self.skip_stale();
        let (_, k) = self.log.pop_front()?;
        let (v, _) = self.map.remove(&k)?;
        Some((k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().map(|(v, _)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter().map(|(k, (v, _))| (k, v))
    }

    /// Removes every entry, least recently seen first.
    pub fn drain_oldest_first(&mut self) -> Vec<(K, V)> {
        let mut out = Vec::with_capacity(self.map.len());
        while let Some(kv) = self.pop_oldest() {
            out.push(kv);
        }
        self.log.clear();
        out
    }

    fn is_live(map: &HashMap<K, (V, u64), KeyedHashState>, tick: u64, k: &K) -> bool {
        map.get(k).is_some_and(|(_, t)| *t == tick)
    }

    fn skip_stale(&mut self) {
        while let Some((t, k)) = self.log.front() {
            if Self::is_live(&self.map, *t, k) {
                break;
            }
            self.log.pop_front();
        }
    }

    fn compact(&mut self) {
        if self.log.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.log.retain(|(t, k)| Self::is_live(map, *t, k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_seen() {
        let mut t = Lru::new(2);
        assert!(t.insert(1, "a").is_none());
        assert!(t.insert(2, "b").is_none());
        t.touch(&1);
        assert_eq!(t.insert(3, "c"), Some((2, "b")));
        assert_eq!(t.evicted, 1);
        assert_eq!(t.len(), 2);
        assert_eq!(t.oldest().map(|(k, _)| *k), Some(1));
        let all: Vec<_> = t.drain_oldest_first().into_iter().map(|(k, _)| k).collect();
        assert_eq!(all, vec![1, 3]);
    }

    #[test]
    fn the_log_stays_bounded_and_order_stays_exact() {
        let mut t = Lru::new(4);
        for k in 0..4 {
            t.insert(k, k);
        }
        // Many touches in a rotating order: the log is compacted, the order still exact.
        for i in 0..10_000u32 {
            t.touch(&(i % 4));
            assert!(t.log.len() <= 2 * t.len() + 65);
        }
        // Last touched: 3 (i = 9999), so the order is 0, 1, 2, 3.
        t.touch(&1);
        assert_eq!(t.oldest().map(|(k, _)| *k), Some(0));
        assert_eq!(t.insert(9, 9), Some((0, 0)));
        assert_eq!(t.pop_oldest().map(|(k, _)| k), Some(2));
        t.remove(&3);
        assert_eq!(t.pop_oldest().map(|(k, _)| k), Some(1));
        assert_eq!(t.pop_oldest().map(|(k, _)| k), Some(9));
        assert!(t.pop_oldest().is_none());
    }
}
