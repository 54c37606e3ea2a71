//! Runs the pipeline: capture → decode → track/diagnose → report.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use crate::capture::PacketSource;
use crate::capture::file::FileSource;
use crate::decode::{Decoder, link};
use crate::event::{Body, Event};
use crate::report::JSON_SCHEMA_VERSION;
use crate::report::packets::{PacketOptions, PacketPrinter};
use crate::report::summary::{self, RunInfo, SpiCounter};

pub enum Options {
    File(FileOptions),
    ListFindings { json: bool },
}

pub struct FileOptions {
    pub path: String,
    pub count: Option<u64>,
    pub verbose: u8,
    pub frame_numbers: bool,
    pub quiet: bool,
    pub json: bool,
}

/// Past this many, per-packet decode errors are only counted (a fuzzed file would otherwise
/// bury the report).
const MAX_PRINTED_ERRORS: u64 = 100;

pub fn run(opts: Options) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = match opts {
        Options::File(f) => run_file(&f, &mut out),
        Options::ListFindings { json } => list_findings(json, &mut out).map(|()| ExitCode::SUCCESS),
    };
    let flushed = out.flush();
    match result.and(flushed.map(|()| ExitCode::SUCCESS)) {
        Ok(code) => code,
        // The reader went away (`ike-sniff … | head`): not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            ExitCode::from(1)
        }
    }
}

fn list_findings(_json: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "(no findings catalogue yet)")
}

/// Everything downstream of the decoder, fed one event at a time.
struct Sink<'a> {
    source: String,
    printer: PacketPrinter,
    quiet: bool,
    json: bool,
    spis: SpiCounter,
    errors_printed: u64,
    out: &'a mut dyn Write,
}

impl Sink<'_> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        self.spis.observe(ev);
        if let Body::Malformed(e) = &ev.body {
            self.report_packet_error(ev.pkt.frame, &e.to_string());
        }
        if let Body::Ike(m) = &ev.body
            && let Some(e) = &m.error
        {
            self.report_packet_error(ev.pkt.frame, &e.to_string());
        }
        if !self.quiet {
            self.printer.write(self.out, ev)?;
        }
        Ok(())
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
    if opts.json {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({
                "type": "meta",
                "schema_version": JSON_SCHEMA_VERSION,
                "tool": "ike-sniff",
                "tool_version": env!("CARGO_PKG_VERSION"),
                "source": name,
            }),
        )?;
        out.write_all(b"\n")?;
    }
    let mut decoder = Decoder::new();
    let mut sink = Sink {
        source: name.clone(),
        printer: PacketPrinter::new(PacketOptions {
            json: opts.json,
            verbose: opts.verbose,
            frame_numbers: opts.frame_numbers,
        }),
        quiet: opts.quiet,
        json: opts.json,
        spis: SpiCounter::default(),
        errors_printed: 0,
        out,
    };
    let mut events = Vec::with_capacity(16);
    let mut unsupported_reported = HashSet::new();
    let mut read_error = None;
    let mut read = 0u64;
    loop {
        if opts.count.is_some_and(|c| read >= c) {
            break;
        }
        match source.next_packet() {
            Ok(Some(raw)) => {
                read += 1;
                if !link::is_supported(raw.linktype) && unsupported_reported.insert(raw.linktype) {
                    eprintln!(
                        "{name}: frame {}: link type {} ({}) is not supported: its packets are counted, not decoded",
                        raw.frame,
                        raw.linktype,
                        link::linktype_name(raw.linktype)
                    );
                }
                decoder.decode(&raw, &mut events);
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                read_error = Some(e.to_string());
                break;
            }
        }
        for ev in events.drain(..) {
            sink.event(&ev)?;
        }
    }
    decoder.finish(&mut events);
    for ev in events.drain(..) {
        sink.event(&ev)?;
    }
    let info = RunInfo {
        source: &name,
        stats: &decoder.stats,
        spis: &sink.spis,
        read_error: read_error.clone(),
    };
    if sink.json {
        summary::write_json(sink.out, &info)?;
    } else {
        summary::write_text(sink.out, &info)?;
    }
    Ok(if read_error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
