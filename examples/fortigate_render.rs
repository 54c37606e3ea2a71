//! Renders a capture as FortiGate `diagnose sniffer packet` text, the input `-r` also reads:
//!
//! `cargo run --release --example fortigate_render -- IN.pcap [6|3|5] [a|r] [eth|noeth|mixed]
//! [noise] [tabs] [repeat=N] > OUT.txt`
//!
//! Defaults: verbosity 6, absolute times, every Ethernet header kept, no session noise.
//! `repeat=N` writes the capture N times over, each copy later than the last (for the
//! benchmark in BENCHMARKS.md). The layout is documented in tests/fortigate/render.rs.

#[path = "../tests/fortigate/render.rs"]
mod render;

use std::io::Write;

use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use render::{Ethernet, Packet, Style, render};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!(
            "usage: fortigate_render IN.pcap [6|3|5] [a|r] [eth|noeth|mixed] [noise] [tabs] [repeat=N]"
        );
        std::process::exit(2);
    };
    let mut style = Style {
        verbosity: 6,
        absolute: true,
        ethernet: Ethernet::All,
        noise: false,
        tabs: false,
    };
    let mut repeat = 1u32;
    for a in &args[1..] {
        match a.as_str() {
            "2" | "3" | "5" | "6" => style.verbosity = a.parse().unwrap_or(6),
            "a" => style.absolute = true,
            "r" => style.absolute = false,
            "eth" => style.ethernet = Ethernet::All,
            "noeth" => style.ethernet = Ethernet::None,
            "mixed" => style.ethernet = Ethernet::Alternate,
            "noise" => style.noise = true,
            "tabs" => style.tabs = true,
            r if r.starts_with("repeat=") => repeat = r[7..].parse().unwrap_or(1),
            other => {
                eprintln!("fortigate_render: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    let mut src = FileSource::open(path).unwrap_or_else(|e| {
        eprintln!("fortigate_render: {e}");
        std::process::exit(1);
    });
    let mut owned = Vec::new();
    while let Some(p) = src.next_packet().unwrap_or_else(|e| {
        eprintln!("fortigate_render: {e}");
        std::process::exit(1);
    }) {
        owned.push((p.ts.secs, p.ts.nanos, p.data.to_vec()));
    }
    let span = owned.last().map_or(0, |l| l.0) - owned.first().map_or(0, |f| f.0) + 1;
    let mut stdout = std::io::stdout().lock();
    for copy in 0..i64::from(repeat) {
        let packets: Vec<Packet<'_>> = owned
            .iter()
            .map(|(s, n, f)| Packet {
                secs: s + copy * span,
                nanos: *n,
                frame: f,
            })
            .collect();
        let mut text = String::new();
        render(&packets, style, &mut text);
        if stdout.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}
