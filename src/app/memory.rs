//! `--max-memory SIZE`: one figure for what the capped tables may hold, turned into the cap of
//! each table. A gateway operator trades memory for history with it: a smaller figure makes
//! every table evict sooner, a larger one keeps more tunnels, SAs and fragments in view.
//!
//! The mapping is linear. Each table's entry has a cost, measured with valgrind massif on the
//! 64 MiB flood of `benches/flood_rss.sh` (BENCHMARKS.md, "Floods at 1×, 4×, 16×"); the default
//! caps cost [`DEFAULT_TABLES`] together, and a run's fixed part (code, read buffers, the
//! rules' own tables, which stay at their caps) is about [`FIXED`]. `--max-memory SIZE` gives
//! the tables `SIZE - FIXED` and scales every default cap by `(SIZE - FIXED) / DEFAULT_TABLES`,
//! never below a floor that keeps the analysis working. Without the flag the caps are the
//! defaults: what `FIXED + DEFAULT_TABLES`, about 190 MiB, gives.

use crate::track::Limits;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// What one entry of each table costs, in bytes, measured (see the module doc): a peer pair is
/// held twice, tracked (1 848 B and its 2 560 B response-time histogram) and, once it leaves
/// the tracker, in the analyzer's list of forgotten pairs that the tunnel table still shows;
/// an IKE SA is its slot (472 B) and its exchange log (about 1 KiB); an ESP SA direction its
/// slot; a per-SPI summary row its hash table slot at the table's size.
pub const PAIR_COST: u64 = 8800;
pub const IKE_SA_COST: u64 = 1500;
pub const ESP_SA_COST: u64 = 280;
pub const SPI_ROW_COST: u64 = 240;

/// The default caps (`track::Limits`, the decoder's reassembly caps, the per-SPI summary).
const DEFAULT_PAIRS: usize = 4096;
const DEFAULT_IKE_SAS: usize = 16_384;
const DEFAULT_ESP_SAS: usize = 32_768;
const DEFAULT_SPI_ROWS: usize = 100_000;
const DEFAULT_IP_FRAGMENT_SETS: usize = 8192;
const DEFAULT_IP_FRAGMENT_BYTES: usize = 32 << 20;
const DEFAULT_IKE_FRAGMENT_SETS: usize = 1024;
const DEFAULT_IKE_FRAGMENT_BYTES: usize = 8 << 20;

/// What the default caps hold at most, all tables full (about 132 MiB).
pub const DEFAULT_TABLES: u64 = DEFAULT_PAIRS as u64 * PAIR_COST
    + DEFAULT_IKE_SAS as u64 * IKE_SA_COST
    + DEFAULT_ESP_SAS as u64 * ESP_SA_COST
    + DEFAULT_SPI_ROWS as u64 * SPI_ROW_COST
    + DEFAULT_IP_FRAGMENT_BYTES as u64
    + DEFAULT_IKE_FRAGMENT_BYTES as u64;

/// A run's memory besides the scaled tables: the binary, read buffers and mapped windows, the
/// rules' own fixed tables (the largest, `pmtu_blackhole`'s 65 536 SPIs, is 16 MB), the verdict
/// and the end-of-run copies of the tracker's tables.
pub const FIXED: u64 = 60 * MIB;

/// The smallest and largest figures accepted: below the floor the fixed part leaves the tables
/// almost nothing; above the ceiling it is a typo (the caps would exceed what a slab index
/// holds long before memory ran out).
pub const MIN: u64 = 64 * MIB;
pub const MAX: u64 = 1 << 40;

/// Every scaled cap, for the stages that hold the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryCaps {
    pub track: Limits,
    pub spi_rows: usize,
    pub ip_fragment_sets: usize,
    pub ip_fragment_bytes: usize,
    pub ike_fragment_sets: usize,
    pub ike_fragment_bytes: usize,
}

impl Default for MemoryCaps {
    fn default() -> Self {
        MemoryCaps {
            track: Limits::default(),
            spi_rows: DEFAULT_SPI_ROWS,
            ip_fragment_sets: DEFAULT_IP_FRAGMENT_SETS,
            ip_fragment_bytes: DEFAULT_IP_FRAGMENT_BYTES,
            ike_fragment_sets: DEFAULT_IKE_FRAGMENT_SETS,
            ike_fragment_bytes: DEFAULT_IKE_FRAGMENT_BYTES,
        }
    }
}

impl MemoryCaps {
    /// The caps for a run of at most `size` bytes (checked by [`parse_size`]).
    pub fn for_size(size: u64) -> Self {
        let tables = size.saturating_sub(FIXED);
        // Scaled in u128: DEFAULT_PAIRS × MAX would overflow nothing, but the product of a cap
        // and `tables` can exceed u64 near MAX.
        let scale = |default: usize, floor: usize| -> usize {
            let v = default as u128 * u128::from(tables) / u128::from(DEFAULT_TABLES);
            usize::try_from(v).unwrap_or(usize::MAX).max(floor)
        };
        MemoryCaps {
            track: Limits {
                max_pairs: scale(DEFAULT_PAIRS, 16),
                max_ike_sas: scale(DEFAULT_IKE_SAS, 64),
                max_esp_sas: scale(DEFAULT_ESP_SAS, 64),
                ..Limits::default()
            },
            spi_rows: scale(DEFAULT_SPI_ROWS, 64),
            ip_fragment_sets: scale(DEFAULT_IP_FRAGMENT_SETS, 16),
            ip_fragment_bytes: scale(DEFAULT_IP_FRAGMENT_BYTES, 256 * KIB as usize),
            ike_fragment_sets: scale(DEFAULT_IKE_FRAGMENT_SETS, 16),
            ike_fragment_bytes: scale(DEFAULT_IKE_FRAGMENT_BYTES, 256 * KIB as usize),
        }
    }
}

/// `--max-memory`'s value: a number and a unit, K, M, G or T (powers of 1024; `MiB`, `MB` and
/// `M` all mean mebibytes, as in most tools' memory flags), between [`MIN`] and [`MAX`].
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let unit_bytes = match unit.trim().to_ascii_lowercase().as_str() {
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        "t" | "tb" | "tib" => 1 << 40,
        "" => {
            return Err(format!(
                "'{text}': give a size with its unit, such as 256MiB or 2GiB"
            ));
        }
        _ => {
            return Err(format!(
                "'{text}': the unit must be K, M, G or T (KiB, MiB, GiB, TiB)"
            ));
        }
    };
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("'{text}': give a size such as 256MiB or 2GiB"))?;
    let bytes = n * unit_bytes as f64;
    if bytes < MIN as f64 {
        return Err(format!(
            "'{text}': at least {} MiB (a run needs about {} MiB besides its tables)",
            MIN / MIB,
            FIXED / MIB
        ));
    }
    if bytes > MAX as f64 {
        return Err(format!("'{text}': at most {} TiB", MAX >> 40));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_their_units_and_nonsense_is_refused() {
        assert_eq!(parse_size("256MiB"), Ok(256 * MIB));
        assert_eq!(parse_size("256M"), Ok(256 * MIB));
        assert_eq!(parse_size("2GiB"), Ok(2 * GIB));
        assert_eq!(parse_size("1.5g"), Ok(3 * GIB / 2));
        assert_eq!(parse_size("65536K"), Ok(64 * MIB));
        for bad in [
            "",
            "256",
            "-1G",
            "0M",
            "12MiB",
            "1e3M",
            "abc",
            "256 parsecs",
            "2P",
            "NaNM",
            "2048T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_size("256").unwrap_err().contains("with its unit"));
        assert!(parse_size("12MiB").unwrap_err().contains("at least 64 MiB"));
    }

    #[test]
    fn the_default_budget_gives_the_default_caps_and_caps_scale_with_size() {
        let default = MemoryCaps::default();
        let same = MemoryCaps::for_size(FIXED + DEFAULT_TABLES);
        assert_eq!(same, default);
        let small = MemoryCaps::for_size(MIN);
        assert!(small.track.max_pairs < default.track.max_pairs / 8);
        assert!(small.track.max_esp_sas >= 64);
        let large = MemoryCaps::for_size(4 * GIB);
        assert!(large.track.max_pairs > 20 * default.track.max_pairs);
        assert_eq!(large.track.sa_idle_secs, default.track.sa_idle_secs);
        // Floors hold however small the share.
        let floor = MemoryCaps::for_size(FIXED);
        assert_eq!(floor.track.max_pairs, 16);
        assert_eq!(floor.ip_fragment_bytes, 256 * 1024);
    }
}
