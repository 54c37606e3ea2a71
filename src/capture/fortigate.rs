//! FortiGate sniffer text: what `diagnose sniffer packet <if> '<filter>' <verbosity> <count>
//! <a|l>` prints, as it lands in an SSH session log, read as packets. `-r` hands a file here
//! when it is not pcap or pcapng and its first megabyte looks like sniffer output
//! ([`looks_like_sniffer_text`]); the caller keeps the buffering and the file itself.
//!
//! The format, from Fortinet's CLI reference and public session logs (fgsniffer's `example.log`,
//! captures/public/fgsniffer/), and what the converters people use (fgt2eth.pl, SnifTran,
//! fgsniffer) accept:
//! - a header line per packet: a timestamp, absolute (`2026-12-01 01:02:03.123456`, UTC with
//!   `a`, the box's local clock with `l`) or relative to the start of the sniff (`3.123456`),
//!   optionally led by a `[slot]` on chassis models; at verbosity 4 to 6 the interface name and
//!   the direction (`in`, `out`, `--`) follow; then tcpdump's one-line summary.
//! - at verbosity 2, 3, 5 and 6 the bytes, 16 a line: `0x0010   0028 0000 4000 ...   .(..@...`,
//!   the offset in hex, 2-byte groups, the ASCII column after a wider gap (a tab in older
//!   releases). Verbosity 3 and 6 start at the Ethernet header where the interface has one, and
//!   at the IP header where it has not (tunnel and PPP interfaces, some of `any`), so the link
//!   type is decided per packet ([`link_type`]). Verbosity 2 and 5 start at the IP header.
//! - verbosity 1 and 4 print header lines only: no bytes to analyse, which is said plainly.
//!
//! Everything else (prompts, the command echo, `interfaces=[any]`, the `N packets received by
//! filter` trailer, pager prompts, terminal escapes, carriage returns) is passed over. A line
//! that should be packet bytes and cannot be (a gap in the offsets, a bad hex group) drops its
//! packet with a message naming the file and the line; the reading goes on, and the count of
//! skipped lines and dropped packets is printed at the end.
//!
//! Lines are read one at a time from the caller's buffered input and each packet's bytes are
//! assembled in one reused buffer: the cost is linear in the file's size.

use std::io::{self, BufRead};

use super::{CaptureError, RawPacket};
use crate::event::Timestamp;
use crate::event::text::printable;

/// How much of a file's start [`looks_like_sniffer_text`] wants to see.
pub const DETECT_LEN: usize = 1 << 20;
/// Longer lines are cut here: a sniffer line is under 100 bytes, and a binary file read as text
/// must not grow a line buffer without end.
const MAX_LINE: usize = 64 << 10;
/// No FortiGate frame is larger (jumbo frames are 9216 bytes); a longer run of hex lines is
/// damage, and stopping there bounds the packet buffer.
const MAX_PACKET: usize = 65_535;
/// Problems shown one by one; further ones are only counted.
const MAX_SHOWN: u32 = 20;

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;

/// Whether `head` (the start of a file that is neither pcap nor pcapng) is sniffer output: text
/// with the sniffer's command echo or its `interfaces=[...]` line, or a packet header line
/// followed by the first hex line of a packet.
pub fn looks_like_sniffer_text(head: &[u8]) -> bool {
    if head.iter().take(4096).any(|&b| b == 0) {
        return false;
    }
    let mut previous_was_header = false;
    for raw in head.split(|&b| b == b'\n') {
        let mut scratch = Vec::new();
        let line = clean(raw, &mut scratch);
        if contains(line, b"sniffer packet") || line.starts_with(b"interfaces=[") {
            return true;
        }
        if previous_was_header && matches!(hex_line(line), Some(HexLine { offset: 0, .. })) {
            return true;
        }
        if !line.is_empty() {
            previous_was_header = header(line).is_some();
        }
    }
    false
}

/// Reads packets out of sniffer text. It owns no input: [`SnifferText::next_packet`] is given
/// the caller's buffered reader each time.
pub struct SnifferText {
    name: String,
    /// Number of the line last read, from 1.
    line_no: u64,
    line: Vec<u8>,
    scratch: Vec<u8>,
    /// The packet being assembled: its header and the bytes its hex lines gave so far.
    current: Option<Pending>,
    bytes: Vec<u8>,
    /// The packet returned last, kept until the next call, and its time.
    out: Vec<u8>,
    out_ts: Timestamp,
    frame: u64,
    /// Verbosity from the command echo, when the log holds it.
    verbosity: Option<u8>,
    stats: Stats,
    finished: bool,
}

#[derive(Clone, Copy)]
struct Pending {
    ts: Timestamp,
    /// Line of the header, for messages.
    line: u64,
    /// Set when a line of this packet could not be used: the packet is dropped at its end.
    broken: bool,
}

#[derive(Default)]
struct Stats {
    headers: u64,
    headers_without_bytes: u64,
    first_header_without_bytes: Option<u64>,
    skipped_lines: u64,
    dropped: u64,
    shown: u32,
}

impl SnifferText {
    pub fn new(name: &str) -> SnifferText {
        SnifferText {
            name: name.to_string(),
            line_no: 0,
            line: Vec::with_capacity(128),
            scratch: Vec::new(),
            current: None,
            bytes: Vec::with_capacity(2048),
            out: Vec::with_capacity(2048),
            out_ts: Timestamp::default(),
            frame: 0,
            verbosity: None,
            stats: Stats::default(),
            finished: false,
        }
    }

    /// The next packet, `Ok(None)` at the end. Problems in the text are reported on standard
    /// error and skipped; only a read error, or a file with no packet bytes at all, is an `Err`.
    pub fn next_packet(
        &mut self,
        input: &mut dyn BufRead,
    ) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            let more = read_line(input, &mut self.line).map_err(|e| CaptureError {
                source_name: self.name.clone(),
                frame: Some(self.frame + 1),
                message: format!("read error after line {}: {e}", self.line_no),
            })?;
            if !more {
                self.finished = true;
                if let Some(p) = self.current.take()
                    && self.close(p)
                {
                    self.report_end();
                    return Ok(Some(self.packet()));
                }
                self.report_end();
                return self.end();
            }
            self.line_no += 1;
            let line = std::mem::take(&mut self.line);
            let step = self.take_line(&line);
            self.line = line;
            if let Some(p) = step
                && self.close(p)
            {
                return Ok(Some(self.packet()));
            }
        }
    }

    /// Handles one line; returns the packet it ended, if any.
    fn take_line(&mut self, raw: &[u8]) -> Option<Pending> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let line = clean(raw, &mut scratch);
        let ended = if let Some(h) = hex_line(line) {
            self.take_hex(h, line)
        } else if let Some(ts) = header(line) {
            self.stats.headers += 1;
            let next = Pending {
                ts,
                line: self.line_no,
                broken: false,
            };
            self.current.replace(next)
        } else {
            if self.verbosity.is_none() && contains(line, b"sniffer packet") {
                self.verbosity = command_verbosity(line);
            }
            None
        };
        self.scratch = scratch;
        ended
    }

    /// Adds a hex line to the packet being assembled; returns that packet when the line starts
    /// another one that has lost its header.
    fn take_hex(&mut self, h: HexLine, line: &[u8]) -> Option<Pending> {
        let Some(mut p) = self.current else {
            if h.offset == 0 {
                self.problem(format!(
                    "packet bytes with no header line before them (expected a line starting \
                     with a timestamp): {}",
                    shown(line)
                ));
            }
            self.stats.skipped_lines += 1;
            return None;
        };
        if p.broken {
            self.stats.skipped_lines += 1;
            return None;
        }
        let have = self.bytes.len();
        if h.offset == 0 && have > 0 && h.error.is_none() {
            // Offsets back at 0: the packet before is whole, and these bytes start one whose
            // header line is missing from the log, so no time can be given to them.
            self.problem(format!(
                "packet bytes with no header line before them (the packet from line {} ends \
                 at the line before)",
                p.line
            ));
            self.stats.skipped_lines += 1;
            self.current = None;
            return Some(p);
        }
        let problem = match h.error {
            Some(col) => Some(format!(
                "column {col}: expected 2-byte hex groups after the offset: {}",
                shown(line)
            )),
            None if h.offset as usize != have => Some(format!(
                "expected the line at offset 0x{have:04x}, found 0x{:04x} (a line lost or \
                 repeated in the log)",
                h.offset
            )),
            None if have + h.len > MAX_PACKET => Some(format!(
                "the packet from line {} runs past {MAX_PACKET} bytes",
                p.line
            )),
            None => None,
        };
        match problem {
            Some(m) => {
                self.problem(format!("{m}; packet from line {} dropped", p.line));
                p.broken = true;
                self.current = Some(p);
                self.stats.skipped_lines += 1;
            }
            None => self.bytes.extend_from_slice(&h.data[..h.len]),
        }
        None
    }

    /// Finishes a packet: moves its bytes to `out` when it has any and is whole.
    fn close(&mut self, p: Pending) -> bool {
        let ok = !p.broken && !self.bytes.is_empty();
        if p.broken {
            self.stats.dropped += 1;
        } else if self.bytes.is_empty() {
            self.stats.headers_without_bytes += 1;
            self.stats.first_header_without_bytes.get_or_insert(p.line);
        } else {
            std::mem::swap(&mut self.out, &mut self.bytes);
            self.frame += 1;
            self.out_ts = p.ts;
        }
        self.bytes.clear();
        ok
    }

    fn packet(&self) -> RawPacket<'_> {
        let data = &self.out[..];
        let (linktype, origlen) = link_type(data);
        let caplen = data.len() as u32;
        RawPacket {
            frame: self.frame,
            ts: self.out_ts,
            caplen,
            origlen: origlen.max(caplen),
            linktype,
            data,
        }
    }

    fn problem(&mut self, message: String) {
        self.stats.shown = self.stats.shown.saturating_add(1);
        if self.stats.shown <= MAX_SHOWN {
            eprintln!("ike-sniff: {}: line {}: {message}", self.name, self.line_no);
        } else if self.stats.shown == MAX_SHOWN + 1 {
            eprintln!(
                "ike-sniff: {}: more problems in the text; they are counted, not shown",
                self.name
            );
        }
    }

    /// The summary of what was passed over, once, at the end.
    fn report_end(&mut self) {
        let s = &self.stats;
        if s.skipped_lines > 0 || s.dropped > 0 {
            eprintln!(
                "ike-sniff: {}: {} line(s) of packet bytes skipped, {} packet(s) dropped, {} \
                 read",
                self.name, s.skipped_lines, s.dropped, self.frame
            );
        }
        if self.frame > 0
            && s.headers_without_bytes > 0
            && let Some(line) = s.first_header_without_bytes
        {
            eprintln!(
                "ike-sniff: {}: line {line}: {} packet header(s) with no bytes after them \
                 (the sniff was interrupted, or lines are missing from the log)",
                self.name, s.headers_without_bytes
            );
        }
    }

    /// The end of the text: clean when there were packets, an error saying what to run when
    /// there were only headers or nothing at all.
    fn end(&self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if self.frame > 0 {
            return Ok(None);
        }
        let s = &self.stats;
        let message = if s.headers > 0 && s.dropped == 0 {
            let level = match self.verbosity {
                Some(v) => format!("verbosity {v}"),
                None => "verbosity 1 or 4".to_string(),
            };
            format!(
                "FortiGate sniffer output with {} packet header(s) but no packet bytes \
                 ({level} prints headers only); run `diagnose sniffer packet <interface> \
                 '<filter>' 6 0 a` to get the bytes ike-sniff analyses",
                s.headers
            )
        } else if s.headers > 0 {
            format!(
                "FortiGate sniffer output: none of its {} packet(s) could be read (see the \
                 lines above)",
                s.headers
            )
        } else {
            format!(
                "FortiGate sniffer output with no packets in {} line(s): expected header lines \
                 (`2026-12-01 01:02:03.123456 port1 in 192.0.2.1.500 -> ...`) each followed by \
                 hex lines (`0x0000   4500 ...`)",
                self.line_no
            )
        };
        Err(CaptureError {
            source_name: self.name.clone(),
            frame: None,
            message,
        })
    }
}

/// One line of packet bytes: `0x0010` then up to 16 bytes in 2-byte hex groups.
struct HexLine {
    offset: u32,
    data: [u8; 16],
    len: usize,
    /// Column (from 1) where the groups stopped making sense.
    error: Option<usize>,
}

/// Parses `line` as a hex line, or None when it does not start like one (`0x` and at least
/// four hex digits, then a tab, spaces or a colon). The ASCII column is told from the groups by
/// the wider gap before it (two spaces or a tab), or by running on from a 4-digit group with no
/// gap at all (logs that lost the tab, which fgt2eth's line normalising also allows for).
fn hex_line(line: &[u8]) -> Option<HexLine> {
    let rest = line.strip_prefix(b"0x")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if !(4..=8).contains(&digits) {
        return None;
    }
    let mut i = 2 + digits;
    match line.get(i) {
        Some(b':') => i += 1,
        Some(b' ' | b'\t') => {}
        _ => return None,
    }
    let offset = line[2..2 + digits]
        .iter()
        .fold(0u32, |v, &b| (v << 4) | u32::from(hex_value(b)));
    let mut h = HexLine {
        offset,
        data: [0; 16],
        len: 0,
        error: None,
    };
    while matches!(line.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    while let Some(group) = line.get(i..) {
        let n = group.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let after = group.get(n).copied();
        let gap = matches!(after, None | Some(b' ' | b'\t'));
        let glued = n >= 4 && !gap;
        if n == 0 && h.len > 0 {
            break;
        }
        if !(gap && (n == 2 || n == 4)) && !glued {
            h.error = Some(i + 1);
            break;
        }
        let n = if glued { 4 } else { n };
        if h.len + n / 2 > 16 {
            h.error = Some(i + 1);
            break;
        }
        for pair in group[..n].chunks_exact(2) {
            h.data[h.len] = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
            h.len += 1;
        }
        i += n;
        // One space leads to the next group; a wider gap, a tab or the end to the ASCII column.
        if glued || n == 2 || line.get(i) != Some(&b' ') {
            break;
        }
        i += 1;
        if !line.get(i).is_some_and(u8::is_ascii_hexdigit) {
            break;
        }
    }
    if h.len == 0 && h.error.is_none() {
        h.error = Some(i + 1);
    }
    Some(h)
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// The timestamp of a packet header line, or None when `line` is not one: an optional
/// `[slot]`, an absolute (`2026-12-01 01:02:03.123456`) or relative (`3.123456`) time, then
/// the rest of the header after a space.
fn header(line: &[u8]) -> Option<Timestamp> {
    let mut s = line;
    if s.first() == Some(&b'[') {
        let end = s.iter().position(|&b| b == b']')?;
        s = trim(&s[end + 1..]);
    }
    let (ts, used) = absolute_time(s).or_else(|| relative_time(s))?;
    let rest = s.get(used..)?;
    if !matches!(rest.first(), Some(b' ' | b'\t')) || trim(rest).is_empty() {
        return None;
    }
    Some(ts)
}

/// `YYYY-MM-DD HH:MM:SS.frac`, read as UTC, and the bytes it took.
fn absolute_time(s: &[u8]) -> Option<(Timestamp, usize)> {
    let shape = s.get(..20)?;
    for (i, &b) in shape.iter().enumerate() {
        let want = match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            19 => b == b'.',
            _ => b.is_ascii_digit(),
        };
        if !want {
            return None;
        }
    }
    let num = |a: usize, b: usize| {
        s[a..b]
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
    let (hour, min, sec) = (num(11, 13), num(14, 16), num(17, 19));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let (nanos, frac_len) = fraction(&s[20..])?;
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    Some((Timestamp::new(secs, nanos), 20 + frac_len))
}

/// `SECONDS.frac`, seconds since the sniff started, and the bytes it took.
fn relative_time(s: &[u8]) -> Option<(Timestamp, usize)> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 12 || s.get(n) != Some(&b'.') {
        return None;
    }
    let secs = s[..n]
        .iter()
        .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
    let (nanos, frac_len) = fraction(&s[n + 1..])?;
    Some((Timestamp::new(secs, nanos), n + 1 + frac_len))
}

/// The digits of a fraction of a second as nanoseconds (digits past the ninth are dropped).
fn fraction(s: &[u8]) -> Option<(u32, usize)> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        nanos = nanos * 10
            + s.get(i)
                .filter(|_| i < n)
                .map_or(0, |&d| u32::from(d - b'0'));
    }
    Some((nanos, n))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The verbosity in a command echo (`diag sniffer packet any 'udp port 500' 6 0 a`): the third
/// argument, the filter possibly quoted; 1 when it is left out, as the CLI does.
fn command_verbosity(line: &[u8]) -> Option<u8> {
    let at = find(line, b"sniffer packet")? + b"sniffer packet".len();
    let mut args = Vec::new();
    let mut s = &line[at..];
    loop {
        s = trim(s);
        let Some(&first) = s.first() else { break };
        let end = if first == b'\'' || first == b'"' {
            let close = s[1..]
                .iter()
                .position(|&b| b == first)
                .map_or(s.len(), |p| p + 2);
            close.min(s.len())
        } else {
            s.iter()
                .position(|&b| b == b' ' || b == b'\t')
                .unwrap_or(s.len())
        };
        args.push(&s[..end]);
        s = &s[end..];
    }
    match args.get(2) {
        None => Some(1),
        Some([d @ b'1'..=b'6']) => Some(d - b'0'),
        Some(_) => None,
    }
}

/// The link type of a packet's bytes, and its length on the wire where the IP header says more
/// than was printed (the sniffer's frame size cuts long packets).
///
/// At verbosity 3 and 6 the bytes start at the Ethernet header on Ethernet interfaces and at
/// the IP header on tunnel and PPP interfaces, in the same dump when the interface is `any`.
/// An Ethernet frame whose ethertype is IP and whose IP header's length fits the bytes is
/// taken as Ethernet; otherwise bytes that are a whole IP packet by their own header are raw
/// IP; failing both, a known ethertype says Ethernet and an IP version nibble raw IP.
fn link_type(b: &[u8]) -> (u32, u32) {
    let ethertype = b.get(12..14).map(|e| u16::from_be_bytes([e[0], e[1]]));
    let eth_ip = match ethertype {
        Some(0x0800 | 0x86dd) => b.get(14..).and_then(ip_length),
        _ => None,
    };
    let raw_ip = ip_length(b);
    let n = b.len();
    // Ethernet pads frames to 60 bytes, so an Ethernet IP packet may be shorter than the bytes;
    // a length past the bytes is a packet cut at the sniffer's frame size.
    if let Some(len) = eth_ip
        && (14 + len == n || (n <= 60 && 14 + len < n))
    {
        return (LINKTYPE_ETHERNET, (14 + len) as u32);
    }
    if let Some(len) = raw_ip
        && len == n
    {
        return (LINKTYPE_RAW, len as u32);
    }
    if let Some(len) = eth_ip
        && 14 + len > n
    {
        return (LINKTYPE_ETHERNET, (14 + len) as u32);
    }
    if let Some(len) = raw_ip
        && len > n
    {
        return (LINKTYPE_RAW, len as u32);
    }
    let eth_known = matches!(
        ethertype,
        Some(0x0800 | 0x86dd | 0x0806 | 0x8100 | 0x88a8 | 0x9100 | 0x8863 | 0x8864 | 0x8809)
    );
    if eth_known || !matches!(b.first().map(|v| v >> 4), Some(4 | 6)) {
        (LINKTYPE_ETHERNET, 0)
    } else {
        (LINKTYPE_RAW, 0)
    }
}

/// The length an IPv4 or IPv6 header at the start of `b` gives its packet, when the header is
/// whole and plausible.
fn ip_length(b: &[u8]) -> Option<usize> {
    match b.first()? >> 4 {
        4 => {
            let ihl = usize::from(b[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
            (ihl >= 20 && b.len() >= ihl && total >= ihl).then_some(total)
        }
        6 => {
            let payload = usize::from(u16::from_be_bytes([*b.get(4)?, *b.get(5)?]));
            (b.len() >= 40).then_some(40 + payload)
        }
        _ => None,
    }
}

/// Reads one line (without its `\n`) into `buf`, keeping at most [`MAX_LINE`] bytes of it;
/// `Ok(false)` at the end of the input.
fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any);
        }
        any = true;
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(p) => (p, true),
            None => (available.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..take.min(room)]);
        input.consume(if done { take + 1 } else { take });
        if done {
            return Ok(true);
        }
    }
}

/// A line as the terminal showed it: no line end, the text after the last carriage return
/// (what overwrote the rest), escape sequences, backspaces and pager prompts removed, and no
/// surrounding blanks. Plain lines are returned as they are; others are rebuilt in `scratch`.
fn clean<'a>(raw: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let mut line = raw.strip_suffix(b"\n").unwrap_or(raw);
    while let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    if let Some(cr) = line.iter().rposition(|&b| b == b'\r') {
        let after = &line[cr + 1..];
        line = if trim(after).is_empty() {
            &line[..cr]
        } else {
            after
        };
    }
    if !line.iter().any(|&b| b == 0x1b || b == 0x08 || b == b'-') || !needs_rebuild(line) {
        return trim(line);
    }
    scratch.clear();
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            0x1b => {
                // CSI (`ESC [ params final`) or a two-byte escape.
                i += 1;
                if line.get(i) == Some(&b'[') {
                    i += 1;
                    while line.get(i).is_some_and(|b| !(0x40..=0x7e).contains(b)) {
                        i += 1;
                    }
                }
                i += 1;
            }
            0x08 => {
                scratch.pop();
                i += 1;
            }
            b => {
                scratch.push(b);
                i += 1;
            }
        }
    }
    while let Some(at) = find(scratch, b"--More--") {
        scratch.drain(at..at + b"--More--".len());
    }
    trim(scratch)
}

fn needs_rebuild(line: &[u8]) -> bool {
    line.iter().any(|&b| b == 0x1b || b == 0x08) || find(line, b"--More--").is_some()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// A line of the file for a message: escaped, and cut short.
fn shown(line: &[u8]) -> String {
    const MAX: usize = 60;
    let cut = &line[..line.len().min(MAX)];
    let more = if line.len() > MAX { "..." } else { "" };
    format!("\"{}{more}\"", printable(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame number, time, link type and bytes of a packet read.
    type Read = (u64, Timestamp, u32, Vec<u8>);

    fn read_all(text: &[u8]) -> (Vec<Read>, Option<String>) {
        let mut input = io::Cursor::new(text.to_vec());
        let mut t = SnifferText::new("t");
        let mut out = Vec::new();
        loop {
            match t.next_packet(&mut input) {
                Ok(Some(p)) => out.push((p.frame, p.ts, p.linktype, p.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn hex_lines_in_the_layouts_seen() {
        let h =
            hex_line(b"0x0030   41c2 50a0 5c09                                 A.P.\\.").unwrap();
        assert_eq!(
            (h.offset, &h.data[..h.len], h.error),
            (0x30, &[0x41, 0xc2, 0x50, 0xa0, 0x5c, 0x09][..], None)
        );
        // Older releases: a tab after the offset and before the ASCII column, and an odd byte.
        let h = hex_line(b"0x0010\t 4500 00\tE..").unwrap();
        assert_eq!(
            (h.offset, &h.data[..h.len]),
            (0x10, &[0x45, 0x00, 0x00][..])
        );
        // The ASCII column glued to the last group (fgt2eth normalises these).
        let h =
            hex_line(b"0x0000   0001 0203 0405 0607 0809 0a0b 0c0d 0e0f................").unwrap();
        assert_eq!((h.len, h.data[15], h.error), (16, 0x0f, None));
        // An ASCII column that looks like hex still starts after the wide gap.
        let h = hex_line(b"0x0000   cafe        cafe").unwrap();
        assert_eq!(&h.data[..h.len], &[0xca, 0xfe]);
        // tcpdump -X style, with a colon.
        assert_eq!(hex_line(b"0x0000:  4500 0054").unwrap().len, 4);
        assert_eq!(hex_line(b"0x0000   45z0 0054").unwrap().error, Some(10));
        assert_eq!(hex_line(b"0x0000   ").unwrap().error, Some(10));
        assert!(hex_line(b"0x10 is sixteen").is_none());
        assert!(hex_line(b"interfaces=[any]").is_none());
    }

    #[test]
    fn header_times_absolute_relative_and_slotted() {
        let t = header(b"2017-09-12 12:40:13.675529 10.134.190.2 -> 10.134.190.30: icmp").unwrap();
        assert_eq!(t, Timestamp::new(1_505_220_013, 675_529_000));
        let t =
            header(b"[FPM03] 2024-02-29 23:59:60.5 port1 in 1.2.3.4 -> 5.6.7.8: udp 8").unwrap();
        assert_eq!(t, Timestamp::new(1_709_251_200, 500_000_000));
        assert_eq!(
            header(b"12.000100 port1 out x").unwrap(),
            Timestamp::new(12, 100_000)
        );
        assert!(header(b"2017-13-12 12:40:13.675529 x").is_none());
        assert!(header(b"12.5").is_none());
        assert!(header(b"5.6.1 release notes").is_none());
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn session_noise_is_cleaned() {
        let mut s = Vec::new();
        assert_eq!(clean(b"0x0000   4500\r\n", &mut s), b"0x0000   4500");
        assert_eq!(clean(b"junk\r0x0010   0001\r\n", &mut s), b"0x0010   0001");
        assert_eq!(
            clean(b"--More--\x08\x08\x08\x08\x08\x08\x08\x08        \x08\x08\x08\x08\x08\x08\x08\x080x0020   aa", &mut s),
            b"0x0020   aa"
        );
        assert_eq!(clean(b"\x1b[1mFGT #\x1b[0m exit", &mut s), b"FGT # exit");
    }

    #[test]
    fn verbosity_from_the_command_echo() {
        let v = |l: &[u8]| command_verbosity(l);
        assert_eq!(
            v(b"FGT # diag sniffer packet any 'host 1.2.3.4 and port 500' 4 0 a"),
            Some(4)
        );
        assert_eq!(v(b"diagnose sniffer packet port1 \"esp\" 6"), Some(6));
        assert_eq!(v(b"diagnose sniffer packet port1 none"), Some(1));
        assert_eq!(v(b"diagnose sniffer packet port1 none 9"), None);
    }

    #[test]
    fn link_type_per_packet() {
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip.extend_from_slice(&[0x01, 0xf4, 0x01, 0xf4, 0, 8, 0, 0]);
        let mut eth = vec![0; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(link_type(&ip), (LINKTYPE_RAW, 28));
        assert_eq!(link_type(&eth), (LINKTYPE_ETHERNET, 42));
        // Padded to the 60-byte minimum.
        let mut padded = eth.clone();
        padded.resize(60, 0);
        assert_eq!(link_type(&padded).0, LINKTYPE_ETHERNET);
        // Cut at the sniffer's frame size: the wire length comes from the IP header.
        let mut long = ip.clone();
        long[2..4].copy_from_slice(&1400u16.to_be_bytes());
        assert_eq!(link_type(&long), (LINKTYPE_RAW, 1400));
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert_eq!(link_type(&arp).0, LINKTYPE_ETHERNET);
    }

    #[test]
    fn packets_end_at_the_next_header_and_at_the_end() {
        let text = b"FGT # diagnose sniffer packet any 'udp' 6 0 l\r\n\
            2026-12-01 01:02:03.000001 vpn-hq in 10.0.0.1.500 -> 10.0.0.2.500: udp 0\r\n\
            0x0000   4500 001c 0000 0000 4011 0000 0a00 0001        E.......@.......\r\n\
            0x0010   0a00 0002 01f4 01f4 0008 0000                  ............\r\n\
            2026-12-01 01:02:04.5 port1 out 10.0.0.1.500 -> 10.0.0.2.500: udp 0\r\n\
            0x0000   0000 0000 0001 0000 0000 0002 0800 4500        ..............E.\r\n\
            0x0010   001c 0000 0000 4011 0000 0a00 0001 0a00        ......@.........\r\n\
            0x0020   0002 01f4 01f4 0008 0000                       ..........\r\n\
            \r\n2 packets received by filter\r\n";
        let (pkts, err) = read_all(text);
        assert_eq!(err, None);
        assert_eq!(pkts.len(), 2);
        assert_eq!(
            (pkts[0].0, pkts[0].2, pkts[0].3.len()),
            (1, LINKTYPE_RAW, 28)
        );
        assert_eq!(pkts[0].1, Timestamp::new(1_796_086_923, 1000));
        assert_eq!(
            (pkts[1].0, pkts[1].2, pkts[1].3.len()),
            (2, LINKTYPE_ETHERNET, 42)
        );
        assert_eq!(pkts[1].1, Timestamp::new(1_796_086_924, 500_000_000));
    }

    #[test]
    fn bytes_after_a_lost_header_go_and_the_packet_before_stays() {
        let text = b"0.000001 port1 in x\n\
            0x0000   4500 0014 0000 0000 4011 0000 0a00 0001\n0x0010   0a00 0002\n\
            0x0000   4500 0014\n0x0010   0a00\n\
            1.5 port1 out y\n\
            0x0000   4500 0014 0000 0000 4011 0000 0a00 0001\n0x0010   0a00 0002\n";
        let (pkts, err) = read_all(text);
        assert_eq!(err, None);
        let seen: Vec<_> = pkts.iter().map(|p| (p.0, p.1, p.2, p.3.len())).collect();
        assert_eq!(
            seen,
            vec![
                (1, Timestamp::new(0, 1000), LINKTYPE_RAW, 20),
                (2, Timestamp::new(1, 500_000_000), LINKTYPE_RAW, 20)
            ]
        );
    }

    #[test]
    fn detection_wants_sniffer_markers() {
        let sample = include_bytes!("../../captures/public/fgsniffer/example.log");
        assert!(looks_like_sniffer_text(sample));
        let (pkts, err) = read_all(sample);
        assert_eq!((pkts.len(), err), (2, None));
        // Without the command echo and the interfaces line: a header and the first hex line.
        let at = sample.windows(5).position(|w| w == b"2017-").unwrap();
        assert!(looks_like_sniffer_text(&sample[at..]));
        assert!(!looks_like_sniffer_text(
            b"<!DOCTYPE html>\n0x0000   4500\n"
        ));
        assert!(!looks_like_sniffer_text(b"diagnose sniffer packet\0"));
    }

    #[test]
    fn nothing_but_noise_is_an_error_saying_what_was_expected() {
        let (pkts, err) = read_all(b"FGT # diagnose sniffer packet any none 6 0 a\nInterrupted\n");
        assert!(pkts.is_empty());
        assert!(
            err.unwrap()
                .contains("no packets in 2 line(s): expected header lines")
        );
    }
}
