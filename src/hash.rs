//! A fast keyed hash for the per-packet tables.

/// Hash state for the tables looked up on every ESP packet (the tracker's, the summary's per-SPI
/// counters, the printer's first-ESP set): a folded multiply (as foldhash and ahash use) with
/// random keys. SipHash, std's default, took 8 % of the instructions of a `--json` run on the
/// benchmark mix. Keyed per run like SipHash, so a crafted capture cannot aim its SPIs at one
/// bucket.
#[derive(Clone, Copy)]
pub struct KeyedHashState {
    seed: u64,
    finish_key: u64,
}

impl Default for KeyedHashState {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut a = std::collections::hash_map::RandomState::new().build_hasher();
        a.write_u64(0x5851_f42d_4c95_7f2d);
        let seed = a.finish();
        a.write_u64(seed);
        KeyedHashState {
            seed,
            finish_key: a.finish(),
        }
    }
}

impl std::hash::BuildHasher for KeyedHashState {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher {
            h: self.seed,
            finish_key: self.finish_key,
        }
    }
}

pub struct KeyedHasher {
    h: u64,
    finish_key: u64,
}

impl KeyedHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let m = u128::from(self.h ^ w) * u128::from(K);
        self.h = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl std::hash::Hasher for KeyedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.mix(i as u64);
        self.mix((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // One more round so every key bit reaches the bits hashbrown picks buckets with.
        let m = u128::from(self.h ^ self.finish_key) * u128::from(0xbf58_476d_1ce4_e5b9u64);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

/// Feeds two addresses to a hasher in as few words as they fit: one for two IPv4 addresses,
/// where the derived `Hash` of `IpAddr` writes a discriminant, a length and the bytes of each
/// (six rounds). The tracker hashes an address pair several times per ESP packet.
#[inline]
pub fn hash_addr_pair<H: std::hash::Hasher>(a: &std::net::IpAddr, b: &std::net::IpAddr, h: &mut H) {
    use std::net::IpAddr::{V4, V6};
    match (a, b) {
        (V4(a), V4(b)) => h.write_u64(u64::from(a.to_bits()) << 32 | u64::from(b.to_bits())),
        (V6(a), V6(b)) => {
            h.write_u128(a.to_bits());
            h.write_u128(b.to_bits());
        }
        // Mixed families: never one pair in practice, but still hashed whole (the 1 tells these
        // from the two-IPv6 case).
        (a, b) => {
            h.write_u8(1);
            for x in [a, b] {
                match x {
                    V4(x) => h.write_u32(x.to_bits()),
                    V6(x) => h.write_u128(x.to_bits()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn keyed_hash_spreads_spis_that_differ_in_high_bits_only() {
        let s = KeyedHashState::default();
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let low: HashSet<u64> = (0..4096u32)
            .map(|i| s.hash_one((a, a, i << 20)) & 0xfff)
            .collect();
        assert!(low.len() > 2000, "{}", low.len());
    }
}
