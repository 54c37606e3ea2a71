//! Everything after the capture, fed one raw packet at a time: decode → track/diagnose →
//! report. A capture file (one thread or two, see [`super::threaded`]) and live capture
//! ([`super::live`]) share it, so all of them get the same analysis and the same output.

use std::collections::HashSet;
use std::io::{self, Write};
use std::process::ExitCode;

use crate::capture::file::FileSource;
use crate::capture::{PacketSource, RawPacket};
use crate::decode::{DecodeStats, Decoder, link};
use crate::diagnose::{Analyzer, Finding, Severity};
use crate::event::{Body, Event};
use crate::report::packets::PacketPrinter;
use crate::report::summary::{self, RunInfo, SpiCounter};
use crate::report::verdict::Verdict;
use crate::report::{JSON_SCHEMA_VERSION, OutputOptions, findings, tunnels};

/// `-r FILE`: what to read and how to show it.
pub struct FileOptions {
    pub path: String,
    pub count: Option<u64>,
    /// 1: everything on one thread; 2 or more: decode on one, analysis and report on another.
    pub threads: usize,
    pub output: OutputOptions,
}

/// Past this many, per-packet decode errors are only counted (a fuzzed file would otherwise
/// bury the report).
const MAX_PRINTED_ERRORS: u64 = 100;

/// Everything after the capture: decode → track/diagnose → report, fed one raw packet at a
/// time. File and live capture share it, so both get the same analysis.
pub struct Pipeline<'w> {
    source: String,
    opts: OutputOptions,
    decoder: Decoder,
    analyzer: Analyzer,
    findings: Vec<Finding>,
    printer: PacketPrinter,
    verdict: Verdict,
    spis: SpiCounter,
    events: Vec<Event>,
    unsupported_reported: HashSet<u32>,
    /// Tables whose evictions were already reported (see [`Pipeline::warn_degraded`]).
    degraded_reported: Vec<&'static str>,
    errors_printed: u64,
    out: &'w mut dyn Write,
}

impl<'w> Pipeline<'w> {
    /// Starts a run; in JSON mode writes the `meta` line first.
    pub fn new(source: &str, opts: OutputOptions, out: &'w mut dyn Write) -> io::Result<Self> {
        if opts.json {
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({
                    "type": "meta",
                    "schema_version": JSON_SCHEMA_VERSION,
                    "tool": "ike-sniff",
                    "tool_version": env!("CARGO_PKG_VERSION"),
                    "source": source,
                }),
            )?;
            out.write_all(b"\n")?;
        }
        Ok(Pipeline {
            source: source.to_string(),
            opts,
            decoder: Decoder::new(),
            analyzer: Analyzer::new(),
            findings: Vec::new(),
            printer: PacketPrinter::new(opts),
            verdict: Verdict::default(),
            spis: SpiCounter::default(),
            events: Vec::with_capacity(16),
            unsupported_reported: HashSet::new(),
            degraded_reported: Vec::new(),
            errors_printed: 0,
            out,
        })
    }

    pub fn packet(&mut self, raw: &RawPacket<'_>) -> io::Result<()> {
        warn_unsupported_link(&self.source, &mut self.unsupported_reported, raw);
        self.decoder.decode(raw, &mut self.events);
        // Most packets yield no event: skip the drain's bookkeeping for them.
        if self.events.is_empty() {
            return Ok(());
        }
        self.drain()
    }

    /// Whether `ev` prints a line, for an event whose answer depends on the stream (ESP).
    pub fn wants_line(&mut self, ev: &Event) -> bool {
        self.printer.wants(ev)
    }

    /// Renders `ev`'s line here.
    pub fn print(&mut self, ev: &Event) -> io::Result<()> {
        self.printer.render(self.out, ev)
    }

    /// A line another thread rendered.
    pub fn write_rendered(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)
    }

    fn drain(&mut self) -> io::Result<()> {
        let mut events = std::mem::take(&mut self.events);
        for ev in events.drain(..) {
            self.event(&ev)?;
        }
        self.events = events;
        Ok(())
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        self.analyse(ev);
        if !self.opts.quiet {
            self.printer.write(self.out, ev)?;
        }
        self.write_findings()
    }

    /// Everything but the packet's own line: counters, tracking, diagnosis, decode errors. An
    /// event decoded on another thread comes in here, in capture order; its line then goes
    /// out through [`Pipeline::write_rendered`] or [`Pipeline::print`], then
    /// [`Pipeline::write_findings`].
    pub fn analyse(&mut self, ev: &Event) {
        self.spis.observe(ev);
        self.analyzer.observe(ev, &mut self.findings);
        if let Body::Malformed(e) = &ev.body {
            self.report_packet_error(ev.pkt.frame, &e.to_string());
        }
        if let Body::Ike(m) = &ev.body
            && let Some(e) = &m.error
        {
            self.report_packet_error(ev.pkt.frame, &e.to_string());
        }
    }

    /// Findings print the moment they are known, after the packet that revealed them. In text
    /// mode info-level ones are folded into the verdict unless `-v`.
    pub fn write_findings(&mut self) -> io::Result<()> {
        for f in self.findings.drain(..) {
            self.verdict.observe(&f);
            if self.opts.json {
                findings::write_finding_json(self.out, &f)?;
            } else if !(f.severity == Severity::Info && self.opts.verbose == 0) {
                findings::write_finding_text(self.out, &f)?;
            }
        }
        Ok(())
    }

    /// Findings that grew since they were written (live mode, at each periodic summary; the
    /// end of input writes them itself).
    pub fn write_updates(&mut self) -> io::Result<()> {
        self.analyzer.updates(&mut self.findings);
        self.write_findings()
    }

    /// The tunnel summary as it stands (live mode prints it periodically, and at the end).
    pub fn write_tunnels(&mut self) -> io::Result<()> {
        let tunnels = tunnels::tunnels(&self.analyzer);
        if self.opts.json {
            for t in &tunnels {
                tunnels::write_tunnel_json(self.out, t)?;
            }
            Ok(())
        } else {
            tunnels::write_tunnels_text(self.out, &tunnels)
        }
    }

    fn report_packet_error(&mut self, frame: u64, message: &str) {
        self.errors_printed += 1;
        if self.errors_printed <= MAX_PRINTED_ERRORS {
            eprintln!("{}: frame {frame}: {message}", self.source);
        } else if self.errors_printed == MAX_PRINTED_ERRORS + 1 {
            // The counter named is the one that counts every such packet (decode/mod.rs).
            eprintln!(
                "{}: further decode errors are not printed; the summary's malformed count \
                 includes them",
                self.source
            );
        }
    }

    /// Says once per table, on standard error, that a capped table had to evict: what the
    /// evicted entries would have shown (a retransmission loop, one-way ESP) may be missing from
    /// the findings. Checked with every summary (the end of a file, each live interval), where
    /// the decoder's counters are known in every mode.
    fn warn_degraded(&mut self) {
        let t = self.analyzer.stats();
        let s = &self.decoder.stats;
        let caps = crate::track::Limits::default();
        let frag = crate::decode::frag::Limits::default();
        let tables = [
            (
                "peer pair",
                format!("{} entries", caps.max_pairs),
                t.pairs_evicted,
            ),
            (
                "IKE SA",
                format!("{} entries", caps.max_ike_sas),
                t.ike_sas_evicted,
            ),
            (
                "ESP SA",
                format!("{} entries", caps.max_esp_sas),
                t.esp_sas_evicted,
            ),
            (
                "IP fragment set",
                format!("{} sets or {} MiB", frag.max_sets, frag.max_bytes >> 20),
                s.ip_fragment_sets_evicted,
            ),
            (
                "IKE fragment set",
                format!(
                    "{} sets or {} MiB",
                    crate::decode::SKF_MAX_SETS,
                    crate::decode::SKF_MAX_BYTES >> 20
                ),
                s.ike_fragment_sets_evicted,
            ),
        ];
        for (table, cap, evicted) in tables {
            if evicted > 0 && !self.degraded_reported.contains(&table) {
                self.degraded_reported.push(table);
                eprintln!(
                    "{}: warning: analysis degraded: the {table} table reached its cap ({cap}) \
                     and evicted {evicted} least recently seen so far; findings about \
                     them may be missing or incomplete",
                    self.source
                );
            }
        }
    }

    /// The counters so far (live mode prints them periodically).
    pub fn write_summary(&mut self, read_error: Option<String>) -> io::Result<()> {
        self.warn_degraded();
        let info = RunInfo {
            source: &self.source,
            stats: &self.decoder.stats,
            track: self.analyzer.stats(),
            spis: &self.spis,
            read_error,
        };
        if self.opts.json {
            summary::write_json(self.out, &info)
        } else {
            summary::write_text(self.out, &info)
        }
    }

    /// End of input: flush what the decoder holds, then the summary.
    pub fn finish(mut self, read_error: Option<String>) -> io::Result<()> {
        self.decoder.finish(&mut self.events);
        self.drain()?;
        self.finish_analysis(read_error)
    }

    /// End of input when decoding ran on another thread: `stats` are that decoder's counters,
    /// and its last events have already come through [`Pipeline::decoded`].
    pub fn finish_decoded(
        mut self,
        stats: DecodeStats,
        read_error: Option<String>,
    ) -> io::Result<()> {
        self.decoder.stats = stats;
        self.finish_analysis(read_error)
    }

    fn finish_analysis(&mut self, read_error: Option<String>) -> io::Result<()> {
        self.analyzer.finish(&mut self.findings);
        self.write_findings()?;
        if self.opts.json {
            self.verdict.write_json(self.out)?;
        } else {
            self.verdict.write_text(self.out, self.opts.verbose == 0)?;
        }
        self.write_tunnels()?;
        self.write_summary(read_error)
    }
}

pub(super) fn warn_unsupported_link(
    source: &str,
    reported: &mut HashSet<u32>,
    raw: &RawPacket<'_>,
) {
    if !link::is_supported(raw.linktype) && reported.insert(raw.linktype) {
        eprintln!(
            "{source}: frame {}: link type {} ({}) is not supported: its packets are counted, not decoded",
            raw.frame,
            raw.linktype,
            link::linktype_name(raw.linktype)
        );
    }
}

/// The read loop every file run shares: hands each record to `packet` until the end, `count`
/// records, or a read error, which is printed and returned (what was read is still analysed).
pub(super) fn read_packets(
    source: &mut FileSource,
    count: Option<u64>,
    mut packet: impl FnMut(&RawPacket<'_>) -> io::Result<()>,
) -> io::Result<Option<String>> {
    let mut read = 0u64;
    while count.is_none_or(|c| read < c) {
        match source.next_packet() {
            Ok(Some(raw)) => {
                read += 1;
                packet(&raw)?;
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                return Ok(Some(e.to_string()));
            }
        }
    }
    Ok(None)
}

/// Opens a capture file, saying why on standard error when it cannot.
pub(super) fn open_file(path: &str) -> Option<FileSource> {
    FileSource::open(path)
        .map_err(|e| eprintln!("ike-sniff: {e}"))
        .ok()
}

/// Exit status of a file run: 1 when the input could not be read to its end.
pub(super) fn exit_code(read_error: &Option<String>) -> ExitCode {
    if read_error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A capture file on one thread.
pub fn run_file(opts: &FileOptions, out: &mut dyn Write) -> io::Result<ExitCode> {
    let Some(mut source) = open_file(&opts.path) else {
        return Ok(ExitCode::from(1));
    };
    let name = source.name().to_string();
    let mut pipeline = Pipeline::new(&name, opts.output, out)?;
    let read_error = read_packets(&mut source, opts.count, |raw| pipeline.packet(raw))?;
    pipeline.finish(read_error.clone())?;
    Ok(if read_error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
