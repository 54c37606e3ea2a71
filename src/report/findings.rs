//! Findings and the findings catalogue, as text and as JSON Lines.
//!
//! JSON lines use a `type` envelope (`finding`, `tunnel`) with stable field names; times are
//! epoch seconds with microseconds. Text is for people: a block per finding, a table of
//! tunnels like `ipsec trafficstatus`.

use std::io::{self, Write};

use serde::Serialize;

use super::fmt::{EpochMicros, Hex64, Rfc3339};
use super::paint;
use crate::diagnose::finding::Cleared;
use crate::diagnose::{Finding, FindingKind, Peers, catalogue};

/// Serializes `v` as one line.
pub(super) fn write_line(w: &mut dyn Write, v: &impl Serialize) -> io::Result<()> {
    thread_local! {
        // Serialized here, then written in one call (see `PacketPrinter`'s `json`); one buffer
        // a thread, so a line allocates nothing once it has grown.
        static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    LINE.with_borrow_mut(|line| {
        line.clear();
        serde_json::to_writer(&mut *line, v)?;
        line.push(b'\n');
        // `?` keeps an I/O error's kind (a closed pipe ends the run quietly).
        w.write_all(line)
    })
}

/// A finding as its JSON line and the HTML report show it.
#[derive(Serialize)]
pub struct FindingLine<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    id: Hex64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    update: bool,
    #[serde(skip_serializing_if = "is_zero")]
    repeats: u32,
    kind: &'static str,
    severity: &'static str,
    confidence: &'static str,
    peers: &'a Peers,
    frames: &'a [u64],
    first_ts: EpochMicros,
    last_ts: EpochMicros,
    summary: &'a str,
    remedy: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cleared: Option<ClearedJson<'a>>,
}

#[derive(Serialize)]
pub struct ClearedJson<'a> {
    ts: EpochMicros,
    /// Absent when the clock, not a packet, ended the condition.
    #[serde(skip_serializing_if = "is_zero_frame")]
    frame: u64,
    reason: &'a str,
}

fn is_zero_frame(n: &u64) -> bool {
    *n == 0
}

impl<'a> ClearedJson<'a> {
    fn of(c: &'a Cleared) -> Self {
        ClearedJson {
            ts: EpochMicros(c.ts),
            frame: c.frame,
            reason: &c.reason,
        }
    }
}

/// The `finding_cleared` line: the condition behind finding `id` ended.
#[derive(Serialize)]
struct ClearedLine<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    id: Hex64,
    kind: &'static str,
    severity: &'static str,
    peers: &'a Peers,
    /// When the finding's evidence began: with `ts`, how long the condition lasted.
    raised_ts: EpochMicros,
    #[serde(flatten)]
    cleared: ClearedJson<'a>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One finding as one JSON line. An update (`"update": true`, same `id`) carries the final
/// frames, span and repeat count; a consumer keeps the last line of each id.
pub fn write_finding_json(w: &mut dyn Write, f: &Finding) -> io::Result<()> {
    if f.clearing
        && let Some(c) = &f.cleared
    {
        return write_line(
            w,
            &ClearedLine {
                kind_tag: "finding_cleared",
                id: Hex64(f.id),
                kind: f.kind,
                severity: f.severity.as_str(),
                peers: &f.peers,
                raised_ts: EpochMicros(f.first_ts),
                cleared: ClearedJson::of(c),
            },
        );
    }
    write_line(w, &finding_line(f))
}

/// The `finding` line of `f` (not a clearing record).
pub fn finding_line(f: &Finding) -> FindingLine<'_> {
    FindingLine {
        kind_tag: "finding",
        id: Hex64(f.id),
        update: f.update,
        repeats: f.repeats,
        kind: f.kind,
        severity: f.severity.as_str(),
        confidence: f.confidence.as_str(),
        peers: &f.peers,
        frames: &f.frames,
        first_ts: EpochMicros(f.first_ts),
        last_ts: EpochMicros(f.last_ts),
        summary: &f.summary,
        remedy: &f.remedy,
        cleared: f.cleared.as_deref().map(ClearedJson::of),
    }
}

pub(super) fn frames_text(frames: &[u64]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let mut j = i;
        while j + 1 < frames.len() && frames[j + 1] == frames[j] + 1 {
            j += 1;
        }
        out.push(if j > i + 1 {
            format!("{}-{}", frames[i], frames[j])
        } else if j == i + 1 {
            format!("{}, {}", frames[i], frames[j])
        } else {
            frames[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

/// One finding as a readable block. An update is written only when its wording changed (the
/// cause was judged again over more packets): a repeat of the same evidence adds nothing a
/// reader needs twice; the JSON carries it.
pub fn write_finding_text(w: &mut dyn Write, f: &Finding) -> io::Result<()> {
    if f.update && !f.reworded {
        return Ok(());
    }
    let title = catalogue()
        .iter()
        .find(|k| k.id == f.kind)
        .map_or(f.kind, |k| k.title);
    let [a, b] = f.peers.strings();
    if f.clearing
        && let Some(c) = &f.cleared
    {
        writeln!(w, "CLEARED [{}] {title}", f.kind)?;
        writeln!(w, "  peers:   {a} <-> {b}")?;
        writeln!(
            w,
            "  when:    {} ({:.1} s after it began)",
            Rfc3339(c.ts),
            c.ts.since(f.first_ts)
        )?;
        writeln!(w, "  what:    {}", c.reason)?;
        if c.frame != 0 {
            writeln!(w, "  frame:   {}", c.frame)?;
        }
        return writeln!(w);
    }
    writeln!(
        w,
        "{} [{}] {} ({}{})",
        paint::severity(f.severity, f.severity.as_str().to_uppercase()),
        paint::kind(f.kind),
        title,
        f.confidence.as_str(),
        if f.update {
            "; updated with the packets that followed"
        } else {
            ""
        }
    )?;
    writeln!(w, "  peers:   {} <-> {}", paint::addr(a), paint::addr(b))?;
    if f.first_ts == f.last_ts {
        writeln!(w, "  when:    {}", Rfc3339(f.first_ts))?;
    } else {
        writeln!(
            w,
            "  when:    {} .. {}",
            Rfc3339(f.first_ts),
            Rfc3339(f.last_ts)
        )?;
    }
    writeln!(w, "  what:    {}", f.summary)?;
    if let Some(c) = &f.cleared {
        writeln!(w, "  cleared: {} ({})", Rfc3339(c.ts), c.reason)?;
    }
    writeln!(w, "  do:      {}", f.remedy)?;
    if !f.frames.is_empty() {
        writeln!(w, "  frames:  {}", frames_text(&f.frames))?;
    }
    writeln!(w)
}

fn write_kind(w: &mut dyn Write, k: &FindingKind) -> io::Result<()> {
    writeln!(w, "{} ({}): {}", k.id, k.default_severity.as_str(), k.title)?;
    writeln!(w, "    {}", k.explanation)?;
    writeln!(w, "    Remedy: {}", k.remedy)?;
    writeln!(w)
}

/// `--list-findings --json`: one `{"type":"finding_kind",...}` line per kind.
pub fn write_catalogue_json(w: &mut dyn Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct KindLine<'a> {
        #[serde(rename = "type")]
        kind_tag: &'static str,
        #[serde(flatten)]
        k: &'a FindingKind,
    }
    for k in catalogue() {
        write_line(
            w,
            &KindLine {
                kind_tag: "finding_kind",
                k,
            },
        )?;
    }
    Ok(())
}

/// `--list-findings`: every kind of finding, with its explanation and remedy.
pub fn write_catalogue_text(w: &mut dyn Write) -> io::Result<()> {
    for k in catalogue() {
        write_kind(w, k)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Confidence, Severity};
    use crate::event::Timestamp;

    fn finding() -> Finding {
        Finding {
            id: 0x1234,
            update: false,
            repeats: 0,
            reworded: false,
            clearing: false,
            cleared: None,
            kind: "ike_unanswered",
            severity: Severity::Error,
            confidence: Confidence::Inferred,
            peers: Peers::with_ports(
                ("192.0.2.1".parse().unwrap(), 500),
                ("192.0.2.2".parse().unwrap(), 500),
            ),
            frames: vec![1, 2, 3, 7],
            first_ts: Timestamp::new(1_700_000_000, 5_000),
            last_ts: Timestamp::new(1_700_000_002, 500_000_000),
            summary: "s \"q\"".into(),
            remedy: "r".into(),
        }
    }

    #[test]
    fn json_line_has_the_contract_fields() {
        let mut v = Vec::new();
        write_finding_json(&mut v, &finding()).unwrap();
        let s = String::from_utf8(v).unwrap();
        assert!(s.ends_with("}\n") && s.matches('\n').count() == 1);
        assert!(s.contains("\"first_ts\":1700000000.000005"), "{s}");
        let j: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(j["type"], "finding");
        assert_eq!(j["kind"], "ike_unanswered");
        assert_eq!(j["severity"], "error");
        assert_eq!(j["confidence"], "inferred");
        assert_eq!(j["peers"][0], "192.0.2.1:500");
        assert_eq!(j["frames"][3], 7);
        assert_eq!(j["last_ts"].as_f64().unwrap(), 1_700_000_002.5);
        assert!(s.contains("\"last_ts\":1700000002.500000,"), "{s}");
        assert!(!s.contains("epoch"), "{s}");
    }

    #[test]
    fn text_block_and_catalogue() {
        let mut v = Vec::new();
        write_finding_text(&mut v, &finding()).unwrap();
        let s = String::from_utf8(v).unwrap();
        assert!(s.contains("frames:  1-3, 7"), "{s}");
        let mut v = Vec::new();
        write_catalogue_text(&mut v).unwrap();
        let s = String::from_utf8(v).unwrap();
        assert!(s.contains("pmtu_blackhole (error)"));
        let mut v = Vec::new();
        write_catalogue_json(&mut v).unwrap();
        let s = String::from_utf8(v).unwrap();
        assert_eq!(s.lines().count(), catalogue().len());
        for l in s.lines() {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(j["type"], "finding_kind");
            assert!(j["id"].is_string() && j["default_severity"].is_string());
        }
    }
}
