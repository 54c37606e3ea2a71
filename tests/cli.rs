//! The command line as an operator meets it: exit statuses, error messages that name the file and
//! frame, standard input, and output that survives broken input.

use std::io::Write;
use std::process::{Command, Stdio};

/// The binary in UTC, so text output is the same on every machine (packet lines are in local
/// time, as tcpdump's).
fn ike_sniff() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ike-sniff"));
    c.env("TZ", "UTC");
    c
}

/// Frame numbers of the packet lines of a `--json` run (every packet with `-v`).
fn json_frames(stdout: &[u8]) -> Vec<u64> {
    let mut frames: Vec<u64> = String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "packet")
        .filter_map(|v| v["frame"].as_u64())
        .collect();
    frames.dedup();
    frames
}

fn capture(rel: &str) -> String {
    format!("{}/captures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_truncated_file_still_reports_and_exits_1() {
    let whole = std::fs::read(capture("public/tcpdump/isakmp4500.pcap")).unwrap();
    let dir = std::env::temp_dir().join(format!("ike-sniff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &whole[..3000]).unwrap();
    let out = ike_sniff().arg("-r").arg(&cut).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // What was read before the cut is still decoded and summarised.
    let packet_lines = stdout
        .lines()
        .filter(|l| l.starts_with("00:00:00") && l.contains(" IKEv1 "))
        .count();
    assert_eq!(packet_lines, 7, "{stdout}");
    assert!(stdout.contains("input not read to the end"), "{stdout}");
    assert!(
        stderr.contains("cut.pcap: frame 10: truncated record"),
        "{stderr}"
    );
}

#[test]
fn standard_input_is_read_with_dash() {
    let bytes = std::fs::read(capture("public/tcpdump/ikev2four.pcap")).unwrap();
    let mut child = ike_sniff()
        .args(["-r", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let ike_lines = text.lines().filter(|l| l.contains("\"ike\":{")).count();
    assert_eq!(ike_lines, 21);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["type"].is_string());
    }
}

#[test]
fn not_a_capture_is_a_clear_error() {
    let out = ike_sniff()
        .args(["-r", &format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cargo.toml"), "{stderr}");
    assert!(stderr.contains("not a pcap or pcapng capture"), "{stderr}");
}

#[test]
fn a_malformed_packet_is_named_and_the_run_goes_on() {
    let out = ike_sniff()
        .args([
            "-r",
            &capture("public/zeek-spicy-ipsec/ipsec-ikev1-payload-bad-length.pcap"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ipsec-ikev1-payload-bad-length.pcap: frame 1: IKEv1 payload at offset 0x58: length 3 < 4"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("== Summary"));
}

#[test]
fn count_stops_early_and_tcpdump_style_lines_come_out() {
    let out = ike_sniff()
        .args(["-r", &capture("public/tcpdump/ikev2four.pcap"), "-c", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" IKEv2 IKE_")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "12:21:24.386989 192.168.1.2:500 > 192.168.1.1:500 IKEv2 IKE_SA_INIT request mid 0 spi a88875a8198992a6/0000000000000000 [SA KE Ni N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP)] len 376"
    );
    assert!(lines[1].contains("IKE_SA_INIT response mid 0") && lines[1].contains("N(COOKIE)"));
}

#[test]
fn every_public_capture_runs_clean() {
    // No panic, no abort, a summary for every file, including tcpdump's fuzz captures.
    let root = format!("{}/captures/public", env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![std::path::PathBuf::from(root)];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.to_string_lossy();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")) {
                continue;
            }
            let out = ike_sniff().arg("-r").arg(&p).arg("-v").output().unwrap();
            assert!(
                matches!(out.status.code(), Some(0) | Some(1)),
                "{name}: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("== Summary"),
                "{name}"
            );
            n += 1;
        }
    }
    assert!(n > 150);
}

#[test]
fn two_threads_give_the_same_output_as_one() {
    // The decode/analysis split must not change a byte: same packets, findings, tunnels and
    // summary in the same order, text and JSON.
    let mut n = 0;
    for dir in [
        "lab/pcaps",
        "public/ndpi",
        "public/zeek-spicy-ipsec",
        "public/tcpdump",
    ] {
        for e in std::fs::read_dir(capture(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.to_string_lossy().to_string();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")) {
                continue;
            }
            for fmt in [None, Some("--json"), Some("-v")] {
                let run = |threads: &str| {
                    let mut c = ike_sniff();
                    c.args(["-r", &name, "--threads", threads]);
                    if let Some(f) = fmt {
                        c.arg(f);
                    }
                    let out = c.output().unwrap();
                    (out.status.code(), out.stdout)
                };
                assert!(run("1") == run("2"), "{name} {fmt:?}: outputs differ");
            }
            n += 1;
        }
    }
    assert!(n > 50);
}

/// Issue 14: tcpdump's `-t` family and local time. Each ike-sniff packet line starts with the
/// frame number and then exactly the timestamp `tcpdump -#nr` prints for that record, in a zone
/// that is not UTC and in UTC. Every packet of ikev2four.pcap is IKE, so `-ttt` (time since the
/// previous line) lines up too.
#[test]
fn packet_lines_line_up_with_tcpdump() {
    if Command::new("tcpdump").arg("--version").output().is_err() {
        panic!("tcpdump is needed (.ci/run installs it)");
    }
    let cases = [
        (
            "public/tcpdump/ikev2four.pcap",
            &["", "-t", "-tt", "-ttt", "-tttt", "-ttttt"][..],
        ),
        (
            "public/tcpdump/isakmp4500.pcap",
            &["", "-tt", "-tttt", "-ttttt"],
        ),
        ("lab/pcaps/healthy_ikev2.pcap", &["", "-tttt"]),
    ];
    for tz in ["America/New_York", "UTC"] {
        for (rel, flags) in cases {
            for flag in flags {
                let mut tcpdump = Command::new("tcpdump");
                tcpdump.env("TZ", tz).args(["-#nr", &capture(rel)]);
                let mut ours = ike_sniff();
                ours.env("TZ", tz).args(["-#", "-r", &capture(rel)]);
                if !flag.is_empty() {
                    tcpdump.arg(flag);
                    ours.arg(flag);
                }
                let theirs = tcpdump.output().unwrap();
                assert!(theirs.status.success(), "tcpdump {rel} {flag}");
                let stamps: Vec<String> = String::from_utf8_lossy(&theirs.stdout)
                    .lines()
                    .map(|l| {
                        let (_, rest) = l.trim_start().split_once("  ").unwrap();
                        // The stamp is what comes before the protocol's name (IP, ARP…).
                        let end = rest.find(|c: char| c.is_ascii_alphabetic()).unwrap();
                        rest[..end].to_string()
                    })
                    .collect();
                let ours = ours.output().unwrap();
                let text = String::from_utf8_lossy(&ours.stdout);
                let mut lines = 0;
                for line in text.lines() {
                    let Some((frame, _)) = line.split_once(' ') else {
                        continue;
                    };
                    let Ok(frame) = frame.parse::<usize>() else {
                        continue;
                    };
                    let want = format!("{frame} {}", stamps[frame - 1]);
                    assert!(
                        line.starts_with(&want),
                        "TZ={tz} {rel} {flag}: {line:?} does not start with {want:?}"
                    );
                    lines += 1;
                }
                assert!(lines >= 10, "TZ={tz} {rel} {flag}: {lines} lines");
            }
        }
    }
}

/// `--utc` wins over the local zone; without it the zone is the local one.
#[test]
fn utc_flag_and_local_zone() {
    let run = |tz: &str, utc: bool| {
        let mut c = ike_sniff();
        c.env("TZ", tz)
            .args(["-r", &capture("public/tcpdump/ikev2four.pcap"), "-c", "1"]);
        if utc {
            c.arg("--utc");
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert!(run("Asia/Tokyo", false).starts_with("21:21:24.386989 "));
    assert!(run("Asia/Tokyo", true).starts_with("12:21:24.386989 "));
    assert!(run("UTC", false).starts_with("12:21:24.386989 "));
}

/// tcpdump habits: `-nn`, `-nnn` are accepted; `-c` counts packets that passed the filter, not
/// records read (the lab captures are mostly other traffic).
#[test]
fn tcpdump_habits() {
    let f = capture("lab/pcaps/child_proposal_mismatch.pcap");
    for n in ["-n", "-nn", "-nnn"] {
        let out = ike_sniff().args(["-r", &f, n, "-q"]).output().unwrap();
        assert!(out.status.success(), "{n}");
    }
    let all = ike_sniff()
        .args(["-r", &f, "-v", "--json"])
        .output()
        .unwrap();
    let all = json_frames(&all.stdout);
    assert!(
        all[2] > 3,
        "the first IPsec packets are not the first records: {all:?}"
    );
    let three = ike_sniff()
        .args(["-r", &f, "-v", "--json", "-c", "3"])
        .output()
        .unwrap();
    assert_eq!(json_frames(&three.stdout), all[..3]);
    // With an expression, -c counts what it let through.
    let tcpdump_like = ike_sniff()
        .args([
            "-r",
            &capture("public/tcpdump/ikev2four.pcap"),
            "--json",
            "-c",
            "2",
        ])
        .args(["src", "host", "192.168.1.1"])
        .output()
        .unwrap();
    assert_eq!(json_frames(&tcpdump_like.stdout), [2, 4]);
}

/// Issue 14: `--fail-on` for scripts. 3 when a finding at least that grave was reported, 0
/// otherwise; an input not read to its end is 1 whatever was found; one thread or two alike.
#[test]
fn fail_on_sets_exit_3() {
    let code = |rel: &str, extra: &[&str], threads: &str| {
        ike_sniff()
            .args(["-q", "-r", &capture(rel), "--threads", threads])
            .args(extra)
            .output()
            .unwrap()
            .status
            .code()
    };
    for threads in ["1", "2"] {
        // nat_t: info findings only; ike_udp500_blocked: an error; healthy_ikev2: none.
        for (rel, error, warning, info) in [
            ("lab/pcaps/nat_t.pcap", 0, 0, 3),
            ("lab/pcaps/ike_udp500_blocked.pcap", 3, 3, 3),
            ("lab/pcaps/healthy_ikev2.pcap", 0, 0, 0),
        ] {
            assert_eq!(code(rel, &[], threads), Some(0), "{rel}");
            for (severity, want) in [("error", error), ("warning", warning), ("info", info)] {
                assert_eq!(
                    code(rel, &["--fail-on", severity], threads),
                    Some(want),
                    "{rel} --fail-on {severity} --threads {threads}"
                );
            }
        }
        // What --finding leaves out does not count.
        let ndpi = "public/ndpi/ipsec_isakmp_esp.pcap";
        assert_eq!(code(ndpi, &["--fail-on", "warning"], threads), Some(3));
        assert_eq!(
            code(
                ndpi,
                &["--fail-on", "warning", "--finding", "nat_detected"],
                threads
            ),
            Some(0)
        );
    }
    // A truncated capture: 1, even with findings at the threshold.
    let whole = std::fs::read(capture("lab/pcaps/ike_udp500_blocked.pcap")).unwrap();
    let cut = std::env::temp_dir().join(format!("ike-sniff-failon-{}.pcap", std::process::id()));
    std::fs::write(&cut, &whole[..whole.len() - 7]).unwrap();
    let out = ike_sniff()
        .args(["-q", "--fail-on", "info", "-r"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_file(&cut);
    assert_eq!(
        ike_sniff()
            .args(["-r", "x.pcap", "--fail-on", "fatal"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

/// Issue 14: `--color`. Never into a pipe by default, nor with NO_COLOR; `always` colours
/// severities, finding ids and addresses; JSON never.
#[test]
fn color_when_asked_and_never_into_pipes() {
    let run = |args: &[&str], no_color: bool| {
        let mut c = ike_sniff();
        c.args(["-r", &capture("lab/pcaps/ike_udp500_blocked.pcap")])
            .args(args);
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        c.env_remove("CLICOLOR_FORCE");
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    };
    let plain = run(&[], false);
    assert!(!plain.contains('\u{1b}'));
    assert_eq!(run(&["--color", "never"], false), plain);
    assert_eq!(run(&["--color", "auto"], true), plain);
    let coloured = run(&["--color", "always"], false);
    assert!(
        coloured.contains("\u{1b}[1m\u{1b}[31mERROR\u{1b}[0m [\u{1b}[1mike_unanswered\u{1b}[0m]")
    );
    assert!(coloured.contains("\u{1b}[32m192.0.2.10:500\u{1b}[0m > "));
    // Without the escapes it is the plain text, byte for byte.
    let mut stripped = String::new();
    let mut rest = coloured.as_str();
    while let Some(i) = rest.find('\u{1b}') {
        stripped.push_str(&rest[..i]);
        let end = rest[i..].find('m').unwrap();
        rest = &rest[i + end + 1..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, plain);
    assert!(!run(&["--color", "always", "--json"], false).contains('\u{1b}'));
}

/// Issue 14 and 13: `-q` is what a ticket wants (verdict, tunnel table, counters) without the
/// per-SPI list or the tracker's table counters; the default lists the busiest ESP SAs and
/// counts the rest; `-v` lists every one. JSON lists the busiest unless `-v`.
#[test]
fn quiet_is_for_tickets_and_the_spi_list_is_bounded() {
    let f = capture("public/ndpi/ipsec_isakmp_esp.pcap");
    let text = |args: &[&str]| {
        let out = ike_sniff().args(["-r", &f]).args(args).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let spi_lines = |t: &str| t.lines().filter(|l| l.starts_with("  spi ")).count();
    let quiet = text(&["-q"]);
    assert!(quiet.contains("== Verdict:") && quiet.contains("\nPEERS "));
    assert_eq!(spi_lines(&quiet), 0);
    assert!(quiet.contains("ESP SAs seen: 74 (315 packets, 218.2 KiB; -v lists them)"));
    assert!(!quiet.contains("tracked:"));
    let default = text(&[]);
    assert_eq!(spi_lines(&default), 10);
    assert!(default.contains("ESP SAs seen (74; the 10 busiest, -v lists all):"));
    assert!(default.contains("  and 64 more ESP SAs: 257 packets, 169.6 KiB"));
    let verbose = text(&["-v"]);
    assert_eq!(spi_lines(&verbose), 74);
    assert!(verbose.contains("\ntracked: "));
    let summary = |args: &[&str]| {
        let t = text(args);
        let last = t.lines().last().unwrap().to_string();
        serde_json::from_str::<serde_json::Value>(&last).unwrap()
    };
    let s = summary(&["--json"]);
    assert_eq!(s["esp_sas"].as_array().unwrap().len(), 10);
    assert_eq!(s["esp_sas_omitted"]["sas"], 64);
    let s = summary(&["--json", "-v"]);
    assert_eq!(s["esp_sas"].as_array().unwrap().len(), 74);
    assert!(s.get("esp_sas_omitted").is_none());
}

/// Byte counts carry their unit, and the tunnel table's columns line up whatever the width
/// of the peers (IPv6) and counters.
#[test]
fn tunnel_table_is_aligned_and_labelled() {
    // The lab's IPv6 peers are short; the same capture with both addresses rewritten to the
    // longest IPv6 text there is (39 characters) makes a row wider than the default column.
    let v6 = std::fs::read(capture("lab/pcaps/healthy_ikev2_ipv6.pcap")).unwrap();
    let addr = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    let mut long = v6.clone();
    for (from, to) in [
        ("2001:db8:1::10", "2001:db8:1111:2222:3333:4444:5555:6666"),
        ("2001:db8:2::20", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"),
    ] {
        let (from, to) = (addr(from), addr(to));
        let mut i = 0;
        while let Some(at) = long[i..].windows(16).position(|w| w == from) {
            long[i + at..i + at + 16].copy_from_slice(&to);
            i += at + 16;
        }
    }
    assert_ne!(long, v6);
    let long_path =
        std::env::temp_dir().join(format!("ike-sniff-long-v6-{}.pcap", std::process::id()));
    std::fs::write(&long_path, &long).unwrap();
    for file in [
        long_path.to_str().unwrap().to_string(),
        capture("lab/pcaps/healthy_ikev2_ipv6.pcap"),
        capture("public/ndpi/ipsec_isakmp_esp.pcap"),
        capture("lab/pcaps/healthy_ikev2.pcap"),
    ] {
        let rel = &file;
        let out = ike_sniff().args(["-q", "-r", &file]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines().skip_while(|l| !l.starts_with("PEERS "));
        let header = lines.next().unwrap();
        let ike = header.find(" IKE ").unwrap() + 1;
        let findings = header.find("FINDINGS").unwrap();
        let rows: Vec<&str> = lines
            .take_while(|l| !l.is_empty())
            .filter(|l| !l.starts_with(' '))
            .collect();
        assert!(!rows.is_empty(), "{rel}");
        for row in rows {
            assert_eq!(&row[ike - 1..ike], " ", "{rel}: {row}");
            assert!(
                row[ike..].starts_with('v') || row[ike..].starts_with('-'),
                "{rel}: {row}"
            );
            assert_eq!(&row[findings - 1..findings], " ", "{rel}: {row}");
            assert_ne!(&row[findings..findings + 1], " ", "{rel}: {row}");
            assert!(row.contains(" B/") || row.contains("iB/"), "{rel}: {row}");
        }
    }
    let _ = std::fs::remove_file(&long_path);
}
