//! Issue 16: `--metrics`. The snapshot against the tunnel table the reports print (offline,
//! every machine); the alert rules through `promtool check rules` (where promtool is); and a
//! real Prometheus scraping `ike-sniff -i` on a veth pair while a lab capture is replayed,
//! queried through its HTTP API (root, tcpreplay and prometheus needed; skipped otherwise).

#[path = "live/lab.rs"]
mod lab;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ike_sniff::app::Pipeline;
use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use ike_sniff::event::Timestamp;
use ike_sniff::report::OutputOptions;
use ike_sniff::report::metrics::{Published, Snapshot};
use lab::{Lab, Sniffer, capture, offline_json, skip_if_unavailable};
use nix::sys::signal::Signal;
use serde_json::Value;

fn snapshot_of(rel: &str, max_tunnels: usize) -> Snapshot {
    let mut src = FileSource::open(capture(rel).to_str().unwrap()).unwrap();
    let mut sink = std::io::sink();
    let opts = OutputOptions {
        quiet: true,
        ..OutputOptions::default()
    };
    let mut p = Pipeline::new(rel, opts, &mut sink).unwrap();
    let mut last = Timestamp::default();
    while let Some(raw) = src.next_packet().unwrap() {
        last = raw.ts;
        p.packet(&raw).unwrap();
    }
    p.metrics_snapshot(None, max_tunnels, last)
}

fn encoded(s: Snapshot, now: Timestamp) -> String {
    let p = Published::default();
    p.publish(s);
    p.encode(now).unwrap()
}

/// The value of the sample `series` (name and labels exactly as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_snapshot_says_what_the_tunnel_table_says() {
    let rel = "lab/pcaps/healthy_ikev2.pcap";
    let tunnels: Vec<Value> = offline_json(&capture(rel), &[])
        .into_iter()
        .filter(|v| v["type"] == "tunnel")
        .collect();
    assert_eq!(tunnels.len(), 1);
    let t = &tunnels[0];
    let s = snapshot_of(rel, 500);
    assert_eq!(s.tunnels.len(), 1);
    let m = &s.tunnels[0];
    let peers = [
        t["peers"][0].as_str().unwrap(),
        t["peers"][1].as_str().unwrap(),
    ];
    assert_eq!(m.tunnel, format!("{}<->{}", peers[0], peers[1]));
    assert_eq!(m.state, t["state"].as_str().unwrap());
    assert_eq!(m.up, 1);
    assert!(m.ike_sas >= 1 && m.child_sas >= 1, "{m:?}");
    for side in 0..2 {
        assert_eq!(
            m.esp_packets[side],
            t["esp_packets"][side].as_u64().unwrap()
        );
        assert_eq!(m.esp_bytes[side], t["esp_bytes"][side].as_u64().unwrap());
    }
    assert_eq!(
        m.rtt_count,
        t["ike_response_time"]["samples"].as_u64().unwrap()
    );
    assert_eq!(m.rtt_buckets.iter().sum::<u64>(), m.rtt_count);

    let last = m.last_data[0].unwrap();
    let text = encoded(s.clone(), Timestamp::new(last.secs + 10, last.nanos));
    let tl = format!("tunnel=\"{}\"", m.tunnel);
    let esp = format!(
        "ike_sniff_tunnel_esp_packets_total{{{tl},from=\"{}\"}}",
        peers[0]
    );
    assert_eq!(sample(&text, &esp), Some(m.esp_packets[0] as f64), "{text}");
    assert_eq!(
        sample(
            &text,
            &format!("ike_sniff_tunnel_state{{{tl},state=\"established\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                "ike_sniff_tunnel_data_idle_seconds{{{tl},from=\"{}\"}}",
                peers[0]
            )
        ),
        Some(10.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("ike_sniff_tunnel_ike_response_seconds_bucket{{le=\"+Inf\",{tl}}}")
        ),
        Some(m.rtt_count as f64),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
}

/// Past `--metrics-max-tunnels`, tunnels are summed under `tunnel="other"`, and the counts add
/// up to the named ones'.
#[test]
fn tunnels_past_the_cap_are_summed_as_other() {
    let rel = "lab/pcaps/healthy_ikev2.pcap";
    let named = snapshot_of(rel, 500);
    let capped = snapshot_of(rel, 0);
    assert!(capped.tunnels.is_empty());
    let o = capped.other.clone().expect("other");
    assert_eq!(o.tunnel, "other");
    assert_eq!(o.tunnels, 1);
    let t = &named.tunnels[0];
    assert_eq!(o.esp_packets[0], t.esp_packets[0] + t.esp_packets[1]);
    assert_eq!(o.up, t.up);
    let text = encoded(capped, Timestamp::default());
    assert_eq!(
        sample(
            &text,
            "ike_sniff_tunnel_esp_packets_total{tunnel=\"other\",from=\"other\"}"
        ),
        Some(o.esp_packets[0] as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ike_sniff_tunnels_exported{as=\"other\"}"),
        Some(1.0)
    );
    assert!(!text.contains("ike_sniff_tunnel_state{"), "{text}");
}

/// A finding raised and then cleared in the same file: raised and cleared totals, none active.
#[test]
fn finding_lifecycle_counts() {
    let s = snapshot_of("lab/pcaps/responder_restart.pcap", 500);
    let count = |v: &[(&str, ike_sniff::diagnose::Severity, u64)], kind: &str| {
        v.iter().filter(|x| x.0 == kind).map(|x| x.2).sum::<u64>()
    };
    for kind in ["esp_one_way", "dead_peer"] {
        assert_eq!(
            count(&s.findings.raised, kind),
            1,
            "{kind}: {:?}",
            s.findings
        );
        assert_eq!(
            count(&s.findings.cleared, kind),
            1,
            "{kind}: {:?}",
            s.findings
        );
        assert_eq!(
            count(&s.findings.active, kind),
            0,
            "{kind}: {:?}",
            s.findings
        );
    }
}

#[test]
fn label_values_are_neutralised() {
    assert_eq!(
        ike_sniff::report::metrics::label_value("a\u{1b}[31mb\u{7f}\u{0}"),
        "a?[31mb??"
    );
}

/// `promtool check rules docs/alerts.yml`, where promtool is installed.
#[test]
fn alert_rules_pass_promtool() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/alerts.yml");
    let out = match Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIPPED: alert_rules_pass_promtool: promtool: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- A real Prometheus ---

/// Runs `f` on a thread that has entered network namespace `ns` (setns affects the calling
/// thread only), so its sockets reach that namespace's loopback.
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

/// A GET on 127.0.0.1:`port` inside `ns`: (status line, body).
fn http_get(ns: &str, port: u16, path: &str) -> Result<(String, String), String> {
    let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    in_netns(ns, move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no head")?;
        Ok((
            head.lines().next().unwrap_or_default().to_string(),
            body.to_string(),
        ))
    })
}

/// Percent-encodes a PromQL expression for a query string.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/api/v1/query`: the result vector as (labels, value).
fn query(ns: &str, port: u16, expr: &str) -> Vec<(Value, f64)> {
    let (status, body) = http_get(
        ns,
        port,
        &format!("/api/v1/query?query={}", urlencode(expr)),
    )
    .unwrap_or_else(|e| panic!("query {expr}: {e}"));
    assert!(status.contains("200"), "{expr}: {status} {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{expr}: {body}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"].clone(),
                r["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn one(ns: &str, port: u16, expr: &str) -> f64 {
    let r = query(ns, port, expr);
    assert_eq!(r.len(), 1, "{expr}: {r:?}");
    r[0].1
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus_missing() -> Option<String> {
    match Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => None,
        _ => Some("prometheus is not installed (Debian: apt-get install prometheus)".into()),
    }
}

/// The lab's responder restart, replayed in real time (30 s) into `ike-sniff -i --metrics`,
/// scraped every second by Debian's Prometheus (in the same namespace, on its loopback, with
/// docs/alerts.yml loaded). Prometheus then says: the tunnel is up again, its ESP counters are
/// the ones `ike-sniff -r` counts in the same packets, and the esp_one_way and dead_peer series
/// went to 1 and back to 0, with one clearing each.
#[test]
fn prometheus_scrapes_a_live_run() {
    let rel = "lab/pcaps/responder_restart.pcap";
    if skip_if_unavailable("prometheus_scrapes_a_live_run") {
        return;
    }
    if let Some(why) = prometheus_missing() {
        eprintln!("SKIPPED: prometheus_scrapes_a_live_run: {why}");
        return;
    }
    let started = Instant::now();
    let lab = Lab::named("ism", "ism").expect("namespaces");
    let ns = lab.ns_b.clone();
    Command::new("ip")
        .args(["-n", &ns, "link", "set", "lo", "up"])
        .status()
        .expect("lo up");
    let (file, _) = lab.prepare(&capture(rel), None).expect("prepare");
    let offline = offline_json(&file, &[]);
    let tunnel = offline
        .iter()
        .find(|v| v["type"] == "tunnel")
        .expect("tunnel line");
    let peers = [
        tunnel["peers"][0].as_str().unwrap().to_string(),
        tunnel["peers"][1].as_str().unwrap().to_string(),
    ];
    let label = format!("{}<->{}", peers[0], peers[1]);

    let (sniff_port, prom_port) = (9899u16, 9090u16);
    let mut sniffer = Sniffer::start(
        &lab,
        &[
            "--json",
            "--stats-interval",
            "0",
            "--metrics",
            &format!("127.0.0.1:{sniff_port}"),
        ],
    )
    .expect("start ike-sniff");

    let dir = lab.dir.join("prometheus");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/alerts.yml");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: ike-sniff\n    static_configs:\n      - targets: ['127.0.0.1:{sniff_port}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prom = Prometheus(
        lab.exec(&ns, "prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if http_get(&ns, prom_port, "/-/ready").is_ok_and(|(s, _)| s.contains("200")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    lab.replay(&file, 1.0).expect("tcpreplay");
    // Two scrapes after the last packet and the clearing it brings.
    std::thread::sleep(Duration::from_secs(3));

    let up = query(&ns, prom_port, "up{job=\"ike-sniff\"}");
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].1, 1.0, "the target is scraped");
    let tl = format!("tunnel=\"{label}\"");
    assert_eq!(
        one(&ns, prom_port, &format!("ike_sniff_tunnel_up{{{tl}}}")),
        1.0,
        "the tunnel is up again at the end"
    );
    assert_eq!(
        one(
            &ns,
            prom_port,
            &format!("max_over_time(ike_sniff_tunnel_state{{{tl},state=\"established\"}}[5m])")
        ),
        1.0
    );
    for (side, from) in peers.iter().enumerate() {
        let want = tunnel["esp_packets"][side].as_u64().unwrap() as f64;
        let got = one(
            &ns,
            prom_port,
            &format!("ike_sniff_tunnel_esp_packets_total{{{tl},from=\"{from}\"}}"),
        );
        assert_eq!(got, want, "ESP packets from {from}");
        let bytes = tunnel["esp_bytes"][side].as_u64().unwrap() as f64;
        let got = one(
            &ns,
            prom_port,
            &format!("ike_sniff_tunnel_esp_bytes_total{{{tl},from=\"{from}\"}}"),
        );
        assert_eq!(got, bytes, "ESP bytes from {from}");
    }
    for kind in ["esp_one_way", "dead_peer"] {
        let k = format!("kind=\"{kind}\"");
        assert_eq!(
            one(
                &ns,
                prom_port,
                &format!("max_over_time(ike_sniff_findings_active{{{k}}}[5m])")
            ),
            1.0,
            "{kind} was active while the replay ran"
        );
        assert_eq!(
            one(&ns, prom_port, &format!("ike_sniff_findings_active{{{k}}}")),
            0.0,
            "{kind} is active no more"
        );
        assert_eq!(
            one(
                &ns,
                prom_port,
                &format!("ike_sniff_findings_cleared_total{{{k}}}")
            ),
            1.0,
            "{kind} cleared once"
        );
        assert_eq!(
            one(
                &ns,
                prom_port,
                &format!("ike_sniff_findings_raised_total{{{k}}}")
            ),
            1.0,
            "{kind} raised once"
        );
    }
    assert_eq!(
        one(
            &ns,
            prom_port,
            "ike_sniff_capture_dropped_total{by=\"kernel\"}"
        ),
        0.0
    );
    // The example rules loaded in a real Prometheus, not only past promtool.
    let (_, rules_body) = http_get(&ns, prom_port, "/api/v1/rules").unwrap();
    let rules: Value = serde_json::from_str(&rules_body).unwrap();
    let groups = rules["data"]["groups"].as_array().unwrap();
    let mut names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["ike-sniff-self", "ike-sniff-tunnels"],
        "{rules_body}"
    );
    for r in groups.iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        assert_eq!(r["health"], "ok", "{r}");
    }

    sniffer.signal(Signal::SIGINT);
    assert_eq!(sniffer.wait(Duration::from_secs(10)).expect("stops"), 0);
    let elapsed = started.elapsed();
    eprintln!("prometheus_scrapes_a_live_run: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}
