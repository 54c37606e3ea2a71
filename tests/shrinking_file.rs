//! A capture truncated by another process while ike-sniff reads it (logrotate's copytruncate,
//! a `tcpdump -C` ring being rewritten, `> file`): the run must end as a short read does, with
//! the "truncated" message naming frame and byte, the report of what was read, and exit 1,
//! never SIGBUS from the mapped window (issue 13).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A 64 MiB capture made of IKE: with every packet an event, the decode thread of a two-thread
/// run also blocks, on the full channel, a fifth of the way in (a gateway mix has so few events
/// that the channel would take the whole file before the truncation).
fn corpus(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("ike-heavy-64m.pcap");
    let status = Command::new(env!("CARGO_BIN_EXE_ike-sniff-corpus"))
        .args([
            "--kind",
            "ike-heavy",
            "--size",
            "64MiB",
            "--seed",
            "5",
            "-o",
        ])
        .arg(&path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// Runs ike-sniff -v on a copy of `original` (every ESP packet printed, so the run soon blocks
/// on the pipe we do not read yet, early in the file), truncates the copy to `cut` bytes while
/// the run is under way, then lets it finish. Returns (exit code, stdout, stderr).
fn run_and_truncate(original: &std::path::Path, threads: &str, cut: u64) -> (i32, String, String) {
    let path = original.with_extension(format!("{threads}-{cut}.pcap"));
    std::fs::copy(original, &path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-v", "--threads", threads, "-r"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = vec![0u8; 4096];
    stdout.read_exact(&mut head).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    std::fs::remove_file(&path).unwrap();
    head.extend_from_slice(&rest);
    // `code()` is None when a signal (SIGBUS) ended the process.
    let code = status
        .code()
        .unwrap_or_else(|| panic!("killed: {status:?}\n{stderr}"));
    (code, String::from_utf8_lossy(&head).into_owned(), stderr)
}

#[test]
fn a_capture_truncated_during_the_run_ends_with_exit_1_and_the_report() {
    let dir = std::env::temp_dir().join(format!("ike-sniff-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = corpus(&dir);
    let size = std::fs::metadata(&original).unwrap().len();
    for threads in ["1", "2"] {
        // To nothing, as copytruncate and `> file` do, and to a length the reader has not
        // reached, so that a window's length check finds the shrink before any fault.
        for cut in [0, size / 2] {
            let (code, stdout, stderr) = run_and_truncate(&original, threads, cut);
            let what = format!("threads {threads}, cut {cut}:\n{stderr}");
            assert_eq!(code, 1, "{what}");
            let line = stderr
                .lines()
                .find(|l| l.contains("truncated during the run"))
                .unwrap_or_else(|| panic!("no truncation message: {what}"));
            assert!(
                line.contains(": frame ")
                    && line.contains(&format!("the file shrank to {cut} bytes"))
                    && line.contains("(record starts at byte "),
                "{line}"
            );
            assert!(stdout.contains("\n== Summary: "), "no report: {what}");
            assert!(stdout.contains(&line["ike-sniff: ".len()..]), "{what}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
