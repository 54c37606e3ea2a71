//! End to end: captures replayed with tcpreplay through a veth pair between two network
//! namespaces, read live by `ike-sniff -i`. The live run must say what `ike-sniff -r` says about
//! the same packets (events, summary, findings), number frames 1.. as received, count every
//! packet and drop none, print as packets arrive, and stop cleanly on SIGINT.
//!
//! Root only (CI runs as root); elsewhere each test prints `SKIPPED: …` and returns.

#[path = "support/hostile.rs"]
mod hostile;
#[path = "live/lab.rs"]
mod lab;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use lab::{Lab, Sniffer, capture, offline_json, skip_if_unavailable, without_times};
use nix::sys::signal::Signal;
use serde_json::Value;

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == t).collect()
}

/// Findings and tunnels (anything that is not a packet, meta, summary or capture line), keyed by
/// type, kind, peers and frames, counted. Timing details may differ in a replay, so they are
/// left out.
fn other_lines(lines: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in lines {
        let t = v["type"].as_str().unwrap_or("?");
        if ["packet", "meta", "summary", "capture"].contains(&t) {
            continue;
        }
        let id = ["kind", "id", "rule"]
            .iter()
            .find_map(|k| v[*k].as_str())
            .unwrap_or("");
        // Findings also name their peers and the frames that support them; frames match
        // because the replayed file holds only packets the kernel filter keeps.
        let key = format!("{t}:{id} peers {} frames {}", v["peers"], v["frames"]);
        *m.entry(key).or_insert(0) += 1;
    }
    m
}

/// Replays `rel` (narrowed by `expression` if given) and checks the live run against the
/// offline run of the same packets. Returns the live lines.
fn scenario(rel: &str, expression: &[&str], extra_args: &[&str]) -> Option<Vec<Value>> {
    if skip_if_unavailable(rel) {
        return None;
    }
    let lab = Lab::new().expect("namespaces");
    let expr = (!expression.is_empty()).then(|| expression.join(" "));
    let (file, kept) = lab
        .prepare(&capture(rel), expr.as_deref())
        .expect("prepare");
    assert!(kept > 0, "{rel}: nothing to replay");
    let reference = offline_json(&file, &[]);

    let mut args = vec!["--json", "--stats-interval", "0"];
    args.extend_from_slice(extra_args);
    args.extend_from_slice(expression);
    let mut sniffer = Sniffer::start(&lab, &args).expect("start");
    let replay_start = Instant::now();
    lab.replay(&file, 1.0).expect("tcpreplay");
    // Packets reach the reader within the block timeout (200 ms); give it more.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        sniffer.collect();
        let packets = sniffer
            .stdout_lines
            .iter()
            .filter(|(_, l)| l.contains("\"type\":\"packet\""))
            .count();
        if packets >= of_type(&reference, "packet").len() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let before_signal = Instant::now();
    sniffer.signal(Signal::SIGINT);
    let code = sniffer
        .wait(Duration::from_secs(10))
        .expect("stops on SIGINT");
    assert_eq!(code, 0, "exit status; stderr: {:?}", sniffer.stderr_lines);
    let live = sniffer.json();

    // Streamed: the packet lines were on standard output before the signal.
    let streamed = sniffer
        .stdout_lines
        .iter()
        .filter(|(at, l)| l.contains("\"type\":\"packet\"") && *at < before_signal)
        .count();
    assert_eq!(
        streamed,
        of_type(&reference, "packet").len(),
        "{rel}: packet lines printed before SIGINT (replay took {:?})",
        before_signal - replay_start
    );

    // Same packet events, frame numbers included (the file holds only kept packets).
    let live_packets: Vec<Value> = of_type(&live, "packet")
        .into_iter()
        .map(without_times)
        .collect();
    let ref_packets: Vec<Value> = of_type(&reference, "packet")
        .into_iter()
        .map(without_times)
        .collect();
    assert_eq!(
        live_packets.len(),
        ref_packets.len(),
        "{rel}: packet events"
    );
    for (l, r) in live_packets.iter().zip(&ref_packets) {
        assert_eq!(l, r, "{rel}: live vs offline");
    }
    // Frames are numbered 1.. as received.
    let frames: Vec<u64> = live_packets
        .iter()
        .filter_map(|v| v["frame"].as_u64())
        .collect();
    assert!(frames.windows(2).all(|w| w[0] <= w[1]), "{frames:?}");
    assert!(frames.iter().all(|&f| f >= 1 && f <= kept), "{frames:?}");

    // Same summary, apart from the source name.
    let strip = |v: &Value| {
        let mut v = without_times(v);
        v.as_object_mut().unwrap().remove("source");
        v
    };
    let live_summary = of_type(&live, "summary");
    let ref_summary = of_type(&reference, "summary");
    assert_eq!(live_summary.len(), 1, "{rel}: one final summary");
    assert_eq!(
        strip(live_summary[0]),
        strip(ref_summary[0]),
        "{rel}: summary"
    );

    // Findings and other reports: the same ones.
    assert_eq!(
        other_lines(&live),
        other_lines(&reference),
        "{rel}: findings"
    );

    // Capture counters: every kept packet received, none dropped.
    let cap = of_type(&live, "capture");
    assert_eq!(cap.len(), 1, "{rel}: one capture line");
    let cap = cap[0];
    assert_eq!(cap["final"], true);
    assert_eq!(cap["packets"].as_u64(), Some(kept), "{rel}: {cap}");
    assert!(cap["received"].as_u64().unwrap() >= kept, "{rel}: {cap}");
    assert_eq!(cap["dropped_kernel"].as_u64(), Some(0), "{rel}: {cap}");
    eprintln!("{rel}: {kept} packets replayed and analysed live; {cap}");
    Some(live)
}

/// The live run reported a finding of this kind.
fn has_finding(live: &[Value], kind: &str) -> bool {
    of_type(live, "finding").iter().any(|f| f["kind"] == kind)
}

fn scenario_with_findings(rel: &str, kinds: &[&str]) -> Option<Vec<Value>> {
    let live = scenario(rel, &[], &[])?;
    for k in kinds {
        assert!(
            has_finding(&live, k),
            "{rel}: no {k} finding live: {live:?}"
        );
    }
    Some(live)
}

#[test]
fn live_ikev2_no_proposal_chosen_after_redirect() {
    scenario_with_findings(
        "public/scapy/ikev2_notify_redirect.pcap",
        &["ike_redirect", "ike_proposal_mismatch"],
    );
}

#[test]
fn live_ikev1_no_proposal_chosen() {
    scenario_with_findings(
        "public/zeek-spicy-ipsec/ipsec.cap",
        &["ike_proposal_mismatch"],
    );
}

#[test]
fn live_nat_t_with_esp_in_udp() {
    let Some(live) = scenario_with_findings("public/scapy/ikev2_nat_t.pcapng", &["nat_detected"])
    else {
        return;
    };
    assert!(
        live.iter()
            .any(|v| v["esp"]["udp_encapsulated"] == true || v["dport"] == 4500)
    );
}

#[test]
fn live_fragmented_ike_auth() {
    let Some(live) = scenario_with_findings(
        "public/zeek-spicy-ipsec/ipsec_client.pcap",
        &["ike_ip_fragmented", "ike_fragments_lost"],
    ) else {
        return;
    };
    assert!(live.iter().any(|v| v.get("ip_reassembled").is_some()));
}

#[test]
fn live_ikev2_psk_mismatch() {
    scenario_with_findings("lab/pcaps/psk_mismatch_ikev2.pcap", &["auth_failed"]);
}

#[test]
fn live_icmp_fragmentation_needed_for_esp() {
    scenario_with_findings("lab/pcaps/esp_df_frag_needed.pcap", &["icmp_frag_needed"]);
}

#[test]
fn live_healthy_ikev2_over_ipv6() {
    let Some(live) = scenario("lab/pcaps/healthy_ikev2_ipv6.pcap", &[], &[]) else {
        return;
    };
    assert!(
        of_type(&live, "packet")
            .iter()
            .any(|p| p["src"].as_str().is_some_and(|a| a.contains(':')))
    );
}

#[test]
fn live_null_link_capture_converted_for_replay() {
    // A BSD loopback (NULL) capture: tcprewrite gives it an Ethernet header for tcpreplay.
    scenario(
        "public/openswan/libpluto/lp06-msg1nopropchosen/parentI1.pcap",
        &[],
        &[],
    );
}

#[test]
fn live_filter_expression_narrows_the_capture() {
    let Some(live) = scenario(
        "public/scapy/ikev2_notify_redirect.pcap",
        &["host", "10.5.2.53"],
        &[],
    ) else {
        return;
    };
    let packets = of_type(&live, "packet");
    assert_eq!(packets.len(), 2);
    assert!(
        packets
            .iter()
            .all(|p| p["src"] == "10.5.2.53" || p["dst"] == "10.5.2.53")
    );
}

/// `-w` writes what was captured; `ike-sniff -r` of that file says exactly what the live run
/// said, frame numbers and timestamps included.
#[test]
fn live_write_file_matches_the_live_report() {
    if skip_if_unavailable("live_write_file_matches_the_live_report") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let (file, kept) = lab
        .prepare(&capture("public/zeek-spicy-ipsec/ipsec_client.pcap"), None)
        .unwrap();
    let out = lab.dir.join("written.pcap");
    let out_s = out.to_str().unwrap().to_string();
    let mut sniffer =
        Sniffer::start(&lab, &["--json", "--stats-interval", "0", "-w", &out_s]).unwrap();
    lab.replay(&file, 1.0).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    sniffer.signal(Signal::SIGTERM);
    assert_eq!(sniffer.wait(Duration::from_secs(10)).unwrap(), 0);
    let live = sniffer.json();
    assert_eq!(lab::count_packets(&out).unwrap(), kept);
    // Handed to the unprivileged user.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&out).unwrap();
    assert_ne!(meta.uid(), 0, "the -w file belongs to the -Z user");
    let from_file = offline_json(Path::new(&out), &[]);
    let body = |lines: &[Value]| -> Vec<Value> {
        lines
            .iter()
            .filter(|v| v["type"] != "meta" && v["type"] != "capture")
            .map(|v| {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("source");
                }
                v
            })
            .collect()
    };
    assert_eq!(body(&live), body(&from_file));
}

/// `-c` stops by itself after COUNT packets.
#[test]
fn live_count_stops_by_itself() {
    if skip_if_unavailable("live_count_stops_by_itself") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let (file, _) = lab
        .prepare(&capture("public/scapy/ikev2_notify_redirect.pcap"), None)
        .unwrap();
    let mut sniffer = Sniffer::start(&lab, &["--json", "-c", "2"]).unwrap();
    lab.replay(&file, 1.0).unwrap();
    assert_eq!(sniffer.wait(Duration::from_secs(10)).unwrap(), 0);
    let live = sniffer.json();
    assert_eq!(of_type(&live, "packet").len(), 2);
    assert_eq!(of_type(&live, "capture")[0]["packets"], 2);
}

/// Text output: packet lines appear while the capture runs, and the final summary and counters
/// follow SIGINT.
#[test]
fn live_text_output_streams() {
    if skip_if_unavailable("live_text_output_streams") {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let (file, _) = lab
        .prepare(&capture("public/scapy/ikev2_notify_redirect.pcap"), None)
        .unwrap();
    let mut sniffer = Sniffer::start(&lab, &[]).unwrap();
    lab.replay(&file, 1.0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        sniffer.collect();
        if sniffer
            .stdout_lines
            .iter()
            .filter(|(_, l)| l.contains(" IKEv2 "))
            .count()
            >= 4
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen_before = sniffer
        .stdout_lines
        .iter()
        .filter(|(_, l)| is_ike_line(l))
        .count();
    assert_eq!(seen_before, 4, "{:?}", sniffer.stdout_lines);
    // The finding printed the moment the response arrived, not at the end.
    assert!(
        sniffer
            .stdout_lines
            .iter()
            .any(|(_, l)| l.contains("[ike_proposal_mismatch]")),
        "{:?}",
        sniffer.stdout_lines
    );
    sniffer.signal(Signal::SIGINT);
    assert_eq!(sniffer.wait(Duration::from_secs(10)).unwrap(), 0);
    let text: Vec<&str> = sniffer
        .stdout_lines
        .iter()
        .map(|(_, l)| l.as_str())
        .collect();
    assert!(text.iter().any(|l| l.starts_with("== Summary")), "{text:?}");
    assert!(
        text.iter().any(|l| l.starts_with("capture on ")
            && l.contains("4 packets analysed")
            && l.contains(" 0 dropped")),
        "{text:?}"
    );
}

/// A packet line of the text output (`HH:MM:SS.micros src > dst IKEv2 …`).
fn is_ike_line(l: &str) -> bool {
    l.as_bytes().first().is_some_and(u8::is_ascii_digit) && l.contains(" IKEv2 ")
}

/// Lines of `kind` (by `type`), with when each arrived.
fn arrived(s: &Sniffer, t: &str, kind: &str) -> Vec<(Instant, Value)> {
    s.stdout_lines
        .iter()
        .filter_map(|(at, l)| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["type"] == t && v["kind"] == kind).then_some((*at, v))
        })
        .collect()
}

/// The lab's responder restart, replayed in real time: ESP stops one way and the DPD goes
/// unanswered, then the responder comes back on a new IKE SA and ESP flows both ways again. A
/// watcher sees both problems start and stop while ike-sniff runs: each finding, then its
/// `finding_cleared` under the same id, all before the replay is over.
#[test]
fn live_findings_start_and_stop_while_running() {
    let rel = "lab/pcaps/responder_restart.pcap";
    if skip_if_unavailable(rel) {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let (file, _) = lab.prepare(&capture(rel), None).expect("prepare");
    let mut sniffer = Sniffer::start(&lab, &["--json", "--stats-interval", "0"]).expect("start");
    let started = Instant::now();
    lab.replay(&file, 1.0).expect("tcpreplay");
    let replayed = Instant::now();
    std::thread::sleep(Duration::from_millis(800));
    sniffer.collect();
    for kind in ["esp_one_way", "dead_peer"] {
        let raised = arrived(&sniffer, "finding", kind);
        let cleared = arrived(&sniffer, "finding_cleared", kind);
        assert!(!raised.is_empty(), "{kind} not raised live");
        assert_eq!(cleared.len(), 1, "{kind}: {cleared:?}");
        let (r_at, r) = &raised[0];
        let (c_at, c) = &cleared[0];
        assert_eq!(r["id"], c["id"], "{kind}: cleared under the raised id");
        assert!(
            r_at < c_at && *c_at < replayed,
            "{kind}: raised {:?} and cleared {:?} after the start, replay over at {:?}",
            *r_at - started,
            *c_at - started,
            replayed - started
        );
        assert!(c["reason"].as_str().is_some_and(|r| !r.is_empty()), "{c}");
        assert!(c["frame"].as_u64().is_some(), "{c}");
    }
    // The one-way stop was said within seconds of becoming one (5 s of unanswered ESP from
    // 1.7 s into the capture), long before the ESP came back at 26.5 s.
    let (r_at, _) = &arrived(&sniffer, "finding", "esp_one_way")[0];
    assert!(
        *r_at - started < Duration::from_secs(15),
        "{:?}",
        *r_at - started
    );
    sniffer.signal(Signal::SIGINT);
    assert_eq!(sniffer.wait(Duration::from_secs(10)).expect("stops"), 0);
}

/// A refused Child SA (the lab's ESP proposal mismatch, 8 s of packets) is reported by the
/// clock, 30 s after IKE_AUTH with no ESP, while the interface is quiet and ike-sniff runs on.
#[test]
fn live_refused_child_sa_is_said_by_the_clock() {
    let rel = "lab/pcaps/child_proposal_mismatch.pcap";
    if skip_if_unavailable(rel) {
        return;
    }
    let lab = Lab::new().expect("namespaces");
    let (file, _) = lab.prepare(&capture(rel), None).expect("prepare");
    let mut sniffer = Sniffer::start(&lab, &["--json", "--stats-interval", "0"]).expect("start");
    let started = Instant::now();
    lab.replay(&file, 1.0).expect("tcpreplay");
    let replayed = Instant::now();
    let deadline = started + Duration::from_secs(45);
    let found = loop {
        sniffer.collect();
        if let Some(f) = arrived(&sniffer, "finding", "child_sa_refused")
            .into_iter()
            .next()
        {
            break Some(f);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (at, f) = found.expect("child_sa_refused said while running");
    assert!(at > replayed, "said after the last packet, by the clock");
    assert!(
        at - started >= Duration::from_secs(29),
        "{:?}",
        at - started
    );
    assert!(
        f["summary"].as_str().unwrap().contains("no ESP flowed"),
        "{f}"
    );
    sniffer.signal(Signal::SIGINT);
    assert_eq!(sniffer.wait(Duration::from_secs(10)).expect("stops"), 0);
    // Not said a second time at the end.
    let live = sniffer.json();
    let n = of_type(&live, "finding")
        .iter()
        .filter(|v| v["kind"] == "child_sa_refused" && v["update"] != true)
        .count();
    assert_eq!(n, 1);
}

/// Strings a peer chooses reach the live output escaped, as from a file (issue 13): an IKEv1
/// ID with terminal escapes, C1, bidi and invalid UTF-8, and REDIRECT gateway names with a
/// newline and a forged finding line, in `-v` text and `-v --json`, stdout and stderr.
#[test]
fn live_hostile_strings_are_escaped() {
    let test = "live_hostile_strings_are_escaped";
    if skip_if_unavailable(test) {
        return;
    }
    let path = hostile::hostile_capture("live");
    let lab = Lab::new().expect("namespaces");
    let (file, kept) = lab.prepare(&path, None).expect("prepare");
    assert_eq!(kept, 3);
    for json in [false, true] {
        let mut args = vec!["-v", "--stats-interval", "0"];
        if json {
            args.push("--json");
        }
        let mut sniffer = Sniffer::start(&lab, &args).expect("start");
        lab.replay(&file, 1.0).expect("tcpreplay");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            sniffer.collect();
            let redirects = sniffer
                .stdout_lines
                .iter()
                .filter(|(_, l)| l.contains("N(REDIRECT)"))
                .count();
            if redirects >= 2 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        sniffer.signal(Signal::SIGINT);
        let code = sniffer
            .wait(Duration::from_secs(10))
            .expect("stops on SIGINT");
        assert_eq!(code, 0, "stderr: {:?}", sniffer.stderr_lines);
        let stdout: Vec<&str> = sniffer
            .stdout_lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect();
        for line in stdout
            .iter()
            .copied()
            .chain(sniffer.stderr_lines.iter().map(String::as_str))
        {
            assert!(
                !line
                    .chars()
                    .any(|c| hostile::dangerous(c) || c == '\u{fffd}'),
                "json {json}: raw control, bidi or invalid byte: {line:?}"
            );
            assert!(
                !line.trim_start().starts_with("ERROR [auth_failed] forged"),
                "json {json}: forged finding line: {line}"
            );
        }
        let all = stdout.join("\n");
        let (gw, id) = if json {
            (
                r"gw.example\\x0aERROR [auth_failed] forged finding (observed)\\x0d\\x0a",
                r"vpn\\x1b]0;owned\\x07\\x1b[2J\\u{009b}31m\\u{202e}evil\\xff\\xfe.example",
            )
        } else {
            (
                r"gw.example\x0aERROR [auth_failed] forged finding (observed)\x0d\x0a",
                r"vpn\x1b]0;owned\x07\x1b[2J\u{009b}31m\u{202e}evil\xff\xfe.example",
            )
        };
        assert!(all.contains(gw), "json {json}: no escaped gateway:\n{all}");
        assert!(all.contains(id), "json {json}: no escaped ID:\n{all}");
        if json {
            assert!(sniffer.json().iter().all(Value::is_object));
        }
    }
    std::fs::remove_file(&path).unwrap();
}
