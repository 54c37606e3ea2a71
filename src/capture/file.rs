//! Capture files: classic pcap (both byte orders, µs and ns) and pcapng, mapped or read in
//! large blocks; and FortiGate sniffer text, detected here and read by `capture/fortigate.rs`
//! through the same buffering.
//!
//! A regular file is mapped a window at a time (`MappedFile`); standard input and pipes fill
//! one growable buffer with large `read` calls (1 MiB at a time, more when a single record is
//! bigger). Each packet [`FileSource`] returns borrows the window or the buffer; the record is
//! consumed at the start of the next call, so nothing is copied or allocated per packet.
//!
//! Framing (record and block headers, packet blocks) is done here, on the hot path, by reading a
//! few fixed fields; pcap-parser parses the classic file header and pcapng interface description
//! blocks, which are rare. Reasons, found reading pcap-parser 0.17:
//! - its readers turn an `io::Error` into a bare `ReadError` and a truncated record into
//!   `UnexpectedEof` without lengths, so errors could not say what went wrong or where;
//! - its EPB parser collects the options into a `Vec` per packet;
//! - its `build_ts` keeps seconds in a `u32` and `if_tsoffset` as unsigned, and reads
//!   `if_tsoffset` as little-endian even in big-endian sections.
//!
//! This module leaves the link layer alone: it reports each packet's LINKTYPE and lengths, and
//! decoding starts in `decode/`.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use pcap_parser::PcapError;
use pcap_parser::pcapng::{
    OptionCode, parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
};

use super::fortigate::{self, SnifferText};
use super::{CaptureError, PacketSource, RawPacket, fault};
use crate::event::Timestamp;
use crate::event::text::printable;

/// Bytes requested from the reader at a time (the buffer's initial size).
const READ_SIZE: usize = 1 << 20;
/// Largest non-packet pcapng block accepted; the buffer grows up to this.
const MAX_BLOCK_LEN: usize = 256 << 20;
/// A packet may exceed the file's snaplen up to this (libpcap's largest snaplen) before its
/// length counts as absurd; broken writers exceed the snaplen they declare.
const MIN_CAPLEN_LIMIT: u32 = 256 * 1024;
/// No packet is larger than this, whatever the snaplen says.
const MAX_CAPLEN: u32 = 16 << 20;

/// LINKTYPE field of a classic pcap header: the low bits are the link type, the high bits say
/// whether frames carry an FCS (libpcap's `LT_LINKTYPE`).
const LINKTYPE_MASK: u32 = 0x03FF_FFFF;

// pcapng block types (pcapng draft, section 11.1).
const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const OBSOLETE_PB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Reads packets from a classic pcap or pcapng file, or from any byte stream holding one.
pub struct FileSource {
    name: String,
    input: Input,
    format: Format,
    /// Packets returned so far; the next one gets `frame + 1`.
    frame: u64,
    /// Length of the record returned last, consumed at the start of the next call.
    pending: usize,
    /// Set after the clean end or an error: every later call returns `Ok(None)`.
    finished: bool,
}

enum Format {
    Pcap(PcapFormat),
    PcapNg(NgState),
    Text(Box<SnifferText>),
}

struct PcapFormat {
    big_endian: bool,
    nanos: bool,
    /// Record header length: 16, or 24 for the "modified" (Kuznetzov) format.
    record_header: usize,
    linktype: u32,
    caplen_limit: u32,
}

#[derive(Default)]
struct NgState {
    big_endian: bool,
    /// Interfaces of the current section, in IDB order.
    interfaces: Vec<Interface>,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    resolution: Resolution,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_secs: i64,
}

/// Timestamp units per second, from `if_tsresol` (pcapng draft, section 4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    /// 10^n units per second, n ≤ 19 so that 10^n fits a `u64`.
    Pow10(u32),
    /// 2^n units per second, n ≤ 63.
    Pow2(u32),
}

impl Resolution {
    fn from_tsresol(v: u8) -> Option<Resolution> {
        let n = u32::from(v & 0x7f);
        if v & 0x80 == 0 {
            (n <= 19).then_some(Resolution::Pow10(n))
        } else {
            (n <= 63).then_some(Resolution::Pow2(n))
        }
    }

    /// Splits a count of units into whole seconds and nanoseconds, exactly (fractions of a
    /// nanosecond are truncated).
    fn split(self, units: u64) -> (u64, u32) {
        match self {
            Resolution::Pow10(n) => {
                let per_sec = 10u64.pow(n);
                let (secs, frac) = (units / per_sec, units % per_sec);
                let nanos = if n <= 9 {
                    frac * 10u64.pow(9 - n)
                } else {
                    frac / 10u64.pow(n - 9)
                };
                (secs, nanos as u32)
            }
            Resolution::Pow2(n) => {
                let secs = units.checked_shr(n).unwrap_or(0);
                let frac = units & ((1u64 << n) - 1);
                let nanos = (u128::from(frac) * 1_000_000_000) >> n;
                (secs, nanos as u32)
            }
        }
    }
}

/// Where the packet returned by `next_packet` lies, relative to the start of the unread data.
struct PacketMeta {
    record_len: usize,
    data_at: usize,
    caplen: u32,
    origlen: u32,
    ts: Timestamp,
    linktype: u32,
}

/// What one pcapng block turned out to be.
enum NgStep {
    Packet(PacketMeta),
    Skipped,
}

impl FileSource {
    /// Opens a path, or standard input when `path` is "-". Detects classic pcap (both byte
    /// orders, µs magic a1b2c3d4 and ns magic a1b23c4d) vs pcapng from the magic.
    pub fn open(path: &str) -> Result<FileSource, CaptureError> {
        if path == "-" {
            return FileSource::from_reader(path, Box::new(io::stdin()));
        }
        let cannot = |e: io::Error| CaptureError {
            source_name: printable(path.as_bytes()),
            frame: None,
            message: format!("cannot open: {e}"),
        };
        let file = File::open(path).map_err(cannot)?;
        let meta = file.metadata().map_err(cannot)?;
        if meta.is_file() {
            let input = Input::mapped(MappedFile::new(file, meta.len(), WINDOW));
            return FileSource::from_input(path, input);
        }
        FileSource::from_reader(path, Box::new(file))
    }

    /// Reads a capture from any byte stream; `name` is used in messages.
    pub fn from_reader(
        name: &str,
        reader: Box<dyn Read + Send>,
    ) -> Result<FileSource, CaptureError> {
        FileSource::from_input(name, Input::new(reader))
    }

    fn from_input(name: &str, mut input: Input) -> Result<FileSource, CaptureError> {
        // The name reaches the terminal, the summary and the JSON `meta` line: a path may hold
        // control characters like any other text we did not write.
        let name = &printable(name.as_bytes());
        let err = |message: String| CaptureError {
            source_name: name.to_string(),
            frame: None,
            message,
        };
        let io_err = |e: io::Error| err(format!("read error: {e}"));

        if !input.fill(4).map_err(io_err)? {
            return Err(err(match input.available().len() {
                0 => "empty file, not a capture".to_string(),
                n => format!("{n}-byte file is too short to be a capture"),
            }));
        }
        let head = input.available();
        let magic = [head[0], head[1], head[2], head[3]];
        let format = match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                if !input.fill(12).map_err(io_err)? {
                    return Err(err(format!(
                        "truncated pcapng section header: {} of 28 bytes",
                        input.available().len()
                    )));
                }
                let bom = &input.available()[8..12];
                let big_endian = match u32::from_le_bytes([bom[0], bom[1], bom[2], bom[3]]) {
                    BYTE_ORDER_MAGIC => false,
                    m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                    m => {
                        return Err(err(format!(
                            "pcapng section header has a bad byte-order magic 0x{m:08x}"
                        )));
                    }
                };
                Format::PcapNg(NgState {
                    big_endian,
                    interfaces: Vec::new(),
                })
            }
            _ => match pcap_magic(magic) {
                Some((big_endian, nanos, record_header)) => {
                    if !input.fill(24).map_err(io_err)? {
                        return Err(err(format!(
                            "truncated pcap file header: {} of 24 bytes",
                            input.available().len()
                        )));
                    }
                    let header = parse_pcap_file_header(&input.available()[..24])
                        .ok_or_else(|| err("malformed pcap file header".to_string()))?;
                    input.consume(24);
                    let snaplen = header.0;
                    Format::Pcap(PcapFormat {
                        big_endian,
                        nanos,
                        record_header,
                        linktype: header.1,
                        caplen_limit: snaplen.clamp(MIN_CAPLEN_LIMIT, MAX_CAPLEN),
                    })
                }
                None => {
                    // Text has no magic: look at the start of it, as much as one fill gives.
                    input.fill(fortigate::DETECT_LEN).map_err(io_err)?;
                    let head = input.available();
                    if !fortigate::looks_like_sniffer_text(head) {
                        return Err(err(not_a_capture(head)));
                    }
                    Format::Text(Box::new(SnifferText::new(name)))
                }
            },
        };
        Ok(FileSource {
            name: name.to_string(),
            input,
            format,
            frame: 0,
            pending: 0,
            finished: false,
        })
    }

    fn error(&self, message: String) -> CaptureError {
        CaptureError {
            source_name: self.name.clone(),
            frame: Some(self.frame + 1),
            message,
        }
    }

    fn fill(&mut self, n: usize) -> Result<bool, CaptureError> {
        self.input
            .fill(n)
            .map_err(|e| self.error(format!("read error: {e}")))
    }

    /// Error for a record cut short by the end of the file.
    fn truncated(&self, what: &str, need: usize, header: usize) -> CaptureError {
        let have = self.input.available().len();
        self.error(format!(
            "truncated {what}: {} of {} bytes (record starts at byte {})",
            have.saturating_sub(header),
            need - header,
            self.input.offset()
        ))
    }

    /// Finds the next packet record; `Ok(None)` at a clean end of file.
    fn advance(&mut self) -> Result<Option<PacketMeta>, CaptureError> {
        loop {
            let step = match &self.format {
                Format::Pcap(_) => return self.next_pcap_record(),
                Format::PcapNg(_) => self.next_ng_block()?,
                Format::Text(_) => unreachable!("text is read by next_packet"),
            };
            match step {
                Some(NgStep::Packet(meta)) => return Ok(Some(meta)),
                Some(NgStep::Skipped) => {}
                None => return Ok(None),
            }
        }
    }

    fn next_pcap_record(&mut self) -> Result<Option<PacketMeta>, CaptureError> {
        let Format::Pcap(f) = &self.format else {
            unreachable!("called only for classic pcap")
        };
        let (big_endian, nanos, hdr_len, linktype, limit) = (
            f.big_endian,
            f.nanos,
            f.record_header,
            f.linktype,
            f.caplen_limit,
        );
        if !self.fill(hdr_len)? {
            if self.input.available().is_empty() {
                return Ok(None);
            }
            return Err(self.truncated("record header", hdr_len, 0));
        }
        // The four fields as one fixed-size array: no bounds check per byte on this per-packet
        // path (`fill` made at least `hdr_len` >= 16 bytes available).
        let h: [u8; 16] = match self.input.available().first_chunk() {
            Some(h) => *h,
            None => unreachable!("fill made the record header available"),
        };
        let rd = |at: usize| {
            let b = [h[at], h[at + 1], h[at + 2], h[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (ts_sec, ts_frac, caplen, origlen) = (rd(0), rd(4), rd(8), rd(12));
        if caplen == 0 {
            // Rare in captures, and what the zeroed tail of a mapped file's last page reads as
            // when another process truncated it mid-page.
            self.input.recheck_len();
        }
        if caplen > limit {
            return Err(self.error(format!(
                "record length {caplen} is absurd (limit {limit}, from the file's snaplen)"
            )));
        }
        let record_len = hdr_len + caplen as usize;
        if !self.fill(record_len)? {
            return Err(self.truncated("record", record_len, hdr_len));
        }
        let (secs, nanos) = if nanos {
            (
                i64::from(ts_sec) + i64::from(ts_frac / 1_000_000_000),
                ts_frac % 1_000_000_000,
            )
        } else {
            (
                i64::from(ts_sec) + i64::from(ts_frac / 1_000_000),
                ts_frac % 1_000_000 * 1000,
            )
        };
        Ok(Some(PacketMeta {
            record_len,
            data_at: hdr_len,
            caplen,
            origlen: origlen.max(caplen),
            ts: Timestamp::new(secs, nanos),
            linktype,
        }))
    }

    fn ng(&self) -> &NgState {
        match &self.format {
            Format::PcapNg(ng) => ng,
            Format::Pcap(_) | Format::Text(_) => unreachable!("called only for pcapng"),
        }
    }

    fn ng_mut(&mut self) -> &mut NgState {
        match &mut self.format {
            Format::PcapNg(ng) => ng,
            Format::Pcap(_) | Format::Text(_) => unreachable!("called only for pcapng"),
        }
    }

    /// Reads one pcapng block. Non-packet blocks are consumed here; a packet block is left in
    /// the buffer and described by the returned [`PacketMeta`].
    fn next_ng_block(&mut self) -> Result<Option<NgStep>, CaptureError> {
        if !self.fill(8)? {
            if self.input.available().is_empty() {
                return Ok(None);
            }
            return Err(self.truncated("block header", 8, 0));
        }
        let mut big_endian = self.ng().big_endian;
        let block_type = read_u32(self.input.available(), 0, big_endian);
        if block_type == SHB_TYPE {
            // A new section may switch byte order: the byte-order magic follows the length.
            if !self.fill(12)? {
                return Err(self.truncated("section header", 12, 0));
            }
            let bom = read_u32(self.input.available(), 8, false);
            big_endian = match bom {
                BYTE_ORDER_MAGIC => false,
                m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                m => {
                    return Err(self.error(format!(
                        "pcapng section header has a bad byte-order magic 0x{m:08x}"
                    )));
                }
            };
        }
        let block_len = read_u32(self.input.available(), 4, big_endian) as usize;
        let min_len = match block_type {
            SHB_TYPE => 28,
            EPB_TYPE | OBSOLETE_PB_TYPE => 32,
            SPB_TYPE => 16,
            IDB_TYPE => 20,
            _ => 12,
        };
        if block_len < min_len || block_len % 4 != 0 || block_len > MAX_BLOCK_LEN {
            return Err(self.error(format!(
                "pcapng block type 0x{block_type:08x} at byte {} has a bad length {block_len}",
                self.input.offset()
            )));
        }
        if matches!(block_type, EPB_TYPE | OBSOLETE_PB_TYPE) {
            // Check the captured length before reading a block it may make huge.
            if !self.fill(28)? {
                return Err(self.truncated("record", block_len, 0));
            }
            let caplen = read_u32(self.input.available(), 20, big_endian);
            if caplen > MAX_CAPLEN {
                return Err(self.error(format!("record length {caplen} is absurd")));
            }
        }
        let known = matches!(
            block_type,
            SHB_TYPE | IDB_TYPE | EPB_TYPE | OBSOLETE_PB_TYPE | SPB_TYPE
        );
        if !known && block_len > READ_SIZE {
            return self.skip_ng_block(block_type, block_len, big_endian);
        }
        if !self.fill(block_len)? {
            return Err(self.truncated("record", block_len, 0));
        }
        let block = &self.input.available()[..block_len];
        let trailer = read_u32(block, block_len - 4, big_endian) as usize;
        if trailer != block_len {
            return Err(self.error(format!(
                "pcapng block type 0x{block_type:08x} at byte {}: length {block_len} at the \
                 start but {trailer} at the end",
                self.input.offset()
            )));
        }
        let step = match block_type {
            EPB_TYPE | OBSOLETE_PB_TYPE => NgStep::Packet(self.ng_packet(block_type, block_len)?),
            SPB_TYPE => NgStep::Packet(self.ng_simple_packet(block_len)?),
            SHB_TYPE => {
                let major = read_u16(block, 12, big_endian);
                if major != 1 {
                    let minor = read_u16(block, 14, big_endian);
                    return Err(self.error(format!("unsupported pcapng version {major}.{minor}")));
                }
                let ng = self.ng_mut();
                ng.big_endian = big_endian;
                ng.interfaces.clear();
                NgStep::Skipped
            }
            IDB_TYPE => {
                let iface = parse_idb(block, big_endian).map_err(|m| self.error(m))?;
                self.ng_mut().interfaces.push(iface);
                NgStep::Skipped
            }
            _ => NgStep::Skipped,
        };
        if let NgStep::Skipped = step {
            self.input.consume(block_len);
        }
        Ok(Some(step))
    }

    /// Passes over a large block of a type that is not read (statistics, name resolution,
    /// custom, or unknown; up to `MAX_BLOCK_LEN`) without holding it: a 250 MiB block cost as
    /// much resident memory when it was filled like a packet block. Only its trailing length
    /// is read, to keep the framing check.
    #[cold]
    fn skip_ng_block(
        &mut self,
        block_type: u32,
        block_len: usize,
        big_endian: bool,
    ) -> Result<Option<NgStep>, CaptureError> {
        let at = self.input.offset();
        let truncated = |s: &Self| {
            s.error(format!(
                "truncated pcapng block type 0x{block_type:08x}: the file ends inside its \
                 {block_len} bytes (block starts at byte {at})"
            ))
        };
        let skipped = self
            .input
            .skip(block_len - 4)
            .map_err(|e| self.error(format!("read error: {e}")))?;
        if !skipped || !self.fill(4)? {
            return Err(truncated(self));
        }
        let trailer = read_u32(self.input.available(), 0, big_endian) as usize;
        if trailer != block_len {
            return Err(self.error(format!(
                "pcapng block type 0x{block_type:08x} at byte {at}: length {block_len} at the \
                 start but {trailer} at the end"
            )));
        }
        self.input.consume(4);
        Ok(Some(NgStep::Skipped))
    }

    fn interface(&self, if_id: u32, kind: &str) -> Result<Interface, CaptureError> {
        let interfaces = &self.ng().interfaces;
        interfaces.get(if_id as usize).copied().ok_or_else(|| {
            self.error(format!(
                "{kind} refers to interface {if_id}, but the section defines {} interface(s)",
                interfaces.len()
            ))
        })
    }

    /// Enhanced Packet Block (pcapng draft, section 4.3) or the obsolete Packet Block (appendix
    /// A), whose 32-bit interface ID is split into a 16-bit ID and a drop count.
    fn ng_packet(&self, block_type: u32, block_len: usize) -> Result<PacketMeta, CaptureError> {
        let big_endian = self.ng().big_endian;
        let b = &self.input.available()[..block_len];
        let (if_id, kind) = if block_type == EPB_TYPE {
            (read_u32(b, 8, big_endian), "enhanced packet block")
        } else {
            (u32::from(read_u16(b, 8, big_endian)), "packet block")
        };
        let (ts_high, ts_low) = (read_u32(b, 12, big_endian), read_u32(b, 16, big_endian));
        let (caplen, origlen) = (read_u32(b, 20, big_endian), read_u32(b, 24, big_endian));
        if caplen as usize > block_len - 32 {
            return Err(self.error(format!(
                "{kind} captured length {caplen} exceeds its block (length {block_len})"
            )));
        }
        let iface = self.interface(if_id, kind)?;
        let units = (u64::from(ts_high) << 32) | u64::from(ts_low);
        let (secs, nanos) = iface.resolution.split(units);
        let secs = (i128::from(secs) + i128::from(iface.offset_secs))
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Ok(PacketMeta {
            record_len: block_len,
            data_at: 28,
            caplen,
            origlen: origlen.max(caplen),
            ts: Timestamp::new(secs, nanos),
            linktype: iface.linktype,
        })
    }

    /// Simple Packet Block (pcapng draft, section 4.4): interface 0, no timestamp, and the
    /// captured length is implied by the original length and the snaplen.
    fn ng_simple_packet(&self, block_len: usize) -> Result<PacketMeta, CaptureError> {
        let big_endian = self.ng().big_endian;
        let origlen = read_u32(self.input.available(), 8, big_endian);
        let iface = self.interface(0, "simple packet block")?;
        let mut caplen = origlen.min((block_len - 16) as u32);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        Ok(PacketMeta {
            record_len: block_len,
            data_at: 12,
            caplen,
            origlen,
            ts: Timestamp::default(),
            linktype: iface.linktype,
        })
    }
}

impl PacketSource for FileSource {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        self.input.consume(std::mem::take(&mut self.pending));
        if self.finished {
            return Ok(None);
        }
        if matches!(self.format, Format::Text(_)) {
            // Tested first and borrowed inside: a borrow returned from one branch of an
            // `if let` would hold `self` for the rest of the function.
            let Format::Text(text) = &mut self.format else {
                unreachable!("tested above")
            };
            return text.next_packet(&mut self.input);
        }
        // `advance` returns positions, not a borrow, so the buffer is borrowed only here, once
        // no more reading can move it. One load decides whether the mapped file may have
        // shrunk (see `Input::suspect`); the rest is off the per-packet path.
        match self.advance() {
            Ok(Some(meta)) if !self.input.suspect() => Ok(Some(self.packet(meta))),
            step => self.stop(step),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl FileSource {
    #[inline(always)]
    fn packet(&mut self, meta: PacketMeta) -> RawPacket<'_> {
        self.frame += 1;
        self.pending = meta.record_len;
        let data = &self.input.available()[meta.data_at..][..meta.caplen as usize];
        RawPacket {
            frame: self.frame,
            ts: meta.ts,
            caplen: meta.caplen,
            origlen: meta.origlen,
            linktype: meta.linktype,
            data,
        }
    }

    /// The end of the input, an error, or a file that shrank while being read (found by
    /// `fstat` before a window, or by a load that faulted, this record's or the last
    /// packet's), which ends the run whatever `advance` made of the bytes: they may be the
    /// zeros `fault` put in the file's place.
    #[cold]
    fn stop(
        &mut self,
        step: Result<Option<PacketMeta>, CaptureError>,
    ) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if !matches!(step, Ok(Some(_))) {
            // A record cut short or made of nonsense may be the new end of a shrunk file, met
            // before any load faulted (the kernel zeroes the tail of the last page instead).
            self.input.recheck_len();
        }
        if let Some(len) = self.input.shrunk() {
            self.finished = true;
            return Err(self.error(format!(
                "truncated during the run: the file shrank to {len} bytes while being read \
                 (record starts at byte {})",
                self.input.offset()
            )));
        }
        match step {
            Ok(Some(meta)) => Ok(Some(self.packet(meta))),
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                Err(e)
            }
        }
    }
}

/// Where the bytes come from: a stream read into our buffer, or a regular file mapped a window
/// at a time. `available()[..]` is the unconsumed part of either.
enum Backing {
    Stream {
        reader: Box<dyn Read + Send>,
        buf: Vec<u8>,
    },
    Mapped(MappedFile),
}

/// The reader and its bytes. `bytes[start..end]` are read (or mapped) but not yet consumed.
struct Input {
    backing: Backing,
    start: usize,
    end: usize,
    /// File offset of `bytes[start]`, for messages and for placing the next window.
    offset: u64,
    eof: bool,
    /// True once the mapped file may have shrunk: the current window's mark in `fault`, or
    /// `SHRUNK` once `fstat` saw it, or `NEVER` (a stream, or no window).
    suspect: &'static AtomicBool,
}

/// Targets of [`Input::suspect`] when there is no window's mark to point at.
static NEVER: AtomicBool = AtomicBool::new(false);
static SHRUNK: AtomicBool = AtomicBool::new(true);

impl Input {
    fn new(reader: Box<dyn Read + Send>) -> Input {
        Input::with_backing(Backing::Stream {
            reader,
            buf: vec![0; READ_SIZE],
        })
    }

    fn mapped(file: MappedFile) -> Input {
        Input::with_backing(Backing::Mapped(file))
    }

    fn with_backing(backing: Backing) -> Input {
        Input {
            backing,
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            suspect: &NEVER,
        }
    }

    /// Whether the mapped file may have shrunk under the reader (then [`Input::shrunk`] says
    /// by how much): a single relaxed load per packet, the mark itself being set by the
    /// SIGBUS handler of the thread that reads.
    #[inline]
    fn suspect(&self) -> bool {
        self.suspect.load(Ordering::Relaxed)
    }

    #[inline]
    fn available(&self) -> &[u8] {
        match &self.backing {
            Backing::Stream { buf, .. } => &buf[self.start..self.end],
            Backing::Mapped(m) => &m.window()[self.start..self.end],
        }
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    /// Looks at a mapped file's length now, to notice a shrink no load has faulted on.
    #[cold]
    fn recheck_len(&mut self) {
        if let Backing::Mapped(m) = &mut self.backing
            && let Ok(meta) = m.file.metadata()
            && meta.len() < m.len
        {
            m.shrunk.get_or_insert(meta.len());
            self.suspect = &SHRUNK;
        }
    }

    /// The file's length when a mapped file shrank while being read.
    #[inline]
    fn shrunk(&mut self) -> Option<u64> {
        match &mut self.backing {
            Backing::Stream { .. } => None,
            Backing::Mapped(m) => m.shrunk(),
        }
    }

    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        self.offset += n as u64;
        if let Backing::Mapped(m) = &mut self.backing {
            m.prefetch(self.start);
        }
    }

    /// Moves `n` bytes on without keeping them: a stream reads them into its buffer a buffer
    /// at a time, a mapped file maps its next window past them. `Ok(false)` when the input
    /// ends first.
    fn skip(&mut self, n: usize) -> io::Result<bool> {
        let here = (self.end - self.start).min(n);
        self.consume(here);
        let mut left = n - here;
        if left == 0 {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.start = 0;
        self.end = 0;
        match &mut self.backing {
            Backing::Stream { reader, buf } => {
                while left > 0 {
                    let want = left.min(buf.len());
                    match reader.read(&mut buf[..want]) {
                        Ok(0) => {
                            self.eof = true;
                            return Ok(false);
                        }
                        Ok(k) => {
                            left -= k;
                            self.offset += k as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(true)
            }
            Backing::Mapped(m) => {
                // The window goes; the next `fill` maps from the new offset and finds the end of
                // the file if the block ran past it.
                m.map = None;
                self.suspect = &NEVER;
                self.offset += left as u64;
                Ok(true)
            }
        }
    }

    /// Makes at least `n` bytes available, reading as much as the buffer holds at a time.
    /// `Ok(false)` when the input ends first; whatever was there stays available.
    #[inline]
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        match &mut self.backing {
            Backing::Stream { reader, buf } => {
                if self.start + n > buf.len() && self.start > 0 {
                    buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
                while self.end - self.start < n {
                    if self.end == buf.len() {
                        // One record larger than the buffer (callers cap `n`). Grow by doubling,
                        // reading in between, so that a corrupt length in a short file costs
                        // little memory.
                        let len = (buf.len() * 2).min(self.start + n);
                        buf.resize(len, 0);
                    }
                    match reader.read(&mut buf[self.end..]) {
                        Ok(0) => {
                            self.eof = true;
                            return Ok(false);
                        }
                        Ok(k) => self.end += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(true)
            }
            Backing::Mapped(m) => {
                let (start, end) = m.map_from(self.offset, n)?;
                self.suspect = match (&m.shrunk, &m.map) {
                    (Some(_), _) => &SHRUNK,
                    (None, Some(w)) => w.guard.mark(),
                    (None, None) => &NEVER,
                };
                self.start = start;
                self.end = end;
                if end - start < n {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }
}

/// The text reader's view of the input: lines are found in what `fill` made available, so text
/// is mapped or read in the same large blocks as a capture.
impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.end == self.start {
            self.fill(1)?;
        }
        Ok(self.available())
    }

    fn consume(&mut self, n: usize) {
        Input::consume(self, n);
    }
}

/// A regular capture file, mapped one window at a time instead of copied by read(2).
///
/// Measured on the 1 GiB benchmark mix (BENCHMARKS.md): the kernel's copy into a read buffer
/// was a quarter of the run's CPU time. A mapping of the whole file would count every page in
/// the resident set (1 GiB), so only a window of `window` bytes is mapped, prefaulted with
/// MAP_POPULATE in one call, and unmapped when the reader moves past it: the resident set stays
/// at a window's size.
struct MappedFile {
    file: File,
    map: Option<Window>,
    /// File offset of the window's first byte (a multiple of `WINDOW_ALIGN`).
    map_offset: u64,
    /// File length when last looked at: a file still being written may grow.
    len: u64,
    window: usize,
    /// The window's bytes before this have been prefetched.
    prefetched: usize,
    /// The file's length once it was found shorter than before (by `fstat`, or by a load that
    /// faulted): reading stops there.
    shrunk: Option<u64>,
}

/// A mapped window and its registration with [`fault`], which turns the SIGBUS of a load past
/// a new end of the file into the window's `faulted` mark. The guard is declared first so it
/// is dropped before the unmapping.
struct Window {
    guard: fault::Guard,
    map: memmap2::Mmap,
}

/// How far ahead of the reader the window is prefetched, a cache line at a time.
const PREFETCH_AHEAD: usize = 2048;
const CACHE_LINE: usize = 64;

/// Window offsets are multiples of this: at least the page size on every Linux architecture.
const WINDOW_ALIGN: u64 = 64 << 10;
/// Bytes mapped at a time, unless one record is larger.
const WINDOW: usize = 8 << 20;

impl MappedFile {
    fn new(file: File, len: u64, window: usize) -> MappedFile {
        MappedFile {
            file,
            map: None,
            map_offset: 0,
            len,
            window: window.max(WINDOW_ALIGN as usize),
            prefetched: 0,
            shrunk: None,
        }
    }

    /// The file's length, when it was found to have shrunk while being read.
    #[inline]
    fn shrunk(&mut self) -> Option<u64> {
        if self.shrunk.is_none() && self.map.as_ref().is_some_and(|w| w.guard.faulted()) {
            self.shrunk = Some(self.file.metadata().map_or(0, |m| m.len()));
        }
        self.shrunk
    }

    /// Asks the CPU for the cache lines up to `PREFETCH_AHEAD` bytes past `at`. Measured on
    /// the 1 GiB mix: the walk over the records takes 130–139 ms with it, 147 ms without, and
    /// 207 ms when only the next record's first lines are asked for.
    #[inline]
    fn prefetch(&mut self, at: usize) {
        let Some(map) = self.map.as_ref().map(|w| &w.map[..]) else {
            return;
        };
        let until = (at + PREFETCH_AHEAD).min(map.len());
        while self.prefetched < until {
            prefetch_line(&map[self.prefetched]);
            self.prefetched += CACHE_LINE;
        }
    }

    fn window(&self) -> &[u8] {
        self.map.as_ref().map_or(&[], |w| &w.map[..])
    }

    /// Maps a window holding `n` bytes from file offset `at` (fewer where the file ends first);
    /// returns where they lie in [`MappedFile::window`].
    /// Nothing is mapped once the file has shrunk: what the window held is no longer the file.
    fn map_from(&mut self, at: u64, n: usize) -> io::Result<(usize, usize)> {
        // The length before every window: a capture still being written (tcpdump -w) grows,
        // and one truncated by another process is caught here when no load faulted yet.
        let len = self.file.metadata()?.len();
        if len < self.len || self.shrunk().is_some() {
            self.shrunk.get_or_insert(len);
            self.map = None;
            return Ok((0, 0));
        }
        self.len = len;
        let map_offset = at - at % WINDOW_ALIGN;
        let skip = (at - map_offset) as usize;
        let want = self.window.max(skip + n) as u64;
        let len = want.min(self.len.saturating_sub(map_offset)) as usize;
        // The old window goes first, so at most one is resident.
        self.map = None;
        self.map_offset = map_offset;
        if len > skip {
            let map = map_window(&self.file, map_offset, len)?;
            let guard = fault::Guard::new(map.as_ptr(), map.len())?;
            self.map = Some(Window { guard, map });
        }
        let have = self.window().len();
        self.prefetched = skip.min(have);
        Ok((skip.min(have), have))
    }
}

/// A hint to the CPU: load the cache line holding `byte`. It reads nothing and cannot fault.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch_line(byte: &u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect; the pointer comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            std::ptr::from_ref(byte).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = byte;
}

/// One of the crate's unsafe pieces (the others are [`prefetch_line`] and the SIGBUS handler in
/// `capture/fault.rs`).
///
/// SAFETY: memmap2 marks mapping unsafe because the bytes change (or, when the file shrinks,
/// reading them raises SIGBUS) if another process modifies the file while it is mapped. The
/// mapping is read-only and held by this reader alone, the window never extends past the file's
/// length as last seen, and a capture being appended to (tcpdump -w) only grows. A file
/// truncated by someone else during the run remains: its window is registered with
/// `capture/fault.rs` before any load from it, which turns the fault into zeros and a mark the
/// reader checks before each packet, so the run ends with a "truncated" error as read(2) would.
/// Standard input and other non-regular files are never mapped.
#[allow(unsafe_code)]
fn map_window(file: &File, offset: u64, len: usize) -> io::Result<memmap2::Mmap> {
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .populate()
            .map(file)?
    };
    Ok(map)
}

/// (big-endian, nanosecond, record header length) for a classic pcap magic.
fn pcap_magic(m: [u8; 4]) -> Option<(bool, bool, usize)> {
    match u32::from_le_bytes(m) {
        0xa1b2_c3d4 => Some((false, false, 16)),
        0xa1b2_3c4d => Some((false, true, 16)),
        0xa1b2_cd34 => Some((false, false, 24)),
        0xd4c3_b2a1 => Some((true, false, 16)),
        0x4d3c_b2a1 => Some((true, true, 16)),
        0x34cd_b2a1 => Some((true, false, 24)),
        _ => None,
    }
}

/// (snaplen, linktype) from the 24-byte classic pcap header, via pcap-parser (which knows both
/// byte orders but not the swapped "modified" magic, whose header is laid out the same way).
fn parse_pcap_file_header(h: &[u8]) -> Option<(u32, u32)> {
    if let Ok((_, header)) = pcap_parser::pcap::parse_pcap_header(h) {
        return Some((header.snaplen, header.network.0 as u32 & LINKTYPE_MASK));
    }
    let big_endian = pcap_magic([h[0], h[1], h[2], h[3]])?.0;
    Some((
        read_u32(h, 16, big_endian),
        read_u32(h, 20, big_endian) & LINKTYPE_MASK,
    ))
}

/// Interface Description Block (pcapng draft, section 4.2), parsed by pcap-parser; the
/// timestamp options are read here in the section's byte order.
fn parse_idb(block: &[u8], big_endian: bool) -> Result<Interface, String> {
    let parsed = if big_endian {
        parse_interfacedescriptionblock_be(block)
    } else {
        parse_interfacedescriptionblock_le(block)
    };
    let idb = match parsed {
        Ok((_, idb)) => idb,
        Err(e) => return Err(idb_error(&e, block)),
    };
    let mut resolution = Resolution::Pow10(6);
    let mut offset_secs = 0i64;
    for opt in &idb.options {
        let v = opt.value();
        if opt.code == OptionCode::IfTsresol && !v.is_empty() {
            resolution = Resolution::from_tsresol(v[0])
                .ok_or_else(|| format!("unsupported interface time resolution 0x{:02x}", v[0]))?;
        } else if opt.code == OptionCode::IfTsoffset && v.len() >= 8 {
            let bytes = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
            offset_secs = if big_endian {
                i64::from_be_bytes(bytes)
            } else {
                i64::from_le_bytes(bytes)
            };
        }
    }
    Ok(Interface {
        linktype: idb.linktype.0 as u32 & 0xffff,
        snaplen: idb.snaplen,
        resolution,
        offset_secs,
    })
}

/// What is wrong with an IDB, by where in the block the parser stopped: the parser's own
/// message quotes the rest of the block as a list of numbers, as long as the block is.
fn idb_error(e: &nom::Err<PcapError<&[u8]>>, block: &[u8]) -> String {
    let at = |rest: &[u8]| block.len().saturating_sub(rest.len());
    let why = match e {
        nom::Err::Incomplete(_) => "its fields run past the block".to_string(),
        nom::Err::Error(e) | nom::Err::Failure(e) => match e {
            // The kind is nom's name for the check (Verify, Eof, ...): a word, never bytes.
            PcapError::NomError(rest, kind) => format!(
                "the parser's {kind:?} check failed at byte {} of its {}",
                at(rest),
                block.len()
            ),
            other => format!("{} ({} bytes)", other_text(other), block.len()),
        },
    };
    format!("malformed interface description block: {why}")
}

fn other_text(e: &PcapError<&[u8]>) -> &'static str {
    match e {
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            "its fields run past the block"
        }
        _ => "not readable",
    }
}

/// Message for input that is neither pcap nor pcapng, showing its first bytes.
fn not_a_capture(head: &[u8]) -> String {
    let head = &head[..head.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let hint = match head {
        [0x1f, 0x8b, ..] => " (gzip-compressed: decompress it first)",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => " (zstd-compressed: decompress it first)",
        [b'<', ..] | [b'{', ..] => " (text, not a capture)",
        _ => "",
    };
    format!(
        "not a pcap or pcapng capture: it starts with {} \"{text}\"{hint}",
        hex.join(" ")
    )
}

#[inline]
fn read_u32(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

#[inline]
fn read_u16(b: &[u8], at: usize, big_endian: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big_endian {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_split_exactly() {
        assert_eq!(Resolution::Pow10(6).split(1_500_000_123), (1500, 123_000));
        assert_eq!(Resolution::Pow10(9).split(3_000_000_007), (3, 7));
        assert_eq!(Resolution::Pow10(0).split(42), (42, 0));
        assert_eq!(Resolution::Pow10(12).split(2_000_000_001_999), (2, 1));
        assert_eq!(Resolution::Pow2(1).split(3), (1, 500_000_000));
        assert_eq!(Resolution::Pow2(10).split(1024 * 7 + 256), (7, 250_000_000));
        assert_eq!(Resolution::Pow2(63).split(u64::MAX), (1, 999_999_999));
        assert_eq!(Resolution::from_tsresol(6), Some(Resolution::Pow10(6)));
        assert_eq!(Resolution::from_tsresol(0x8a), Some(Resolution::Pow2(10)));
        assert_eq!(Resolution::from_tsresol(20), None);
        assert_eq!(Resolution::from_tsresol(0xc0), None);
    }

    #[test]
    fn not_a_capture_shows_the_first_bytes() {
        let m = not_a_capture(b"<!DOCTYPE html>");
        assert_eq!(
            m,
            "not a pcap or pcapng capture: it starts with 3c 21 44 4f 43 54 59 50 \"<!DOCTYP\" \
             (text, not a capture)"
        );
        assert!(not_a_capture(&[0x1f, 0x8b, 8, 0]).contains("gzip"));
    }

    /// A reader that hands out one byte per call, to exercise refills at every position.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }

    fn pcap_le(records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&(1u32 | 0x1000_0000 | 0x0400_0000).to_le_bytes());
        for (sec, usec, data) in records {
            for v in [*sec, *usec, data.len() as u32, data.len() as u32] {
                f.extend_from_slice(&v.to_le_bytes());
            }
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn one_byte_reads_and_fcs_bits() {
        let file = pcap_le(&[(1, 2, b"abc"), (3, 999_999, b""), (5, 6, &[7; 300])]);
        let mut src = FileSource::from_reader("t", Box::new(Trickle(file, 0))).unwrap();
        let p = src.next_packet().unwrap().unwrap();
        assert_eq!((p.frame, p.linktype, p.data), (1, 1, &b"abc"[..]));
        assert_eq!(p.ts, Timestamp::new(1, 2000));
        let p = src.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.frame, p.caplen, p.ts),
            (2, 0, Timestamp::new(3, 999_999_000))
        );
        let p = src.next_packet().unwrap().unwrap();
        assert_eq!((p.frame, p.data.len()), (3, 300));
        assert!(src.next_packet().unwrap().is_none());
        assert!(src.next_packet().unwrap().is_none());
    }

    #[test]
    fn record_larger_than_the_buffer_grows_it() {
        let big = vec![0x55; 3 << 20];
        let mut file = pcap_le(&[(1, 0, b"x"), (2, 0, &big), (3, 0, b"y")]);
        // Raise the snaplen so the record is legal.
        file[16..20].copy_from_slice(&(8u32 << 20).to_le_bytes());
        let mut src = FileSource::from_reader("t", Box::new(io::Cursor::new(file))).unwrap();
        assert_eq!(src.next_packet().unwrap().unwrap().data, b"x");
        assert_eq!(src.next_packet().unwrap().unwrap().data.len(), 3 << 20);
        assert_eq!(src.next_packet().unwrap().unwrap().data, b"y");
        assert!(src.next_packet().unwrap().is_none());
    }

    /// Reads every packet, or the error that stopped the reading.
    fn read_all(mut src: FileSource) -> (Vec<(u64, Vec<u8>)>, Option<String>) {
        let mut got = Vec::new();
        loop {
            match src.next_packet() {
                Ok(Some(p)) => got.push((p.frame, p.data.to_vec())),
                Ok(None) => return (got, None),
                Err(e) => return (got, Some(e.to_string())),
            }
        }
    }

    fn mapped(name: &str, bytes: &[u8], window: usize) -> FileSource {
        let path = std::env::temp_dir().join(format!("ike-sniff-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let input = Input::mapped(MappedFile::new(file, bytes.len() as u64, window));
        FileSource::from_input(name, input).unwrap()
    }

    /// Records of every size from 1 byte to larger than a window, so that records start, end
    /// and straddle window boundaries everywhere.
    fn varied_records() -> Vec<u8> {
        let payloads: Vec<Vec<u8>> = (0..400u32)
            .map(|i| vec![i as u8; (i as usize * 977) % 3000 + 1])
            .chain([vec![0xAB; 200_000]])
            .chain((0..50u32).map(|i| vec![i as u8; 1500]))
            .collect();
        let records: Vec<(u32, u32, &[u8])> =
            payloads.iter().map(|p| (1, 0, p.as_slice())).collect();
        let mut file = pcap_le(&records);
        file[16..20].copy_from_slice(&(1u32 << 20).to_le_bytes());
        file
    }

    #[test]
    fn a_mapped_file_reads_like_a_stream() {
        let file = varied_records();
        let stream = FileSource::from_reader("s", Box::new(io::Cursor::new(file.clone()))).unwrap();
        let want = read_all(stream);
        assert_eq!(want.0.len(), 451);
        assert_eq!(want.1, None);
        for window in [64 << 10, 100_000, WINDOW] {
            assert_eq!(
                read_all(mapped("m", &file, window)),
                want,
                "window {window}"
            );
        }
    }

    #[test]
    fn a_truncated_mapped_file_fails_like_a_stream() {
        let file = varied_records();
        for cut in [file.len() - 1, file.len() - 1600, 24 + 10, 70_000] {
            let stream =
                FileSource::from_reader("t", Box::new(io::Cursor::new(file[..cut].to_vec())))
                    .unwrap();
            let want = read_all(stream);
            assert!(want.1.is_some(), "cut at {cut} is mid-record");
            assert_eq!(
                read_all(mapped("t", &file[..cut], 64 << 10)),
                want,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_mapped_file_that_grows_is_read_to_its_new_end() {
        let file = varied_records();
        let path = std::env::temp_dir().join(format!("ike-sniff-{}-grow", std::process::id()));
        let half = 24 + 16 + 1;
        std::fs::write(&path, &file[..half]).unwrap();
        let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
        assert_eq!(src.next_packet().unwrap().unwrap().data, [0]);
        std::fs::write(&path, &file).unwrap();
        let (rest, err) = read_all(src);
        std::fs::remove_file(&path).unwrap();
        assert_eq!((rest.len(), err), (450, None));
    }

    /// Another process truncates the file while a window of it is mapped: the next load from
    /// the window would raise SIGBUS. The reader must end with the "truncated" error instead,
    /// whether the load faults (cut inside the window) or the next window's `fstat` sees the
    /// shorter file first (cut past the window).
    #[test]
    fn a_mapped_file_that_shrinks_ends_with_an_error_not_sigbus() {
        let file = varied_records();
        let window = 64 << 10;
        for (i, cut) in [0, 30_000, 200_000, file.len() - 5000]
            .into_iter()
            .enumerate()
        {
            let path =
                std::env::temp_dir().join(format!("ike-sniff-{}-shrink-{i}", std::process::id()));
            std::fs::write(&path, &file).unwrap();
            let f = File::open(&path).unwrap();
            let input = Input::mapped(MappedFile::new(f, file.len() as u64, window));
            let mut src = FileSource::from_input("s", input).unwrap();
            for _ in 0..3 {
                src.next_packet().unwrap().unwrap();
            }
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(cut as u64)
                .unwrap();
            let (got, err) = read_all(src);
            std::fs::remove_file(&path).unwrap();
            let err = err.unwrap_or_else(|| panic!("cut {cut}: read {} more", got.len()));
            assert!(
                err.contains(&format!(
                    "truncated during the run: the file shrank to {cut} bytes"
                )),
                "cut {cut}: {err}"
            );
            // Every packet handed out before the error is the file's, but for the one that
            // straddles the new end, which may read zeros past it.
            let want = read_all(mapped("w", &file, window)).0;
            let whole = got.len().saturating_sub(1);
            assert_eq!(got[..whole], want[3..3 + whole], "cut {cut}");
            assert!(got.len() <= want.len() - 3, "cut {cut}");
        }
    }

    #[test]
    fn absurd_record_length() {
        let mut file = pcap_le(&[(1, 0, b"x"), (2, 0, b"yz")]);
        let at = 24 + 16 + 1 + 8;
        file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut src = FileSource::from_reader("v.pcap", Box::new(io::Cursor::new(file))).unwrap();
        assert!(src.next_packet().unwrap().is_some());
        let e = src.next_packet().unwrap_err();
        assert_eq!(e.frame, Some(2));
        assert!(
            e.to_string()
                .starts_with("v.pcap: frame 2: record length 4294967295 is absurd"),
            "{e}"
        );
        assert!(src.next_packet().unwrap().is_none());
    }

    /// Fails with an I/O error once `ok` bytes were handed out.
    struct Failing(Vec<u8>, usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn read_errors_keep_the_io_error() {
        let mut file = pcap_le(&[(1, 0, b"x"), (2, 0, b"yz")]);
        file.truncate(file.len() - 1);
        let mut src = FileSource::from_reader("r", Box::new(Failing(file, 0))).unwrap();
        assert!(src.next_packet().unwrap().is_some());
        let e = src.next_packet().unwrap_err();
        assert_eq!(e.to_string(), "r: frame 2: read error: disk on fire");
    }

    /// The reader's own checks (length, trailer) come first, so pcap-parser refusing an IDB is
    /// rare; when it does, the message says where it stopped, not the block's bytes as a list
    /// of numbers (the parser's `Debug` form).
    #[test]
    fn a_malformed_idb_is_described_not_dumped() {
        let mut block = Vec::new();
        for v in [IDB_TYPE, 28, 1, 0, 9 | (4 << 16), 0, 28] {
            block.extend_from_slice(&v.to_le_bytes());
        }
        let e = nom::Err::Error(PcapError::NomError(
            &block[24..],
            nom::error::ErrorKind::Verify,
        ));
        assert_eq!(
            idb_error(&e, &block),
            "malformed interface description block: the parser's Verify check failed at byte 24 \
             of its 28"
        );
        let e = nom::Err::Incomplete(nom::Needed::Unknown);
        assert_eq!(
            idb_error(&e, &block),
            "malformed interface description block: its fields run past the block"
        );
    }

    /// SHB, IDB (Ethernet), an unknown block of `body` bytes (its header here, its body and
    /// trailer from `unknown_tail`), then one EPB of 4 bytes.
    fn pcapng_with_a_big_block(body: usize) -> (Vec<u8>, Vec<u8>) {
        let mut head = Vec::new();
        for v in [SHB_TYPE, 28, BYTE_ORDER_MAGIC, 1, u32::MAX, u32::MAX, 28] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        for v in [IDB_TYPE, 20, 1, 0, 20] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        let len = (12 + body) as u32;
        head.extend_from_slice(&0x0000_0badu32.to_le_bytes());
        head.extend_from_slice(&len.to_le_bytes());
        let mut tail = len.to_le_bytes().to_vec();
        for v in [EPB_TYPE, 36, 0, 0, 7, 4, 4, 0x6463_6261, 36] {
            tail.extend_from_slice(&v.to_le_bytes());
        }
        (head, tail)
    }

    /// A 200 MiB block nobody reads is passed over, not held: the stream's buffer stays at its
    /// first size and the mapping at a window, and the packet after it is read.
    #[test]
    fn a_big_unknown_block_is_skipped_without_holding_it() {
        let body = 200 << 20;
        let (head, tail) = pcapng_with_a_big_block(body);
        let reader = io::Cursor::new(head.clone())
            .chain(io::repeat(0).take(body as u64))
            .chain(io::Cursor::new(tail.clone()));
        let mut src = FileSource::from_reader("n", Box::new(reader)).unwrap();
        assert_eq!(src.next_packet().unwrap().unwrap().data, b"abcd");
        assert!(src.next_packet().unwrap().is_none());
        let Backing::Stream { buf, .. } = &src.input.backing else {
            unreachable!()
        };
        assert_eq!(buf.len(), READ_SIZE);

        let path = std::env::temp_dir().join(format!("ike-sniff-{}-bigblock", std::process::id()));
        let mut f = File::create(&path).unwrap();
        io::Write::write_all(&mut f, &head).unwrap();
        f.set_len((head.len() + body) as u64).unwrap();
        io::Seek::seek(&mut f, io::SeekFrom::End(0)).unwrap();
        io::Write::write_all(&mut f, &tail).unwrap();
        drop(f);
        let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
        assert_eq!(src.next_packet().unwrap().unwrap().data, b"abcd");
        let Backing::Mapped(m) = &src.input.backing else {
            unreachable!()
        };
        assert!(m.window().len() <= WINDOW, "{}", m.window().len());
        assert!(src.next_packet().unwrap().is_none());

        // Cut inside the block: said as such, from either input.
        std::fs::write(&path, &head).unwrap();
        let want = "n: frame 1: truncated pcapng block type 0x00000bad: the file ends inside its \
                    209715212 bytes (block starts at byte 48)";
        let mut src = FileSource::from_reader("n", Box::new(io::Cursor::new(head))).unwrap();
        assert_eq!(src.next_packet().unwrap_err().to_string(), want);
        let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
        let e = src.next_packet().unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(e.replace(path.to_str().unwrap(), "n"), want);
    }

    #[test]
    fn pcapng_absurd_caplen_and_bad_block_length() {
        let mut shb = Vec::new();
        for v in [SHB_TYPE, 28, BYTE_ORDER_MAGIC, 1, u32::MAX, u32::MAX, 28] {
            shb.extend_from_slice(&v.to_le_bytes());
        }
        let mut file = shb.clone();
        for v in [IDB_TYPE, 20, 1, 0, 20] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        for v in [EPB_TYPE, 36, 0, 0, 0, u32::MAX, 4, 0, 36] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        let mut src = FileSource::from_reader("n", Box::new(io::Cursor::new(file))).unwrap();
        let e = src.next_packet().unwrap_err();
        assert_eq!(
            e.to_string(),
            "n: frame 1: record length 4294967295 is absurd"
        );

        let mut file = shb;
        for v in [7u32, 13, 0, 13] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        let mut src = FileSource::from_reader("n", Box::new(io::Cursor::new(file))).unwrap();
        let e = src.next_packet().unwrap_err();
        assert!(e.message.contains("bad length 13"), "{e}");
    }
}
