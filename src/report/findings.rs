//! Findings, tunnel summaries and the findings catalogue, as text and as JSON Lines.
//!
//! JSON lines use a `type` envelope (`finding`, `tunnel`) with stable field names; times are
//! epoch seconds with microseconds. Text is for people: a block per finding, a table of
//! tunnels like `ipsec trafficstatus`.

use std::io::{self, Write};

use serde::Serialize;

use std::net::IpAddr;

use super::fmt::{EpochMicros, Hex32, Hex64, Rfc3339};
use crate::diagnose::{
    Finding, FindingKind, FragSummary, NatSummary, Peers, TunnelSummary, catalogue,
};
use crate::track::hist::RttSummary;
use crate::track::ike::SaState;

/// Serializes `v` as one line.
fn write_line(w: &mut dyn Write, v: &impl Serialize) -> io::Result<()> {
    // `?` keeps an I/O error's kind (a closed pipe ends the run quietly).
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
}

#[derive(Serialize)]
struct FindingLine<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    kind: &'static str,
    severity: &'static str,
    confidence: &'static str,
    peers: &'a Peers,
    frames: &'a [u64],
    first_ts: EpochMicros,
    last_ts: EpochMicros,
    summary: &'a str,
    remedy: &'a str,
}

/// One finding as one JSON line.
pub fn write_finding_json(w: &mut dyn Write, f: &Finding) -> io::Result<()> {
    let line = FindingLine {
        kind_tag: "finding",
        kind: f.kind,
        severity: f.severity.as_str(),
        confidence: f.confidence.as_str(),
        peers: &f.peers,
        frames: &f.frames,
        first_ts: EpochMicros(f.first_ts),
        last_ts: EpochMicros(f.last_ts),
        summary: &f.summary,
        remedy: &f.remedy,
    };
    write_line(w, &line)
}

fn frames_text(frames: &[u64]) -> String {
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

/// One finding as a readable block.
pub fn write_finding_text(w: &mut dyn Write, f: &Finding) -> io::Result<()> {
    let title = catalogue()
        .iter()
        .find(|k| k.id == f.kind)
        .map_or(f.kind, |k| k.title);
    let [a, b] = f.peers.strings();
    writeln!(
        w,
        "{} [{}] {} ({})",
        f.severity.as_str().to_uppercase(),
        f.kind,
        title,
        f.confidence.as_str()
    )?;
    writeln!(w, "  peers:   {a} <-> {b}")?;
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
    writeln!(w, "  do:      {}", f.remedy)?;
    if !f.frames.is_empty() {
        writeln!(w, "  frames:  {}", frames_text(&f.frames))?;
    }
    writeln!(w)
}

/// The tunnel line. Fields in the order the line has always had them (declaration order, not
/// sorted: it never went through a `serde_json::Map`).
#[derive(Serialize)]
struct TunnelLine<'a> {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    peers: &'a [String; 2],
    ike_version: &'a [u8],
    established: bool,
    state: &'static str,
    ike_sas: Vec<SaLine<'a>>,
    child_sas: Vec<ChildLine>,
    esp_packets: [u64; 2],
    esp_bytes: [u64; 2],
    child_rekeys: u32,
    deleted: u32,
    nat: &'a NatSummary,
    fragmentation: &'a FragSummary,
    ike_response_time: &'a Option<RttSummary>,
    findings: &'a [&'static str],
    first_frame: u64,
    last_frame: u64,
    first_ts: EpochMicros,
    last_ts: EpochMicros,
}

#[derive(Serialize)]
struct SaLine<'a> {
    version: u8,
    ispi: Hex64,
    rspi: Hex64,
    initiator: IpAddr,
    state: &'a SaState,
    established: bool,
}

#[derive(Serialize)]
struct ChildLine {
    spis: [Option<Hex32>; 2],
    ike_ispi: Option<Hex64>,
    packets: [u64; 2],
    bytes: [u64; 2],
}

/// One tunnel summary as one JSON line.
pub fn write_tunnel_json(w: &mut dyn Write, t: &TunnelSummary) -> io::Result<()> {
    // Taken apart without `..`: a field added to the summary does not compile until the line
    // says whether it shows it.
    let TunnelSummary {
        peers,
        ike_version,
        established,
        state,
        ike_sas,
        child_sas,
        esp_packets,
        esp_bytes,
        child_rekeys,
        deleted,
        nat,
        fragmentation,
        ike_response_time,
        findings,
        first_frame,
        last_frame,
        first_ts,
        last_ts,
    } = t;
    let line = TunnelLine {
        kind_tag: "tunnel",
        peers,
        ike_version,
        established: *established,
        state,
        ike_sas: ike_sas
            .iter()
            .map(|sa| SaLine {
                version: sa.version,
                ispi: Hex64(sa.ispi),
                rspi: Hex64(sa.rspi),
                initiator: sa.initiator,
                state: &sa.state,
                established: sa.established,
            })
            .collect(),
        child_sas: child_sas
            .iter()
            .map(|c| ChildLine {
                spis: c.spis.map(|s| s.map(Hex32)),
                ike_ispi: c.ike_ispi.map(Hex64),
                packets: c.packets,
                bytes: c.bytes,
            })
            .collect(),
        esp_packets: *esp_packets,
        esp_bytes: *esp_bytes,
        child_rekeys: *child_rekeys,
        deleted: *deleted,
        nat,
        fragmentation,
        ike_response_time,
        findings,
        first_frame: *first_frame,
        last_frame: *last_frame,
        first_ts: EpochMicros(*first_ts),
        last_ts: EpochMicros(*last_ts),
    };
    write_line(w, &line)
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 10 << 30 => format!("{}G", b >> 30),
        b if b >= 10 << 20 => format!("{}M", b >> 20),
        b if b >= 10 << 10 => format!("{}K", b >> 10),
        b => format!("{b}B"),
    }
}

/// Tunnels as a table, one row per peer pair, then each tunnel's SAs.
pub fn write_tunnels_text(w: &mut dyn Write, ts: &[TunnelSummary]) -> io::Result<()> {
    if ts.is_empty() {
        return writeln!(w, "No IPsec peers seen.");
    }
    writeln!(
        w,
        "{:<41} {:<4} {:<14} {:>4} {:>5} {:>17} {:>15} {:>6} {:<6} FINDINGS",
        "PEERS", "IKE", "STATE", "IKE", "CHILD", "ESP PKTS a>b/b>a", "ESP BYTES", "REKEYS", "NAT",
    )?;
    for t in ts {
        let ver = t
            .ike_version
            .iter()
            .map(|v| format!("v{v}"))
            .collect::<Vec<_>>()
            .join("+");
        let nat = if !t.nat.behind_nat.is_empty() {
            "yes"
        } else if t.nat.esp_in_udp || t.nat.ike_on_4500 {
            "nat-t"
        } else {
            "-"
        };
        writeln!(
            w,
            "{:<41} {:<4} {:<14} {:>4} {:>5} {:>17} {:>15} {:>6} {:<6} {}",
            format!("{} <-> {}", t.peers[0], t.peers[1]),
            if ver.is_empty() { "-".to_string() } else { ver },
            t.state,
            t.ike_sas.len(),
            t.child_sas.len(),
            format!("{}/{}", t.esp_packets[0], t.esp_packets[1]),
            format!(
                "{}/{}",
                human_bytes(t.esp_bytes[0]),
                human_bytes(t.esp_bytes[1])
            ),
            t.child_rekeys,
            nat,
            if t.findings.is_empty() {
                "-".to_string()
            } else {
                t.findings.join(",")
            }
        )?;
        for sa in &t.ike_sas {
            writeln!(
                w,
                "    IKEv{} SA {}:{} initiator {} state {}",
                sa.version,
                Hex64(sa.ispi),
                Hex64(sa.rspi),
                sa.initiator,
                serde_json::to_value(sa.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )?;
        }
        for c in &t.child_sas {
            let spi = |s: Option<u32>| s.map_or("-".to_string(), |x| format!("{:#}", Hex32(x)));
            writeln!(
                w,
                "    Child SA ESP {} / {}: {}/{} packets, {}/{} bytes",
                spi(c.spis[0]),
                spi(c.spis[1]),
                c.packets[0],
                c.packets[1],
                c.bytes[0],
                c.bytes[1]
            )?;
        }
        if let Some(r) = &t.ike_response_time {
            writeln!(
                w,
                "    IKE response time: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
                r.p50_ms, r.p99_ms, r.max_ms, r.samples
            )?;
        }
    }
    Ok(())
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

    #[test]
    fn healthy_tunnel_table_and_json_line() {
        use crate::diagnose::Analyzer;
        use crate::diagnose::testutil::{Script, healthy_v2};
        let mut s = Script::default();
        healthy_v2(&mut s);
        let mut a = Analyzer::new();
        let mut out = Vec::new();
        for e in &s.events {
            a.observe(e, &mut out);
        }
        a.finish(&mut out);
        let ts = a.tunnels();
        let mut v = Vec::new();
        write_tunnels_text(&mut v, &ts).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(text.contains("192.0.2.1 <-> 198.51.100.2"), "{text}");
        assert!(text.contains("established"), "{text}");
        assert!(
            text.contains("Child SA ESP 0x000000c1 / 0x000000c2: 20/20 packets"),
            "{text}"
        );
        let mut v = Vec::new();
        write_tunnel_json(&mut v, &ts[0]).unwrap();
        let line = String::from_utf8(v).unwrap();
        assert_eq!(line.matches('\n').count(), 1);
        let j: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(j["type"], "tunnel");
        assert_eq!(j["peers"][0], "192.0.2.1");
        assert_eq!(j["esp_packets"][1], 20);
        assert_eq!(j["established"], true);
        assert!(j["first_ts"].is_f64());
        assert_eq!(j["ike_sas"][0]["ispi"], "0000000000001111");
        assert_eq!(j["child_sas"][0]["spis"][0], "000000c1");
        assert_eq!(j["child_sas"][0]["spis"][1], "000000c2");
        assert_eq!(j["child_sas"][0]["ike_ispi"], "0000000000001111");
        assert!(j["ike_response_time"]["p99_ms"].is_f64());
    }

    #[test]
    fn tunnels_json_and_table() {
        use crate::diagnose::Analyzer;
        let mut a = Analyzer::new();
        let mut out = Vec::new();
        a.finish(&mut out);
        let mut v = Vec::new();
        write_tunnels_text(&mut v, &a.tunnels()).unwrap();
        assert!(String::from_utf8(v).unwrap().contains("No IPsec peers"));
    }
}
