//! End-of-run summary: what was read, what it was, and per ESP SPI what passed.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;

use crate::decode::DecodeStats;
use crate::event::{Body, Event, Integrity, Timestamp};
use crate::track::TrackStats;
use crate::track::esp::EspKey;

use super::fmt::{EpochF64, Hex32};
use super::time::{Stamper, TimeFormat};

/// A flood of random SPIs must not grow this without bound (`--max-memory` scales it).
pub const SPI_CAP: usize = 100_000;

/// ESP SAs listed in a summary without `-v`: the busiest, by bytes. A flood of random SPIs
/// would otherwise write a line (or a JSON object) per SPI at every live summary.
pub const SPIS_SHOWN: usize = 10;

/// How much per-SPI detail a summary gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpiDetail {
    /// `-q` text: none (the tunnel table has each tunnel's Child SAs).
    None,
    /// The busiest [`SPIS_SHOWN`], the rest counted.
    Top,
    /// `-v`: every one.
    All,
}

#[derive(Clone, Debug)]
pub struct SpiCount {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
    pub udp_encapsulated: bool,
    pub packets: u64,
    pub bytes: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_seq: u32,
    pub last_seq: u32,
    first_ts: Timestamp,
    last_ts: Timestamp,
    pub opened: Opened,
}

/// How the keys did on one SA: packets (or encrypted messages) opened, refused by the
/// integrity check (or, for IKEv1, by the payload-chain check), and seen without a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Opened {
    pub decrypted: u64,
    pub integrity_failed: u64,
    pub no_key: u64,
}

impl Opened {
    fn count(&mut self, d: Option<Integrity>) {
        match d {
            Some(Integrity::Failed) => self.integrity_failed += 1,
            Some(_) => self.decrypted += 1,
            None => self.no_key += 1,
        }
    }

    /// `28/28 decrypted, integrity ok` and the like, for `total` packets or messages.
    fn text(&self, what: &str) -> String {
        let total = self.decrypted + self.integrity_failed + self.no_key;
        if self.no_key == total {
            return format!("no key ({total} {what})");
        }
        let mut t = format!("{}/{total} {what} decrypted", self.decrypted);
        if self.integrity_failed > 0 {
            t.push_str(&format!(
                ", {} failed the integrity check (wrong key or wrong direction?)",
                self.integrity_failed
            ));
        }
        if self.no_key > 0 {
            t.push_str(&format!(", {} without a key", self.no_key));
        }
        t
    }
}

/// One IKE SA's encrypted messages, for the decryption summary.
#[derive(Clone, Debug)]
struct IkeOpened {
    version: u8,
    first_frame: u64,
    opened: Opened,
}

/// IKE SAs counted for the decryption summary, at most (the rest are left out, counted).
const IKE_CAP: usize = 10_000;

pub struct SpiCounter {
    spis: HashMap<EspKey, SpiCount, crate::hash::KeyedHashState>,
    /// Rows kept; ESP SAs after them are only counted (`not_counted`).
    cap: usize,
    pub not_counted: u64,
    /// Keys were given: decryption is counted per SA and summarised.
    keyed: bool,
    ikes: HashMap<(u64, u64), IkeOpened>,
}

impl Default for SpiCounter {
    fn default() -> Self {
        Self::with_cap(SPI_CAP)
    }
}

impl SpiCounter {
    pub fn with_cap(cap: usize) -> Self {
        SpiCounter {
            spis: HashMap::default(),
            cap,
            not_counted: 0,
            keyed: false,
            ikes: HashMap::new(),
        }
    }

    /// Counts decryption per SA from now on (keys were given).
    pub fn keyed(&mut self) {
        self.keyed = true;
    }

    pub fn is_keyed(&self) -> bool {
        self.keyed
    }

    pub fn observe(&mut self, ev: &Event) {
        if self.keyed
            && let Body::Ike(m) = &ev.body
            && m.encrypted
            && m.reassembled_from.is_empty()
        {
            let n = self.ikes.len();
            let sa = self.ikes.entry((m.ispi, m.rspi));
            if n < IKE_CAP || matches!(sa, std::collections::hash_map::Entry::Occupied(_)) {
                sa.or_insert(IkeOpened {
                    version: m.version,
                    first_frame: ev.pkt.frame,
                    opened: Opened::default(),
                })
                .opened
                .count(m.decrypted.as_ref().map(|d| d.integrity));
            }
        }
        let Body::Esp(e) = &ev.body else {
            return;
        };
        let key = EspKey::sent(&ev.flow, e.spi);
        let opened = self
            .keyed
            .then(|| e.decrypted.as_ref().map(|d| d.integrity));
        if let Some(c) = self.spis.get_mut(&key) {
            if let Some(o) = opened {
                c.opened.count(o);
            }
            c.packets += 1;
            c.bytes += u64::from(e.len);
            c.last_frame = ev.pkt.frame;
            c.last_seq = e.seq;
            c.last_ts = ev.pkt.ts;
            return;
        }
        if self.spis.len() >= self.cap {
            self.not_counted += 1;
            return;
        }
        self.spis.insert(
            key,
            SpiCount {
                src: ev.flow.src,
                dst: ev.flow.dst,
                spi: e.spi,
                udp_encapsulated: e.udp_encapsulated,
                packets: 1,
                bytes: u64::from(e.len),
                first_frame: ev.pkt.frame,
                last_frame: ev.pkt.frame,
                first_seq: e.seq,
                last_seq: e.seq,
                first_ts: ev.pkt.ts,
                last_ts: ev.pkt.ts,
                opened: {
                    let mut o = Opened::default();
                    if let Some(d) = opened {
                        o.count(d);
                    }
                    o
                },
            },
        );
    }

    /// The decryption summary's lines: per IKE SA, then per ESP SA, in order of appearance.
    pub fn decryption_lines(&self) -> Vec<String> {
        if !self.keyed {
            return Vec::new();
        }
        let mut ikes: Vec<_> = self.ikes.iter().collect();
        ikes.sort_by_key(|(_, o)| o.first_frame);
        let mut lines: Vec<String> = ikes
            .into_iter()
            .map(|(&(i, r), o)| {
                format!(
                    "IKEv{} SA {}/{}: {}",
                    o.version,
                    super::fmt::Hex64(i),
                    super::fmt::Hex64(r),
                    o.opened.text("encrypted messages")
                )
            })
            .collect();
        for c in self.sorted() {
            lines.push(format!(
                "ESP SPI {:#} {} > {}: {}",
                Hex32(c.spi),
                c.src,
                c.dst,
                c.opened.text("packets")
            ));
        }
        lines
    }

    pub fn sorted(&self) -> Vec<&SpiCount> {
        let mut v: Vec<_> = self.spis.values().collect();
        v.sort_by_key(|c| c.first_frame);
        v
    }

    /// The SAs `detail` lists, in the order they were first seen, and what the others add up
    /// to.
    pub fn shown(&self, detail: SpiDetail) -> (Vec<&SpiCount>, Omitted) {
        let mut v: Vec<_> = self.spis.values().collect();
        let keep = match detail {
            SpiDetail::All => v.len(),
            SpiDetail::Top => SPIS_SHOWN.min(v.len()),
            SpiDetail::None => 0,
        };
        if keep < v.len() {
            v.sort_by(|a, b| {
                b.bytes
                    .cmp(&a.bytes)
                    .then(b.packets.cmp(&a.packets))
                    .then(a.first_frame.cmp(&b.first_frame))
            });
        }
        let mut omitted = Omitted::default();
        for c in &v[keep..] {
            omitted.sas += 1;
            omitted.packets += c.packets;
            omitted.bytes += c.bytes;
        }
        v.truncate(keep);
        v.sort_by_key(|c| c.first_frame);
        (v, omitted)
    }
}

pub struct RunInfo<'a> {
    pub source: &'a str,
    pub stats: &'a DecodeStats,
    pub track: TrackStats,
    pub spis: &'a SpiCounter,
    /// Set when the input could not be read to its end.
    pub read_error: Option<String>,
    /// `--utc`: times in UTC rather than the local zone, as the packet lines.
    pub utc: bool,
    pub detail: SpiDetail,
    /// `-v`: the tracker's table counters even when nothing was evicted.
    pub verbose: bool,
    /// What the tunnel table before this summary left out.
    pub tunnels_omitted: TunnelsOmitted,
}

/// ESP SAs a summary leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Omitted {
    pub sas: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// Tunnels a tunnel table leaves out (see `tunnels::busiest`), and the ESP they carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TunnelsOmitted {
    pub tunnels: u64,
    pub esp_packets: u64,
    pub esp_bytes: u64,
}

/// Bytes with a unit: `5968 B`, `58.9 KiB`, `1.2 MiB` (powers of 1024, as the labels say).
pub fn bytes_text(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

pub fn write_text(w: &mut dyn Write, info: &RunInfo<'_>) -> io::Result<()> {
    let s = info.stats;
    writeln!(w, "\n== Summary: {} ==", info.source)?;
    writeln!(
        w,
        "packets read {} ({} bytes); IPsec-related kept {}; other IP {}; not IP {}",
        s.packets, s.bytes, s.kept, s.other_ip, s.not_ip
    )?;
    if s.unsupported_link > 0 {
        writeln!(
            w,
            "packets on unsupported link types (counted, not decoded): {}",
            s.unsupported_link
        )?;
    }
    writeln!(
        w,
        "IKE {} (IKEv1 {}, IKEv2 {}; IKE fragments {}, reassembled {}); ESP {} (in UDP {}); AH {}; NAT-keepalives {}; ICMP errors {}",
        s.ike,
        s.ike_v1,
        s.ike_v2,
        s.ike_fragments,
        s.ike_reassembled,
        s.esp,
        s.esp_in_udp,
        s.ah,
        s.nat_keepalives,
        s.icmp_errors
    )?;
    writeln!(
        w,
        "IP fragments {} (datagrams reassembled {}, incomplete {}); malformed {}; cut by snap length {}",
        s.ip_fragments, s.ip_reassembled, s.ip_fragments_incomplete, s.malformed, s.truncated
    )?;
    if let Some(t) = &s.tcp_encap {
        writeln!(
            w,
            "TCP encapsulation (RFC 8229): segments {}, IKE {}, ESP {}; resent by TCP {}, out of order {}, stream bytes lost {}; streams evicted {}",
            t.segments, t.ike, t.esp, t.resent, t.out_of_order, t.lost_bytes, t.streams_evicted
        )?;
    }
    let (spis, omitted) = info.spis.shown(info.detail);
    let times = Stamper::new(TimeFormat::Clock, info.utc);
    if !spis.is_empty() {
        let total = spis.len() as u64 + omitted.sas;
        if omitted.sas > 0 {
            writeln!(
                w,
                "ESP SAs seen ({total}; the {} busiest, -v lists all):",
                spis.len()
            )?;
        } else {
            writeln!(w, "ESP SAs seen ({total}):")?;
        }
        for c in spis {
            writeln!(
                w,
                "  spi {} {} > {}{}: {} packets, {} bytes, seq {}..{}, {} (frames {}..{})",
                Hex32(c.spi),
                c.src,
                c.dst,
                if c.udp_encapsulated {
                    " (UDP 4500)"
                } else {
                    ""
                },
                c.packets,
                c.bytes,
                c.first_seq,
                c.last_seq,
                times.span(c.first_ts, c.last_ts),
                c.first_frame,
                c.last_frame
            )?;
        }
        if omitted.sas > 0 {
            writeln!(
                w,
                "  and {} more ESP SAs: {} packets, {}",
                omitted.sas,
                omitted.packets,
                bytes_text(omitted.bytes)
            )?;
        }
    } else if omitted.sas > 0 {
        writeln!(
            w,
            "ESP SAs seen: {} ({} packets, {}; -v lists them)",
            omitted.sas,
            omitted.packets,
            bytes_text(omitted.bytes)
        )?;
    }
    if info.spis.not_counted > 0 {
        writeln!(
            w,
            "  ({} ESP packets on SPIs beyond the table's cap were not counted per SPI)",
            info.spis.not_counted
        )?;
    }
    if let Some(d) = &s.decryption {
        writeln!(
            w,
            "decryption: IKE {} decrypted, {} failed, {} without a key; ESP {} decrypted, {} failed, {} without a key",
            d.ike_decrypted,
            d.ike_integrity_failed,
            d.ike_no_key,
            d.esp_decrypted,
            d.esp_integrity_failed,
            d.esp_no_key
        )?;
        for line in info.spis.decryption_lines() {
            writeln!(w, "  {line}")?;
        }
    }
    let t = &info.track;
    let evicted = t.pairs_evicted + t.ike_sas_evicted + t.esp_sas_evicted;
    let fragment_sets = s.ip_fragment_sets_evicted + s.ike_fragment_sets_evicted;
    // The tables' workings are for -v; an eviction, which means state was lost, is said always.
    if info.verbose {
        writeln!(
            w,
            "tracked: {} peer pairs, {} IKE SAs, {} ESP SA directions; evicted by the table caps: {} ({} pairs, {} IKE SAs, {} ESP SAs); decoder fragment sets evicted: {} IP, {} IKE",
            t.pairs_seen,
            t.ike_sas_seen,
            t.esp_sas_seen,
            evicted,
            t.pairs_evicted,
            t.ike_sas_evicted,
            t.esp_sas_evicted,
            s.ip_fragment_sets_evicted,
            s.ike_fragment_sets_evicted
        )?;
    } else if evicted + fragment_sets > 0 {
        writeln!(
            w,
            "tables full: {evicted} tracked entries and {fragment_sets} fragment sets evicted, so some findings may be missing (-v for details)"
        )?;
    }
    if let Some(e) = &info.read_error {
        writeln!(w, "input not read to the end: {e}")?;
    }
    Ok(())
}

pub fn write_json(w: &mut dyn Write, info: &RunInfo<'_>) -> io::Result<()> {
    serde_json::to_writer(&mut *w, &summary_line(info))?;
    w.write_all(b"\n")
}

/// The `summary` line: what the JSON line and the HTML report show of the run's counters.
pub fn summary_line<'a>(info: &'a RunInfo<'_>) -> SummaryLine<'a> {
    // JSON lists the busiest SAs too unless -v: a periodic live summary under an SPI flood
    // would otherwise be one line of megabytes.
    let detail = if info.detail == SpiDetail::All {
        SpiDetail::All
    } else {
        SpiDetail::Top
    };
    let (shown, omitted) = info.spis.shown(detail);
    SummaryLine {
        complete: info.read_error.is_none(),
        counters: json!(info.stats),
        esp_not_counted: info.spis.not_counted,
        esp_sas: EspSas(shown),
        esp_sas_omitted: (omitted.sas > 0).then_some(omitted),
        read_error: &info.read_error,
        source: info.source,
        tracking: json!(info.track),
        tunnels_omitted: (info.tunnels_omitted.tunnels > 0).then_some(info.tunnels_omitted),
        kind: "summary",
    }
}

/// The summary line, streamed: with up to `SPI_CAP` ESP SAs, building it as one `Value` first
/// took 460 MiB on the flood benchmark. `type` first, as on every line, then the fields in
/// sorted order.
#[derive(serde::Serialize)]
pub struct SummaryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    complete: bool,
    counters: serde_json::Value,
    esp_not_counted: u64,
    esp_sas: EspSas<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    esp_sas_omitted: Option<Omitted>,
    read_error: &'a Option<String>,
    source: &'a str,
    tracking: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnels_omitted: Option<TunnelsOmitted>,
}

/// One SA at a time, each written before the next is looked at.
pub struct EspSas<'a>(Vec<&'a SpiCount>);

impl Serialize for EspSas<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| EspSaLine::new(c)))
    }
}

/// Fields in sorted order, as the `serde_json::Map` this line was first built with kept them.
#[derive(Serialize)]
struct EspSaLine {
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    decryption: Option<Opened>,
    dst: IpAddr,
    first_frame: u64,
    first_seq: u32,
    first_ts: EpochF64,
    last_frame: u64,
    last_seq: u32,
    last_ts: EpochF64,
    packets: u64,
    spi: Hex32,
    src: IpAddr,
    udp_encapsulated: bool,
}

impl EspSaLine {
    fn new(c: &SpiCount) -> Self {
        EspSaLine {
            bytes: c.bytes,
            decryption: (c.opened != Opened::default()).then_some(c.opened),
            dst: c.dst,
            first_frame: c.first_frame,
            first_seq: c.first_seq,
            first_ts: EpochF64(c.first_ts),
            last_frame: c.last_frame,
            last_seq: c.last_seq,
            last_ts: EpochF64(c.last_ts),
            packets: c.packets,
            spi: Hex32(c.spi),
            src: c.src,
            udp_encapsulated: c.udp_encapsulated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_labelled() {
        assert_eq!(bytes_text(0), "0 B");
        assert_eq!(bytes_text(1023), "1023 B");
        assert_eq!(bytes_text(60_288), "58.9 KiB");
        assert_eq!(bytes_text(5 << 20), "5.0 MiB");
        assert_eq!(bytes_text(3 << 30), "3.0 GiB");
        assert_eq!(bytes_text(u64::MAX), "16777216.0 TiB");
    }
}
