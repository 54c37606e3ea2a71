//! Command line: tcpdump's habits where they fit (`-r`, `-c`, `-v`, `-n`, `-#`), validated into
//! a [`crate::run::Options`] and dispatched.

use std::process::ExitCode;

use clap::{ArgAction, Parser};

use crate::run::{self, Options};

/// Reads IPsec traffic (IKEv1, IKEv2, ESP, NAT-T, ICMP errors, IP fragments) from a capture file
/// and says what is wrong with the VPN and what to do about it.
#[derive(Parser, Debug)]
#[command(name = "ike-sniff", version, about, long_about = None)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Read packets from FILE (pcap or pcapng); `-` reads standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<String>,

    /// Stop after COUNT packets have been read.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,

    /// More detail: payloads, proposals and notify data for IKE; every ESP and fragment packet.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// Accepted for tcpdump's sake: addresses and ports are never resolved.
    #[arg(short = 'n', action = ArgAction::SetTrue)]
    pub numeric: bool,

    /// Print the frame number (as Wireshark counts) before each packet line.
    #[arg(short = '#', long = "number", action = ArgAction::SetTrue)]
    pub frame_numbers: bool,

    /// No per-packet lines: only findings, tunnels and the summary.
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue)]
    pub quiet: bool,

    /// JSON Lines on standard output; every line has a "type".
    #[arg(long = "json", action = ArgAction::SetTrue)]
    pub json: bool,

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
        let Some(path) = self.read else {
            return Err("nothing to read: give -r FILE (or -r - for standard input)".into());
        };
        Ok(Options::File(run::FileOptions {
            path,
            count: self.count,
            verbose: self.verbose,
            frame_numbers: self.frame_numbers,
            quiet: self.quiet,
            json: self.json,
        }))
    }
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    match args.into_options() {
        Ok(opts) => run::run(opts),
        Err(msg) => {
            eprintln!("ike-sniff: {msg}");
            ExitCode::from(2)
        }
    }
}
