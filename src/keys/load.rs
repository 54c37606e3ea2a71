//! Reading key files: paths (files, folders, `-` for stdin) in, one [`KeyRing`] and a
//! [`LoadReport`] out. Which format a file holds is decided here (by its name, else by the
//! shape of its lines); the per-format parsers beside this file turn lines into records.
//!
//! Nothing read from a file is echoed unescaped: messages name files and algorithms through
//! [`printable`], and never quote a key field (a malformed key line is still a key).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{
    EspKeys, Format, IkeV1Keys, IkeV2Keys, KeyRing, Origin, Secret, charon, fortigate, libreswan,
    setkey, tcpdump, wireshark, xfrm,
};
use crate::event::text::printable;

/// Files larger than this are read up to it only: key files are small, and a log this big is
/// more likely a mistake (a capture passed as keys) than a key source.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Keys kept at most over all files; more are counted as dropped, so a huge or hostile input
/// cannot exhaust memory.
pub const MAX_KEYS: usize = 1_000_000;
/// `file NAME` lines (tcpdump) may nest this deep; a loop of files stops here.
const MAX_INCLUDE_DEPTH: usize = 4;

/// What `load` produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub ring: KeyRing,
    pub report: LoadReport,
}

/// A path that could not be read at all (missing, no permission, a folder that cannot be
/// listed). A file that reads but holds no usable key is not an error: the report says so.
#[derive(Debug)]
pub struct LoadError {
    pub path: String,
    pub error: io::Error,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read keys from {}: {}", self.path, self.error)
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
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

/// Loads every key from `paths`. A folder contributes each regular file in it (sorted, not
/// recursing), so a Wireshark configuration folder or a strongSwan save-keys folder works as
/// it is; files there without a single key line are passed over silently.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut buf = Zeroizing::new(Vec::new());
            let n = io::stdin()
                .lock()
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|error| LoadError {
                    path: "-".into(),
                    error,
                })?;
            let name: Arc<str> = "<stdin>".into();
            let capped = cap(&mut buf, n as u64, &name, &mut loaded.report);
            let _ = capped;
            loaded.report.files += 1;
            load_text(&mut loaded, name, None, &buf, Explicit::Yes, 0);
            continue;
        }
        let meta = fs::metadata(path).map_err(|e| err(path, e))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path)
                .map_err(|e| err(path, e))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for file in entries {
                load_file(&mut loaded, &file, Explicit::No, 0)?;
            }
        } else {
            load_file(&mut loaded, path, Explicit::Yes, 0)?;
        }
    }
    if loaded.report.dropped > 0 {
        let msg = format!(
            "more than {MAX_KEYS} keys: {} more were not loaded",
            loaded.report.dropped
        );
        loaded.report.warnings.push(msg);
    }
    Ok(loaded)
}

fn err(path: &Path, error: io::Error) -> LoadError {
    LoadError {
        path: printable(path.as_os_str().as_encoded_bytes()),
        error,
    }
}

/// Whether a file was named on its own (a file without keys is worth a warning) or found in a
/// folder (Wireshark's `preferences`, `recent` and friends are expected there).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Explicit {
    Yes,
    No,
}

fn cap(buf: &mut Zeroizing<Vec<u8>>, n: u64, name: &str, report: &mut LoadReport) -> bool {
    if n > MAX_FILE_BYTES {
        buf.truncate(MAX_FILE_BYTES as usize);
        report.warnings.push(format!(
            "keys file {name} is larger than {} MiB: only its first {} MiB were read",
            MAX_FILE_BYTES >> 20,
            MAX_FILE_BYTES >> 20
        ));
        true
    } else {
        false
    }
}

pub(crate) fn load_file(
    loaded: &mut Loaded,
    path: &Path,
    explicit: Explicit,
    depth: usize,
) -> Result<(), LoadError> {
    let name: Arc<str> = printable(path.as_os_str().as_encoded_bytes()).into();
    let file = fs::File::open(path).map_err(|e| err(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = file.metadata() {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o044 != 0 {
                loaded.report.warnings.push(format!(
                    "keys file {name} is readable by others (mode {mode:04o})"
                ));
            }
        }
    }
    let mut buf = Zeroizing::new(Vec::new());
    let n = file
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err(path, e))?;
    cap(&mut buf, n as u64, &name, &mut loaded.report);
    loaded.report.files += 1;
    load_text(loaded, name, Some(path), &buf, explicit, depth);
    Ok(())
}

/// The format a whole file holds, when its name or content says so; `None` = decide per line
/// (the line formats: Wireshark rows and tcpdump `-E` lines).
fn detect(path: Option<&Path>, text: &str) -> Option<Format> {
    let base = path
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    // strongSwan save-keys and Wireshark name the tables exactly so; tcpdump's test suite
    // adds a prefix (`ikev2pI2.pcap.ikev2_decryption_table`).
    if base.ends_with("ikev2_decryption_table") {
        return Some(Format::WiresharkIkev2);
    }
    if base.ends_with("ikev1_decryption_table") {
        return Some(Format::WiresharkIkev1);
    }
    if base == "esp_sa" || base.ends_with(".esp_sa") {
        return Some(Format::WiresharkEsp);
    }
    if charon::looks_like(text) {
        return Some(Format::CharonLog);
    }
    if libreswan::looks_like(text) {
        return Some(Format::LibreswanDebug);
    }
    if xfrm::looks_like(text) {
        return Some(Format::XfrmState);
    }
    if setkey::looks_like(text) {
        return Some(Format::Setkey);
    }
    if fortigate::looks_like(text) {
        return Some(Format::FortiGate);
    }
    None
}

fn load_text(
    loaded: &mut Loaded,
    name: Arc<str>,
    path: Option<&Path>,
    bytes: &[u8],
    explicit: Explicit,
    depth: usize,
) {
    // Lossy only when needed: a copy of key text is itself wiped on drop.
    let owned: Zeroizing<String>;
    let text: &str = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            owned = Zeroizing::new(String::from_utf8_lossy(bytes).into_owned());
            &owned
        }
    };
    let format = detect(path, text);
    let mut sink = Sink {
        file: name.clone(),
        loaded,
        key_lines: 0,
        tentative: Vec::new(),
        format_hint: format,
    };
    match format {
        Some(Format::WiresharkIkev2) => wireshark::ikev2_table(&mut sink, text),
        Some(Format::WiresharkIkev1) => wireshark::ikev1_table(&mut sink, text),
        Some(Format::WiresharkEsp) => wireshark::esp_table(&mut sink, text),
        Some(Format::CharonLog) => charon::parse(&mut sink, text),
        Some(Format::LibreswanDebug) => {
            libreswan::parse(&mut sink, text);
            tcpdump::parse_log(&mut sink, text);
        }
        Some(Format::XfrmState) => xfrm::parse(&mut sink, text),
        Some(Format::Setkey) => setkey::parse(&mut sink, text),
        Some(Format::FortiGate) => fortigate::parse(&mut sink, text),
        Some(Format::TcpdumpEsp | Format::TcpdumpIkev2) | None => {
            let includes = lines_by_shape(&mut sink, text);
            let dir = path.and_then(Path::parent).map(Path::to_path_buf);
            for (line, inc) in includes {
                include(&mut sink, dir.as_deref(), line, &inc, depth);
            }
        }
    }
    sink.finish(explicit);
}

/// tcpdump's `file NAME`: NAME is relative to the file that names it.
fn include(sink: &mut Sink<'_>, dir: Option<&Path>, line: u32, name: &str, depth: usize) {
    if depth >= MAX_INCLUDE_DEPTH {
        sink.skip(
            line,
            format!(
                "file \"{}\" nests files deeper than {MAX_INCLUDE_DEPTH}: not read",
                printable(name.as_bytes())
            ),
        );
        return;
    }
    let p = Path::new(name);
    let full = match dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    };
    if let Err(e) = load_file(sink.loaded, &full, Explicit::Yes, depth + 1) {
        sink.skip(line, format!("{e}"));
    } else {
        sink.key_lines += 1;
    }
}

/// Files without a recognisable whole-file format: each line is a Wireshark row or a tcpdump
/// line, told apart by its shape. Returns the `file NAME` lines to follow.
fn lines_by_shape(sink: &mut Sink<'_>, text: &str) -> Vec<(u32, String)> {
    let mut includes = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if wireshark::esp_row_shape(l) {
            wireshark::esp_row(sink, line, l);
        } else if wireshark::ikev2_row_shape(l) {
            wireshark::ikev2_row(sink, line, l);
        } else if wireshark::ikev1_row_shape(l) {
            wireshark::ikev1_row(sink, line, l);
        } else if let Some(name) = l.strip_prefix("file ") {
            includes.push((line, name.trim().to_string()));
        } else if !tcpdump::line(sink, line, l) {
            sink.unknown(line, "not a key line in any known format");
        }
    }
    includes
}

/// Where parsers put what they find: counts it, caps it, records skips.
pub(crate) struct Sink<'a> {
    pub(crate) file: Arc<str>,
    loaded: &'a mut Loaded,
    /// Lines that were keys (loaded or skipped for a reason).
    key_lines: usize,
    /// Lines of no known shape: reported only when the file held keys at all, so that
    /// `preferences` in a Wireshark folder passes silently.
    tentative: Vec<Skipped>,
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
        if self.room() {
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

    fn finish(self, explicit: Explicit) {
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

fn hex_digits(digits: impl Iterator<Item = u8>) -> Result<Secret, HexError> {
    let mut out = Zeroizing::new(Vec::new());
    let mut high: Option<u8> = None;
    for (i, b) in digits.enumerate() {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(HexError::NotHex { at: i }),
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
    fn every_lab_key_folder_loads_without_skips() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/lab/keys");
        let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        assert!(dirs.len() >= 20);
        for dir in dirs {
            let l = load(std::slice::from_ref(&dir)).unwrap();
            assert!(
                l.report.skipped.is_empty(),
                "{}: {}",
                dir.display(),
                l.report
            );
            let rows = |name: &str| {
                fs::read_to_string(dir.join(name)).map_or(0, |t| {
                    t.lines()
                        .filter(|l| !l.starts_with('#') && !l.is_empty())
                        .count()
                })
            };
            assert_eq!(
                l.report.ikev2(),
                rows("ikev2_decryption_table"),
                "{}",
                dir.display()
            );
            assert_eq!(
                l.report.ikev1(),
                rows("ikev1_decryption_table"),
                "{}",
                dir.display()
            );
            assert_eq!(l.report.esp(), rows("esp_sa"), "{}", dir.display());
            assert!(!l.ring.is_empty());
        }
    }

    #[test]
    fn the_summary_names_formats_files_and_skipped_lines() {
        let dir = std::env::temp_dir().join(format!("ike-sniff-summary-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/lab/keys/healthy_ikev2");
        fs::copy(src.join("esp_sa"), dir.join("esp_sa")).unwrap();
        fs::write(
            dir.join("secrets\x1b.txt"),
            "ikev2 I 0x0001020304050607 0xc02e7a3031a03188 sha1:0x4ea8e662b07cdd430f6944c6723e4b82d5722418 aes128:0x3f44bf47cafd8150591deb088199fcbf\n\
             0x1@192.0.2.1 rot13:0x00\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.join("esp_sa"), fs::Permissions::from_mode(0o600)).unwrap();
            fs::set_permissions(
                dir.join("secrets\x1b.txt"),
                fs::Permissions::from_mode(0o644),
            )
            .unwrap();
        }
        let l = load(std::slice::from_ref(&dir)).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let shown = l.report.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[0],
            "keys: 1 IKE SA, 4 ESP SAs from 2 files (Wireshark esp_sa: 4 ESP SAs; tcpdump ikev2 line: 1 IKE SA); 1 line skipped"
        );
        assert!(lines[1].starts_with("warning: keys file "));
        assert!(lines[1].ends_with("secrets\\x1b.txt is readable by others (mode 0644)"));
        assert!(lines[2].ends_with("secrets\\x1b.txt:2: unknown algorithm \"rot13\""));
        assert!(!shown.contains('\x1b'));
    }

    #[test]
    fn unreadable_paths_are_errors_naming_the_path() {
        let e = load(&[PathBuf::from("/nonexistent/keys")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read keys from /nonexistent/keys: ")
        );
    }

    #[test]
    fn names_from_files_are_escaped_in_messages() {
        assert_eq!(quoted("a\x1b[2Jb"), "\"a\\x1b[2Jb\"");
    }
}
