//! Shared by the `diagnose_*` integration tests: runs a capture through the library pipeline
//! (main's capture reader and decoder, this branch's analyzer) or through the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use ike_sniff::decode::Decoder;
use ike_sniff::diagnose::{Analyzer, Finding};
use ike_sniff::report::tunnels::TunnelSummary;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn capture(rel: &str) -> PathBuf {
    root().join("captures").join(rel)
}

pub struct Run {
    /// Findings reported while the capture was read (what live mode prints at once).
    pub live: Vec<Finding>,
    /// Findings reported at the end.
    pub end: Vec<Finding>,
    pub tunnels: Vec<TunnelSummary>,
}

impl Run {
    pub fn all(&self) -> impl Iterator<Item = &Finding> {
        self.live.iter().chain(self.end.iter())
    }
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.all().map(|f| f.kind).collect();
        v.sort();
        v.dedup();
        v
    }
    pub fn find(&self, kind: &str) -> Option<&Finding> {
        self.all().find(|f| f.kind == kind)
    }
    pub fn describe(&self) -> String {
        self.all()
            .map(|f| {
                format!(
                    "  {} {:?} {:?}: {}\n",
                    f.kind, f.severity, f.confidence, f.summary
                )
            })
            .collect()
    }
}

/// Capture → decoder → analyzer, as the pipeline does it.
pub fn analyze(path: &Path) -> Run {
    let mut src = FileSource::open(path.to_str().expect("utf-8 path")).expect("capture opens");
    let mut dec = Decoder::new();
    let mut a = Analyzer::new();
    let mut events = Vec::new();
    let mut live = Vec::new();
    // A read error ends the input, as in the pipeline: what was read so far is analysed.
    while let Ok(Some(raw)) = src.next_packet() {
        dec.decode(&raw, &mut events);
        for ev in events.drain(..) {
            a.observe(&ev, &mut live);
        }
    }
    dec.finish(&mut events);
    for ev in events.drain(..) {
        a.observe(&ev, &mut live);
    }
    let mut end = Vec::new();
    a.finish(&mut end);
    Run {
        live,
        end,
        tunnels: ike_sniff::report::tunnels::tunnels(&a),
    }
}

/// The binary's JSON lines of type "finding" and "tunnel" for `-r FILE --json -q`, or None
/// when the binary does not report findings yet (the pipeline has not wired the analyzer in).
pub fn binary_json(path: &Path) -> Option<(Vec<serde_json::Value>, Vec<serde_json::Value>)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .arg("-r")
        .arg(path)
        .args(["--json", "-q"])
        .output()
        .expect("binary runs");
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    let mut findings = Vec::new();
    let mut tunnels = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        match v["type"].as_str() {
            Some("finding") => findings.push(v),
            Some("tunnel") => tunnels.push(v),
            _ => {}
        }
    }
    if tunnels.is_empty() && findings.is_empty() {
        return None;
    }
    Some((findings, tunnels))
}
