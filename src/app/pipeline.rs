//! Everything after the capture, fed one raw packet at a time: decode → track/diagnose →
//! report. A capture file (one thread or two, see [`super::threaded`]) and live capture
//! ([`super::live`]) share it, so all of them get the same analysis and the same output.

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use super::extract::Extract;
use super::memory::MemoryCaps;
use super::select::{self, SelectArgs, Selection};
use crate::capture::file::FileSource;
use crate::capture::filter::OfflineFilter;
use crate::capture::{PacketSource, RawPacket};
use crate::decode::{DecodeStats, Decoder, link};
use crate::diagnose::{Analyzer, Finding, Severity};
use crate::event::{Body, Event, Timestamp};
use crate::report::fold::Folder;
use crate::report::html::{HtmlReport, PageView};
use crate::report::packets::PacketPrinter;
use crate::report::summary::{self, RunInfo, SpiCounter, SpiDetail, TunnelsOmitted};
use crate::report::syslog::Syslog;
use crate::report::verdict::Verdict;
use crate::report::{JSON_SCHEMA_VERSION, OutputOptions, findings, metrics, tunnels};

/// `-r FILE`: what to read and how to show it.
pub struct FileOptions {
    pub path: String,
    /// `-c`: stop after this many IPsec-related packets have passed the filter.
    pub count: Option<u64>,
    /// A tcpdump expression packets must match to be read at all.
    pub filter: Option<String>,
    /// `-w`: where the packets that passed are written.
    pub write: Option<std::path::PathBuf>,
    /// `--peer`, `--spi`, `--finding`.
    pub select: SelectArgs,
    /// `--fail-on`: exit 3 when a finding this grave or graver was reported.
    pub fail_on: Option<Severity>,
    /// `--syslog`: the socket findings are also sent to.
    pub syslog: Option<std::path::PathBuf>,
    /// 1: everything on one thread; 2 or more: decode on one, analysis and report on another.
    pub threads: usize,
    pub output: OutputOptions,
    /// `--keys`: what the decoder opens encrypted IKE and ESP with.
    pub keys: Option<std::sync::Arc<crate::keys::KeyRing>>,
    /// `--html`: where the HTML report is written at the end.
    pub html: Option<std::path::PathBuf>,
    /// `--tcp-encap-port`: the TCP ports read as RFC 8229 streams.
    pub tcp_ports: crate::decode::tcp::EncapPorts,
    /// `--max-memory`: every table's cap.
    pub caps: MemoryCaps,
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
    tcp_ports: crate::decode::tcp::EncapPorts,
    analyzer: Analyzer,
    findings: Vec<Finding>,
    printer: PacketPrinter,
    verdict: Verdict,
    /// Text mode: causes already written in full, for the pairs that only repeat them.
    fold: Folder,
    spis: SpiCounter,
    events: Vec<Event>,
    unsupported_reported: HashSet<u32>,
    /// Tables whose evictions were already reported (see [`Pipeline::warn_degraded`]).
    degraded_reported: Vec<&'static str>,
    errors_printed: u64,
    /// What the last tunnel table left out, for the summary that follows it.
    tunnels_omitted: TunnelsOmitted,
    /// The tables' caps (`--max-memory`), also named by the degraded-analysis warning.
    caps: MemoryCaps,
    selection: Selection,
    /// A first pass for `--finding`: the kind looked for and the pairs it was found on.
    collect: Option<(String, HashSet<(IpAddr, IpAddr)>)>,
    /// `--syslog`: findings also go there.
    syslog: Option<Syslog>,
    /// `--html`: what the page needs, collected as the run goes.
    html: Option<Box<HtmlReport>>,
    out: &'w mut dyn Write,
}

impl<'w> Pipeline<'w> {
    /// Starts a run; in JSON mode writes the `meta` line first.
    pub fn new(source: &str, opts: OutputOptions, out: &'w mut dyn Write) -> io::Result<Self> {
        if opts.json {
            // `type` first, as on every line.
            #[derive(serde::Serialize)]
            struct Meta<'a> {
                #[serde(rename = "type")]
                kind: &'static str,
                schema_version: u32,
                source: &'a str,
                tool: &'static str,
                tool_version: &'static str,
            }
            serde_json::to_writer(
                &mut *out,
                &Meta {
                    kind: "meta",
                    schema_version: JSON_SCHEMA_VERSION,
                    source,
                    tool: "ike-sniff",
                    tool_version: env!("CARGO_PKG_VERSION"),
                },
            )?;
            out.write_all(b"\n")?;
        }
        Ok(Pipeline {
            source: source.to_string(),
            opts,
            decoder: Decoder::new(),
            tcp_ports: Default::default(),
            analyzer: Analyzer::new(),
            findings: Vec::new(),
            printer: PacketPrinter::new(opts),
            verdict: Verdict::default(),
            fold: Folder::default(),
            spis: SpiCounter::default(),
            events: Vec::with_capacity(16),
            unsupported_reported: HashSet::new(),
            degraded_reported: Vec::new(),
            errors_printed: 0,
            tunnels_omitted: TunnelsOmitted::default(),
            caps: MemoryCaps::default(),
            selection: Selection::default(),
            collect: None,
            syslog: None,
            html: None,
            out,
        })
    }

    /// Decrypts with these keys from now on (a run sets them before its first packet).
    pub fn set_keys(&mut self, keys: Option<std::sync::Arc<crate::keys::KeyRing>>) {
        if let Some(ring) = keys {
            self.decoder = Decoder::with_keys(ring);
            self.decoder.set_tcp_ports(self.tcp_ports);
            self.set_decoder_caps();
            self.spis.keyed();
        }
    }

    /// Caps every table at `caps` (`--max-memory`; a run sets them before its first packet).
    pub fn set_memory_caps(&mut self, caps: MemoryCaps) {
        self.caps = caps;
        self.set_decoder_caps();
        self.analyzer = Analyzer::with_limits(caps.track);
        let keyed = self.spis.is_keyed();
        self.spis = SpiCounter::with_cap(caps.spi_rows);
        if keyed {
            self.spis.keyed();
        }
    }

    fn set_decoder_caps(&mut self) {
        let c = &self.caps;
        self.decoder.set_reassembly_caps(
            (c.ip_fragment_sets, c.ip_fragment_bytes),
            (c.ike_fragment_sets, c.ike_fragment_bytes),
        );
    }

    /// Reads TCP on these ports as RFC 8229 streams (a run sets them before its first packet).
    pub fn set_tcp_ports(&mut self, ports: crate::decode::tcp::EncapPorts) {
        self.tcp_ports = ports;
        self.decoder.set_tcp_ports(ports);
    }

    /// Opens `--syslog`'s socket: findings written from now on are also sent there.
    pub fn open_syslog(&mut self, path: &std::path::Path) -> io::Result<()> {
        let s = Syslog::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("--syslog {}: {e}", path.display())))?;
        self.syslog = Some(s);
        Ok(())
    }

    /// Collects for an HTML report written to `path` (at the end, and at each
    /// [`Pipeline::write_html`]).
    pub fn set_html(&mut self, path: Option<std::path::PathBuf>) {
        self.html = path.map(|p| Box::new(HtmlReport::new(p, self.opts)));
    }

    /// Writes the HTML report as the run stands (temporary file, then renamed over it).
    pub fn write_html(&mut self, read_error: Option<String>) -> io::Result<()> {
        let Some(h) = &self.html else {
            return Ok(());
        };
        let info = self.run_info(read_error, SpiDetail::Top, false, TunnelsOmitted::default());
        let view = PageView {
            source: &self.source,
            summary: summary::summary_line(&info),
            verdict: self.verdict.view(),
            tunnels: tunnels::tunnels(&self.analyzer),
        };
        h.write(&view)
    }

    /// Narrows the run to `--peer`/`--spi`/`--finding` (see [`Selection`]).
    pub fn set_selection(&mut self, selection: Selection) {
        self.selection = selection;
    }

    /// Makes this a first pass that notes the pairs findings of `kind` are about.
    pub(super) fn collect_pairs_of(&mut self, kind: &str) {
        self.collect = Some((kind.to_string(), HashSet::new()));
    }

    /// Ends a first pass: the pairs with a finding of the kind looked for.
    pub(super) fn finish_collecting(mut self) -> io::Result<HashSet<(IpAddr, IpAddr)>> {
        self.decoder.finish(&mut self.events);
        self.selection.retain(&mut self.events, 0);
        self.drain()?;
        self.analyzer.finish(&mut self.findings);
        self.write_findings()?;
        Ok(self
            .collect
            .take()
            .map(|(_, pairs)| pairs)
            .unwrap_or_default())
    }

    pub fn packet(&mut self, raw: &RawPacket<'_>) -> io::Result<()> {
        self.packet_kept(raw).map(|_| ())
    }

    /// [`Pipeline::packet`], saying whether the packet was IPsec-related and selected (what
    /// `-c` counts and `-w` writes).
    pub fn packet_kept(&mut self, raw: &RawPacket<'_>) -> io::Result<bool> {
        let kept = self.decoder.stats.kept;
        let selected = self.packet_events(raw)?;
        Ok(selected && self.decoder.stats.kept > kept)
    }

    fn packet_events(&mut self, raw: &RawPacket<'_>) -> io::Result<bool> {
        warn_unsupported_link(&self.source, &mut self.unsupported_reported, raw);
        self.decoder.decode(raw, &mut self.events);
        if !self.selection.retain(&mut self.events, 0) {
            return Ok(false);
        }
        // Most packets yield no event: skip the drain's bookkeeping for them.
        self.drain().map(|()| true)
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
        self.printer.observe(ev);
        self.spis.observe(ev);
        self.analyzer.observe(ev, &mut self.findings);
        if let Some(h) = &mut self.html {
            h.observe(ev, self.analyzer.tracker());
        }
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
            if let Some((kind, pairs)) = &mut self.collect
                && f.kind == kind.as_str()
            {
                pairs.insert(select::pair(f.peers.a, f.peers.b));
            }
            if self
                .selection
                .finding
                .as_deref()
                .is_some_and(|k| k != f.kind)
            {
                continue;
            }
            self.verdict.observe(&f);
            if let Some(h) = &mut self.html {
                h.finding(&f);
            }
            if let Some(s) = &mut self.syslog {
                s.send(&f);
            }
            if self.opts.json {
                findings::write_finding_json(self.out, &f)?;
            } else {
                let shown = self.opts.verbose > 0 || f.severity != Severity::Info;
                if shown && !self.fold.fold(self.out, &f)? {
                    findings::write_finding_text(self.out, &f)?;
                }
            }
        }
        Ok(())
    }

    /// Live mode, no packet for a while: the clock stands in for packet time, so findings
    /// judged over a window (and SAs idle past their timeout) come out while the interface is
    /// quiet.
    pub fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.analyzer.advance(now, &mut self.findings);
        self.write_findings()
    }

    /// Findings that grew since they were written (live mode, at each periodic summary; the
    /// end of input writes them itself).
    pub fn write_updates(&mut self) -> io::Result<()> {
        self.analyzer.updates(&mut self.findings);
        self.write_findings()
    }

    /// What `--metrics` shows now: the tunnels, the findings' counts and the tables as this
    /// run's reports know them (see [`metrics::snapshot`]).
    pub fn metrics_snapshot(
        &self,
        capture: Option<metrics::CaptureCounters>,
        max_tunnels: usize,
        taken: Timestamp,
    ) -> metrics::Snapshot {
        metrics::snapshot(
            &self.analyzer,
            &self.verdict,
            &self.decoder.stats,
            capture,
            max_tunnels,
            taken,
        )
    }

    /// The tunnel summary as it stands (live mode prints it periodically, and at the end).
    pub fn write_tunnels(&mut self) -> io::Result<()> {
        let max = if self.opts.verbose > 0 {
            usize::MAX
        } else {
            tunnels::TUNNELS_SHOWN
        };
        let (tunnels, omitted) = tunnels::busiest(&self.analyzer, max);
        self.tunnels_omitted = omitted;
        if self.opts.json {
            for t in &tunnels {
                tunnels::write_tunnel_json(self.out, t)?;
            }
            Ok(())
        } else {
            tunnels::write_tunnels_text(self.out, &tunnels, omitted)
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
        let caps = self.caps.track;
        let c = &self.caps;
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
                sets_or_bytes(c.ip_fragment_sets, c.ip_fragment_bytes),
                s.ip_fragment_sets_evicted,
            ),
            (
                "IKE fragment set",
                sets_or_bytes(c.ike_fragment_sets, c.ike_fragment_bytes),
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

    /// The run's counters as the summary line, the summary block and the HTML page read them.
    fn run_info(
        &self,
        read_error: Option<String>,
        detail: SpiDetail,
        verbose: bool,
        tunnels_omitted: TunnelsOmitted,
    ) -> RunInfo<'_> {
        RunInfo {
            source: &self.source,
            stats: &self.decoder.stats,
            track: self.analyzer.stats(),
            spis: &self.spis,
            read_error,
            utc: self.opts.utc,
            detail,
            verbose,
            tunnels_omitted,
        }
    }

    /// The counters so far (live mode prints them periodically).
    pub fn write_summary(&mut self, read_error: Option<String>) -> io::Result<()> {
        self.warn_degraded();
        let detail = match (self.opts.verbose, self.opts.quiet) {
            (1.., _) => SpiDetail::All,
            (0, true) => SpiDetail::None,
            (0, false) => SpiDetail::Top,
        };
        let info = self.run_info(
            read_error,
            detail,
            self.opts.verbose > 0,
            self.tunnels_omitted,
        );
        // Laid out first: `info` borrows the pipeline that owns the writer.
        let mut text = Vec::new();
        if self.opts.json {
            summary::write_json(&mut text, &info)?;
        } else {
            summary::write_text(&mut text, &info)?;
        }
        self.out.write_all(&text)
    }

    /// End of input: flush what the decoder holds, then the summary.
    pub fn finish(self, read_error: Option<String>) -> io::Result<()> {
        self.finish_gravest(read_error).map(|_| ())
    }

    /// [`Pipeline::finish`], returning the gravest severity of the findings written.
    pub fn finish_gravest(mut self, read_error: Option<String>) -> io::Result<Option<Severity>> {
        self.decoder.finish(&mut self.events);
        self.selection.retain(&mut self.events, 0);
        self.drain()?;
        self.finish_analysis(read_error)?;
        Ok(self.verdict.gravest())
    }

    /// End of input when decoding ran on another thread: `stats` are that decoder's counters,
    /// and its last events have already come through [`Pipeline::decoded`].
    pub fn finish_decoded(
        mut self,
        stats: DecodeStats,
        read_error: Option<String>,
    ) -> io::Result<Option<Severity>> {
        self.decoder.stats = stats;
        self.finish_analysis(read_error)?;
        Ok(self.verdict.gravest())
    }

    fn finish_analysis(&mut self, read_error: Option<String>) -> io::Result<()> {
        self.analyzer.finish(&mut self.findings);
        self.write_findings()?;
        if let Some(s) = self.syslog.as_ref().filter(|s| s.failed > 0) {
            eprintln!(
                "ike-sniff: --syslog: {} findings could not be sent",
                s.failed
            );
        }
        if self.opts.json {
            self.verdict.write_json(self.out)?;
        } else {
            self.verdict
                .write_text(self.out, self.opts.verbose == 0, &self.fold)?;
        }
        self.write_tunnels()?;
        self.write_summary(read_error.clone())?;
        self.write_html(read_error)
    }
}

/// A reassembly table's caps as the warning names them: `8192 sets or 32 MiB`.
fn sets_or_bytes(sets: usize, bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{sets} sets or {} MiB", bytes >> 20)
    } else {
        format!("{sets} sets or {} KiB", bytes >> 10)
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

/// The read loop every file run shares: hands each record the filter passes to `packet`
/// until the end, `count` packets that `packet` says were IPsec-related (tcpdump's `-c`
/// counts what passed its filter, and ike-sniff's filter is IPsec narrowed by the
/// expression), or a read error, which is printed and returned (what was read is still
/// analysed). Those packets go to the `-w` file.
pub(super) fn read_packets(
    source: &mut FileSource,
    opts: &FileOptions,
    mut packet: impl FnMut(&RawPacket<'_>) -> io::Result<bool>,
) -> io::Result<Option<String>> {
    let mut filter = opts
        .filter
        .as_deref()
        .map(|e| OfflineFilter::new(e, source.name()));
    let mut extract = opts.write.as_deref().map(Extract::create).transpose()?;
    let mut passed = 0u64;
    let mut read_error = None;
    while opts.count.is_none_or(|c| passed < c) {
        match source.next_packet() {
            Ok(Some(raw)) => {
                if let Some(x) = &mut extract {
                    x.seen(&raw);
                }
                if filter.as_mut().is_some_and(|f| !f.matches(&raw)) {
                    continue;
                }
                if packet(&raw)? {
                    passed += 1;
                    if let Some(x) = &mut extract {
                        x.write(&raw)?;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(x) = extract {
        x.finish()?;
    }
    Ok(read_error)
}

/// Resolves `--peer`/`--spi`/`--finding` into a [`Selection`], reading the file once more when
/// `--spi` or `--finding` needs it: an ESP SPI's tunnel starts with its IKE negotiation, a
/// finding's packets come before it is concluded. With both, the `--finding` pass is narrowed
/// to the `--spi` pairs (a third reading).
pub(super) fn resolve_selection(opts: &FileOptions) -> io::Result<Selection> {
    let args = &opts.select;
    let mut sel = Selection::new(args);
    if !args.needs_first_pass() {
        return Ok(sel);
    }
    let filter = |source: &FileSource| {
        opts.filter
            .as_deref()
            .map(|e| OfflineFilter::new(e, source.name()))
    };
    if let Some(spi) = args.spi {
        let mut source = FileSource::open(&opts.path).map_err(io::Error::other)?;
        let mut filter = filter(&source);
        let mut decoder = Decoder::new();
        decoder.set_tcp_ports(opts.tcp_ports);
        let mut events = Vec::new();
        let mut pairs = HashSet::new();
        while let Some(raw) = source.next_packet().map_err(io::Error::other)? {
            if filter.as_mut().is_some_and(|f| !f.matches(&raw)) {
                continue;
            }
            decoder.decode(&raw, &mut events);
            for ev in events.drain(..) {
                if select::carries_spi(&ev, spi) {
                    pairs.insert(select::pair(ev.flow.src, ev.flow.dst));
                }
            }
        }
        sel.narrow_to(pairs);
    }
    if let Some(kind) = &args.finding {
        let mut source = FileSource::open(&opts.path).map_err(io::Error::other)?;
        let mut filter = filter(&source);
        let mut sink = io::sink();
        let quiet = OutputOptions {
            quiet: true,
            ..OutputOptions::default()
        };
        let mut p = Pipeline::new(source.name(), quiet, &mut sink)?;
        // Narrowed as the run proper will be, so the findings found are the ones it makes.
        p.set_selection(sel.clone());
        p.set_tcp_ports(opts.tcp_ports);
        p.collect_pairs_of(kind);
        while let Some(raw) = source.next_packet().map_err(io::Error::other)? {
            if filter.as_mut().is_some_and(|f| !f.matches(&raw)) {
                continue;
            }
            p.packet(&raw)?;
        }
        sel.narrow_to(p.finish_collecting()?);
    }
    Ok(sel)
}

/// Opens a capture file, saying why on standard error when it cannot.
pub(super) fn open_file(path: &str) -> Option<FileSource> {
    FileSource::open(path)
        .map_err(|e| eprintln!("ike-sniff: {e}"))
        .ok()
}

/// Exit status of a file run: 1 when the input could not be read to its end (the analysis
/// is then partial, which matters more than what it found), 3 when `--fail-on` was given and
/// a finding at least that grave was reported.
pub(super) fn exit_code(
    read_error: &Option<String>,
    gravest: Option<Severity>,
    fail_on: Option<Severity>,
) -> ExitCode {
    if read_error.is_some() {
        ExitCode::from(1)
    } else if matches!((gravest, fail_on), (Some(g), Some(f)) if g <= f) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// A capture file on one thread.
pub fn run_file(opts: &FileOptions, out: &mut dyn Write) -> io::Result<ExitCode> {
    let Some(mut source) = open_file(&opts.path) else {
        return Ok(ExitCode::from(1));
    };
    let selection = match resolve_selection(opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let name = source.name().to_string();
    let mut pipeline = Pipeline::new(&name, opts.output, out)?;
    if let Some(p) = &opts.syslog
        && let Err(e) = pipeline.open_syslog(p)
    {
        eprintln!("ike-sniff: {e}");
        return Ok(ExitCode::from(1));
    }
    pipeline.set_selection(selection);
    pipeline.set_tcp_ports(opts.tcp_ports);
    pipeline.set_memory_caps(opts.caps);
    pipeline.set_keys(opts.keys.clone());
    pipeline.set_html(opts.html.clone());
    let read_error = read_packets(&mut source, opts, |raw| pipeline.packet_kept(raw))?;
    let gravest = pipeline.finish_gravest(read_error.clone())?;
    Ok(exit_code(&read_error, gravest, opts.fail_on))
}
