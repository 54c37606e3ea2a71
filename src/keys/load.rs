//! Reading key files: paths (files, folders, `-` for stdin) in, one key ring and a
//! [`LoadReport`] out. Which format a file holds is decided here (by its name, else by the
//! shape of its lines); the per-format parsers beside this file turn lines into records.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::ring::Format;
use super::sink::{Explicit, LoadReport, Loaded, MAX_KEYS, Sink};
use super::{charon, fortigate, libreswan, setkey, tcpdump, wireshark, xfrm};
use crate::event::text::printable;

/// Files larger than this are read up to it only: key files are small, and a log this big is
/// more likely a mistake (a capture passed as keys) than a key source.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// `file NAME` lines (tcpdump) may nest this deep; a loop of files stops here.
const MAX_INCLUDE_DEPTH: usize = 4;

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
            cap(&mut buf, n as u64, &name, &mut loaded.report);
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

/// Keys from text already in memory, read as if from a file called `name` (the name chooses
/// the Wireshark table formats, as a file's would): what `-` and the fuzz target use.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Loaded {
    let mut loaded = Loaded::default();
    let shown: Arc<str> = printable(name.as_bytes()).into();
    let mut buf = Zeroizing::new(bytes.to_vec());
    cap(&mut buf, bytes.len() as u64, &shown, &mut loaded.report);
    loaded.report.files += 1;
    load_text(
        &mut loaded,
        shown,
        Some(Path::new(name)),
        &buf,
        Explicit::Yes,
        MAX_INCLUDE_DEPTH,
    );
    loaded
}

fn err(path: &Path, error: io::Error) -> LoadError {
    LoadError {
        path: printable(path.as_os_str().as_encoded_bytes()),
        error,
    }
}

fn cap(buf: &mut Zeroizing<Vec<u8>>, n: u64, name: &str, report: &mut LoadReport) {
    if n > MAX_FILE_BYTES {
        buf.truncate(MAX_FILE_BYTES as usize);
        report.warnings.push(format!(
            "keys file {name} is larger than {} MiB: only its first {} MiB were read",
            MAX_FILE_BYTES >> 20,
            MAX_FILE_BYTES >> 20
        ));
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
    // Key files are text; a NUL early on means a capture or other binary sitting in the same
    // folder (the lab's keyformats folders hold capture.pcap beside the keys).
    if bytes.iter().take(8192).any(|b| *b == 0) {
        if explicit == Explicit::Yes {
            loaded.report.warnings.push(format!(
                "{name} is a binary file (a capture?), not keys: not read"
            ));
        }
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    proptest::proptest! {
        /// No input makes a parser panic: arbitrary text after headers that put each parser
        /// in its key-reading states (dumps, blocks, rows).
        #[test]
        fn no_text_makes_a_parser_panic(
            head in proptest::sample::select(vec![
                "22:44:18 11[IKE] <lab|1> Sk_ei secret => 32 bytes @ 0x1\n22:44:18 11[IKE] <lab|1>    0: ",
                "22:44:18 11[CHD] <1> encryption initiator key => 40 bytes @ 0x1\n05[CHD] <x|1>   16: ",
                "| kernel: looking for alg with encrypt: AES_GCM_16 keylen: 256 integ: NONE\n| ESP enckey:\n|   ",
                "| ikev2 I 0x0001020304050607 0x0001020304050607 ",
                "src 192.0.2.1 dst 192.0.2.2\n\tproto esp spi 0x1 reqid 1 mode tunnel\n\t",
                "192.0.2.1 192.0.2.2\n\tesp mode=tunnel spi=1(0x1)\n\tE: aes-cbc ",
                "name=x 192.0.2.1:0->192.0.2.2:0\n  dec: spi=1 esp=aes key=16 ",
                "\"IPv4\",\"*\",\"*\",\"0x1\",",
                "0001020304050607,0001020304050607,",
                "0x1@192.0.2.1 ",
            ]),
            tail in "(\\PC|\n|\t| |[0-9a-fA-F:,\"x@*|-]){0,300}",
        ) {
            let text = format!("{head}{tail}");
            let mut loaded = Loaded::default();
            for name in ["ikev2_decryption_table", "ikev1_decryption_table", "esp_sa", "keys.txt"] {
                load_text(&mut loaded, name.into(), Some(Path::new(name)), text.as_bytes(), Explicit::No, 0);
            }
            let shown = loaded.report.to_string();
            proptest::prop_assert!(!shown.contains('\x1b'));
        }
    }

    #[test]
    fn bytes_in_memory_load_like_a_file_of_that_name() {
        let row = "\"IPv4\",\"*\",\"*\",\"0x00000001\",\"NULL\",\"0x\",\"NULL\",\"\"\n";
        let l = load_bytes("esp_sa", row.as_bytes());
        assert_eq!(l.report.esp(), 1);
        assert!(l.ring.esp.contains_key(&1));
        let l = load_bytes("x", b"file /etc/passwd\n");
        assert!(l.ring.is_empty());
        assert!(l.report.skipped[0].why.contains("nests files deeper"));
    }

    #[test]
    fn unreadable_paths_are_errors_naming_the_path() {
        let e = load(&[PathBuf::from("/nonexistent/keys")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read keys from /nonexistent/keys: ")
        );
    }
}
