//! Where the format parsers put what they find ([`Sink`]: counts, caps, skips), what
//! [`crate::keys::load`] hands back ([`Loaded`], [`LoadReport`]), and the small text helpers
//! every parser shares (hex keys, SPIs, quoting names from files).
//!
//! Nothing read from a file is echoed unescaped: messages name files and algorithms through
//! [`printable`], and never quote a key field (a malformed key line is still a key).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::ring::{EspKeys, Format, IkeV1Keys, IkeV2Keys, KeyRing, Origin, Secret};
use crate::event::text::printable;

/// Keys kept at most over all files; more are counted as dropped, so a huge or hostile input
/// cannot exhaust memory.
pub const MAX_KEYS: usize = 1_000_000;

/// What `load` produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub ring: KeyRing,
    pub report: LoadReport,
}

/// Keys loaded from one file in one format.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub ikev2: usize,
    pub ikev1: usize,
    pub esp: usize,
}

/// A line (or block) that looked like a key but was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file as given (escaped).
    pub file: Arc<str>,
    pub line: u32,
    pub why: String,
}

/// What was loaded from where, what was skipped and what the operator should know.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Per (file, format): records loaded (before the ring merges duplicates).
    pub counts: BTreeMap<(Arc<str>, Format), Counts>,
    pub skipped: Vec<Skipped>,
    /// File-level notes: permissions, size or key caps, files without keys.
    pub warnings: Vec<String>,
    /// Files read (folders count each file in them).
    pub files: usize,
    /// Keys beyond [`MAX_KEYS`], not kept.
    pub dropped: usize,
}

impl LoadReport {
    pub fn ikev2(&self) -> usize {
        self.counts.values().map(|c| c.ikev2).sum()
    }

    pub fn ikev1(&self) -> usize {
        self.counts.values().map(|c| c.ikev1).sum()
    }

    pub fn esp(&self) -> usize {
        self.counts.values().map(|c| c.esp).sum()
    }

    fn total(&self) -> usize {
        self.ikev2() + self.ikev1() + self.esp()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn counts_text(c: &Counts) -> String {
    let mut parts = Vec::new();
    let ike = c.ikev2 + c.ikev1;
    if ike > 0 {
        parts.push(plural(ike, "IKE SA", "IKE SAs"));
    }
    if c.esp > 0 || ike == 0 {
        parts.push(plural(c.esp, "ESP SA", "ESP SAs"));
    }
    parts.join(", ")
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = Counts {
            ikev2: self.ikev2(),
            ikev1: self.ikev1(),
            esp: self.esp(),
        };
        let mut with_keys: Vec<&Arc<str>> = self.counts.keys().map(|(file, _)| file).collect();
        with_keys.dedup();
        write!(
            f,
            "keys: {} from {}",
            counts_text(&all),
            plural(with_keys.len(), "file", "files")
        )?;
        // Per format, summed over files: one folder of Wireshark tables reads as three entries.
        let mut per_format: BTreeMap<Format, Counts> = BTreeMap::new();
        for ((_, format), c) in &self.counts {
            let e = per_format.entry(*format).or_default();
            e.ikev2 += c.ikev2;
            e.ikev1 += c.ikev1;
            e.esp += c.esp;
        }
        if !per_format.is_empty() {
            let parts: Vec<String> = per_format
                .iter()
                .map(|(format, c)| format!("{}: {}", format.name(), counts_text(c)))
                .collect();
            write!(f, " ({})", parts.join("; "))?;
        }
        if !self.skipped.is_empty() {
            write!(
                f,
                "; {} skipped",
                plural(self.skipped.len(), "line", "lines")
            )?;
        }
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        for s in &self.skipped {
            write!(f, "\n{}:{}: {}", s.file, s.line, s.why)?;
        }
        Ok(())
    }
}

/// Whether a file was named on its own (a file without keys is worth a warning) or found in a
/// folder (Wireshark's `preferences`, `recent` and friends are expected there).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Explicit {
    Yes,
    No,
}

/// Where parsers put what they find: counts it, caps it, records skips.
pub(crate) struct Sink<'a> {
    pub(crate) file: Arc<str>,
    pub(crate) loaded: &'a mut Loaded,
    /// Lines that were keys (loaded or skipped for a reason).
    pub(crate) key_lines: usize,
    /// Lines of no known shape: reported only when the file held keys at all, so that
    /// `preferences` in a Wireshark folder passes silently.
    pub(crate) tentative: Vec<Skipped>,
    /// The whole-file format, when known (IKE lines in a pluto log are Libreswan's).
    pub(crate) format_hint: Option<Format>,
}

impl Sink<'_> {
    pub(crate) fn origin(&self, line: u32, format: Format) -> Origin {
        Origin {
            file: self.file.clone(),
            line,
            format,
        }
    }

    fn room(&mut self) -> bool {
        let have = self.loaded.report.total();
        if have >= MAX_KEYS {
            self.loaded.report.dropped += 1;
            false
        } else {
            true
        }
    }

    fn count(&mut self, format: Format) -> &mut Counts {
        self.key_lines += 1;
        self.loaded
            .report
            .counts
            .entry((self.file.clone(), format))
            .or_default()
    }

    pub(crate) fn ikev2(&mut self, k: IkeV2Keys) {
        // the second half of an SA from the same file (a tcpdump `R` line after its `I`
        // line) completes it: one SA, counted once
        let half = self
            .loaded
            .ring
            .ikev2
            .get(&(k.spi_i, k.spi_r))
            .is_some_and(|have| have.origin.file == k.origin.file);
        if half {
            self.key_lines += 1;
            self.loaded.ring.add_ikev2(k);
        } else if self.room() {
            self.count(k.origin.format).ikev2 += 1;
            self.loaded.ring.add_ikev2(k);
        }
    }

    pub(crate) fn ikev1(&mut self, k: IkeV1Keys) {
        if self.room() {
            self.count(k.origin.format).ikev1 += 1;
            self.loaded.ring.add_ikev1(k);
        }
    }

    pub(crate) fn esp(&mut self, k: EspKeys) {
        if self.room() {
            self.count(k.origin.format).esp += 1;
            self.loaded.ring.add_esp(k);
        }
    }

    /// The ESP SA for any SPI (tcpdump's `ALGO:KEY`, Wireshark's `"*"` SPI): one only.
    pub(crate) fn esp_default(&mut self, line: u32, k: EspKeys) {
        if self.loaded.ring.esp_default.is_some() {
            self.skip(
                line,
                "a second key for any SPI: only the first one is kept".into(),
            );
            return;
        }
        self.count(k.origin.format).esp += 1;
        self.loaded.ring.esp_default = Some(k);
    }

    /// A key line that cannot be used; `why` must not quote key text.
    pub(crate) fn skip(&mut self, line: u32, why: String) {
        self.key_lines += 1;
        self.loaded.report.skipped.push(Skipped {
            file: self.file.clone(),
            line,
            why,
        });
    }

    /// A line of no known shape (see `tentative`).
    pub(crate) fn unknown(&mut self, line: u32, why: &str) {
        self.tentative.push(Skipped {
            file: self.file.clone(),
            line,
            why: why.into(),
        });
    }

    pub(crate) fn warn(&mut self, msg: String) {
        if !self.loaded.report.warnings.contains(&msg) {
            self.loaded.report.warnings.push(msg);
        }
    }

    pub(crate) fn finish(self, explicit: Explicit) {
        if self.key_lines > 0 {
            self.loaded.report.skipped.extend(self.tentative);
        } else if explicit == Explicit::Yes {
            let msg = format!("no keys found in {}", self.file);
            self.loaded.report.warnings.push(msg);
        }
    }
}

/// Hex text to key bytes. Accepts upper and lower case, an optional `0x`, and the spaces,
/// colons and dashes dumps put between groups (`hex_spaced`); refuses anything else so a
/// mistyped key is caught here, not as an ICV failure later.
pub(crate) fn hex(text: &str) -> Result<Secret, HexError> {
    let t = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex_digits(t.bytes())
}

/// Hex with separators (setkey groups, xfrm never, Libreswan dumps, FortiGate none).
pub(crate) fn hex_spaced(text: &str) -> Result<Secret, HexError> {
    hex_digits(
        text.bytes()
            .filter(|b| !matches!(b, b' ' | b'\t' | b':' | b'-')),
    )
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Two hex digits at the start of `b` as a byte (dump lines; bytes, so a multi-byte character
/// in a log's ASCII column cannot split a slice).
pub(crate) fn hex_pair(b: &[u8]) -> Option<u8> {
    Some(nibble(*b.first()?)? << 4 | nibble(*b.get(1)?)?)
}

fn hex_digits(digits: impl Iterator<Item = u8>) -> Result<Secret, HexError> {
    let mut out = Zeroizing::new(Vec::new());
    let mut high: Option<u8> = None;
    for (i, b) in digits.enumerate() {
        let Some(v) = nibble(b) else {
            return Err(HexError::NotHex { at: i });
        };
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if high.is_some() {
        return Err(HexError::Odd);
    }
    Ok(Secret::new(std::mem::take(&mut *out)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HexError {
    NotHex { at: usize },
    Odd,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::NotHex { at } => write!(f, "not hex (at digit {})", at + 1),
            HexError::Odd => f.write_str("an odd number of hex digits"),
        }
    }
}

/// An 8-byte IKE SPI or cookie written as exactly 16 hex digits (an optional `0x`).
pub(crate) fn spi64(text: &str) -> Option<u64> {
    let t = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if t.len() != 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// A 4-byte ESP SPI in hex, 1 to 8 digits, with or without `0x`.
pub(crate) fn spi32(text: &str) -> Option<u32> {
    let t = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if t.is_empty() || t.len() > 8 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

/// A name from a file, quoted and escaped for a message.
pub(crate) fn quoted(text: &str) -> String {
    let shown: String = text.chars().take(60).collect();
    let more = if shown.len() < text.len() { "…" } else { "" };
    format!("\"{}{more}\"", printable(shown.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_case_and_prefix_and_refuses_garbage() {
        assert_eq!(hex("0xA0b1").unwrap().bytes(), &[0xa0, 0xb1]);
        assert_eq!(hex("").unwrap().len(), 0);
        assert_eq!(hex("abc"), Err(HexError::Odd));
        assert_eq!(hex("zz"), Err(HexError::NotHex { at: 0 }));
        assert_eq!(
            hex_spaced("2a e8 01  ff").unwrap().bytes(),
            &[0x2a, 0xe8, 0x01, 0xff]
        );
    }

    #[test]
    fn spis_need_their_exact_width() {
        assert_eq!(spi64("0158b8fb90b7623d"), Some(0x0158b8fb90b7623d));
        assert_eq!(spi64("0x0001020304050607"), Some(0x0001020304050607));
        assert_eq!(spi64("158b8fb90b7623d"), None);
        assert_eq!(spi32("0x070883c2"), Some(0x070883c2));
        assert_eq!(spi32("0x1070883c2"), None);
    }

    /// Every key folder the lab wrote (`captures/lab/keys/<scenario>/`, a Wireshark
    /// configuration folder each) loads as it is, without a skipped line, and matches what
    /// its files hold.
    #[test]
    fn names_from_files_are_escaped_in_messages() {
        assert_eq!(quoted("a\x1b[2Jb"), "\"a\\x1b[2Jb\"");
    }
}
