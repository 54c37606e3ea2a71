//! A capture file on two threads: this one reads and decodes, the other tracks, diagnoses and
//! reports through the same [`Pipeline`], in the same order, so the output is byte for byte
//! the one-thread output.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use super::pipeline::{
    FileOptions, Pipeline, exit_code, open_file, read_packets, resolve_selection,
    warn_unsupported_link,
};
use crate::capture::PacketSource;
use crate::decode::{DecodeStats, Decoder};
use crate::diagnose::Severity;
use crate::event::{Body, Event};
use crate::report::packets::PacketPrinter;

/// Events handed from the decode thread to the analysis thread in batches, so the channel's
/// cost is paid once per batch, not per packet.
const EVENT_BATCH: usize = 512;
/// A batch also goes once its IKE messages hold this many payloads: 64 batches of 512 messages
/// of 16 383 empty payloads each (what 64 KiB datagrams can carry) held 1.2 GB in the channel.
/// Past a real message's few dozen payloads a batch is cut early, so the channel holds at most
/// 64 × (4 096 + one message's 16 383) payloads.
const BATCH_PAYLOADS: usize = 4096;

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
struct DecodedBatch {
    events: Vec<Event>,
    prints: Vec<Print>,
    rendered: bool,
    lines: Vec<u8>,
    line_ends: Vec<usize>,
    /// IKE payloads in `events`, against [`BATCH_PAYLOADS`].
    payloads: usize,
}

impl DecodedBatch {
    fn with_capacity(events: usize) -> Self {
        DecodedBatch {
            events: Vec::with_capacity(events),
            prints: Vec::with_capacity(events),
            rendered: false,
            lines: Vec::with_capacity(events * 64),
            line_ends: Vec::with_capacity(events),
            payloads: 0,
        }
    }

    /// Counts the payloads of the events from `from` on; whether the batch should go now.
    fn full(&mut self, from: usize) -> bool {
        for ev in &self.events[from..] {
            if let Body::Ike(m) = &ev.body {
                self.payloads += m.payloads.len();
            }
        }
        self.events.len() >= EVENT_BATCH || self.payloads >= BATCH_PAYLOADS
    }

    fn clear(&mut self) {
        self.events.clear();
        self.prints.clear();
        self.rendered = false;
        self.lines.clear();
        self.line_ends.clear();
        self.payloads = 0;
    }

    /// Readies the batch to be sent: decides which events print where the event alone decides
    /// it, and renders their lines when this (the decode) thread is to do it.
    fn seal(
        &mut self,
        mut printer: Option<&mut PacketPrinter>,
        render_here: bool,
    ) -> io::Result<()> {
        self.choose(printer.as_deref_mut());
        match printer {
            // A line that depends on the one before it (`-ttt`) is rendered in order there.
            Some(p) if render_here && !p.in_order_only() => self.render(p),
            _ => Ok(()),
        }
    }

    /// Decides which of the events from `prints.len()` on print a line, where the event alone
    /// decides it.
    fn choose(&mut self, printer: Option<&mut PacketPrinter>) {
        let new = self.prints.len()..self.events.len();
        match printer {
            Some(p) => {
                for ev in &self.events[new] {
                    p.observe(ev);
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

    /// Hands the events to the analysis side in order, with their lines: the ones rendered on
    /// the decode thread as they are, the stream-dependent ones rendered there and then.
    fn feed(&self, pipeline: &mut Pipeline<'_>) -> io::Result<()> {
        let mut from = 0;
        for (i, (ev, &print)) in self.events.iter().zip(&self.prints).enumerate() {
            pipeline.analyse(ev);
            let print = match print {
                Print::InOrder => pipeline.wants_line(ev),
                Print::Yes => !self.rendered,
                Print::No => false,
            };
            if self.rendered {
                let end = self.line_ends[i];
                pipeline.write_rendered(&self.lines[from..end])?;
                from = end;
            }
            if print {
                pipeline.print(ev)?;
            }
            pipeline.write_findings()?;
        }
        Ok(())
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
pub(super) const RENDER_HERE_QUEUED: usize = 8;

enum Batch {
    Events(DecodedBatch),
    End(Box<DecodeStats>, Option<String>),
}

/// Two threads: this one reads and decodes, the other tracks, diagnoses and reports, in the
/// same order as one thread would (the output is byte for byte the same). Pays when the
/// analysis is a large part of the work: most packets cost the decoder a few nanoseconds, each
/// IPsec event costs the tracker and the reporter far more.
///
/// `render_here_queued`: batches waiting for the analysis thread from which the decode thread
/// renders packet lines itself (a parameter so tests can force either thread to render).
pub(super) fn run_file_threaded<W: Write + Send>(
    opts: &FileOptions,
    out: W,
    render_here_queued: usize,
) -> io::Result<ExitCode> {
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
    let output = opts.output;
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(64);
    // Batches come back to be cleared here: each event's boxed IKE message is freed by the
    // thread that allocated it (glibc makes a free from another thread dearer).
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded::<DecodedBatch>(66);
    std::thread::scope(|scope| {
        let worker_name = name.clone();
        let worker_selection = selection.clone();
        let worker_keys = opts.keys.clone();
        let tcp_ports = opts.tcp_ports;
        // Named so profilers and `top -H` tell the two apart.
        let worker = std::thread::Builder::new()
            .name("analysis".into())
            .spawn_scoped(scope, move || -> io::Result<Option<Severity>> {
                let mut out = BufWriter::with_capacity(1 << 16, out);
                let mut pipeline = Pipeline::new(&worker_name, output, &mut out)?;
                if let Some(p) = &opts.syslog {
                    pipeline.open_syslog(p)?;
                }
                pipeline.set_selection(worker_selection);
                pipeline.set_tcp_ports(tcp_ports);
                pipeline.set_memory_caps(opts.caps);
                pipeline.set_keys(worker_keys);
                pipeline.set_html(opts.html.clone());
                let mut gravest = None;
                for batch in rx {
                    match batch {
                        Batch::Events(batch) => {
                            batch.feed(&mut pipeline)?;
                            let _ = recycle_tx.try_send(batch);
                        }
                        Batch::End(stats, read_error) => {
                            gravest = pipeline.finish_decoded(*stats, read_error)?;
                            break;
                        }
                    }
                }
                out.flush().map(|()| gravest)
            })?;
        let mut decoder = opts
            .keys
            .clone()
            .map_or_else(Decoder::new, Decoder::with_keys);
        decoder.set_tcp_ports(opts.tcp_ports);
        decoder.set_reassembly_caps(
            (opts.caps.ip_fragment_sets, opts.caps.ip_fragment_bytes),
            (opts.caps.ike_fragment_sets, opts.caps.ike_fragment_bytes),
        );
        let mut unsupported = HashSet::new();
        let mut batch = DecodedBatch::with_capacity(EVENT_BATCH);
        let mut printer = (!output.quiet).then(|| PacketPrinter::new(output));
        let mut worker_gone = false;
        let read_error = read_packets(&mut source, opts, |raw| {
            warn_unsupported_link(&name, &mut unsupported, raw);
            let kept = decoder.stats.kept;
            let from = batch.events.len();
            decoder.decode(raw, &mut batch.events);
            let kept = selection.retain(&mut batch.events, from) && decoder.stats.kept > kept;
            if !batch.full(from) {
                return Ok(kept);
            }
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
                // The analysis thread stopped (a closed pipe): its result says why. Reading
                // on would only decode into a void.
                worker_gone = true;
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            Ok(kept)
        });
        let read_error = match read_error {
            Ok(e) => e,
            Err(_) if worker_gone => None,
            Err(e) => return Err(e),
        };
        if !worker_gone {
            let from = batch.events.len();
            decoder.finish(&mut batch.events);
            selection.retain(&mut batch.events, from);
            batch.seal(printer.as_mut(), tx.len() >= render_here_queued)?;
            let _ = tx.send(Batch::Events(batch));
            let _ = tx.send(Batch::End(
                Box::new(decoder.stats.clone()),
                read_error.clone(),
            ));
        }
        drop(tx);
        let analysed = worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the analysis thread panicked")));
        analysed.map(|gravest| exit_code(&read_error, gravest, opts.fail_on))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One IKE message of 16 000 empty payloads (a 64 KiB datagram) fills a batch by itself,
    /// where 512 of them made a batch of 36 MB.
    #[test]
    fn a_message_of_thousands_of_payloads_fills_a_batch() {
        let n = 16_000usize;
        let mut ike = vec![1u8; 8];
        ike.extend_from_slice(&[0; 8]);
        ike.extend_from_slice(&[43, 0x20, 34, 0x08, 0, 0, 0, 0]);
        ike.extend_from_slice(&((28 + 4 * n) as u32).to_be_bytes());
        for i in 0..n {
            ike.extend_from_slice(&[if i + 1 == n { 0 } else { 43 }, 0, 0, 4]);
        }
        let total = (28 + ike.len()) as u16;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51,
        ];
        ip.extend_from_slice(&[100, 2, 1, 0xf4, 1, 0xf4]);
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&(total - 20).to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(&ike);
        let raw = crate::capture::RawPacket {
            frame: 1,
            ts: crate::event::Timestamp::new(1, 0),
            caplen: ip.len() as u32,
            origlen: ip.len() as u32,
            linktype: 101,
            data: &ip,
        };
        let mut batch = DecodedBatch::with_capacity(EVENT_BATCH);
        assert!(!batch.full(0));
        Decoder::new().decode(&raw, &mut batch.events);
        assert_eq!(batch.events.len(), 1);
        assert!(batch.full(0));
        assert_eq!(batch.payloads, n);
    }
    use crate::app::pipeline::run_file;
    use crate::report::OutputOptions;

    fn options(path: &str, threads: usize, json: bool, verbose: u8) -> FileOptions {
        FileOptions {
            path: path.to_string(),
            count: None,
            filter: None,
            write: None,
            select: Default::default(),
            fail_on: None,
            syslog: None,
            threads,
            keys: None,
            html: None,
            tcp_ports: Default::default(),
            caps: Default::default(),
            output: OutputOptions {
                json,
                verbose,
                ..OutputOptions::default()
            },
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
