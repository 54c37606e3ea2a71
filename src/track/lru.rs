//! A bounded table that forgets the least recently seen entry when full.
//!
//! Every table in the tracker goes through this type, so memory stays bounded whatever the
//! capture holds. Recency is a counter bumped on each touch (not packet time, which may go
//! backwards in merged captures); idle expiry by packet time is the caller's business.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

pub struct Lru<K, V> {
    cap: usize,
    map: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
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
            map: HashMap::new(),
            order: BTreeMap::new(),
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
        self.tick += 1;
        let tick = self.tick;
        let (v, t) = self.map.get_mut(k)?;
        self.order.remove(t);
        *t = tick;
        self.order.insert(tick, k.clone());
        Some(v)
    }

    /// Mutable access without changing recency.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(v, _)| v)
    }

    /// Inserts a new entry (or replaces one); returns what had to leave to make room.
    pub fn insert(&mut self, k: K, v: V) -> Option<(K, V)> {
        let mut out = None;
        if let Some((_, t)) = self.map.remove(&k) {
            self.order.remove(&t);
        } else {
            self.inserted += 1;
            if self.map.len() >= self.cap {
                out = self.pop_oldest();
                self.evicted += 1;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, k.clone());
        self.map.insert(k, (v, self.tick));
        out
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (v, t) = self.map.remove(k)?;
        self.order.remove(&t);
        Some(v)
    }

    /// The least recently seen entry.
    pub fn oldest(&self) -> Option<(&K, &V)> {
        let (_, k) = self.order.iter().next()?;
        self.map.get(k).map(|(v, _)| (k, v))
    }

    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        let (_, k) = self.order.pop_first()?;
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
        out
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
}
