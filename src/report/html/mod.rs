//! `--html FILE`: one self-contained page a support engineer can attach to a ticket: the run's
//! counters, the verdict, every finding with its remedy, the tunnel table, and per tunnel a
//! ladder diagram of its IKE exchanges over the ESP data plane.
//!
//! The page shows the same view model the JSON lines are made of ([`summary::summary_line`],
//! [`Verdict::view`], [`findings::finding_line`], [`tunnels::tunnel_line`]): it is serialized
//! once, embedded in the page as JSON for the script that draws the ladders, and handed to the
//! template for the parts drawn in HTML. What the ladders need beyond that (each message and
//! what the tracker made of it) is collected here as the events pass ([`ladder`]), capped per
//! tunnel and in the number of tunnels. Nothing is judged here: retransmissions, unanswered
//! exchanges and the NAT-T float are the tracker's.
//!
//! Strings off the wire reach the page twice, and both ways are escaped: the template escapes
//! HTML, and the embedded JSON has every `<`, `>` and `&` as a `\u` escape, so no `</script>` or
//! `<!--` can end the block early. The script only ever sets text (`textContent`, SVG `<title>`),
//! never markup.

pub mod ladder;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use self::ladder::Ladder;
use super::OutputOptions;
use super::findings::{self, FindingLine};
use super::fmt::Rfc3339;
use super::packets::PacketPrinter;
use super::summary::SummaryLine;
use super::tunnels::{self, TunnelLine, TunnelSummary};
use super::verdict::VerdictLine;
use crate::diagnose::{Finding, Severity};
use crate::event::{Body, Event};
use crate::track::{PairKey, Tracker};

/// Tunnels whose ladder is kept; past this, the one quiet longest makes room for a new one.
/// With the caps per ladder this keeps the page of a busy gateway to a few MB (BENCHMARKS.md).
pub const MAX_LADDERS: usize = 500;
/// Findings kept (the latest version of each); further ones are counted (the verdict counts
/// them all).
pub const MAX_FINDINGS: usize = 500;
/// Tunnels listed in the table; the verdict and the ladders name the rest.
pub const MAX_TABLE: usize = 5000;
/// Up to this many tunnels, every ladder is drawn as the page loads; past it, on demand.
pub const DRAW_AT_LOAD: usize = 20;

const TEMPLATE: &str = include_str!("report.html");
const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Collects what the page needs while the run goes on, and writes it on demand.
pub struct HtmlReport {
    path: PathBuf,
    ladders: HashMap<PairKey, Ladder>,
    ladders_evicted: u64,
    findings: HashMap<u64, Finding>,
    findings_dropped: u64,
    printer: PacketPrinter,
    line: Vec<u8>,
}

impl HtmlReport {
    pub fn new(path: PathBuf, opts: OutputOptions) -> Self {
        // The hover line is the text report's packet line with `-#` and `-v`.
        let line_opts = OutputOptions {
            json: false,
            ecs: false,
            verbose: 1,
            frame_numbers: true,
            quiet: false,
            ..opts
        };
        HtmlReport {
            path,
            ladders: HashMap::new(),
            ladders_evicted: 0,
            findings: HashMap::new(),
            findings_dropped: 0,
            printer: PacketPrinter::new(line_opts),
            line: Vec::with_capacity(256),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes in one event, after the tracker did.
    pub fn observe(&mut self, ev: &Event, t: &Tracker) {
        self.printer.observe(ev);
        let (src, dst) = match &ev.body {
            // The error is about the quoted packet's pair, not the router's.
            Body::IcmpError(e) => match e.quoted.flow {
                Some(q) => (q.src, q.dst),
                None => return,
            },
            Body::Malformed(_) | Body::Ah(_) | Body::Fragment(_) | Body::Plain(_) => return,
            _ => (ev.flow.src, ev.flow.dst),
        };
        let (key, _) = PairKey::of(src, dst);
        let ts = ev.pkt.ts.as_secs_f64();
        if !self.ladders.contains_key(&key) && self.ladders.len() >= MAX_LADDERS {
            let quiet = self
                .ladders
                .values()
                .min_by(|a, b| a.last_ts.total_cmp(&b.last_ts))
                .map(Ladder::key);
            if let Some(k) = quiet {
                self.ladders.remove(&k);
                self.ladders_evicted += 1;
            }
        }
        let ladder = self
            .ladders
            .entry(key)
            .or_insert_with(|| Ladder::new(key, ts));
        let printer = &mut self.printer;
        let buf = &mut self.line;
        let mut line = |ev: &Event| {
            buf.clear();
            let _ = printer.render(buf, ev);
            plain(&String::from_utf8_lossy(buf))
        };
        ladder.observe(ev, t, &mut line);
    }

    /// Takes in a finding as it is written (an update replaces what its id said before).
    pub fn finding(&mut self, f: &Finding) {
        if f.clearing {
            if let Some(old) = self.findings.get_mut(&f.id) {
                old.cleared = f.cleared.clone();
            }
            return;
        }
        if self.findings.len() >= MAX_FINDINGS && !self.findings.contains_key(&f.id) {
            self.findings_dropped += 1;
            return;
        }
        self.findings.insert(f.id, f.clone());
    }

    /// Writes the page: to a temporary file beside the target, then renamed over it, so a
    /// reader (a browser reloading it during a live run) never sees half a page.
    pub fn write(&self, view: &PageView<'_>) -> io::Result<()> {
        let page = self.render(view)?;
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report.html".into());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(page.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| io::Error::new(e.kind(), format!("--html {}: {e}", self.path.display())))
    }

    /// The page as text.
    pub fn render(&self, view: &PageView<'_>) -> io::Result<String> {
        let mut found: Vec<&Finding> = self.findings.values().collect();
        found.sort_by_key(|a| (a.severity, a.first_ts, a.id));
        let mut ladders: Vec<&Ladder> = self.ladders.values().collect();
        ladders.sort_by(|a, b| {
            a.first_ts
                .total_cmp(&b.first_ts)
                .then_with(|| a.peers.cmp(&b.peers))
        });
        let index: HashMap<PairKey, usize> = ladders
            .iter()
            .enumerate()
            .map(|(i, l)| (l.key(), i))
            .collect();
        let by_peers: HashMap<&[String; 2], usize> = ladders
            .iter()
            .enumerate()
            .map(|(i, l)| (&l.peers, i))
            .collect();
        let first = view.tunnels.iter().map(|t| t.first_ts).min();
        let last = view.tunnels.iter().map(|t| t.last_ts).max();
        let span = first.zip(last).map(|(a, b)| Span {
            first: Rfc3339(a).to_string(),
            last: Rfc3339(b).to_string(),
            seconds: (b.since(a) * 1000.0).round() / 1000.0,
        });
        let data = Data {
            source: view.source,
            tool_version: env!("CARGO_PKG_VERSION"),
            span,
            summary: &view.summary,
            verdict: &view.verdict,
            findings: [Severity::Error, Severity::Warning, Severity::Info]
                .into_iter()
                .map(|sev| FindingGroup {
                    severity: sev.as_str(),
                    findings: found
                        .iter()
                        .filter(|f| f.severity == sev)
                        .map(|f| FindingEntry {
                            ladder: index.get(&f.peers.key()).copied(),
                            f: findings::finding_line(f),
                        })
                        .collect(),
                })
                .filter(|g| !g.findings.is_empty())
                .collect(),
            findings_dropped: self.findings_dropped,
            tunnels: view
                .tunnels
                .iter()
                .take(MAX_TABLE)
                .map(|t| TunnelEntry {
                    ladder: by_peers.get(&t.peers).copied(),
                    t: tunnels::tunnel_line(t),
                })
                .collect(),
            tunnels_not_listed: view.tunnels.len().saturating_sub(MAX_TABLE),
            ladders: ladders.len(),
            ladders_evicted: self.ladders_evicted,
            caps: Caps {
                arrows_head: ladder::MAX_HEAD,
                arrows_tail: ladder::MAX_TAIL,
                ladders: MAX_LADDERS,
                draw_at_load: DRAW_AT_LOAD,
            },
        };
        // Each ladder's heading: its row of the tunnel table, as the table has it.
        let mut heads = vec![String::new(); ladders.len()];
        for t in view.tunnels.iter() {
            if let Some(&i) = by_peers.get(&t.peers) {
                heads[i] = if t.findings.is_empty() {
                    t.state.to_string()
                } else {
                    format!("{} · {}", t.state, t.findings.join(", "))
                };
            }
        }
        let drawn = Drawn {
            ladders: &ladders,
            heads,
            draw_at_load: DRAW_AT_LOAD,
        };
        let json = serde_json::to_string(&drawn).map_err(io::Error::other)?;
        // The template reads the view as values; the script only what it draws.
        let value = serde_json::to_value(&data).map_err(io::Error::other)?;
        let mut env = minijinja::Environment::new();
        env.add_template("report.html", TEMPLATE)
            .map_err(io::Error::other)?;
        let tmpl = env.get_template("report.html").map_err(io::Error::other)?;
        let ctx = minijinja::context! {
            d => minijinja::Value::from(minijinja::value::Serde(&value)),
            data_json => minijinja::Value::from_safe_string(script_json(&json)),
            style => minijinja::Value::from_safe_string(STYLE.to_string()),
            script => minijinja::Value::from_safe_string(SCRIPT.to_string()),
            nonce => nonce(),
        };
        tmpl.render(ctx).map_err(io::Error::other)
    }
}

/// What the run's reports know at the moment the page is written.
pub struct PageView<'a> {
    pub source: &'a str,
    pub summary: SummaryLine<'a>,
    pub verdict: VerdictLine,
    pub tunnels: Vec<TunnelSummary>,
}

#[derive(Serialize)]
struct Caps {
    arrows_head: usize,
    arrows_tail: usize,
    ladders: usize,
    draw_at_load: usize,
}

/// What the page's script draws: the ladders, and a heading for each.
#[derive(Serialize)]
struct Drawn<'a> {
    ladders: &'a [&'a Ladder],
    heads: Vec<String>,
    draw_at_load: usize,
}

#[derive(Serialize)]
struct Span {
    first: String,
    last: String,
    seconds: f64,
}

#[derive(Serialize)]
struct FindingGroup<'a> {
    severity: &'static str,
    findings: Vec<FindingEntry<'a>>,
}

/// A finding and the ladder its frames are on.
#[derive(Serialize)]
struct FindingEntry<'a> {
    f: FindingLine<'a>,
    ladder: Option<usize>,
}

/// A tunnel row and its ladder.
#[derive(Serialize)]
struct TunnelEntry<'a> {
    t: TunnelLine<'a>,
    ladder: Option<usize>,
}

#[derive(Serialize)]
struct Data<'a> {
    source: &'a str,
    tool_version: &'static str,
    /// First and last packet of the tunnels.
    span: Option<Span>,
    summary: &'a SummaryLine<'a>,
    verdict: &'a VerdictLine,
    /// Gravest first.
    findings: Vec<FindingGroup<'a>>,
    findings_dropped: u64,
    tunnels: Vec<TunnelEntry<'a>>,
    tunnels_not_listed: usize,
    /// Ladders kept (the script draws them).
    ladders: usize,
    ladders_evicted: u64,
    caps: Caps,
}

/// A nonce for the page's own script, so that the Content-Security-Policy runs it and nothing
/// else: defence in depth behind the escaping. Random per page (the standard library's hasher
/// keys are drawn from the OS).
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// JSON made safe inside `<script>`: no `<`, `>` or `&` at all (so neither `</script>` nor
/// `<!--` can appear), and the two line separators JavaScript once refused in strings.
fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A packet line without the colour `--color always` may have put in, and without its line end.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // A style is `ESC [ … m` (paint.rs); packet text has its own ESC bytes escaped.
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_its_block() {
        let j = serde_json::to_string(&"</script><!--<script>a&b\u{2028}").unwrap();
        let s = script_json(&j);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        assert!(!s.contains('\u{2028}'));
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "</script><!--<script>a&b\u{2028}");
    }

    #[test]
    fn colour_is_taken_out_of_packet_lines() {
        assert_eq!(
            plain("\x1b[1m192.0.2.1:500\x1b[0m > x \\x1b[2J\n"),
            "192.0.2.1:500 > x \\x1b[2J"
        );
    }
}
