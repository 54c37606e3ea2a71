//! Live mode (`-i IFACE`): opens the interface, drops privileges, then feeds the same
//! [`Pipeline`] as a capture file, printing as things happen.
//!
//! Order of work, and why:
//! 1. SIGINT/SIGTERM handlers set a flag (a second signal ends the process at once).
//! 2. The interface is opened and the kernel filter installed (needs root or CAP_NET_RAW).
//! 3. The `-w` file is created while still privileged and handed to the `-Z` user (`fchown`).
//! 4. Privileges are dropped (see [`drop_privileges`]) before a single packet is decoded.
//! 5. The loop reads with a timeout, so signals, `--duration`, `--stats-interval` and `-G` are
//!    served on an idle interface too. Output is flushed as it is produced (at most every
//!    [`FLUSH_EVERY`]) and on every timeout, so lines appear as they happen.
//! 6. On a signal, `-c` or `--duration`: flush, final summary, capture counters, exit 0. After
//!    a signal, what the kernel already captured is read first (up to one read timeout).
//!
//! Capture itself is in [`crate::capture::live`].

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caps::CapSet;
use nix::unistd::{Gid, Uid, User};

use super::metrics_http::{self, MetricsOptions};
use super::pipeline::Pipeline;
use crate::capture::RawPacket;
use crate::capture::live::{CaptureStats, LiveConfig, LiveSource, Next, PcapWriter};
use crate::event::Timestamp;
use crate::report::OutputOptions;
use crate::report::ecs::EcsWriter;
use crate::report::metrics::{CaptureCounters, Published};

/// Output waiting in the buffer is written out at least this often while packets flow.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// How often the capture thread publishes a metrics snapshot (`--metrics`).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// How long, at most, packets already captured are still read after SIGINT/SIGTERM.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// Clock checks (duration, statistics, rotation, flushing) happen every this many packets, and
/// on every read timeout, so a busy capture does not read the clock per packet.
const CLOCK_EVERY: u64 = 64;

/// Everything `-i` mode needs, validated by the command line.
pub struct LiveOptions {
    pub capture: LiveConfig,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// `None`: no periodic summaries (`--stats-interval 0`).
    pub stats_interval: Option<Duration>,
    pub write: Option<WriteOptions>,
    /// `-Z`; `None` means the default, `nobody`.
    pub user: Option<String>,
    pub output: OutputOptions,
    /// `--keys`, read before privileges are dropped.
    pub keys: Option<Arc<crate::keys::KeyRing>>,
    /// `--tcp-encap-port`: the TCP ports read as RFC 8229 streams.
    pub tcp_ports: crate::decode::tcp::EncapPorts,
    /// `--metrics`: serve Prometheus metrics (see [`super::metrics_http`]).
    pub metrics: Option<MetricsOptions>,
    /// `--syslog`: findings also go to this socket.
    pub syslog: Option<PathBuf>,
    /// `--output FILE`: the report goes there (appended; reopened on SIGHUP) rather than to
    /// standard output.
    pub output_file: Option<PathBuf>,
    /// `--html FILE`: the HTML report, rewritten with every periodic summary and at the end.
    pub html: Option<PathBuf>,
    /// `--max-memory`: every table's cap.
    pub caps: super::memory::MemoryCaps,
}

/// `-w FILE` with tcpdump's `-C` and `-G`.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub path: PathBuf,
    /// `-C`: start a new file once this many bytes are written (tcpdump: millions of bytes).
    pub rotate_bytes: Option<u64>,
    /// `-G`: start a new file every this often.
    pub rotate_every: Option<Duration>,
}

/// The user ike-sniff runs as after opening the capture when `-Z` is not given.
pub const DEFAULT_USER: &str = "nobody";

/// Lists interfaces (`-D`), tcpdump's format: `1.eth0 [Up, Running]`.
pub fn list_interfaces(out: &mut dyn Write) -> io::Result<ExitCode> {
    match crate::capture::live::list_interfaces() {
        Ok(list) => {
            for (i, d) in list.iter().enumerate() {
                write!(out, "{}.{}", i + 1, d.name)?;
                if let Some(desc) = &d.description {
                    write!(out, " ({desc})")?;
                }
                if !d.flags.is_empty() {
                    write!(out, " [{}]", d.flags.join(", "))?;
                }
                writeln!(out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("ike-sniff: listing interfaces: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Where the report goes: standard output (as given) or `--output FILE`.
enum Sink<'a> {
    Given(&'a mut dyn Write),
    File {
        path: PathBuf,
        file: Box<dyn Write>,
        ecs: bool,
    },
}

/// The report's destination, which never stops the analysis: a write that fails (disk full,
/// quota, I/O error) drops what it was given, is counted, and is reported on standard error
/// the first time; the analysis and the metrics go on, and writing resumes by itself when the
/// destination takes data again. Only a closed pipe (`ike-sniff … | head`) ends the run.
struct Resilient<'a> {
    sink: Sink<'a>,
    lost_writes: u64,
    lost_bytes: u64,
}

impl<'a> Resilient<'a> {
    fn name(&self) -> String {
        match &self.sink {
            Sink::Given(_) => "standard output".into(),
            Sink::File { path, .. } => path.display().to_string(),
        }
    }

    fn failed(&mut self, e: io::Error, len: usize) -> io::Result<usize> {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Err(e);
        }
        if self.lost_writes == 0 {
            eprintln!(
                "ike-sniff: {}: {e}; the report is dropped (and counted) while this lasts; analysis goes on",
                self.name()
            );
        }
        self.lost_writes += 1;
        self.lost_bytes += len as u64;
        Ok(len)
    }

    /// SIGHUP: `--output FILE` is opened again by name (appending), so a file logrotate moved
    /// away is replaced by a new one. On failure the old handle stays in use.
    fn reopen(&mut self) {
        let Sink::File { path, file, ecs } = &mut self.sink else {
            return;
        };
        let _ = file.flush();
        match open_output(path, None, *ecs) {
            Ok(f) => *file = f,
            Err(e) => eprintln!(
                "ike-sniff: SIGHUP: reopening {}: {e}; still writing to the file open before",
                path.display()
            ),
        }
    }
}

impl Write for Resilient<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = match &mut self.sink {
            Sink::Given(w) => w.write(buf),
            Sink::File { file, .. } => file.write(buf),
        };
        r.or_else(|e| self.failed(e, buf.len()))
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = match &mut self.sink {
            Sink::Given(w) => w.flush(),
            Sink::File { file, .. } => file.flush(),
        };
        r.or_else(|e| self.failed(e, 0).map(|_| ()))
    }
}

/// Opens `--output FILE` for appending (created 0640), given to `owner` when it is created
/// while privileged; with `ecs`, lines go through [`EcsWriter`].
fn open_output(path: &Path, owner: Option<(u32, u32)>, ecs: bool) -> io::Result<Box<dyn Write>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
    }
    let file = io::BufWriter::with_capacity(1 << 16, file);
    Ok(if ecs {
        Box::new(EcsWriter::new(file))
    } else {
        Box::new(file)
    })
}

/// A `Write` shared by the pipeline and the loop: the loop flushes it and writes the capture
/// counters while the pipeline holds its own handle. `pending` says whether anything was
/// written since the last flush.
#[derive(Clone)]
struct SharedOut<'a> {
    inner: Rc<RefCell<Resilient<'a>>>,
    pending: Rc<RefCell<bool>>,
}

impl Write for SharedOut<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        *self.pending.borrow_mut() = true;
        self.inner.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        *self.pending.borrow_mut() = false;
        self.inner.borrow_mut().flush()
    }
}

impl SharedOut<'_> {
    fn pending(&self) -> bool {
        *self.pending.borrow()
    }
}

pub fn run_live(opts: &LiveOptions, out: &mut dyn Write) -> io::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the first is being served ends the process (exit status 1).
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    // SIGHUP (logrotate's postrotate): reopen --output, start a new -w file.
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))?;

    let mut source = match LiveSource::open(&opts.capture) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    eprintln!(
        "ike-sniff: listening on {}, link-type {}, snapshot length {} bytes, buffer {} KiB",
        source.name(),
        source.linktype_description(),
        source.snaplen(),
        opts.capture.buffer_kib
    );

    let target = match resolve_user(opts.user.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut writer = match &opts.write {
        Some(w) => match Rotator::start(w, &source, target.owner()) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("ike-sniff: {}: {e}", w.path.display());
                return Ok(ExitCode::from(1));
            }
        },
        None => None,
    };
    let output_file = match &opts.output_file {
        Some(p) => match open_output(p, target.owner(), opts.output.ecs) {
            Ok(f) => Some((p.clone(), f)),
            Err(e) => {
                eprintln!("ike-sniff: --output {}: {e}", p.display());
                return Ok(ExitCode::from(1));
            }
        },
        None => None,
    };
    // A port below 1024 needs privileges to bind: bound now, served after they are dropped.
    // Any other port is bound as the unprivileged user.
    let privileged_port = |m: &MetricsOptions| (1..1024).contains(&m.addr.port());
    let mut listener = None;
    if let Some(m) = opts.metrics.as_ref().filter(|m| privileged_port(m)) {
        match metrics_http::bind(m.addr) {
            Ok(l) => listener = Some(l),
            Err(e) => {
                eprintln!("ike-sniff: --metrics {}: {e}", m.addr);
                return Ok(ExitCode::from(1));
            }
        }
    }
    match drop_privileges(&target) {
        Ok(msg) => eprintln!("ike-sniff: {msg}"),
        Err(e) => {
            eprintln!("ike-sniff: dropping privileges: {e}; refusing to go on");
            return Ok(ExitCode::from(1));
        }
    }
    let published = Published::default();
    if let Some(m) = &opts.metrics {
        let l = match listener
            .take()
            .map_or_else(|| metrics_http::bind(m.addr), Ok)
        {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ike-sniff: --metrics {}: {e}", m.addr);
                return Ok(ExitCode::from(1));
            }
        };
        let at = l.local_addr().map_or(m.addr, |a| a);
        // The thread starts after the privileges were dropped, so it has none either.
        metrics_http::serve(l, published.clone(), wall_clock)?;
        eprintln!("ike-sniff: metrics at http://{at}/metrics");
    }
    if let Some(w) = &writer
        && let Err(e) = w.check_rotation_possible()
    {
        eprintln!("ike-sniff: {e}");
        return Ok(ExitCode::from(1));
    }

    let sink = match output_file {
        Some((path, file)) => Sink::File {
            path,
            file,
            ecs: opts.output.ecs,
        },
        None => Sink::Given(out),
    };
    let shared = SharedOut {
        inner: Rc::new(RefCell::new(Resilient {
            sink,
            lost_writes: 0,
            lost_bytes: 0,
        })),
        pending: Rc::new(RefCell::new(false)),
    };
    let mut pipe_out = shared.clone();
    let mut stats_out = shared.clone();
    let name = source.name().to_string();
    let mut pipeline = Pipeline::new(&name, opts.output, &mut pipe_out)?;
    pipeline.set_tcp_ports(opts.tcp_ports);
    pipeline.set_memory_caps(opts.caps);
    pipeline.set_keys(opts.keys.clone());
    pipeline.set_html(opts.html.clone());
    if let Some(p) = &opts.syslog
        && let Err(e) = pipeline.open_syslog(p)
    {
        eprintln!("ike-sniff: {e}");
        return Ok(ExitCode::from(1));
    }
    stats_out.flush()?;

    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let mut next_stats = opts.stats_interval.map(|i| start + i);
    let mut next_publish = opts.metrics.as_ref().map(|_| start);
    let mut last_flush = start;
    let mut read_error = None;
    let mut write_failed = false;
    // After a signal, packets the kernel already holds are still read, until a read times out
    // (or DRAIN_LIMIT passes), so the final report and counters cover them.
    let mut draining_until: Option<Instant> = None;
    loop {
        if draining_until.is_none() && stop.load(Ordering::Relaxed) {
            draining_until = Some(Instant::now() + DRAIN_LIMIT);
        }
        // `checkpoint`: no packet this time round, so flush what is pending; `idle`: the
        // read timeout passed, so also flush the -w file.
        let (checkpoint, idle) = match source.read() {
            Ok(Next::Packet(raw)) => {
                if let Some(w) = writer.as_mut().filter(|w| !w.stopped)
                    && let Err(e) = w.write(&raw)
                {
                    eprintln!(
                        "ike-sniff: {}: {e}; no longer writing packets until SIGHUP (analysis goes on)",
                        w.current.display()
                    );
                    w.stopped = true;
                    write_failed = true;
                }
                pipeline.packet(&raw)?;
                (false, false)
            }
            Ok(Next::Drained) => (true, false),
            Ok(Next::Timeout) if draining_until.is_some() => break,
            Ok(Next::Timeout) => (true, true),
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                read_error = Some(e.to_string());
                break;
            }
        };
        let packets = source.packets();
        if opts.count.is_some_and(|c| packets >= c) {
            break;
        }
        if !checkpoint && packets % CLOCK_EVERY != 0 && !shared.pending() {
            continue;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || draining_until.is_some_and(|d| now >= d) {
            break;
        }
        if shared.pending() && (checkpoint || now.duration_since(last_flush) >= FLUSH_EVERY) {
            stats_out.flush()?;
            last_flush = now;
        }
        if idle {
            pipeline.tick(wall_clock())?;
        }
        if hup.swap(false, Ordering::Relaxed) {
            shared.inner.borrow_mut().reopen();
            if let Some(w) = &mut writer {
                match w.reopen() {
                    Ok(()) => eprintln!(
                        "ike-sniff: SIGHUP: output reopened; packets now go to {}",
                        w.current.display()
                    ),
                    Err(e) => {
                        eprintln!("ike-sniff: SIGHUP: {e}; no longer writing packets");
                        w.stopped = true;
                    }
                }
            } else {
                eprintln!("ike-sniff: SIGHUP: output reopened");
            }
        }
        if let Some(w) = writer.as_mut().filter(|w| !w.stopped) {
            if idle && let Err(e) = w.flush() {
                eprintln!(
                    "ike-sniff: {}: {e}; no longer writing packets until SIGHUP (analysis goes on)",
                    w.current.display()
                );
                w.stopped = true;
                write_failed = true;
            } else if let Err(e) = w.rotate_if_due(now) {
                eprintln!(
                    "ike-sniff: {e}; no longer writing packets until SIGHUP (analysis goes on)"
                );
                w.stopped = true;
                write_failed = true;
            }
        }
        if let (Some(at), Some(every)) = (next_stats, opts.stats_interval)
            && now >= at
        {
            pipeline.write_updates()?;
            pipeline.write_tunnels()?;
            pipeline.write_summary(None)?;
            // A page that cannot be written now may be next time (a full disk): the capture
            // goes on.
            if let Err(e) = pipeline.write_html(None) {
                eprintln!("ike-sniff: {e}");
            }
            write_capture_stats(&mut stats_out, &mut source, opts, start, false)?;
            stats_out.flush()?;
            next_stats = Some(at + every);
        }
        if let (Some(at), Some(m)) = (next_publish, &opts.metrics)
            && now >= at
        {
            let capture = capture_counters(&mut source);
            published.publish(pipeline.metrics_snapshot(capture, m.max_tunnels, wall_clock()));
            next_publish = Some(now + PUBLISH_EVERY);
        }
    }

    if let Some(w) = writer.as_mut().filter(|w| !w.stopped)
        && let Err(e) = w.flush()
    {
        eprintln!("ike-sniff: {}: {e}", w.current.display());
        write_failed = true;
    }
    pipeline.finish(read_error.clone())?;
    write_capture_stats(&mut stats_out, &mut source, opts, start, true)?;
    stats_out.flush()?;
    let (lost, lost_bytes, dest) = {
        let r = shared.inner.borrow();
        (r.lost_writes, r.lost_bytes, r.name())
    };
    if lost > 0 {
        eprintln!("ike-sniff: {dest}: {lost} writes ({lost_bytes} bytes) of the report were lost");
        write_failed = true;
    }
    Ok(if read_error.is_some() || write_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The counters the metrics show (`None` when libpcap cannot say).
fn capture_counters(source: &mut LiveSource) -> Option<CaptureCounters> {
    let s = source.stats().ok()?;
    Some(CaptureCounters {
        packets: source.packets(),
        received: s.received.into(),
        dropped_kernel: s.dropped_kernel.into(),
        dropped_interface: s.dropped_interface.into(),
    })
}

/// The capture counters, after each periodic summary and after the final one: a `capture`
/// line in JSON, one text line otherwise.
fn write_capture_stats(
    out: &mut dyn Write,
    source: &mut LiveSource,
    opts: &LiveOptions,
    start: Instant,
    last: bool,
) -> io::Result<()> {
    let stats = match source.stats() {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("ike-sniff: {e}");
            None
        }
    };
    let elapsed = start.elapsed().as_secs_f64();
    if opts.output.json {
        let v = serde_json::json!({
            "type": "capture",
            "interface": source.name(),
            "final": last,
            "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
            "packets": source.packets(),
            "received": stats.map(|s| s.received),
            "dropped_kernel": stats.map(|s| s.dropped_kernel),
            "dropped_interface": stats.map(|s| s.dropped_interface),
        });
        serde_json::to_writer(&mut *out, &v)?;
        return out.write_all(b"\n");
    }
    let CaptureStats {
        received,
        dropped_kernel,
        dropped_interface,
    } = stats.unwrap_or_default();
    writeln!(
        out,
        "capture on {} ({:.1} s{}): {} packets analysed; kernel: {} received by filter, {} dropped (buffer full), {} dropped by interface",
        source.name(),
        elapsed,
        if last { ", final" } else { "" },
        source.packets(),
        received,
        dropped_kernel,
        dropped_interface
    )?;
    if dropped_kernel > 0 {
        writeln!(
            out,
            "  packets were lost before ike-sniff saw them: findings may be incomplete; try a larger -B or a narrower filter expression"
        )?;
    }
    Ok(())
}

/// Writes `-w` files and starts new ones like tcpdump: with `-C`, FILE, FILE1, FILE2…; with
/// `-G`, FILE.<unix seconds when the file was started> (FILE.<secs>1, … when `-C` also cuts it).
struct Rotator {
    opts: WriteOptions,
    linktype: u32,
    snaplen: u32,
    file: PcapWriter,
    current: PathBuf,
    /// Files started in this `-G` period (the `-C` suffix).
    index: u64,
    period_start: Instant,
    period_epoch: u64,
    /// A write failed (disk full…): no packets are written until SIGHUP starts a new file.
    stopped: bool,
}

impl Rotator {
    fn start(
        opts: &WriteOptions,
        source: &LiveSource,
        owner: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let period_epoch = epoch_secs();
        let current = file_name(opts, period_epoch, 0);
        let file = PcapWriter::create(&current, source.linktype(), source.snaplen(), owner)?;
        Ok(Rotator {
            opts: opts.clone(),
            linktype: source.linktype(),
            snaplen: source.snaplen(),
            file,
            current,
            index: 0,
            period_start: Instant::now(),
            period_epoch,
            stopped: false,
        })
    }

    /// Files after the first are created by the unprivileged user, so with `-C` or `-G` its
    /// directory must be writable by that user; say so now rather than at the first rotation.
    fn check_rotation_possible(&self) -> Result<(), String> {
        if self.opts.rotate_bytes.is_none() && self.opts.rotate_every.is_none() {
            return Ok(());
        }
        let dir = match self.opts.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).map_err(|e| {
            format!(
                "-C/-G: the directory {} is not writable by user {} ({e}): new files could not be started; use -Z or another directory",
                dir.display(),
                nix::unistd::getuid()
            )
        })
    }

    fn write(&mut self, raw: &RawPacket<'_>) -> io::Result<()> {
        if let Some(limit) = self.opts.rotate_bytes
            && self.file.bytes() > 24
            && self.file.bytes() + 16 + raw.data.len() as u64 > limit
        {
            self.index += 1;
            self.open_next()?;
        }
        self.file.write(raw)
    }

    fn rotate_if_due(&mut self, now: Instant) -> Result<(), String> {
        let Some(every) = self.opts.rotate_every else {
            return Ok(());
        };
        if now.duration_since(self.period_start) < every {
            return Ok(());
        }
        self.period_start = now;
        self.period_epoch = epoch_secs();
        self.index = 0;
        self.open_next()
            .map_err(|e| format!("{}: {e}", self.current.display()))
    }

    /// SIGHUP: a new file. When the current one was moved or deleted (logrotate), the new one
    /// takes its name; otherwise the next name in the `-C` sequence (FILE1, FILE2…), so a file
    /// still in place is never truncated. Also how writing resumes after a failed write.
    fn reopen(&mut self) -> Result<(), String> {
        let _ = self.file.flush();
        let moved = !self.file.is_at(&self.current);
        let next = if moved {
            self.current.clone()
        } else {
            loop {
                self.index += 1;
                let n = file_name(&self.opts, self.period_epoch, self.index);
                if !n.exists() {
                    break n;
                }
            }
        };
        self.file = PcapWriter::create(&next, self.linktype, self.snaplen, None)
            .map_err(|e| format!("{}: {e}", next.display()))?;
        self.current = next;
        self.stopped = false;
        Ok(())
    }

    fn open_next(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let next = file_name(&self.opts, self.period_epoch, self.index);
        self.file = PcapWriter::create(&next, self.linktype, self.snaplen, None)?;
        self.current = next;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Now, in the packets' time base (libpcap stamps packets with the system clock).
pub(super) fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(d.as_secs() as i64, d.subsec_nanos())
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn file_name(opts: &WriteOptions, epoch: u64, index: u64) -> PathBuf {
    let mut name = opts.path.as_os_str().to_owned();
    if opts.rotate_every.is_some() {
        name.push(format!(".{epoch}"));
    }
    if index > 0 {
        name.push(index.to_string());
    }
    PathBuf::from(name)
}

/// Who to become after opening the capture.
#[derive(Debug)]
pub enum Target {
    /// Keep running as root (`-Z root`), like tcpdump.
    StayRoot,
    /// Become this user (and its primary group).
    User { name: String, uid: Uid, gid: Gid },
    /// Not root to begin with (file capabilities): only drop capabilities.
    NotRoot { ignored_user: Option<String> },
}

impl Target {
    /// The uid/gid to give `-w` files, when the user changes.
    fn owner(&self) -> Option<(u32, u32)> {
        match self {
            Target::User { uid, gid, .. } => Some((uid.as_raw(), gid.as_raw())),
            _ => None,
        }
    }
}

/// Looks the `-Z` user up while /etc/passwd is still readable and root is still held.
pub fn resolve_user(requested: Option<&str>) -> Result<Target, String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(Target::NotRoot {
            ignored_user: requested.map(str::to_string),
        });
    }
    let name = requested.unwrap_or(DEFAULT_USER);
    let user = User::from_name(name)
        .map_err(|e| format!("-Z {name}: looking the user up: {e}"))?
        .ok_or_else(|| format!("-Z {name}: no such user"))?;
    if user.uid.is_root() {
        return Ok(Target::StayRoot);
    }
    Ok(Target::User {
        name: name.to_string(),
        uid: user.uid,
        gid: user.gid,
    })
}

/// Drops to `target` and gives up every capability, then sets no_new_privs so nothing later
/// can gain privileges back (setuid binaries, file capabilities). Returns what was done, for
/// the operator.
///
/// As root: empty the capability bounding set (needs CAP_SETPCAP, so first), set the
/// supplementary groups to the user's primary group only, then real/effective/saved gid and
/// uid. The kernel clears the permitted and effective sets on the uid change; they are cleared
/// again explicitly, with the inheritable and ambient sets, and checked.
pub fn drop_privileges(target: &Target) -> Result<String, String> {
    let msg = match target {
        Target::StayRoot => {
            nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
            return Ok("-Z root: keeping root privileges (as tcpdump does)".into());
        }
        Target::User { name, uid, gid } => {
            let bounding = caps::read(None, CapSet::Bounding).map_err(|e| e.to_string())?;
            for cap in bounding {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(|e| format!("dropping {cap} from the bounding set: {e}"))?;
            }
            nix::unistd::setgroups(&[*gid]).map_err(|e| format!("setgroups: {e}"))?;
            nix::unistd::setresgid(*gid, *gid, *gid).map_err(|e| format!("setresgid: {e}"))?;
            nix::unistd::setresuid(*uid, *uid, *uid).map_err(|e| format!("setresuid: {e}"))?;
            format!("running as user {name} (uid {uid}, gid {gid}) with no capabilities")
        }
        Target::NotRoot { ignored_user } => {
            if let Some(u) = ignored_user {
                eprintln!("ike-sniff: -Z {u} ignored: not running as root, the user cannot change");
            }
            "capabilities dropped".to_string()
        }
    };
    // Ambient capabilities exist since Linux 4.3; on older kernels there is nothing to clear.
    let _ = caps::clear(None, CapSet::Ambient);
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| format!("clearing {set:?} capabilities: {e}"))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    let left = caps::read(None, CapSet::Effective).map_err(|e| e.to_string())?;
    if !left.is_empty() {
        return Err(format!("capabilities still effective: {left:?}"));
    }
    if matches!(target, Target::User { .. })
        && (nix::unistd::geteuid().is_root() || nix::unistd::getuid().is_root())
    {
        return Err("still root after setresuid".into());
    }
    Ok(msg)
}

/// Checked before opening, so a typo in `-w` fails before the capture starts.
pub fn check_write_path(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("-w: empty file name".into());
    }
    if path.is_dir() {
        return Err(format!("-w {}: is a directory", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(c: Option<u64>, g: Option<u64>) -> WriteOptions {
        WriteOptions {
            path: PathBuf::from("/tmp/x.pcap"),
            rotate_bytes: c,
            rotate_every: g.map(Duration::from_secs),
        }
    }

    #[test]
    fn rotated_files_are_named_like_tcpdump() {
        assert_eq!(
            file_name(&w(None, None), 5, 0),
            PathBuf::from("/tmp/x.pcap")
        );
        assert_eq!(
            file_name(&w(Some(1), None), 5, 0),
            PathBuf::from("/tmp/x.pcap")
        );
        assert_eq!(
            file_name(&w(Some(1), None), 5, 2),
            PathBuf::from("/tmp/x.pcap2")
        );
        assert_eq!(
            file_name(&w(None, Some(60)), 1_700_000_000, 0),
            PathBuf::from("/tmp/x.pcap.1700000000")
        );
        assert_eq!(
            file_name(&w(Some(1), Some(60)), 1_700_000_000, 3),
            PathBuf::from("/tmp/x.pcap.17000000003")
        );
    }
}
