//! Renders packets as FortiGate `diagnose sniffer packet` prints them, to test the text reader
//! against the pcap path on the same packets (tests/fortigate_text.rs) and to make large inputs
//! for its benchmark and fuzz seeds (examples/fortigate_render.rs).
//!
//! The layout follows the public session logs in captures/public/fgsniffer/ and Fortinet's CLI
//! reference: a header line (time, at verbosity 6 the interface and direction, a one-line
//! summary), then 16 bytes a line as `0x0010` + three spaces + 2-byte groups + the ASCII
//! column. `Style` picks the variants the reader must accept; `noise` wraps the packets in what
//! an SSH session log adds (prompt and command echo, CRLF line ends, a pager prompt, the
//! `Interrupted` trailer).

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// 3 (no interface names) or 6 (interface and direction); 5 and 2 print from the IP header.
    pub verbosity: u8,
    /// `a`: absolute UTC times; otherwise seconds since the first packet.
    pub absolute: bool,
    /// Which packets keep their Ethernet header: every one, none, or every other one (what `any`
    /// shows when tunnel interfaces are in the capture).
    pub ethernet: Ethernet,
    pub noise: bool,
    /// The old separator: a tab after the offset and before the ASCII column.
    pub tabs: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ethernet {
    All,
    None,
    Alternate,
}

/// One packet to render: seconds and nanoseconds since the epoch, and an Ethernet frame.
pub struct Packet<'a> {
    pub secs: i64,
    pub nanos: u32,
    pub frame: &'a [u8],
}

pub fn render(packets: &[Packet<'_>], style: Style, out: &mut String) {
    let eol = if style.noise { "\r\n" } else { "\n" };
    let ts_arg = if style.absolute { " a" } else { "" };
    if style.noise {
        let _ = write!(
            out,
            "login as: admin{eol}admin@192.0.2.254's password:{eol}FGT60F # diagnose sniffer \
             packet any 'udp port 500 or udp port 4500 or esp' {} 0{ts_arg}{eol}\
             interfaces=[any]{eol}filters=[udp port 500 or udp port 4500 or esp]{eol}",
            style.verbosity
        );
    }
    let first = packets.first().map_or((0, 0), |p| (p.secs, p.nanos));
    for (i, p) in packets.iter().enumerate() {
        let strip = match style.ethernet {
            Ethernet::All => false,
            Ethernet::None => true,
            Ethernet::Alternate => i % 2 == 1,
        } || matches!(style.verbosity, 2 | 5);
        // Only IP travels over tunnel interfaces: other frames (ARP) keep their header.
        let strip = strip && matches!(p.frame.get(12..14), Some([0x08, 0x00] | [0x86, 0xdd]));
        // Without the Ethernet header there is no Ethernet padding either: the IP packet only.
        let bytes = if strip && p.frame.len() >= 14 {
            let ip = &p.frame[14..];
            let total = match ip.first().map(|b| b >> 4) {
                Some(4) if ip.len() >= 4 => usize::from(u16::from_be_bytes([ip[2], ip[3]])),
                Some(6) if ip.len() >= 6 => 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])),
                _ => ip.len(),
            };
            &ip[..total.min(ip.len())]
        } else {
            p.frame
        };
        if style.absolute {
            let _ = write!(out, "{}", utc(p.secs, p.nanos));
        } else {
            let (mut s, mut n) = (p.secs - first.0, i64::from(p.nanos) - i64::from(first.1));
            if n < 0 {
                s -= 1;
                n += 1_000_000_000;
            }
            let _ = write!(out, "{s}.{:06}", n / 1000);
        }
        if style.verbosity >= 4 {
            let iface = if strip { "vpn-hq" } else { "port1" };
            let dir = if i % 3 == 0 { "out" } else { "in" };
            let _ = write!(out, " {iface} {dir}");
        }
        let _ = write!(out, " {}{eol}", summary(&p.frame[14.min(p.frame.len())..]));
        if style.noise && i == 2 {
            // A pager prompt erased by backspaces before the line it held back.
            out.push_str(
                "--More--\x08\x08\x08\x08\x08\x08\x08\x08        \x08\x08\x08\x08\x08\x08\x08\x08",
            );
        }
        hex(bytes, style.tabs, eol, out);
        if style.verbosity <= 3 || style.noise {
            out.push_str(eol);
        }
    }
    if style.noise {
        let _ = write!(
            out,
            "^C{eol}{n} packets received by filter{eol}0 packets dropped by kernel{eol}\
             Interrupted{eol}FGT60F # exit{eol}",
            n = packets.len()
        );
    }
}

fn hex(bytes: &[u8], tabs: bool, eol: &str, out: &mut String) {
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "0x{:04x}", row * 16);
        out.push_str(if tabs { "\t " } else { "   " });
        let mut groups = String::new();
        for (j, pair) in chunk.chunks(2).enumerate() {
            if j > 0 {
                groups.push(' ');
            }
            for b in pair {
                let _ = write!(groups, "{b:02x}");
            }
        }
        out.push_str(&groups);
        if tabs {
            out.push('\t');
        } else {
            // The ASCII column starts where it would after eight full groups.
            for _ in groups.len()..39 + 8 {
                out.push(' ');
            }
        }
        for &b in chunk {
            out.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
        out.push_str(eol);
    }
}

/// tcpdump's one-line summary, roughly: the reader does not use it.
fn summary(ip: &[u8]) -> String {
    match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 20 => {
            let a = |o: usize| format!("{}.{}.{}.{}", ip[o], ip[o + 1], ip[o + 2], ip[o + 3]);
            let proto = ip[9];
            let ihl = usize::from(ip[0] & 15) * 4;
            if proto == 17 && ip.len() >= ihl + 8 {
                let port = |o: usize| u16::from_be_bytes([ip[ihl + o], ip[ihl + o + 1]]);
                format!(
                    "{}.{} -> {}.{}: udp {}",
                    a(12),
                    port(0),
                    a(16),
                    port(2),
                    ip.len().saturating_sub(ihl + 8)
                )
            } else {
                format!("{} -> {}: ip-proto-{proto} {}", a(12), a(16), ip.len())
            }
        }
        Some(6) => "ip6 packet".to_string(),
        _ => "arp who-has 192.0.2.1 tell 192.0.2.2".to_string(),
    }
}

/// `YYYY-MM-DD HH:MM:SS.uuuuuu` in UTC (Howard Hinnant's civil-from-days).
fn utc(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        nanos / 1000
    )
}
