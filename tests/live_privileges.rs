//! Least privilege in live mode: once the interface is open, ike-sniff runs as the `-Z` user
//! (default nobody) with no capabilities and no_new_privs; `-Z root` keeps root. Also the
//! periodic output of `--stats-interval`, `--duration`, and `-G` file rotation done by the
//! unprivileged user.
//!
//! Root only (CI runs as root); elsewhere each test prints `SKIPPED: …` and returns.

#[path = "live/lab.rs"]
mod lab;

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use lab::{Lab, Sniffer, skip_if_unavailable};

/// The `Name:\tvalue` lines of /proc/PID/status.
fn proc_status(pid: i32) -> HashMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn nobody_ids() -> (String, String) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a nobody user");
    let f: Vec<&str> = line.split(':').collect();
    (f[2].to_string(), f[3].to_string())
}

#[test]
fn live_runs_as_nobody_without_capabilities() {
    if skip_if_unavailable("live_runs_as_nobody_without_capabilities") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let mut s = Sniffer::start(
        &lab,
        &[
            "-Z",
            "nobody",
            "--duration",
            "3",
            "--stats-interval",
            "1",
            "--json",
        ],
    )
    .unwrap();
    let st = proc_status(s.pid());
    let (uid, gid) = nobody_ids();
    let all = |v: &str| {
        v.split_whitespace()
            .all(|x| x == v.split_whitespace().next().unwrap())
    };
    assert!(
        all(&st["Uid"]),
        "real, effective, saved, fs uid: {}",
        st["Uid"]
    );
    assert_eq!(st["Uid"].split_whitespace().next().unwrap(), uid, "{st:?}");
    assert!(all(&st["Gid"]), "{}", st["Gid"]);
    assert_eq!(st["Gid"].split_whitespace().next().unwrap(), gid, "{st:?}");
    assert_eq!(st["Groups"], gid, "supplementary groups: {st:?}");
    for set in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(st[set], "0000000000000000", "{set}: {st:?}");
    }
    assert_eq!(st["NoNewPrivs"], "1", "{st:?}");

    // Stops by itself after --duration, with periodic summaries on the way.
    assert_eq!(s.wait(Duration::from_secs(10)).unwrap(), 0);
    let lines = s.json();
    let caps: Vec<_> = lines.iter().filter(|v| v["type"] == "capture").collect();
    assert!(caps.len() >= 3, "two periodic and one final: {lines:?}");
    assert_eq!(caps.last().unwrap()["final"], true);
    assert!(caps[..caps.len() - 1].iter().all(|v| v["final"] == false));
    let summaries = lines.iter().filter(|v| v["type"] == "summary").count();
    assert_eq!(summaries, caps.len(), "a summary before each capture line");
    let elapsed = caps.last().unwrap()["elapsed_s"].as_f64().unwrap();
    assert!((2.9..4.0).contains(&elapsed), "{elapsed}");
}

#[test]
fn live_keeps_root_with_z_root() {
    if skip_if_unavailable("live_keeps_root_with_z_root") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let mut s = Sniffer::start(&lab, &["-Z", "root", "--duration", "1"]).unwrap();
    let st = proc_status(s.pid());
    assert!(st["Uid"].starts_with('0'), "{st:?}");
    assert_eq!(st["NoNewPrivs"], "1", "{st:?}");
    assert_eq!(s.wait(Duration::from_secs(10)).unwrap(), 0);
}

#[test]
fn live_unknown_user_is_refused_before_capturing() {
    if skip_if_unavailable("live_unknown_user_is_refused_before_capturing") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let out = lab
        .exec(&lab.ns_b, lab::ike_sniff_path())
        .args([
            "-i",
            &lab.if_b,
            "-Z",
            "no-such-user-ike-sniff",
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such user"), "{err}");
}

#[test]
fn live_no_such_interface_is_a_clear_error() {
    if skip_if_unavailable("live_no_such_interface_is_a_clear_error") {
        return;
    }
    let out = std::process::Command::new(lab::ike_sniff_path())
        .args(["-i", "nosuchif0", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no such interface") && err.contains("-D"),
        "{err}"
    );
}

/// `-G`: new files are started by the unprivileged user, so the directory must be writable by
/// it: refused up front when it is not, rotated when it is.
#[test]
fn live_rotation_by_time_as_the_unprivileged_user() {
    if skip_if_unavailable("live_rotation_by_time_as_the_unprivileged_user") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let dir = lab.dir.join("rot");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let base = dir.join("cap.pcap");
    let base_s = base.to_str().unwrap();

    let out = lab
        .exec(&lab.ns_b, lab::ike_sniff_path())
        .args(["-i", &lab.if_b, "-w", base_s, "-G", "1", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not writable by user"), "{err}");

    for f in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mut s = Sniffer::start(
        &lab,
        &[
            "-w",
            base_s,
            "-G",
            "1",
            "--duration",
            "2.6",
            "--stats-interval",
            "0",
        ],
    )
    .unwrap();
    assert_eq!(s.wait(Duration::from_secs(10)).unwrap(), 0);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let (uid, _) = nobody_ids();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let epoch = name.strip_prefix("cap.pcap.").expect("FILE.<epoch>");
        assert!(epoch.parse::<u64>().is_ok(), "{name}");
        assert_eq!(
            std::fs::metadata(f).unwrap().uid().to_string(),
            uid,
            "{name}"
        );
        assert_eq!(
            lab::count_packets(f).unwrap(),
            0,
            "an empty, valid pcap file"
        );
    }
}
