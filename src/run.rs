//! Runs the pipeline: capture → decode → track/diagnose → report.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use crate::capture::file::FileSource;
use crate::capture::{PacketSource, RawPacket};
use crate::decode::{DecodeStats, Decoder, link};
use crate::diagnose::{Analyzer, Finding};
use crate::event::{Body, Event};
use crate::report::JSON_SCHEMA_VERSION;
use crate::report::findings;
use crate::report::packets::{PacketOptions, PacketPrinter};
use crate::report::summary::{self, RunInfo, SpiCounter};

pub enum Options {
    File(FileOptions),
    Live(crate::live::LiveOptions),
    ListInterfaces,
    PrintFilter(String),
    ListFindings { json: bool },
}

pub struct FileOptions {
    pub path: String,
    pub count: Option<u64>,
    pub verbose: u8,
    pub frame_numbers: bool,
    pub quiet: bool,
    pub json: bool,
    /// 1: everything on one thread; 2 or more: decode on one, analysis and report on another.
    pub threads: usize,
}

/// Past this many, per-packet decode errors are only counted (a fuzzed file would otherwise
/// bury the report).
const MAX_PRINTED_ERRORS: u64 = 100;

pub fn run(opts: Options) -> ExitCode {
    // The threaded run writes from its analysis thread, which must own standard output.
    if let Options::File(f) = &opts
        && f.threads > 1
    {
        return match run_file_threaded(f, io::stdout(), RENDER_HERE_QUEUED) {
            Ok(code) => code,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                ExitCode::from(1)
            }
        };
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = match opts {
        Options::File(f) => run_file(&f, &mut out),
        Options::Live(l) => crate::live::run_live(&l, &mut out),
        Options::ListInterfaces => crate::live::list_interfaces(&mut out),
        Options::PrintFilter(f) => writeln!(out, "{f}").map(|()| ExitCode::SUCCESS),
        Options::ListFindings { json } => list_findings(json, &mut out).map(|()| ExitCode::SUCCESS),
    };
    let flushed = out.flush();
    match result.and_then(|code| flushed.map(|()| code)) {
        Ok(code) => code,
        // The reader went away (`ike-sniff … | head`): not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            ExitCode::from(1)
        }
    }
}

fn list_findings(json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        findings::write_catalogue_json(out)
    } else {
        findings::write_catalogue_text(out)
    }
}

/// How packets are shown.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputOptions {
    pub json: bool,
    pub verbose: u8,
    pub frame_numbers: bool,
    pub quiet: bool,
}

/// Everything after the capture: decode → track/diagnose → report, fed one raw packet at a
/// time. File and live capture share it, so both get the same analysis.
pub struct Pipeline<'w> {
    source: String,
    opts: OutputOptions,
    decoder: Decoder,
    analyzer: Analyzer,
    findings: Vec<Finding>,
    printer: PacketPrinter,
    spis: SpiCounter,
    events: Vec<Event>,
    unsupported_reported: HashSet<u32>,
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
            printer: PacketPrinter::new(packet_options(opts)),
            spis: SpiCounter::default(),
            events: Vec::with_capacity(16),
            unsupported_reported: HashSet::new(),
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

    /// Events decoded on another thread, in capture order, with their lines when that thread
    /// rendered them. The events stay in the batch, to be freed by the thread that allocated
    /// them.
    pub fn decoded(&mut self, batch: &DecodedBatch) -> io::Result<()> {
        let mut from = 0;
        for (i, (ev, &print)) in batch.events.iter().zip(&batch.prints).enumerate() {
            self.analyse(ev);
            let print = match print {
                Print::InOrder => self.printer.wants(ev),
                Print::Yes => !batch.rendered,
                Print::No => false,
            };
            if batch.rendered {
                let end = batch.line_ends[i];
                self.out.write_all(&batch.lines[from..end])?;
                from = end;
            }
            if print {
                self.printer.render(self.out, ev)?;
            }
            self.write_findings()?;
        }
        Ok(())
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

    /// Everything but the packet's own line: counters, tracking, diagnosis, decode errors.
    fn analyse(&mut self, ev: &Event) {
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

    /// Findings print the moment they are known, after the packet that revealed them.
    fn write_findings(&mut self) -> io::Result<()> {
        for f in self.findings.drain(..) {
            if self.opts.json {
                findings::write_finding_json(self.out, &f)?;
            } else {
                findings::write_finding_text(self.out, &f)?;
            }
        }
        Ok(())
    }

    /// The tunnel summary as it stands (live mode prints it periodically, and at the end).
    pub fn write_tunnels(&mut self) -> io::Result<()> {
        let tunnels = self.analyzer.tunnels();
        if self.opts.json {
            for t in &tunnels {
                findings::write_tunnel_json(self.out, t)?;
            }
            Ok(())
        } else {
            findings::write_tunnels_text(self.out, &tunnels)
        }
    }

    fn report_packet_error(&mut self, frame: u64, message: &str) {
        self.errors_printed += 1;
        if self.errors_printed <= MAX_PRINTED_ERRORS {
            eprintln!("{}: frame {frame}: {message}", self.source);
        } else if self.errors_printed == MAX_PRINTED_ERRORS + 1 {
            eprintln!(
                "{}: further decode errors are only counted (see the summary)",
                self.source
            );
        }
    }

    /// The counters so far (live mode prints them periodically).
    pub fn write_summary(&mut self, read_error: Option<String>) -> io::Result<()> {
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
        self.write_tunnels()?;
        self.write_summary(read_error)
    }
}

fn warn_unsupported_link(source: &str, reported: &mut HashSet<u32>, raw: &RawPacket<'_>) {
    if !link::is_supported(raw.linktype) && reported.insert(raw.linktype) {
        eprintln!(
            "{source}: frame {}: link type {} ({}) is not supported: its packets are counted, not decoded",
            raw.frame,
            raw.linktype,
            link::linktype_name(raw.linktype)
        );
    }
}

/// Events handed from the decode thread to the analysis thread in batches, so the channel's
/// cost is paid once per batch, not per packet.
const EVENT_BATCH: usize = 512;

/// Whether an event prints a line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Print {
    No,
    Yes,
    /// Decided by the analysis thread, in order: an ESP packet prints only as the first of its
    /// SA, which depends on the packets before it.
    InOrder,
}

/// Decoded events, which of them print a line, and maybe those lines already rendered
/// (`lines[line_ends[i-1]..line_ends[i]]` belongs to `events[i]`). A line depends on its event
/// alone, so whichever thread has time renders it; whether an ESP packet prints depends on the
/// stream, so the analysis thread, which sees every event in order, decides and renders those.
#[derive(Default)]
pub struct DecodedBatch {
    pub events: Vec<Event>,
    prints: Vec<Print>,
    rendered: bool,
    lines: Vec<u8>,
    line_ends: Vec<usize>,
}

impl DecodedBatch {
    fn with_capacity(events: usize) -> Self {
        DecodedBatch {
            events: Vec::with_capacity(events),
            prints: Vec::with_capacity(events),
            rendered: false,
            lines: Vec::with_capacity(events * 64),
            line_ends: Vec::with_capacity(events),
        }
    }

    fn clear(&mut self) {
        self.events.clear();
        self.prints.clear();
        self.rendered = false;
        self.lines.clear();
        self.line_ends.clear();
    }

    /// Readies the batch to be sent: decides which events print where the event alone decides
    /// it, and renders their lines when this (the decode) thread is to do it.
    fn seal(&mut self, printer: Option<&mut PacketPrinter>, render_here: bool) -> io::Result<()> {
        self.choose(printer.as_deref());
        match printer {
            Some(p) if render_here => self.render(p),
            _ => Ok(()),
        }
    }

    /// Decides which of the events from `prints.len()` on print a line, where the event alone
    /// decides it.
    fn choose(&mut self, printer: Option<&PacketPrinter>) {
        let new = self.prints.len()..self.events.len();
        match printer {
            Some(p) => {
                for ev in &self.events[new] {
                    self.prints.push(match p.wants_alone(ev) {
                        Some(true) => Print::Yes,
                        Some(false) => Print::No,
                        None => Print::InOrder,
                    });
                }
            }
            None => self.prints.extend(new.map(|_| Print::No)),
        }
    }

    /// Renders the line of every event that prints one, except those decided in order.
    fn render(&mut self, printer: &mut PacketPrinter) -> io::Result<()> {
        for (ev, &print) in self.events.iter().zip(&self.prints) {
            if print == Print::Yes {
                printer.render(&mut self.lines, ev)?;
            }
            self.line_ends.push(self.lines.len());
        }
        self.rendered = true;
        Ok(())
    }
}

/// Batches waiting for the analysis thread from which the decode thread renders lines itself.
const RENDER_HERE_QUEUED: usize = 8;

enum Batch {
    Events(DecodedBatch),
    End(DecodeStats, Option<String>),
}

/// Two threads: this one reads and decodes, the other tracks, diagnoses and reports, in the
/// same order as one thread would (the output is byte for byte the same). Pays when the
/// analysis is a large part of the work: most packets cost the decoder a few nanoseconds, each
/// IPsec event costs the tracker and the reporter far more.
///
/// `render_here_queued`: batches waiting for the analysis thread from which the decode thread
/// renders packet lines itself (a parameter so tests can force either thread to render).
fn run_file_threaded<W: Write + Send>(
    opts: &FileOptions,
    out: W,
    render_here_queued: usize,
) -> io::Result<ExitCode> {
    let mut source = match FileSource::open(&opts.path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let name = source.name().to_string();
    let output = output_options(opts);
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(64);
    // Batches come back to be cleared here: each event's boxed IKE message is freed by the
    // thread that allocated it (glibc makes a free from another thread dearer).
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded::<DecodedBatch>(66);
    std::thread::scope(|scope| {
        let worker_name = name.clone();
        // Named so profilers and `top -H` tell the two apart.
        let worker = std::thread::Builder::new()
            .name("analysis".into())
            .spawn_scoped(scope, move || -> io::Result<()> {
                let mut out = BufWriter::with_capacity(1 << 16, out);
                let mut pipeline = Pipeline::new(&worker_name, output, &mut out)?;
                for batch in rx {
                    match batch {
                        Batch::Events(batch) => {
                            pipeline.decoded(&batch)?;
                            let _ = recycle_tx.try_send(batch);
                        }
                        Batch::End(stats, read_error) => {
                            pipeline.finish_decoded(stats, read_error)?;
                            break;
                        }
                    }
                }
                out.flush()
            })?;
        let mut decoder = Decoder::new();
        let mut unsupported = HashSet::new();
        let mut batch = DecodedBatch::with_capacity(EVENT_BATCH);
        let mut printer = (!output.quiet).then(|| PacketPrinter::new(packet_options(output)));
        let mut read_error = None;
        let mut read = 0u64;
        let mut worker_gone = false;
        loop {
            if opts.count.is_some_and(|c| read >= c) {
                break;
            }
            match source.next_packet() {
                Ok(Some(raw)) => {
                    read += 1;
                    warn_unsupported_link(&name, &mut unsupported, &raw);
                    decoder.decode(&raw, &mut batch.events);
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("ike-sniff: {e}");
                    read_error = Some(e.to_string());
                    break;
                }
            }
            if batch.events.len() >= EVENT_BATCH {
                // Batches piling up: the analysis thread is the slower one, so this one renders.
                batch.seal(printer.as_mut(), tx.len() >= render_here_queued)?;
                let next = match recycle_rx.try_recv() {
                    Ok(mut b) => {
                        b.clear();
                        b
                    }
                    Err(_) => DecodedBatch::with_capacity(EVENT_BATCH),
                };
                if tx
                    .send(Batch::Events(std::mem::replace(&mut batch, next)))
                    .is_err()
                {
                    // The analysis thread stopped (a closed pipe): its result says why.
                    worker_gone = true;
                    break;
                }
            }
        }
        if !worker_gone {
            decoder.finish(&mut batch.events);
            batch.seal(printer.as_mut(), tx.len() >= render_here_queued)?;
            let _ = tx.send(Batch::Events(batch));
            let _ = tx.send(Batch::End(decoder.stats.clone(), read_error.clone()));
        }
        drop(tx);
        let analysed = worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the analysis thread panicked")));
        analysed.map(|()| {
            if read_error.is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        })
    })
}

fn packet_options(opts: OutputOptions) -> PacketOptions {
    PacketOptions {
        json: opts.json,
        verbose: opts.verbose,
        frame_numbers: opts.frame_numbers,
    }
}

fn output_options(opts: &FileOptions) -> OutputOptions {
    OutputOptions {
        json: opts.json,
        verbose: opts.verbose,
        frame_numbers: opts.frame_numbers,
        quiet: opts.quiet,
    }
}

fn run_file(opts: &FileOptions, out: &mut dyn Write) -> io::Result<ExitCode> {
    let mut source = match FileSource::open(&opts.path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let name = source.name().to_string();
    let output = output_options(opts);
    let mut pipeline = Pipeline::new(&name, output, out)?;
    let mut read_error = None;
    let mut read = 0u64;
    loop {
        if opts.count.is_some_and(|c| read >= c) {
            break;
        }
        match source.next_packet() {
            Ok(Some(raw)) => {
                read += 1;
                pipeline.packet(&raw)?;
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    pipeline.finish(read_error.clone())?;
    Ok(if read_error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(path: &str, threads: usize, json: bool, verbose: u8) -> FileOptions {
        FileOptions {
            path: path.to_string(),
            count: None,
            verbose,
            frame_numbers: false,
            quiet: false,
            json,
            threads,
        }
    }

    /// Whichever thread renders the packet lines, the output is the one-thread output, byte for
    /// byte (the run picks the thread by load, so both ways are forced here).
    #[test]
    fn either_thread_may_render_the_lines() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/lab/pcaps");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() > 10);
        for f in files.iter().take(12) {
            let path = f.to_str().unwrap();
            for (json, verbose) in [(true, 0), (false, 0), (true, 1), (false, 1)] {
                let mut one = Vec::new();
                run_file(&options(path, 1, json, verbose), &mut one).unwrap();
                for queued in [0, usize::MAX] {
                    let mut two = Vec::new();
                    run_file_threaded(&options(path, 2, json, verbose), &mut two, queued).unwrap();
                    assert!(
                        one == two,
                        "{path} json {json} -v {verbose}: render_here_queued {queued}"
                    );
                }
            }
        }
    }
}
