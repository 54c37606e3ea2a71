//! FortiGate sniffer text as `-r` input (issue 18): the lab captures rendered in the layouts the
//! box prints (tests/fortigate/render.rs) must give the report the pcap gives, packet for packet
//! and finding for finding; the public session log in captures/public/fgsniffer/ reads as the
//! packets it shows; and damaged or header-only text is reported by line without stopping.

#[path = "fortigate/render.rs"]
mod render;

use std::path::{Path, PathBuf};
use std::process::Command;

use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use render::{Ethernet, Packet, Style};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ike-sniff-fortigate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Standard output and error of a run, the input's path replaced by `INPUT`, and its status.
fn run(path: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .env("TZ", "UTC")
        .arg("-r")
        .arg(path)
        .args(args)
        .output()
        .expect("ike-sniff runs");
    let p = path.to_str().expect("utf-8 path");
    let norm = |b: Vec<u8>| String::from_utf8_lossy(&b).replace(p, "INPUT");
    (
        norm(out.stdout),
        norm(out.stderr),
        out.status.code().unwrap_or(-1),
    )
}

struct Owned {
    secs: i64,
    nanos: u32,
    frame: Vec<u8>,
}

/// The capture's packets, or `None` for one that is not Ethernet: a FortiGate prints Ethernet
/// frames or bare IP, never Linux cooked headers (the lab's `-i any` capture on a host).
fn packets(path: &Path) -> Option<Vec<Owned>> {
    let mut src = FileSource::open(path.to_str().unwrap()).expect("capture opens");
    let mut v = Vec::new();
    while let Some(p) = src.next_packet().expect("capture reads") {
        if p.linktype != 1 {
            return None;
        }
        v.push(Owned {
            secs: p.ts.secs,
            nanos: p.ts.nanos,
            frame: p.data.to_vec(),
        });
    }
    Some(v)
}

/// A classic pcap (µs, Ethernet) of `packets`, times moved back by `shift`.
fn write_pcap(path: &Path, packets: &[Owned], shift: (i64, u32)) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&262_144u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for p in packets {
        let mut ns = (p.secs - shift.0) * 1_000_000_000 + i64::from(p.nanos) - i64::from(shift.1);
        ns -= ns.rem_euclid(1000);
        let len = p.frame.len() as u32;
        for v in [
            (ns.div_euclid(1_000_000_000)) as u32,
            (ns.rem_euclid(1_000_000_000) / 1000) as u32,
            len,
            len,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&p.frame);
    }
    std::fs::write(path, f).expect("pcap written");
}

const STYLES: [Style; 6] = [
    Style {
        verbosity: 6,
        absolute: true,
        ethernet: Ethernet::All,
        noise: false,
        tabs: false,
    },
    Style {
        verbosity: 3,
        absolute: true,
        ethernet: Ethernet::None,
        noise: false,
        tabs: false,
    },
    Style {
        verbosity: 6,
        absolute: true,
        ethernet: Ethernet::Alternate,
        noise: true,
        tabs: false,
    },
    Style {
        verbosity: 6,
        absolute: false,
        ethernet: Ethernet::All,
        noise: false,
        tabs: true,
    },
    Style {
        verbosity: 5,
        absolute: true,
        ethernet: Ethernet::All,
        noise: true,
        tabs: false,
    },
    Style {
        verbosity: 3,
        absolute: false,
        ethernet: Ethernet::Alternate,
        noise: true,
        tabs: false,
    },
];

#[test]
fn lab_captures_rendered_as_text_report_as_the_pcap_does() {
    let dir = root().join("captures/lab/pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("lab captures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} lab captures", files.len());
    let mut failures = Vec::new();
    for pcap in &files {
        let stem = pcap.file_stem().unwrap().to_str().unwrap();
        let Some(pkts) = packets(pcap) else {
            continue;
        };
        let first = pkts.first().map_or((0, 0), |p| (p.secs, p.nanos));
        // Relative times count from the first packet; the reference is the capture moved to
        // start at the epoch, to the microsecond the text keeps.
        let shifted = scratch(&format!("{stem}.relative.pcap"));
        write_pcap(&shifted, &pkts, first);
        let absolute = scratch(&format!("{stem}.absolute.pcap"));
        write_pcap(&absolute, &pkts, (0, 0));
        for (i, style) in STYLES.iter().enumerate() {
            let view: Vec<Packet<'_>> = pkts
                .iter()
                .map(|p| Packet {
                    secs: p.secs,
                    nanos: p.nanos,
                    frame: &p.frame,
                })
                .collect();
            let mut text = String::new();
            render::render(&view, *style, &mut text);
            let txt = scratch(&format!("{stem}.{i}.txt"));
            std::fs::write(&txt, &text).expect("text written");
            let reference = if style.absolute { &absolute } else { &shifted };
            let mut src = FileSource::open(txt.to_str().unwrap()).expect("text detected");
            for (n, p) in view.iter().enumerate() {
                let got = src
                    .next_packet()
                    .expect("text reads")
                    .expect("every packet");
                let (want_link, want) = expected_bytes(style, n, p.frame);
                let (secs, micros) = if style.absolute {
                    (p.secs, p.nanos / 1000)
                } else {
                    let ns = (p.secs - first.0) * 1_000_000_000 + i64::from(p.nanos)
                        - i64::from(first.1);
                    (ns / 1_000_000_000, (ns % 1_000_000_000) as u32 / 1000)
                };
                if (got.linktype, got.data, got.ts.secs, got.ts.nanos)
                    != (want_link, want, secs, micros * 1000)
                {
                    failures.push(format!(
                        "{stem} style {i} {style:?}: packet {}: link type {} length {} at \
                         {}.{:09}, expected {want_link} {} at {secs}.{micros:06}",
                        n + 1,
                        got.linktype,
                        got.data.len(),
                        got.ts.secs,
                        got.ts.nanos,
                        want.len()
                    ));
                }
            }
            assert!(
                src.next_packet().expect("reads").is_none(),
                "{stem} style {i}: extra packets"
            );
            let stripped = style.ethernet != Ethernet::All || matches!(style.verbosity, 2 | 5);
            for args in [&[][..], &["--json"][..]] {
                let want = run(reference, args);
                let got = run(&txt, args);
                // Without Ethernet headers the text holds fewer bytes than the frames: only the
                // sizes that count them may differ (the packets were compared above).
                let (want, got) = if stripped {
                    (without_byte_count(&want), without_byte_count(&got))
                } else {
                    (want, got)
                };
                if want != got {
                    failures.push(format!(
                        "{stem} style {i} {style:?} {args:?}: {}",
                        first_difference(&want, &got)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} difference(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What the text of packet `n` holds in `style`: the whole frame, or the IP packet alone
/// (no Ethernet header and no padding), as render.rs writes it.
fn expected_bytes<'a>(style: &Style, n: usize, frame: &'a [u8]) -> (u32, &'a [u8]) {
    let strip = match style.ethernet {
        Ethernet::All => false,
        Ethernet::None => true,
        Ethernet::Alternate => n % 2 == 1,
    } || matches!(style.verbosity, 2 | 5);
    if !strip || !matches!(frame.get(12..14), Some([0x08, 0x00] | [0x86, 0xdd])) {
        return (1, frame);
    }
    let ip = &frame[14..];
    let total = match ip[0] >> 4 {
        4 => usize::from(u16::from_be_bytes([ip[2], ip[3]])),
        6 => 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])),
        _ => ip.len(),
    };
    (101, &ip[..total.min(ip.len())])
}

/// A run's output without the sizes that count link-layer bytes: the summary's byte count
/// (`packets read N (B bytes)`, JSON `"bytes":B`) and each JSON packet's `caplen` and `len`.
fn without_byte_count(run: &(String, String, i32)) -> (String, String, i32) {
    let cut = |s: &str| {
        s.lines()
            .map(|l| {
                let mut l = l.to_string();
                // The packet's own `len` is the one at the top level of the object; those
                // inside (`esp`, `icmp`, `tcp`) count IP-level or stream bytes and must agree.
                for (top, open, close) in [
                    (false, "(", " bytes)"),
                    (false, "\"bytes\":", ","),
                    (false, "\"caplen\":", ","),
                    (true, ",\"len\":", ","),
                ] {
                    let at = if top {
                        top_level(&l, open)
                    } else {
                        l.find(open)
                    };
                    if let Some(a) = at
                        && let Some(b) = l[a + open.len()..].find(close)
                        && l[a + open.len()..][..b].bytes().all(|c| c.is_ascii_digit())
                    {
                        l.replace_range(a + open.len()..a + open.len() + b, "B");
                    }
                }
                l + "\n"
            })
            .collect::<String>()
    };
    (cut(&run.0), cut(&run.1), run.2)
}

/// Where `key` occurs at the top level of the JSON object `l` (outside nested objects and
/// strings).
fn top_level(l: &str, key: &str) -> Option<usize> {
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for (i, c) in l.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 1 && l[i..].starts_with(key) => return Some(i),
            _ => {}
        }
    }
    None
}

/// The first line where two runs differ, from standard output, then standard error.
fn first_difference(want: &(String, String, i32), got: &(String, String, i32)) -> String {
    for (w, g) in [(&want.0, &got.0), (&want.1, &got.1)] {
        for (n, (a, b)) in w.lines().zip(g.lines()).enumerate() {
            if a != b {
                return format!("line {}:\n--- pcap\n{a}\n--- text\n{b}", n + 1);
            }
        }
        if w.lines().count() != g.lines().count() {
            return format!("pcap\n{w}\ntext\n{g}");
        }
    }
    format!("exit {} (pcap) and {} (text)", want.2, got.2)
}

/// fgsniffer's example.log (captures/public/fgsniffer/): verbosity 3 on `any`, absolute times,
/// the prompt before and after; two ICMP packets with their (fake) Ethernet headers.
#[test]
fn public_session_log_reads_as_its_two_packets() {
    let path = root().join("captures/public/fgsniffer/example.log");
    let mut src = FileSource::open(path.to_str().unwrap()).expect("detected as sniffer text");
    let mut seen = Vec::new();
    while let Some(p) = src.next_packet().expect("reads") {
        assert_eq!((p.linktype, p.caplen, p.origlen), (1, 54, 54));
        assert_eq!(&p.data[12..16], &[0x08, 0x00, 0x45, 0x00]);
        seen.push((p.frame, p.ts.secs, p.ts.nanos, p.data[34]));
    }
    // 2017-09-12 12:40:13 UTC; an ICMP echo request (type 8) and its reply (type 0).
    let t = 1_505_220_013;
    assert_eq!(seen, vec![(1, t, 675_529_000, 8), (2, t, 675_605_000, 0)]);
    let (out, err, code) = run(&path, &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.contains("\"packets\":2"), "{out}");
}

fn one_ike_packet() -> Vec<u8> {
    let pkts = packets(&root().join("captures/lab/pcaps/healthy_ikev2.pcap")).expect("Ethernet");
    pkts.into_iter().next().expect("a packet").frame
}

fn rendered(style: Style, frames: &[&[u8]]) -> String {
    let view: Vec<Packet<'_>> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| Packet {
            secs: 1_800_000_000 + i as i64,
            nanos: 0,
            frame: f,
        })
        .collect();
    let mut text = String::new();
    render::render(&view, style, &mut text);
    text
}

/// A lost line (a gap in the offsets) and a damaged hex group each drop their packet, named by
/// line with what was expected; the packets around them are analysed and the count printed.
#[test]
fn damaged_lines_drop_their_packet_only_and_are_named() {
    let frame = one_ike_packet();
    let text = rendered(STYLES[0], &[&frame, &frame, &frame, &frame]);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Packet 2 starts after packet 1's header and hex lines.
    let rows = frame.len().div_ceil(16);
    let p2 = rows + 1;
    lines.remove(p2 + 2); // packet 2 loses its line at 0x0010
    let p3 = p2 + rows;
    lines[p3 + 1] = lines[p3 + 1].replacen(' ', " \u{1b}[31m zz\u{202e}", 2);
    let path = scratch("damaged.txt");
    std::fs::write(&path, lines.join("\n") + "\n").expect("written");
    let (out, err, code) = run(&path, &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "INPUT: line {}: expected the line at offset 0x0010, found 0x0020",
            p2 + 3
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("packet from line {} dropped", p2 + 1)),
        "{err}"
    );
    assert!(
        err.contains(&format!("INPUT: line {}: column ", p3 + 2)),
        "{err}"
    );
    assert!(
        err.contains("\\u{202e}"),
        "untrusted text is escaped: {err}"
    );
    assert!(
        !err.contains('\u{202e}') && !err.contains('\u{1b}'),
        "{err}"
    );
    assert!(err.contains("packet(s) dropped, 2 read"), "{err}");
    assert!(out.contains("\"packets\":2"), "{out}");
}

/// Verbosity 4 (headers with interface names, no bytes): nothing to analyse, said plainly
/// with the command to run instead, and exit 1.
#[test]
fn header_only_output_says_which_verbosity_to_use() {
    let text = "FGT # diagnose sniffer packet any 'port 500' 4 0 a\n\
                interfaces=[any]\nfilters=[port 500]\n\
                2026-12-01 01:02:03.123456 port1 out 192.0.2.1.500 -> 198.51.100.2.500: udp 300\n\
                2026-12-01 01:02:04.123456 port1 in 198.51.100.2.500 -> 192.0.2.1.500: udp 300\n\
                2 packets received by filter\n";
    let path = scratch("v4.txt");
    std::fs::write(&path, text).expect("written");
    let (_, err, code) = run(&path, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("2 packet header(s) but no packet bytes (verbosity 4 prints headers only)"),
        "{err}"
    );
    assert!(err.contains("'<filter>' 6 0 a"), "{err}");
}

/// Text that is not sniffer output keeps the old message.
#[test]
fn other_text_is_not_taken_for_sniffer_output() {
    let path = scratch("notes.txt");
    std::fs::write(&path, "just some notes\n0x10 is sixteen\n").expect("written");
    let (_, err, code) = run(&path, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");
}
