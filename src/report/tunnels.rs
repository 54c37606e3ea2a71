//! The tunnel view: one summary per peer pair (like `ipsec trafficstatus`), made from what the
//! tracker holds and the ids of the findings about the pair, as a table and as JSON lines.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::findings::write_line;
use super::fmt::{Addr, EpochMicros, Hex32, Hex64, addr_string};
use super::summary::{TunnelsOmitted, bytes_text};
use crate::diagnose::Analyzer;
use crate::event::Timestamp;
use crate::track::hist::RttSummary;
use crate::track::ike::{SaEnd, SaState};
use crate::track::{ChildSummary, Pair, SaSummary};

/// One summary per peer pair the analyzer knows, in order of first appearance.
pub fn tunnels(a: &Analyzer) -> Vec<TunnelSummary> {
    busiest(a, usize::MAX).0
}

/// Tunnels listed without `-v`: the busiest, the rest counted. The analyzer holds up to twice
/// the pair cap (the pairs tracked and as many forgotten ones), and a flood of spoofed pairs
/// made that 18 932 lines of table for a 4 MiB capture, at the end and at every live summary.
pub const TUNNELS_SHOWN: usize = 50;

/// The `max` busiest tunnels — most ESP and AH bytes, then most packets of any kind (a failing
/// tunnel's retransmissions outrank a spoofed pair's one packet), then with findings — in order
/// of first appearance, and what the others add up to. Only those listed are summarised.
pub fn busiest(a: &Analyzer, max: usize) -> (Vec<TunnelSummary>, TunnelsOmitted) {
    let mut pairs: Vec<(&Pair, &[&'static str])> = a.pairs().collect();
    let mut omitted = TunnelsOmitted::default();
    if pairs.len() > max {
        let load = |p: &Pair| {
            let bytes: u64 = p.esp_bytes.iter().chain(&p.ah_bytes).sum();
            let packets: u64 = p
                .esp_packets
                .iter()
                .chain(&p.ah_packets)
                .chain(&p.ike_packets)
                .sum();
            (bytes, packets)
        };
        pairs.sort_by(|(x, fx), (y, fy)| {
            load(y)
                .cmp(&load(x))
                .then(fx.is_empty().cmp(&fy.is_empty()))
                .then((x.first_ts, x.key).cmp(&(y.first_ts, y.key)))
        });
        for (p, _) in &pairs[max..] {
            omitted.tunnels += 1;
            omitted.esp_packets += p.esp_packets.iter().sum::<u64>();
            omitted.esp_bytes += p.esp_bytes.iter().sum::<u64>();
        }
        pairs.truncate(max);
    }
    let mut v: Vec<TunnelSummary> = pairs.iter().map(|(p, f)| tunnel_summary(p, f)).collect();
    v.sort_by(|a, b| (a.first_ts, &a.peers).cmp(&(b.first_ts, &b.peers)));
    (v, omitted)
}

/// One tunnel (peer pair) at the end of the run.
#[derive(Clone, Debug)]
pub struct TunnelSummary {
    pub peers: [String; 2],
    /// IKE versions seen (1, 2 or both).
    pub ike_version: Vec<u8>,
    pub established: bool,
    pub state: &'static str,
    pub ike_sas: Vec<SaSummary>,
    /// Child SAs as SPI pairs: the a→b and b→a SPIs bound to the same IKE SA, matched in the
    /// order they appeared (a rekey's new pair appears together).
    pub child_sas: Vec<ChildPair>,
    /// [a→b, b→a], a being the first of `peers`.
    pub esp_packets: [u64; 2],
    pub esp_bytes: [u64; 2],
    pub child_rekeys: u32,
    pub deleted: u32,
    pub nat: NatSummary,
    pub fragmentation: FragSummary,
    pub ike_response_time: Option<RttSummary>,
    pub findings: Vec<&'static str>,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

#[derive(Clone, Debug, Serialize)]
pub struct NatSummary {
    /// Addresses found behind NAT by the NAT-D hashes.
    pub behind_nat: Vec<IpAddr>,
    /// What the NAT-D hashes said: `nat`, `no_nat` (they matched both ways) or `unknown`
    /// (none seen). UDP 4500 alone says nothing: MOBIKE and forced encapsulation use it too.
    pub nat_detection: &'static str,
    pub ike_on_4500: bool,
    pub floated_to_4500: bool,
    pub esp_in_udp: bool,
    pub keepalives: u64,
    pub keepalive_interval_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FragSummary {
    pub ike_ip_fragmented: u32,
    pub esp_ip_fragmented: u64,
    pub incomplete_fragment_sets: u32,
    /// IKEV2_FRAGMENTATION_SUPPORTED sent by [a, b].
    pub ike_fragmentation_supported: [bool; 2],
    pub ike_fragments_used: bool,
}

/// One Child SA: its two ESP SPIs (either may be missing when only one direction was seen).
#[derive(Clone, Debug)]
pub struct ChildPair {
    /// ESP SPIs [a→b, b→a].
    pub spis: [Option<u32>; 2],
    pub ike_ispi: Option<u64>,
    /// [a→b, b→a].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// The first Delete that named either SPI: who sent it, in which frame.
    pub deleted_by: Option<(IpAddr, u64)>,
}

/// The earlier of two Deletes.
fn first_delete(a: Option<(IpAddr, u64)>, b: Option<(IpAddr, u64)>) -> Option<(IpAddr, u64)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.1 < x.1 { y } else { x }),
        (x, y) => x.or(y),
    }
}

fn child_pairs(p: &Pair) -> Vec<ChildPair> {
    let mut sides: [Vec<&ChildSummary>; 2] = [Vec::new(), Vec::new()];
    // The summary's child SAs are ESP SPI pairs; AH SPIs are in the log for the rules only.
    for c in p.children.iter().filter(|c| !c.ah) {
        sides[p.key.side(c.src)].push(c);
    }
    let mut out: Vec<ChildPair> = Vec::new();
    let mut used = vec![false; sides[1].len()];
    for c in &sides[0] {
        // The first unused reverse SPI of the same IKE SA, nearest in time.
        let back = sides[1]
            .iter()
            .enumerate()
            .filter(|(i, r)| !used[*i] && r.ike_ispi == c.ike_ispi)
            .min_by(|(_, x), (_, y)| {
                let dx = x.first_ts.since(c.first_ts).abs();
                let dy = y.first_ts.since(c.first_ts).abs();
                dx.total_cmp(&dy)
            })
            .map(|(i, r)| (i, *r));
        if let Some((i, _)) = back {
            used[i] = true;
        }
        out.push(ChildPair {
            spis: [Some(c.spi), back.map(|(_, r)| r.spi)],
            ike_ispi: c.ike_ispi,
            packets: [c.packets, back.map_or(0, |(_, r)| r.packets)],
            bytes: [c.bytes, back.map_or(0, |(_, r)| r.bytes)],
            deleted_by: first_delete(c.deleted_by, back.and_then(|(_, r)| r.deleted_by)),
        });
    }
    for (i, r) in sides[1].iter().enumerate().filter(|(i, _)| !used[*i]) {
        let _ = i;
        out.push(ChildPair {
            spis: [None, Some(r.spi)],
            ike_ispi: r.ike_ispi,
            packets: [0, r.packets],
            bytes: [0, r.bytes],
            deleted_by: r.deleted_by,
        });
    }
    out
}

pub fn tunnel_summary(p: &Pair, findings: &[&'static str]) -> TunnelSummary {
    let last = p.sas.back();
    let state = match last {
        None if p.esp_packets != [0, 0] => "esp_only",
        None => "no_ike",
        // An SA that was up and stopped answering is not a tunnel that is up.
        Some(s) if matches!(s.end, SaEnd::Unanswered { .. }) => "not_answering",
        Some(s) => match s.state {
            SaState::Init => "connecting",
            SaState::KeysExchanged => "connecting",
            SaState::Authenticating => "authenticating",
            SaState::Authenticated => "authenticated",
            SaState::Established => "established",
            SaState::Failed => "failed",
            SaState::Deleted => "deleted",
        },
    };
    let ka = p.keepalives[0].count + p.keepalives[1].count;
    let interval = p.keepalives[0]
        .mean_interval()
        .into_iter()
        .chain(p.keepalives[1].mean_interval())
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
    TunnelSummary {
        peers: [addr_string(p.key.a), addr_string(p.key.b)],
        ike_version: (1..=2).filter(|v| p.ike_versions & (1 << v) != 0).collect(),
        established: p.established_ever,
        state,
        ike_sas: p.sas.iter().cloned().collect(),
        child_sas: child_pairs(p),
        esp_packets: p.esp_packets,
        esp_bytes: p.esp_bytes,
        child_rekeys: p.child_exchanges,
        deleted: p.deletes,
        nat: NatSummary {
            behind_nat: (0..2)
                .filter(|&s| p.nat_behind[s] == Some(true))
                .map(|s| p.addr(s))
                .collect(),
            nat_detection: match p.nat_behind {
                [Some(true), _] | [_, Some(true)] => "nat",
                [None, None] => "unknown",
                _ => "no_nat",
            },
            ike_on_4500: p.ike_on_4500,
            floated_to_4500: p.float_frame.is_some(),
            esp_in_udp: p.esp_in_udp,
            keepalives: ka,
            keepalive_interval_s: interval.map(|x| (x * 1000.0).round() / 1000.0),
        },
        fragmentation: FragSummary {
            ike_ip_fragmented: p.ike_ip_fragmented,
            esp_ip_fragmented: p.esp_fragmented,
            incomplete_fragment_sets: p.incomplete_sets,
            ike_fragmentation_supported: p.ike_fragmentation_supported,
            ike_fragments_used: p.ike_fragments_used,
        },
        ike_response_time: p.rtt.summary(),
        findings: findings.to_vec(),
        first_frame: p.first_frame,
        last_frame: p.last_frame,
        first_ts: p.first_ts,
        last_ts: p.last_ts,
    }
}

/// The tunnel line. Fields in the order the line has always had them (declaration order, not
/// sorted: it never went through a `serde_json::Map`).
#[derive(Serialize)]
pub struct TunnelLine<'a> {
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
pub struct SaLine<'a> {
    version: u8,
    ispi: Hex64,
    rspi: Hex64,
    initiator: Addr,
    state: &'a SaState,
    established: bool,
    end: EndLine,
}

/// How an SA ended, in JSON: `{"how": "up"|"incomplete"|"failed"|"deleted"|"not_answering"|
/// "replaced", ...}` with who and where when known.
#[derive(Serialize)]
pub struct EndLine {
    how: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmissions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaced_by: Option<Hex64>,
}

impl EndLine {
    fn of(e: SaEnd) -> Self {
        let mut l = EndLine {
            how: "up",
            by: None,
            frame: None,
            transmissions: None,
            replaced_by: None,
        };
        match e {
            SaEnd::Up => {}
            SaEnd::Incomplete => l.how = "incomplete",
            SaEnd::Failed => l.how = "failed",
            SaEnd::Deleted { by } => {
                l.how = "deleted";
                l.by = by.map(|b| Addr(b.0));
                l.frame = by.map(|b| b.1);
            }
            SaEnd::Unanswered { from, count, frame } => {
                l.how = "not_answering";
                l.by = Some(Addr(from));
                l.frame = Some(frame);
                l.transmissions = Some(count);
            }
            SaEnd::Replaced { by } => {
                l.how = "replaced";
                l.replaced_by = Some(Hex64(by));
            }
        }
        l
    }
}

/// How an SA ended, for the text table ("" when it is simply up or never completed: the state
/// says that).
fn end_text(sa: &SaSummary) -> String {
    match sa.end {
        SaEnd::Up | SaEnd::Incomplete | SaEnd::Failed => String::new(),
        SaEnd::Deleted {
            by: Some((who, frame)),
        } => format!(", deleted by {who} (frame {frame})"),
        SaEnd::Deleted { by: None } => String::new(),
        SaEnd::Unanswered { from, count, frame } if sa.version == 1 => format!(
            ", then the peer stopped answering: {from}'s {count} Informationals (DPD) from frame {frame} on went unanswered"
        ),
        SaEnd::Unanswered { from, count, frame } => format!(
            ", then the peer stopped answering: {from}'s request from frame {frame} went unanswered ({count} transmissions)"
        ),
        SaEnd::Replaced { by } => format!(", replaced by IKE SA {}", Hex64(by)),
    }
}

#[derive(Serialize)]
pub struct ChildLine {
    spis: [Option<Hex32>; 2],
    ike_ispi: Option<Hex64>,
    packets: [u64; 2],
    bytes: [u64; 2],
    /// Present when a Delete naming it was seen (in clear, or opened with keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<DeletedLine>,
}

#[derive(Serialize)]
pub struct DeletedLine {
    by: IpAddr,
    frame: u64,
}

/// One tunnel summary as one JSON line.
pub fn write_tunnel_json(w: &mut dyn Write, t: &TunnelSummary) -> io::Result<()> {
    write_line(w, &tunnel_line(t))
}

/// The `tunnel` line of `t`: what the JSON line and the HTML report show of it.
pub fn tunnel_line(t: &TunnelSummary) -> TunnelLine<'_> {
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
    TunnelLine {
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
                initiator: Addr(sa.initiator),
                state: &sa.state,
                established: sa.established,
                end: EndLine::of(sa.end),
            })
            .collect(),
        child_sas: child_sas
            .iter()
            .map(|c| ChildLine {
                spis: c.spis.map(|s| s.map(Hex32)),
                ike_ispi: c.ike_ispi.map(Hex64),
                packets: c.packets,
                bytes: c.bytes,
                deleted: c.deleted_by.map(|(by, frame)| DeletedLine { by, frame }),
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
    }
}

/// Tunnels as a table, one row per peer pair, then each tunnel's SAs; then what was left out.
pub fn write_tunnels_text(
    w: &mut dyn Write,
    ts: &[TunnelSummary],
    omitted: TunnelsOmitted,
) -> io::Result<()> {
    if ts.is_empty() && omitted.tunnels == 0 {
        return writeln!(w, "No IPsec peers seen.");
    }
    write_table(w, ts)?;
    if omitted.tunnels > 0 {
        writeln!(
            w,
            "... and {} quieter tunnels not listed ({} ESP packets, {}); -v lists every one",
            omitted.tunnels,
            omitted.esp_packets,
            bytes_text(omitted.esp_bytes)
        )?;
    }
    Ok(())
}

fn write_table(w: &mut dyn Write, ts: &[TunnelSummary]) -> io::Result<()> {
    // Columns as wide as their widest cell: IPv6 peers and GiB counters keep the table
    // aligned.
    let peers: Vec<String> = ts
        .iter()
        .map(|t| format!("{} <-> {}", t.peers[0], t.peers[1]))
        .collect();
    let packets: Vec<String> = ts
        .iter()
        .map(|t| format!("{}/{}", t.esp_packets[0], t.esp_packets[1]))
        .collect();
    let bytes: Vec<String> = ts
        .iter()
        .map(|t| {
            format!(
                "{}/{}",
                bytes_text(t.esp_bytes[0]),
                bytes_text(t.esp_bytes[1])
            )
        })
        .collect();
    let width = |cells: &[String], header: &str| {
        cells
            .iter()
            .map(|c| c.chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let (wp, wk, wb) = (
        width(&peers, "PEERS").max(41),
        width(&packets, "ESP PKTS a>b/b>a"),
        width(&bytes, "ESP BYTES a>b/b>a"),
    );
    writeln!(
        w,
        "{:<wp$} {:<4} {:<14} {:>4} {:>5} {:>wk$} {:>wb$} {:>6} {:<7} FINDINGS",
        "PEERS",
        "IKE",
        "STATE",
        "IKE",
        "CHILD",
        "ESP PKTS a>b/b>a",
        "ESP BYTES a>b/b>a",
        "REKEYS",
        "NAT",
    )?;
    for (i, t) in ts.iter().enumerate() {
        let ver = t
            .ike_version
            .iter()
            .map(|v| format!("v{v}"))
            .collect::<Vec<_>>()
            .join("+");
        let on_4500 = t.nat.esp_in_udp || t.nat.ike_on_4500;
        // NAT only when NAT-D says so; port 4500 without NAT is shown as such.
        let nat = match (t.nat.nat_detection, on_4500) {
            ("nat", _) => "yes",
            ("no_nat", true) => "no/4500",
            (_, true) => "4500",
            _ => "-",
        };
        writeln!(
            w,
            "{:<wp$} {:<4} {:<14} {:>4} {:>5} {:>wk$} {:>wb$} {:>6} {:<7} {}",
            peers[i],
            if ver.is_empty() { "-".to_string() } else { ver },
            t.state,
            t.ike_sas.len(),
            t.child_sas.len(),
            packets[i],
            bytes[i],
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
                "    IKEv{} SA {}:{} initiator {} state {}{}",
                sa.version,
                Hex64(sa.ispi),
                Hex64(sa.rspi),
                sa.initiator,
                serde_json::to_value(sa.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                end_text(sa)
            )?;
        }
        for c in &t.child_sas {
            let spi = |s: Option<u32>| s.map_or("-".to_string(), |x| format!("{:#}", Hex32(x)));
            writeln!(
                w,
                "    Child SA ESP {} / {}: {}/{} packets, {}/{}{}",
                spi(c.spis[0]),
                spi(c.spis[1]),
                c.packets[0],
                c.packets[1],
                bytes_text(c.bytes[0]),
                bytes_text(c.bytes[1]),
                c.deleted_by
                    .map(|(by, frame)| format!(", deleted by {by} (frame {frame})"))
                    .unwrap_or_default()
            )?;
        }
        if t.nat.nat_detection == "no_nat" && on_4500 {
            writeln!(
                w,
                "    UDP 4500 without NAT: the NAT-D hashes match both ways (MOBIKE, or encapsulation forced)"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testutil::*;

    #[test]
    fn healthy_tunnel_summary() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        let (live, end, a) = s.run();
        assert_quiet(&live);
        assert_quiet(&end);
        let t = tunnels(&a);
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert!(t.established);
        assert_eq!(t.state, "established");
        assert_eq!(t.ike_version, vec![2]);
        assert_eq!(t.esp_packets, [20, 20]);
        assert_eq!(t.child_sas.len(), 1);
        assert_eq!(t.child_sas[0].packets, [20, 20]);
        assert_eq!(t.ike_sas.len(), 1);
        let rtt = t.ike_response_time.as_ref().unwrap();
        assert_eq!(rtt.samples, 3);
        assert!((rtt.max_ms - 20.0).abs() < 1.5, "{rtt:?}");
        assert_eq!(t.ike_sas[0].ispi, 0x1111);
        assert_eq!(t.child_sas[0].spis, [Some(0xc1), Some(0xc2)]);
        assert_eq!(t.child_sas[0].ike_ispi, Some(0x1111));
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
        let ts = tunnels(&a);
        let mut v = Vec::new();
        write_tunnels_text(&mut v, &ts, TunnelsOmitted::default()).unwrap();
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
        write_tunnels_text(&mut v, &tunnels(&a), TunnelsOmitted::default()).unwrap();
        assert!(String::from_utf8(v).unwrap().contains("No IPsec peers"));
    }
}
