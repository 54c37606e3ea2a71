//! Command line: tcpdump's habits where they fit (`-r`, `-c`, `-v`, `-n`, `-#`), validated into
//! a [`crate::app::Options`] and dispatched.

use std::process::ExitCode;

use clap::{ArgAction, Parser};

use crate::app::live::{LiveOptions, WriteOptions};
use crate::app::select::{self, SelectArgs};
use crate::app::{self, FileOptions, Options};
use crate::capture::filter::OfflineFilter;
use crate::capture::live::{LiveConfig, build_filter_for};
use crate::decode::tcp::EncapPorts;
use crate::diagnose::Severity;
use crate::report::OutputOptions;
use crate::report::paint::{self, ColorChoice};
use crate::report::time::TimeFormat;

/// Examples and exit statuses, after the options in `--help` and the man page.
const AFTER_HELP: &str = "\
Examples:
  ike-sniff -r vpn.pcap                      what is wrong, packet lines as tcpdump's
  ike-sniff -q -r vpn.pcap                   verdict and tunnel table, for a ticket
  ike-sniff -r vpn.pcap host 203.0.113.5     a tcpdump filter, as tcpdump -r applies it
  ike-sniff -r vpn.pcap --spi c1a2b3d4 -w sa.pcap
                                             one SA's tunnel, written to a small pcap
  ike-sniff -r vpn.pcap --json | jq 'select(.type == \"finding\")'
  ike-sniff -r vpn.pcap --fail-on error      in a script: exit 3 on an error finding
  sudo ike-sniff -i eth0 --stats-interval 30 live on a gateway, summaries every 30 s
  ike-sniff --generate man > ike-sniff.1     the man page (bash, zsh, fish: completions)

Exit status:
  0  the whole input was read (and, with --fail-on, no finding that grave)
  1  the input could not be read to its end (what was read is still analysed)
  2  usage error
  3  --fail-on: a finding of that severity or graver was reported";

/// Reads IPsec traffic (IKEv1, IKEv2, ESP, NAT-T, ICMP errors, IP fragments) from a capture file
/// and says what is wrong with the VPN and what to do about it.
#[derive(Parser, Debug)]
#[command(name = "ike-sniff", version, about, long_about = None)]
#[command(disable_help_flag = true, after_help = AFTER_HELP)]
pub struct Args {
    /// Read packets from FILE (pcap, pcapng, or the text of FortiGate `diagnose sniffer packet`
    /// at verbosity 3, 5 or 6); `-` reads standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<String>,

    /// Capture live on IFACE (`any` for all interfaces). Needs root or CAP_NET_RAW; privileges
    /// are dropped (see -Z) before any packet is decoded.
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with = "read"
    )]
    pub interface: Option<String>,

    /// List the interfaces live capture can use, and exit.
    #[arg(short = 'D', long = "list-interfaces", action = ArgAction::SetTrue)]
    pub list_interfaces: bool,

    /// Live: kernel capture buffer in KiB (as tcpdump's -B) [default: 65536].
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB", value_parser = clap::value_parser!(u32).range(1..=2_097_151))]
    pub buffer_kib: Option<u32>,

    /// Live: bytes kept of each packet, 1500 to 262144; 0 means the most, as tcpdump
    /// [default: 262144].
    #[arg(short = 's', long = "snapshot-length", value_name = "SNAPLEN", value_parser = parse_snaplen)]
    pub snaplen: Option<u32>,

    /// Live: do not put the interface into promiscuous mode.
    #[arg(short = 'p', long = "no-promiscuous-mode", action = ArgAction::SetTrue)]
    pub no_promiscuous: bool,

    /// Live: stop after SECONDS.
    #[arg(long = "duration", value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Live: print the summary and the capture counters every SECONDS (0: only at the end)
    /// [default: 60].
    #[arg(long = "stats-interval", value_name = "SECONDS")]
    pub stats_interval: Option<u64>,

    /// Write the packets analysed to FILE (pcap, original timestamps and link type). With -r:
    /// every IPsec-related packet that passed the filters. Live: every captured packet; the
    /// file is created before privileges are dropped and given to the -Z user.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<String>,

    /// Live with -w: start a new file when this one would pass MB millions of bytes (FILE,
    /// FILE1, FILE2, …). New files are created as the -Z user.
    #[arg(short = 'C', value_name = "MB", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_mb: Option<u64>,

    /// Live with -w: start a new file every SECONDS, named FILE.<unix time it was started>.
    #[arg(short = 'G', value_name = "SECONDS", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_secs: Option<u64>,

    /// Live: serve Prometheus metrics (OpenMetrics text) at http://ADDR:PORT/metrics from a
    /// thread of their own; a port below 1024 is bound before privileges are dropped.
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Also send every finding (raised, updated, cleared) to syslog as RFC 5424, on /dev/log or
    /// the Unix datagram socket given as --syslog=SOCKET.
    #[arg(long = "syslog", value_name = "SOCKET", num_args = 0..=1, require_equals = true, default_missing_value = crate::report::syslog::DEV_LOG)]
    pub syslog: Option<std::path::PathBuf>,

    /// Live: write the report to FILE (appended) instead of standard output; SIGHUP reopens
    /// it, for logrotate.
    #[arg(long = "output", value_name = "FILE")]
    pub output_file: Option<std::path::PathBuf>,

    /// Live with --metrics: tunnels exported by name, the first seen; the rest are summed
    /// under tunnel="other" [default: 500].
    #[arg(long = "metrics-max-tunnels", value_name = "N", requires = "metrics")]
    pub metrics_max_tunnels: Option<usize>,

    /// Live: after opening the interface, run as USER (default nobody) with no capabilities;
    /// `-Z root` keeps root.
    #[arg(short = 'Z', long = "relinquish-privileges", value_name = "USER")]
    pub user: Option<String>,

    /// TCP port carrying IKE and ESP in TCP (RFC 8229), instead of 4500; repeat for several
    /// (Libreswan's tcp-remoteport; some deployments use 443). Live, the kernel filter takes
    /// these ports too.
    #[arg(long = "tcp-encap-port", value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub tcp_encap_port: Vec<u16>,

    /// Print the kernel filter live capture would use (ike-sniff's, narrowed by EXPRESSION)
    /// and exit; it works with tcpdump too.
    #[arg(long = "print-filter", action = ArgAction::SetTrue)]
    pub print_filter: bool,

    /// A tcpdump filter expression: only packets it matches are read, live (in the kernel) and
    /// from a file alike (`ike-sniff -r vpn.pcap host 203.0.113.5`).
    #[arg(value_name = "EXPRESSION", num_args = 1..)]
    pub expression: Vec<String>,

    /// Stop after COUNT packets have passed the filter (ike-sniff's IPsec filter, narrowed by
    /// EXPRESSION), as tcpdump counts.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,

    /// More detail: payloads, proposals and notify data for IKE; every ESP and fragment packet.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// Accepted for tcpdump's sake, once or more (`-nn`): addresses and ports are never
    /// resolved.
    #[arg(short = 'n', action = ArgAction::Count)]
    pub numeric: u8,

    /// Timestamps as tcpdump: `-t` none, `-tt` epoch seconds, `-ttt` since the previous line,
    /// `-tttt` date and time, `-ttttt` since the first packet. Default: time of day in the
    /// local zone (with the date once the capture has passed into another day).
    #[arg(short = 't', action = ArgAction::Count)]
    pub timestamps: u8,

    /// Packet times in UTC instead of the local time zone.
    #[arg(long = "utc", action = ArgAction::SetTrue)]
    pub utc: bool,

    /// Print the frame number (as Wireshark counts) before each packet line.
    #[arg(short = '#', long = "number", action = ArgAction::SetTrue)]
    pub frame_numbers: bool,

    /// Keys to decrypt IKE and ESP with: a file, a folder (every file in it: a Wireshark
    /// config folder works as is) or - for standard input; give it again for more. Formats are
    /// recognised per file: Wireshark's ikev2_decryption_table, ikev1_decryption_table and
    /// esp_sa, tcpdump -E secrets, Libreswan/strongSwan debug logs, ip xfrm state, setkey -D,
    /// FortiGate tunnel lists. Keys are never printed.
    #[arg(long = "keys", value_name = "PATH")]
    pub keys: Vec<std::path::PathBuf>,

    /// No per-packet lines: only findings, tunnels and the summary.
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue)]
    pub quiet: bool,

    /// JSON Lines on standard output; every line has a "type".
    #[arg(long = "json", action = ArgAction::SetTrue)]
    pub json: bool,

    /// Also write an HTML report to FILE: one self-contained page (verdict, findings, tunnels, a
    /// ladder diagram of each tunnel's IKE exchanges over its ESP traffic) to attach to a
    /// ticket. Live: rewritten at every --stats-interval and at the end (FILE's folder must be
    /// writable by the -Z user).
    #[arg(long = "html", value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,

    /// JSON flavour: `native` (the default, docs/schema/) or `ecs` (Elastic Common Schema
    /// documents, docs/ecs.md); implies --json.
    #[arg(long = "json-format", value_name = "FORMAT", value_parser = ["native", "ecs"])]
    pub json_format: Option<String>,

    /// Memory for the capped tables (tunnels, IKE and ESP SAs, fragment sets, per-SPI rows),
    /// e.g. 64MiB or 2GiB: every table's cap scales with it, so a smaller figure evicts sooner
    /// and a larger one keeps more history. Default: the built-in caps, about 190MiB.
    #[arg(long = "max-memory", value_name = "SIZE", value_parser = app::memory::parse_size)]
    pub max_memory: Option<u64>,

    /// Threads for -r: 1 runs everything on one; 2 or more decode on one and track, diagnose and
    /// report on another (same output). Default: the number of CPUs.
    #[arg(long = "threads", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: Option<u64>,

    /// With -r: only packets, findings and tunnels of this peer (either side of a pair; give it
    /// again for more).
    #[arg(long = "peer", value_name = "ADDR")]
    pub peer: Vec<std::net::IpAddr>,

    /// With -r: only the SA with this SPI and its tunnel: an IKE SPI or IKEv1 cookie (16 hex
    /// digits) or an ESP/AH SPI (8), `0x` optional.
    #[arg(long = "spi", value_name = "HEX", value_parser = select::parse_spi)]
    pub spi: Option<u64>,

    /// With -r: only findings of KIND (`--list-findings` has them) and the tunnels they are
    /// about, with their packets.
    #[arg(long = "finding", value_name = "KIND")]
    pub finding: Option<String>,

    /// With -r: exit 3 when a finding of this severity or graver was reported (for scripts
    /// and CI).
    #[arg(long = "fail-on", value_name = "SEVERITY", value_parser = ["error", "warning", "info"])]
    pub fail_on: Option<String>,

    /// Colour severities, finding ids and addresses: auto (on a terminal, unless NO_COLOR is
    /// set), always, never. JSON is never coloured.
    #[arg(long = "color", value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,

    /// Print the man page (man) or a shell completion script (bash, zsh, fish), and exit.
    #[arg(long = "generate", value_name = "WHAT", value_parser = ["man", "bash", "zsh", "fish"])]
    pub generate: Option<String>,

    /// Print the catalogue of findings (ids, severities, what they mean, remedies) and exit.
    #[arg(long = "list-findings", action = ArgAction::SetTrue)]
    pub list_findings: bool,

    /// Print help.
    #[arg(short = 'h', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

impl Args {
    fn into_options(self) -> Result<Options, String> {
        if self.list_findings {
            return Ok(Options::ListFindings { json: self.json });
        }
        let tcp_ports =
            EncapPorts::new(&self.tcp_encap_port).map_err(|e| format!("--tcp-encap-port: {e}"))?;
        if self.print_filter {
            return Ok(Options::PrintFilter(build_filter_for(
                Some(&self.expression.join(" ")),
                &tcp_ports,
            )));
        }
        if self.list_interfaces {
            return Ok(Options::ListInterfaces);
        }
        let select = SelectArgs {
            peers: self.peer,
            spi: self.spi,
            finding: self.finding,
        };
        if let Some(kind) = &select.finding
            && !crate::diagnose::catalogue().iter().any(|k| k.id == kind)
        {
            return Err(format!(
                "--finding {kind}: no such finding (ike-sniff --list-findings lists them)"
            ));
        }
        // Read before the capture opens, so a live run reads them with its privileges.
        let keys = load_keys(&self.keys)?;
        let ecs = self.json_format.as_deref() == Some("ecs");
        let output = OutputOptions {
            json: self.json || ecs,
            ecs,
            verbose: self.verbose,
            frame_numbers: self.frame_numbers,
            quiet: self.quiet,
            time: TimeFormat::from_count(self.timestamps),
            utc: self.utc,
        };
        let live_only = [
            ("-s", self.snaplen.is_some()),
            ("-B", self.buffer_kib.is_some()),
            ("-p", self.no_promiscuous),
            ("--stats-interval", self.stats_interval.is_some()),
            ("-Z", self.user.is_some()),
            ("--duration", self.duration.is_some()),
            ("-C", self.rotate_mb.is_some()),
            ("-G", self.rotate_secs.is_some()),
            ("--metrics", self.metrics.is_some()),
            ("--output", self.output_file.is_some()),
        ];
        if self.interface.is_some() && !select.is_empty() {
            return Err("--peer, --spi, --finding only with -r; live, narrow with an expression (host ADDR)".into());
        }
        if self.interface.is_some() && self.fail_on.is_some() {
            return Err(
                "--fail-on only with -r: a live run ends on a signal, not a verdict".into(),
            );
        }
        let fail_on = self.fail_on.as_deref().map(|s| match s {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        });
        let caps = self
            .max_memory
            .map_or_else(Default::default, app::memory::MemoryCaps::for_size);
        if let Some(iface) = self.interface {
            return live_options(
                iface,
                self.expression,
                LiveFlags {
                    buffer_kib: self.buffer_kib.unwrap_or(LiveConfig::DEFAULT_BUFFER_KIB),
                    snaplen: self.snaplen.unwrap_or(LiveConfig::DEFAULT_SNAPLEN),
                    promiscuous: !self.no_promiscuous,
                    duration: self.duration,
                    stats_interval: self.stats_interval.unwrap_or(60),
                    write: self.write,
                    rotate_mb: self.rotate_mb,
                    rotate_secs: self.rotate_secs,
                    user: self.user,
                    count: self.count,
                    metrics: self.metrics.map(|addr| app::metrics_http::MetricsOptions {
                        addr,
                        max_tunnels: self
                            .metrics_max_tunnels
                            .unwrap_or(crate::report::metrics::DEFAULT_MAX_TUNNELS),
                    }),
                    output_file: self.output_file,
                    syslog: self.syslog,
                    tcp_ports,
                },
                output,
            )
            .map(|l| {
                Options::Live(LiveOptions {
                    keys,
                    html: self.html,
                    caps,
                    ..l
                })
            });
        }
        let given: Vec<&str> = live_only
            .iter()
            .filter(|(_, set)| *set)
            .map(|(flag, _)| *flag)
            .collect();
        if !given.is_empty() {
            return Err(format!(
                "{} only for live capture (-i IFACE); a capture file has no use for {}",
                given.join(", "),
                if given.len() == 1 { "it" } else { "them" }
            ));
        }
        let Some(path) = self.read else {
            return Err(
                "nothing to read: give -r FILE (or -r - for standard input), or -i IFACE".into(),
            );
        };
        let filter = (!self.expression.is_empty()).then(|| self.expression.join(" "));
        if let Some(e) = &filter {
            OfflineFilter::check(e).map_err(|m| format!("filter expression '{e}': {m}"))?;
        }
        if path == "-" && select.needs_first_pass() {
            return Err(
                "--spi and --finding read the capture twice: give a file, not standard input"
                    .into(),
            );
        }
        let write = match self.write {
            None => None,
            Some(w) => Some(extract_path(&path, w)?),
        };
        Ok(Options::File(FileOptions {
            keys,
            html: self.html,
            tcp_ports,
            path,
            count: self.count,
            filter,
            write,
            select,
            fail_on,
            syslog: self.syslog,
            output,
            caps,
            threads: self.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                |n| n as usize,
            ),
        }))
    }
}

/// `-w` with `-r`: a file (standard output carries the report), never the input itself.
fn extract_path(input: &str, write: String) -> Result<std::path::PathBuf, String> {
    if write == "-" {
        return Err("-w -: with -r the report is on standard output; give a file name".into());
    }
    let out = std::path::PathBuf::from(write);
    app::live::check_write_path(&out)?;
    let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if input != "-" && same(std::path::Path::new(input), &out) {
        return Err(format!(
            "-w {}: that is the capture being read",
            out.display()
        ));
    }
    Ok(out)
}

/// `-s`: tcpdump takes 0 for "the most there is".
fn parse_snaplen(text: &str) -> Result<u32, String> {
    let n: u32 = text
        .parse()
        .map_err(|_| format!("'{text}': give a number of bytes"))?;
    match n {
        0 => Ok(LiveConfig::DEFAULT_SNAPLEN),
        1500..=LiveConfig::DEFAULT_SNAPLEN => Ok(n),
        _ => Err(format!(
            "{n}: give 0 (the most) or 1500 to {} (a whole IKE message must fit)",
            LiveConfig::DEFAULT_SNAPLEN
        )),
    }
}

/// The live flags, gathered for [`live_options`].
struct LiveFlags {
    buffer_kib: u32,
    snaplen: u32,
    promiscuous: bool,
    duration: Option<f64>,
    stats_interval: u64,
    write: Option<String>,
    rotate_mb: Option<u64>,
    rotate_secs: Option<u64>,
    user: Option<String>,
    count: Option<u64>,
    metrics: Option<app::metrics_http::MetricsOptions>,
    output_file: Option<std::path::PathBuf>,
    syslog: Option<std::path::PathBuf>,
    tcp_ports: EncapPorts,
}

fn live_options(
    interface: String,
    expression: Vec<String>,
    f: LiveFlags,
    output: OutputOptions,
) -> Result<LiveOptions, String> {
    let expression = expression.join(" ");
    let mut capture = LiveConfig::new(&interface);
    capture.buffer_kib = f.buffer_kib;
    capture.snaplen = f.snaplen;
    capture.promiscuous = f.promiscuous;
    capture.filter = build_filter_for(Some(&expression), &f.tcp_ports);
    let duration = match f.duration {
        None => None,
        Some(d) if d.is_finite() && d > 0.0 => Some(std::time::Duration::from_secs_f64(d)),
        Some(d) => return Err(format!("--duration {d}: give a positive number of seconds")),
    };
    let write = match f.write {
        None => None,
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            app::live::check_write_path(&path)?;
            Some(WriteOptions {
                path,
                rotate_bytes: f.rotate_mb.map(|mb| mb.saturating_mul(1_000_000)),
                rotate_every: f.rotate_secs.map(std::time::Duration::from_secs),
            })
        }
    };
    Ok(LiveOptions {
        capture,
        count: f.count,
        duration,
        stats_interval: (f.stats_interval > 0)
            .then(|| std::time::Duration::from_secs(f.stats_interval)),
        write,
        user: f.user,
        output,
        keys: None,
        metrics: f.metrics,
        output_file: f.output_file,
        syslog: f.syslog,
        html: None,
        tcp_ports: f.tcp_ports,
        caps: Default::default(),
    })
}

/// `--keys`: loads every path, prints what was loaded and what was skipped on standard error
/// (never a key), and fails only when a path cannot be read.
fn load_keys(
    paths: &[std::path::PathBuf],
) -> Result<Option<std::sync::Arc<crate::keys::KeyRing>>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let loaded = crate::keys::load(paths).map_err(|e| format!("--keys: {e}"))?;
    eprint!("{}", loaded.report);
    if !loaded.report.to_string().ends_with('\n') {
        eprintln!();
    }
    Ok(Some(std::sync::Arc::new(loaded.ring)))
}

/// `--generate`: the man page or a completion script, from the same definitions as `--help`.
fn generate(what: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut cmd = Args::command();
    let shell = match what {
        "man" => return clap_mangen::Man::new(cmd).render(out),
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "ike-sniff", out);
    Ok(())
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(what) = &args.generate {
        let stdout = std::io::stdout();
        return match generate(what, &mut stdout.lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                ExitCode::from(1)
            }
        };
    }
    paint::init(
        match args.color.as_str() {
            "always" => ColorChoice::Always,
            "never" => ColorChoice::Never,
            _ => ColorChoice::Auto,
        },
        args.json,
    );
    match args.into_options() {
        Ok(opts) => app::run(opts),
        Err(msg) => {
            eprintln!("ike-sniff: {msg}");
            ExitCode::from(2)
        }
    }
}
