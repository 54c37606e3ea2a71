//! Issue 16, a monitor that runs for months: SIGHUP reopens `--output` and starts a new `-w`
//! file (logrotate), as the unprivileged user; an output that fails (disk full) drops the
//! report, counted and said once, and never the analysis; a `-w` file on a full disk stops,
//! and SIGHUP starts it again once there is room.
//!
//! Root only (namespaces, capture, a tmpfs); elsewhere each test prints `SKIPPED: …`.

#[path = "live/lab.rs"]
mod lab;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lab::{Lab, Sniffer, capture, count_packets, skip_if_unavailable};
use nix::sys::signal::Signal;
use serde_json::Value;

fn nobody_uid() -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a nobody user");
    line.split(':').nth(2).unwrap().parse().unwrap()
}

/// A directory the unprivileged user (nobody) may create files in.
fn nobody_dir(lab: &Lab, name: &str) -> PathBuf {
    let d = lab.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    nix::unistd::chown(&d, Some(nix::unistd::Uid::from_raw(nobody_uid())), None).unwrap();
    d
}

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(lines: &[Value], t: &str) -> usize {
    lines.iter().filter(|v| v["type"] == t).count()
}

/// Waits until ike-sniff's standard error has a line containing `what`.
fn wait_stderr(s: &mut Sniffer, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        s.collect();
        if s.stderr_lines.iter().any(|l| l.contains(what)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no '{what}' on stderr: {:?}",
            s.stderr_lines
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// logrotate's way: move the files away, SIGHUP, and the next lines and packets go to new files
/// under the old names, created by nobody; the moved files hold what came before.
#[test]
fn live_sighup_reopens_output_and_starts_a_new_w_file() {
    let rel = "lab/pcaps/healthy_ikev2.pcap";
    if skip_if_unavailable("live_sighup_reopens_output_and_starts_a_new_w_file") {
        return;
    }
    let lab = Lab::named("ism", "ism").expect("namespaces");
    let (file, n) = lab.prepare(&capture(rel), None).expect("prepare");
    let dir = nobody_dir(&lab, "out");
    let report = dir.join("report.jsonl");
    let pcap = dir.join("cap.pcap");
    let mut s = Sniffer::start(
        &lab,
        &[
            "--json",
            "--stats-interval",
            "0",
            "--output",
            report.to_str().unwrap(),
            "-w",
            pcap.to_str().unwrap(),
        ],
    )
    .expect("start");
    lab.replay(&file, 20.0).expect("tcpreplay");
    std::thread::sleep(Duration::from_millis(600));
    std::fs::rename(&report, dir.join("report.jsonl.1")).unwrap();
    std::fs::rename(&pcap, dir.join("cap.pcap.1")).unwrap();
    s.signal(Signal::SIGHUP);
    wait_stderr(&mut s, "SIGHUP: output reopened");
    lab.replay(&file, 20.0).expect("tcpreplay");
    std::thread::sleep(Duration::from_millis(600));
    s.signal(Signal::SIGINT);
    assert_eq!(
        s.wait(Duration::from_secs(10)).expect("stops"),
        0,
        "{:?}",
        s.stderr_lines
    );
    assert!(s.stdout_lines.is_empty(), "the report went to --output");

    let before = lines_of(&dir.join("report.jsonl.1"));
    let after = lines_of(&report);
    assert_eq!(before[0]["type"], "meta");
    // The second replay repeats the first one's SAs, so it prints fewer ESP lines: both have some.
    assert!(count(&before, "packet") > 0);
    assert!(count(&after, "packet") > 0, "the second replay's lines");
    assert_eq!(
        count(&after, "summary"),
        1,
        "the final summary in the new file"
    );
    assert_eq!(count(&before, "summary"), 0);
    assert_eq!(count_packets(&dir.join("cap.pcap.1")).unwrap(), n);
    assert_eq!(count_packets(&pcap).unwrap(), n);
    for f in [&report, &pcap] {
        assert_eq!(
            std::fs::metadata(f).unwrap().uid(),
            nobody_uid(),
            "{} created by the unprivileged user",
            f.display()
        );
    }
}

/// The report to /dev/full: every write fails with ENOSPC. ike-sniff says so once, goes on
/// analysing (its metrics count every packet), and at the end says how much was lost and exits 1.
#[test]
fn live_report_on_a_full_disk_is_dropped_not_the_analysis() {
    let rel = "lab/pcaps/healthy_ikev2.pcap";
    if skip_if_unavailable("live_report_on_a_full_disk_is_dropped_not_the_analysis") {
        return;
    }
    let lab = Lab::named("ism", "ism").expect("namespaces");
    let (file, n) = lab.prepare(&capture(rel), None).expect("prepare");
    let ns = lab.ns_b.clone();
    Command::new("ip")
        .args(["-n", &ns, "link", "set", "lo", "up"])
        .status()
        .unwrap();
    let mut s = Sniffer::start(
        &lab,
        &[
            "--json",
            "--stats-interval",
            "1",
            "--output",
            "/dev/full",
            "--metrics",
            "127.0.0.1:9898",
        ],
    )
    .expect("start");
    lab.replay(&file, 20.0).expect("tcpreplay");
    lab.replay(&file, 20.0).expect("tcpreplay");
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = in_netns(&ns, || {
        let mut c = TcpStream::connect(("127.0.0.1", 9898)).unwrap();
        c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    });
    let got = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ike_sniff_capture_packets_total "))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert_eq!(got, (2 * n).to_string(), "every packet analysed");
    s.signal(Signal::SIGINT);
    assert_eq!(s.wait(Duration::from_secs(10)).expect("stops"), 1);
    let full: Vec<&String> = s
        .stderr_lines
        .iter()
        .filter(|l| l.contains("No space left on device"))
        .collect();
    assert_eq!(full.len(), 1, "said once: {:?}", s.stderr_lines);
    assert!(full[0].contains("analysis goes on"), "{}", full[0]);
    assert!(
        s.stderr_lines
            .iter()
            .any(|l| l.starts_with("ike-sniff: /dev/full: ")
                && l.contains("of the report were lost")),
        "{:?}",
        s.stderr_lines
    );
}

/// `-w` on a 256 KiB tmpfs that fills up: packets stop being written, said once, while the
/// report goes on with every packet; after room is made, SIGHUP starts the file again.
#[test]
fn live_w_on_a_full_disk_stops_and_sighup_starts_it_again() {
    let rel = "lab/pcaps/healthy_ikev2.pcap";
    if skip_if_unavailable("live_w_on_a_full_disk_stops_and_sighup_starts_it_again") {
        return;
    }
    let lab = Lab::named("ism", "ism").expect("namespaces");
    let (file, n) = lab.prepare(&capture(rel), None).expect("prepare");
    let dir = lab.dir.join("small");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0777", "ism-small"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "SKIPPED: live_w_on_a_full_disk_stops_and_sighup_starts_it_again: cannot mount a tmpfs"
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.clone());
    // Fill it but for a few KiB.
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).and_then(|()| f.flush()).is_ok() {}
    drop(f);
    let pcap = dir.join("cap.pcap");
    let mut s = Sniffer::start(
        &lab,
        &[
            "--json",
            "--stats-interval",
            "0",
            "-w",
            pcap.to_str().unwrap(),
        ],
    )
    .expect("start");
    for _ in 0..3 {
        lab.replay(&file, 20.0).expect("tcpreplay");
    }
    wait_stderr(&mut s, "no longer writing packets until SIGHUP");
    // Every packet replayed so far read before the SIGHUP.
    std::thread::sleep(Duration::from_millis(1000));
    std::fs::remove_file(&filler).unwrap();
    s.signal(Signal::SIGHUP);
    wait_stderr(&mut s, "SIGHUP: output reopened");
    lab.replay(&file, 20.0).expect("tcpreplay");
    std::thread::sleep(Duration::from_millis(600));
    s.signal(Signal::SIGINT);
    assert_eq!(
        s.wait(Duration::from_secs(10)).expect("stops"),
        1,
        "a -w write failed"
    );
    let lines = s.json();
    let summary = lines
        .iter()
        .find(|v| v["type"] == "capture" && v["final"] == true);
    assert_eq!(
        summary.expect("capture line")["packets"].as_u64(),
        Some(4 * n),
        "every packet analysed"
    );
    let stops = s
        .stderr_lines
        .iter()
        .filter(|l| l.contains("no longer writing packets"))
        .count();
    assert_eq!(stops, 1, "{:?}", s.stderr_lines);
    // cap.pcap was still in place, so the new file is the next in sequence.
    assert_eq!(count_packets(&dir.join("cap.pcap1")).unwrap(), n);
}

fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = PathBuf::from("/run/netns").join(ns);
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("netns file");
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("netns thread")
}
