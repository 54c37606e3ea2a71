//! The program's modes: read a file (one thread or two), capture live, or answer a question
//! (`-D`, `--print-filter`, `--list-findings`) — each a way of feeding the one [`Pipeline`].

mod extract;
pub mod live;
pub mod memory;
pub mod metrics_http;
pub mod pipeline;
pub mod select;
mod threaded;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

pub use pipeline::{FileOptions, Pipeline};

use crate::report::ecs::EcsWriter;
use crate::report::findings;

/// What the command line asked for.
pub enum Options {
    File(FileOptions),
    Live(live::LiveOptions),
    ListInterfaces,
    PrintFilter(String),
    ListFindings { json: bool },
}

pub fn run(opts: Options) -> ExitCode {
    // The threaded run writes from its analysis thread, which must own standard output.
    if let Options::File(f) = &opts
        && f.threads > 1
    {
        let result = if f.output.ecs {
            threaded::run_file_threaded(
                f,
                EcsWriter::new(io::stdout()),
                threaded::RENDER_HERE_QUEUED,
            )
        } else {
            threaded::run_file_threaded(f, io::stdout(), threaded::RENDER_HERE_QUEUED)
        };
        return match result {
            Ok(code) => code,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ike-sniff: {e}");
                ExitCode::from(1)
            }
        };
    }
    let stdout = io::stdout();
    let mut buffered = BufWriter::with_capacity(1 << 16, stdout.lock());
    let ecs = match &opts {
        Options::File(f) => f.output.ecs,
        // Live with --output applies it to the file itself.
        Options::Live(l) => l.output.ecs && l.output_file.is_none(),
        _ => false,
    };
    let mut ecs_out;
    let out: &mut dyn Write = if ecs {
        ecs_out = EcsWriter::new(&mut buffered);
        &mut ecs_out
    } else {
        &mut buffered
    };
    let result = match opts {
        Options::File(f) => pipeline::run_file(&f, out),
        Options::Live(l) => live::run_live(&l, out),
        Options::ListInterfaces => live::list_interfaces(out),
        Options::PrintFilter(f) => writeln!(out, "{f}").map(|()| ExitCode::SUCCESS),
        Options::ListFindings { json } => list_findings(json, out).map(|()| ExitCode::SUCCESS),
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
