//! `--max-memory` scales every table's cap (issue 13): on the same flood, a small figure makes
//! the tables evict sooner and the run's peak resident memory lower than the default caps do,
//! in both thread modes. Alone in its test binary: the peak is read with
//! `getrusage(RUSAGE_CHILDREN)`, the largest of every child this process has waited for, so the
//! small run goes first and the default run must raise it.

use std::process::Command;

use nix::sys::resource::{UsageWho, getrusage};

fn peak_children_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss()
}

/// The `-v` summary's evictions by the table caps: pairs, IKE SAs, ESP SAs.
fn evictions(stdout: &str) -> [u64; 3] {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("tracked: "))
        .unwrap_or_else(|| panic!("no tracked line:\n{stdout}"));
    let counts = line.split("evicted by the table caps: ").nth(1).unwrap();
    let n: Vec<u64> = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    [n[1], n[2], n[3]]
}

fn run(path: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(args)
        .args(["-v", "-r"])
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_small_max_memory_evicts_sooner_and_keeps_rss_lower() {
    let path = std::env::temp_dir().join(format!("ike-sniff-maxmem-{}.pcap", std::process::id()));
    let made = Command::new(env!("CARGO_BIN_EXE_ike-sniff-corpus"))
        .args(["--kind", "flood", "--size", "24MiB", "--seed", "7", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");

    let (small, small_err) = run(&path, &["--max-memory", "64MiB", "--threads", "1"]);
    let small_peak = peak_children_kib();
    let (small2, _) = run(&path, &["--max-memory", "64MiB", "--threads", "2"]);
    assert_eq!(evictions(&small), evictions(&small2));
    let after_small = peak_children_kib();
    let (default, _) = run(&path, &["--threads", "1"]);
    let default_peak = peak_children_kib();

    let (s, d) = (evictions(&small), evictions(&default));
    for i in 0..3 {
        assert!(s[i] > d[i], "table {i}: {s:?} evicted vs {d:?} by default");
    }
    // The warning names the scaled cap, not the default one.
    assert!(
        small_err.contains("the peer pair table reached its cap (126 entries)"),
        "{small_err}"
    );
    assert!(
        default_peak > after_small * 3 / 2,
        "peak RSS: --max-memory 64MiB {small_peak} KiB (2 threads: {after_small}), default \
         {default_peak} KiB"
    );
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_file(path.with_extension("pcap.truth.json"));
}

#[test]
fn nonsense_sizes_are_a_usage_error() {
    for bad in ["0", "12MiB", "256", "-1G", "lots", "2048TiB"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
            .arg(format!("--max-memory={bad}"))
            .args(["-r", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(&format!("invalid value '{bad}' for '--max-memory <SIZE>'")),
            "{bad}: {stderr}"
        );
    }
}
