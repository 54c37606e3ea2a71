//! A bounded table that forgets the least recently seen entry when full.
//!
//! Every table in the tracker goes through this type, so memory stays bounded whatever the
//! capture holds. Recency is the order of touches (not packet time, which may go backwards in
//! merged captures); idle expiry by packet time is the caller's business.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

use crate::hash::KeyedHashState;

const NIL: u32 = u32::MAX;

struct Node<K, V> {
    key: K,
    value: V,
    /// Neighbours in recency order: `prev` was seen less recently.
    prev: u32,
    next: u32,
}

/// Entries live in a slab, chained from least to most recently seen; the hash table maps a key
/// to its slot. A touch relinks one node (O(1), one hash of the key), and the oldest entry is
/// the head of the chain.
///
/// Measured on the 1 GiB benchmark mix: the previous design (std `HashMap` plus an append-only
/// log of touches, compacted when it doubled) spent 5 % of the analysis thread re-probing the
/// map to tell live log entries from stale ones. hashbrown's `HashTable` holds slot numbers
/// only, so hashing and probing happen once per lookup.
pub struct Lru<K, V> {
    cap: usize,
    table: HashTable<u32>,
    hasher: KeyedHashState,
    slots: Vec<Option<Node<K, V>>>,
    free: Vec<u32>,
    /// Least and most recently seen.
    head: u32,
    tail: u32,
    /// Entries pushed out because the table was full.
    pub evicted: u64,
    /// Distinct entries ever inserted (a key inserted again after leaving counts again).
    pub inserted: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(cap: usize) -> Self {
        Lru {
            // Slot numbers are u32 and NIL is reserved.
            cap: cap.clamp(1, NIL as usize - 1),
            table: HashTable::new(),
            hasher: KeyedHashState::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            evicted: 0,
            inserted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn node(&self, i: u32) -> &Node<K, V> {
        self.slots[i as usize]
            .as_ref()
            .expect("linked slots are full")
    }

    fn node_mut(&mut self, i: u32) -> &mut Node<K, V> {
        self.slots[i as usize]
            .as_mut()
            .expect("linked slots are full")
    }

    fn find(&self, k: &K) -> Option<u32> {
        self.find_hashed(self.hasher.hash_one(k), k)
    }

    /// The slot of `k`, whose hash is `hash`.
    fn find_hashed(&self, hash: u64, k: &K) -> Option<u32> {
        let slots = &self.slots;
        self.table
            .find(hash, |&i| {
                slots[i as usize].as_ref().is_some_and(|n| n.key == *k)
            })
            .copied()
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.find(k).map(|i| &self.node(i).value)
    }

    /// Mutable access without changing recency.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let i = self.find(k)?;
        Some(&mut self.node_mut(i).value)
    }

    /// Mutable access that also marks the entry as just seen.
    pub fn touch(&mut self, k: &K) -> Option<&mut V> {
        let i = self.find(k)?;
        self.move_to_tail(i);
        Some(&mut self.node_mut(i).value)
    }

    /// The entry for `k`, marked as just seen; made by `make` when absent, after evicting the
    /// least recently seen entry if the table is full. Returns the entry, whether it is new,
    /// and what had to leave to make room.
    #[allow(clippy::type_complexity)]
    pub fn touch_or_insert_with(
        &mut self,
        k: &K,
        make: impl FnOnce() -> V,
    ) -> (&mut V, bool, Option<(K, V)>) {
        // Hashed once: the insert below reuses it.
        let hash = self.hasher.hash_one(k);
        if let Some(i) = self.find_hashed(hash, k) {
            self.move_to_tail(i);
            return (&mut self.node_mut(i).value, false, None);
        }
        self.inserted += 1;
        let mut out = None;
        if self.table.len() >= self.cap {
            out = self.pop_oldest();
            self.evicted += 1;
        }
        let node = Node {
            key: k.clone(),
            value: make(),
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(node);
                i
            }
            None => {
                self.slots.push(Some(node));
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.table.insert_unique(hash, i, |&j| {
            hasher.hash_one(&slots[j as usize].as_ref().expect("full").key)
        });
        self.link_tail(i);
        (&mut self.node_mut(i).value, true, out)
    }

    /// Inserts a new entry (or replaces one); returns what had to leave to make room.
    pub fn insert(&mut self, k: K, v: V) -> Option<(K, V)> {
        let mut v = Some(v);
        let (slot, new, out) = self.touch_or_insert_with(&k, || v.take().expect("made once"));
        if !new && let Some(v) = v {
            *slot = v;
        }
        out
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.find(k)?;
        Some(self.take(i).1)
    }

    /// The least recently seen entry.
    pub fn oldest(&mut self) -> Option<(&K, &V)> {
        if self.head == NIL {
            return None;
        }
        let n = self.node(self.head);
        Some((&n.key, &n.value))
    }

    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        if self.head == NIL {
            return None;
        }
        Some(self.take(self.head))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten().map(|n| &n.value)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().flatten().map(|n| (&n.key, &n.value))
    }

    /// Every entry, mutable, recency unchanged.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.slots
            .iter_mut()
            .flatten()
            .map(|n| (&n.key, &mut n.value))
    }

    /// Removes every entry, least recently seen first.
    pub fn drain_oldest_first(&mut self) -> Vec<(K, V)> {
        let mut out = Vec::with_capacity(self.table.len());
        while let Some(kv) = self.pop_oldest() {
            out.push(kv);
        }
        out
    }

    /// Unlinks slot `i`, drops it from the table and frees it.
    fn take(&mut self, i: u32) -> (K, V) {
        self.unlink(i);
        let hash = self.hasher.hash_one(&self.node(i).key);
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        let n = self.slots[i as usize]
            .take()
            .expect("linked slots are full");
        self.free.push(i);
        (n.key, n.value)
    }

    fn move_to_tail(&mut self, i: u32) {
        if self.tail != i {
            self.unlink(i);
            self.link_tail(i);
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.node_mut(p).next = next,
        }
        match next {
            NIL => self.tail = prev,
            x => self.node_mut(x).prev = prev,
        }
    }

    fn link_tail(&mut self, i: u32) {
        let tail = self.tail;
        {
            let n = self.node_mut(i);
            n.prev = tail;
            n.next = NIL;
        }
        match tail {
            NIL => self.head = i,
            t => self.node_mut(t).next = i,
        }
        self.tail = i;
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

    /// Against a plain list kept in recency order, over a long pseudo-random run of touches,
    /// inserts, removals and pops on a small table.
    #[test]
    fn matches_a_naive_model() {
        let mut t: Lru<u32, u64> = Lru::new(8);
        let mut model: Vec<(u32, u64)> = Vec::new(); // oldest first
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 13) as u32;
            match (x >> 8) % 6 {
                0 | 1 => {
                    let got = t.touch(&k).map(|v| *v);
                    let pos = model.iter().position(|(mk, _)| *mk == k);
                    assert_eq!(got, pos.map(|p| model[p].1), "step {step}");
                    if let Some(p) = pos {
                        let e = model.remove(p);
                        model.push(e);
                    }
                }
                2 | 3 => {
                    let (v, new, out) = t.touch_or_insert_with(&k, || step);
                    let want_out = match model.iter().position(|(mk, _)| *mk == k) {
                        Some(p) => {
                            assert!(!new);
                            assert_eq!(*v, model[p].1);
                            let e = model.remove(p);
                            model.push(e);
                            None
                        }
                        None => {
                            assert!(new);
                            let out = (model.len() >= 8).then(|| model.remove(0));
                            model.push((k, step));
                            out
                        }
                    };
                    assert_eq!(out, want_out, "step {step}");
                }
                4 => {
                    let pos = model.iter().position(|(mk, _)| *mk == k);
                    assert_eq!(t.remove(&k), pos.map(|p| model.remove(p).1));
                }
                _ => assert_eq!(t.pop_oldest(), (!model.is_empty()).then(|| model.remove(0))),
            }
            assert_eq!(t.len(), model.len());
            assert_eq!(t.oldest().map(|(k, v)| (*k, *v)), model.first().copied());
        }
        assert_eq!(t.drain_oldest_first(), model);
    }
}
