//! Golden outputs: every capture in `captures/` run through the binary in text, `-v`, `--json`
//! and `-v --json` mode, compared byte for byte with `tests/golden/`. A change in wording, fields or
//! order shows up here as a diff to review, as Zeek's btest baselines do.
//!
//! Re-bless after a deliberate change with
//! `IKE_SNIFF_BLESS=1 cargo test --release --test golden`, then read `git diff tests/golden`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const MODES: [(&str, &[&str]); 4] = [
    ("txt", &[]),
    ("v.txt", &["-v"]),
    ("jsonl", &["--json"]),
    ("v.jsonl", &["-v", "--json"]),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn is_capture(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("pcap" | "pcapng" | "cap")
    )
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures(&p, out);
        } else if is_capture(&p) {
            out.push(p);
        }
    }
}

/// What one run printed: standard output, and standard error with the exit status after it
/// (the file name in messages is the relative path, as the test passes it).
fn run(rel: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    // Packet lines are in local time, as tcpdump's; the golden files are in UTC.
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .env("TZ", "UTC")
        .current_dir(root())
        .arg("-r")
        .arg(rel)
        .args(args)
        .output()
        .expect("ike-sniff runs");
    let mut err = out.stderr;
    err.extend_from_slice(format!("exit {}\n", out.status.code().unwrap_or(-1)).as_bytes());
    (out.stdout, err)
}

#[test]
fn every_capture_matches_its_golden_output() {
    let bless = std::env::var_os("IKE_SNIFF_BLESS").is_some();
    let mut files = Vec::new();
    captures(&root().join("captures"), &mut files);
    assert!(files.len() > 200, "only {} captures found", files.len());
    let golden = root().join("tests/golden");
    let mut failures = String::new();
    let mut expected_files = std::collections::BTreeSet::new();
    for path in &files {
        let rel = path
            .strip_prefix(root())
            .expect("under the repository")
            .to_str()
            .expect("utf-8 path")
            .to_string();
        let base = golden.join(rel.strip_prefix("captures/").expect("under captures/"));
        for (i, (ext, args)) in MODES.iter().enumerate() {
            let (stdout, stderr) = run(&rel, args);
            let mut outputs = vec![(format!("{}.{ext}", base.display()), stdout)];
            // Standard error is the same in every mode; keep it once.
            if i == 0 {
                outputs.push((format!("{}.stderr", base.display()), stderr));
            }
            for (file, got) in outputs {
                expected_files.insert(PathBuf::from(&file));
                if bless {
                    std::fs::create_dir_all(Path::new(&file).parent().expect("has a parent"))
                        .expect("golden directory");
                    std::fs::write(&file, &got).expect("golden written");
                    continue;
                }
                let want = std::fs::read(&file).unwrap_or_default();
                if want != got {
                    let (w, g) = (
                        String::from_utf8_lossy(&want),
                        String::from_utf8_lossy(&got),
                    );
                    let first = w
                        .lines()
                        .zip(g.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or_else(|| w.lines().count().min(g.lines().count()));
                    let _ = writeln!(
                        failures,
                        "{file}: differs at line {}\n  want: {}\n  got:  {}",
                        first + 1,
                        w.lines().nth(first).unwrap_or("<end>"),
                        g.lines().nth(first).unwrap_or("<end>"),
                    );
                }
            }
        }
    }
    // A golden file whose capture is gone would pin nothing.
    let mut stale = Vec::new();
    let mut stack = vec![golden.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !expected_files.contains(&p) {
                stale.push(p);
            }
        }
    }
    if bless {
        for p in stale {
            std::fs::remove_file(p).expect("stale golden removed");
        }
        return;
    }
    assert!(
        stale.is_empty(),
        "golden files without a capture: {stale:?}"
    );
    assert!(
        failures.is_empty(),
        "{failures}\nIf the change is meant, re-bless: IKE_SNIFF_BLESS=1 cargo test --release --test golden"
    );
}
