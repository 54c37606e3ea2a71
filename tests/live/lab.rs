//! Helpers for the live-capture tests: a pair of network namespaces joined by a veth pair
//! (names unique per run, deleted on drop, so also when a test panics), tcpreplay into one end,
//! ike-sniff on the other.
//!
//! Needs root, `ip netns`, tcpreplay and tcpdump (CI runs as root and `.ci/run`
//! installs them). Without them a test prints `SKIPPED: why` on standard error and returns.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn ike_sniff_path() -> &'static str {
    env!("CARGO_BIN_EXE_ike-sniff")
}

pub fn capture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(rel)
}

/// `Some(reason)` when the live tests cannot run here.
pub fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() != Some("0") {
        return Some("live capture tests need root (network namespaces, capture)".into());
    }
    for (tool, arg) in [("ip", "-V"), ("tcpreplay", "-V"), ("tcpdump", "--version")] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Prints why and says whether to skip.
pub fn skip_if_unavailable(test: &str) -> bool {
    match missing_prerequisite() {
        Some(why) => {
            eprintln!("SKIPPED: {test}: {why}");
            true
        }
        None => false,
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    run(Command::new("ip").args(args))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces, `a` and `b`, with veth `if_a` in `a` joined to `if_b` in `b`. IPv6 is off in
/// both so the kernel sends nothing of its own (neighbour discovery) on the link.
pub struct Lab {
    pub ns_a: String,
    pub ns_b: String,
    pub if_a: String,
    pub if_b: String,
    pub dir: PathBuf,
}

impl Lab {
    pub fn new() -> Result<Lab, String> {
        Lab::named("iks", "ik")
    }

    /// A lab whose namespaces are `{ns_prefix}-a-…`/`-b-…` and veths `{if_prefix}A…`/`B…`, so a
    /// test's own leftovers can be told apart.
    pub fn named(ns_prefix: &str, if_prefix: &str) -> Result<Lab, String> {
        let tag = format!(
            "{}x{}",
            std::process::id() % 1_000_000,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("ike-sniff-live-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let lab = Lab {
            ns_a: format!("{ns_prefix}-a-{tag}"),
            ns_b: format!("{ns_prefix}-b-{tag}"),
            if_a: format!("{if_prefix}A{tag}"),
            if_b: format!("{if_prefix}B{tag}"),
            dir,
        };
        // From here on, Drop cleans up whatever was created.
        ip(&["netns", "add", &lab.ns_a])?;
        ip(&["netns", "add", &lab.ns_b])?;
        for ns in [&lab.ns_a, &lab.ns_b] {
            for knob in ["all", "default"] {
                run(Command::new("ip").args([
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{knob}.disable_ipv6=1"),
                ]))?;
            }
        }
        ip(&[
            "-n", &lab.ns_a, "link", "add", &lab.if_a, "type", "veth", "peer", "name", &lab.if_b,
            "netns", &lab.ns_b,
        ])?;
        ip(&[
            "-n", &lab.ns_a, "link", "set", &lab.if_a, "mtu", "9000", "up",
        ])?;
        ip(&[
            "-n", &lab.ns_b, "link", "set", &lab.if_b, "mtu", "9000", "up",
        ])?;
        Ok(lab)
    }

    /// A command run inside namespace `ns` (`ip netns exec` execs it, so the child's pid is the
    /// command's own).
    pub fn exec(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Converts `file` to Ethernet if needed (tcpreplay sends frames as they are) and keeps
    /// only what ike-sniff's kernel filter (plus `extra`) keeps, so the offline reference run
    /// sees exactly the packets the live run will. Returns the file and its packet count.
    pub fn prepare(&self, file: &Path, extra: Option<&str>) -> Result<(PathBuf, u64), String> {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let eth = self.dir.join(format!("{name}.eth.pcap"));
        let linktype = file_linktype(file)?;
        if linktype == 1 {
            run(Command::new("tcpdump")
                .args(["-r"])
                .arg(file)
                .arg("-w")
                .arg(&eth)
                .arg("-q"))?;
        } else {
            // tcprewrite --dlt=enet rejects some BSD loopback captures ("Expected IPv4
            // packet"), so the Ethernet header is put on here.
            to_ethernet(file, &eth)?;
        }
        let kept = self.dir.join(format!("{name}.kept.pcap"));
        let filter = ike_sniff::capture::live::build_filter(extra);
        run(Command::new("tcpdump")
            .arg("-r")
            .arg(&eth)
            .arg("-w")
            .arg(&kept)
            .arg(&filter))?;
        let n = count_packets(&kept)?;
        Ok((kept, n))
    }

    /// Replays `file` into `if_a` at the capture's own pace (`multiplier` 1.0) or faster.
    pub fn replay(&self, file: &Path, multiplier: f64) -> Result<(), String> {
        let mut c = self.exec(&self.ns_a, "tcpreplay");
        c.args(["-q", "-i", &self.if_a]);
        if multiplier != 1.0 {
            c.arg(format!("--multiplier={multiplier}"));
        }
        c.arg(file);
        run(&mut c)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth in it, and so its peer.
        let _ = ip(&["netns", "del", &self.ns_a]);
        let _ = ip(&["netns", "del", &self.ns_b]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn file_linktype(file: &Path) -> Result<u32, String> {
    let mut src = ike_sniff::capture::file::FileSource::open(file.to_str().unwrap())
        .map_err(|e| e.to_string())?;
    use ike_sniff::capture::PacketSource;
    match src.next_packet().map_err(|e| e.to_string())? {
        Some(p) => Ok(p.linktype),
        None => Err(format!("{}: no packets", file.display())),
    }
}

pub fn count_packets(file: &Path) -> Result<u64, String> {
    let mut src = ike_sniff::capture::file::FileSource::open(file.to_str().unwrap())
        .map_err(|e| e.to_string())?;
    use ike_sniff::capture::PacketSource;
    let mut n = 0;
    while src.next_packet().map_err(|e| e.to_string())?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// A running `ike-sniff -i`, killed on drop if still running. Lines of standard output and
/// standard error are collected by threads, with the time each arrived.
pub struct Sniffer {
    pub child: Child,
    stdout: mpsc::Receiver<(Instant, String)>,
    stderr: mpsc::Receiver<String>,
    pub stdout_lines: Vec<(Instant, String)>,
    pub stderr_lines: Vec<String>,
}

impl Sniffer {
    /// Starts `ike-sniff -i if_b <args>` in namespace b and waits until it has dropped
    /// privileges (it says so on standard error), i.e. is reading packets.
    pub fn start(lab: &Lab, args: &[&str]) -> Result<Sniffer, String> {
        let mut c = lab.exec(&lab.ns_b, ike_sniff_path());
        c.args(["-i", &lab.if_b]).args(args);
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting ike-sniff: {e}"))?;
        let (otx, orx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if otx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let (etx, erx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Sniffer {
            child,
            stdout: orx,
            stderr: erx,
            stdout_lines: Vec::new(),
            stderr_lines: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match s.stderr.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let ready = line.contains("running as")
                        || line.contains("capabilities dropped")
                        || line.contains("keeping root");
                    s.stderr_lines.push(line);
                    if ready {
                        return Ok(s);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("ike-sniff ended early: {:?}", s.stderr_lines));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("ike-sniff not ready: {:?}", s.stderr_lines));
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Moves what has arrived so far into `stdout_lines`/`stderr_lines`.
    pub fn collect(&mut self) {
        while let Ok(l) = self.stdout.try_recv() {
            self.stdout_lines.push(l);
        }
        while let Ok(l) = self.stderr.try_recv() {
            self.stderr_lines.push(l);
        }
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Waits for the process to end by itself (up to `limit`); returns its exit code and all
    /// its output.
    pub fn wait(&mut self, limit: Duration) -> Result<i32, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                // Let the reader threads reach the end of the pipes.
                let until = Instant::now() + Duration::from_secs(2);
                loop {
                    match self.stdout.recv_timeout(Duration::from_millis(50)) {
                        Ok(l) => self.stdout_lines.push(l),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(_) if Instant::now() > until => break,
                        Err(_) => {}
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
                self.collect();
                return status
                    .code()
                    .ok_or_else(|| format!("ike-sniff killed by a signal: {status}"));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(format!(
                    "ike-sniff did not stop within {limit:?}; stderr: {:?}",
                    self.stderr_lines
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Standard output lines parsed as JSON.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout_lines
            .iter()
            .map(|(_, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Removes timestamps (they differ between a replay and the file) everywhere in a value.
pub fn without_times(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .filter(|(k, _)| !(k.as_str() == "ts" || k.ends_with("_ts")))
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(without_times).collect())
        }
        other => other.clone(),
    }
}

/// Runs `ike-sniff -r file --json` and returns its lines.
pub fn offline_json(file: &Path, extra_args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(ike_sniff_path())
        .arg("-r")
        .arg(file)
        .arg("--json")
        .args(extra_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Rewrites a NULL/LOOP (BSD loopback) or raw-IP capture as Ethernet, for tcpreplay.
pub fn to_ethernet(from: &Path, to: &Path) -> Result<(), String> {
    use ike_sniff::capture::PacketSource;
    use ike_sniff::capture::live::PcapWriter;
    let mut src = ike_sniff::capture::file::FileSource::open(from.to_str().unwrap())
        .map_err(|e| e.to_string())?;
    let mut out = PcapWriter::create(to, 1, 262_144, None).map_err(|e| e.to_string())?;
    while let Some(p) = src.next_packet().map_err(|e| e.to_string())? {
        let ip = match p.linktype {
            0 | 108 => p.data.get(4..).unwrap_or_default(),
            12 | 14 | 101 | 228 | 229 => p.data,
            other => return Err(format!("{}: link type {other} not handled", from.display())),
        };
        let ethertype: [u8; 2] = match ip.first().map(|b| b >> 4) {
            Some(6) => [0x86, 0xdd],
            _ => [0x08, 0x00],
        };
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        frame.extend_from_slice(&ethertype);
        frame.extend_from_slice(ip);
        let raw = ike_sniff::capture::RawPacket {
            frame: p.frame,
            ts: p.ts,
            caplen: frame.len() as u32,
            origlen: p.origlen - (p.data.len() - ip.len()) as u32 + 14,
            linktype: 1,
            data: &frame,
        };
        out.write(&raw).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}
