//! The Prometheus view (`--metrics`): a [`Snapshot`] of what the tunnel table, the verdict's
//! finding counts, the tracker's tables and the capture counters already say, taken by the
//! capture thread, and its OpenMetrics text (the `prometheus-client` crate), made by the server
//! thread from the last snapshot published. Nothing is judged here: every number is one the
//! text and JSON reports print, or a count of the same structures they read.
//!
//! Label cardinality is bounded: at most `max_tunnels` tunnels are exported by name (the first
//! seen among those the tracker holds, so a tunnel's series do not come and go with traffic);
//! the rest are summed under `tunnel="other"`. Finding series are per kind and severity, both
//! from fixed tables. Label values are escaped by the encoder (`\`, `"`, newline); other control
//! characters are replaced here, though every label value is made by ike-sniff (addresses,
//! rule ids, state names), none copied from a packet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::tunnels::tunnel_summary;
use super::verdict::{Lifecycle, Verdict};
use crate::decode::DecodeStats;
use crate::diagnose::Analyzer;
use crate::event::Timestamp;
use crate::track::hist::Histogram;
use crate::track::ike::SaEnd;
use crate::track::{Pair, PairKey, SaKey};

/// `--metrics-max-tunnels` when not given.
pub const DEFAULT_MAX_TUNNELS: usize = 500;

/// Upper bounds (seconds) of the IKE response time histogram's buckets, `+Inf` added.
pub const RTT_BUCKETS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The label of the tunnels past the cap.
pub const OTHER: &str = "other";

/// The kernel's capture counters and the packets analysed (live capture only).
#[derive(Clone, Copy, Debug, Default)]
pub struct CaptureCounters {
    pub packets: u64,
    pub received: u64,
    pub dropped_kernel: u64,
    pub dropped_interface: u64,
}

/// One tunnel (peer pair), or the sum of those past the cap.
#[derive(Clone, Debug, Default)]
pub struct TunnelMetrics {
    /// `A<->B`, or `other`.
    pub tunnel: String,
    /// The two sides' addresses (the `from` label of per-direction series); `other` sums both
    /// directions under `from="other"` in `[0]`.
    pub sides: [String; 2],
    /// The tunnel table's state (`established`, `not_answering`, …); empty for `other`.
    pub state: &'static str,
    /// Tunnels up: 0 or 1 for one tunnel, a count for `other`.
    pub up: u64,
    pub ike_sas: u64,
    pub child_sas: u64,
    /// Tunnels summed here (1 for one tunnel).
    pub tunnels: u64,
    pub esp_packets: [u64; 2],
    pub esp_bytes: [u64; 2],
    pub ah_packets: [u64; 2],
    pub ah_bytes: [u64; 2],
    pub ike_retransmissions: [u64; 2],
    /// Each side's last ESP or AH packet (packet time).
    pub last_data: [Option<Timestamp>; 2],
    /// Per bucket of [`RTT_BUCKETS_S`] then `+Inf`: responses in that bucket (not cumulative).
    pub rtt_buckets: [u64; RTT_BUCKETS_S.len() + 1],
    pub rtt_count: u64,
    pub rtt_sum_s: f64,
}

/// One table of the tracker or the decoder.
#[derive(Clone, Debug)]
pub struct TableMetrics {
    pub table: &'static str,
    /// Entries now (`None`: the table does not say).
    pub entries: Option<u64>,
    pub evicted: u64,
}

/// Everything `/metrics` shows, as of `taken`.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Wall clock when taken: ages are measured from packet time to the scrape's clock.
    pub taken: Timestamp,
    pub tunnels: Vec<TunnelMetrics>,
    /// Tunnels past the cap, summed (`None` when under it).
    pub other: Option<TunnelMetrics>,
    pub findings: Lifecycle,
    pub capture: Option<CaptureCounters>,
    pub tables: Vec<TableMetrics>,
    pub decoded_packets: u64,
    pub malformed_packets: u64,
}

fn rtt_buckets(h: &Histogram) -> [u64; RTT_BUCKETS_S.len() + 1] {
    let mut out = [0u64; RTT_BUCKETS_S.len() + 1];
    let mut below = 0;
    for (i, le) in RTT_BUCKETS_S.iter().enumerate() {
        let n = h.count_at_most_us((le * 1e6) as u64);
        out[i] = n - below;
        below = n;
    }
    out[RTT_BUCKETS_S.len()] = h.count - below;
    out
}

fn tunnel_metrics(p: &Pair, a: &Analyzer, child_spis: [u64; 2]) -> TunnelMetrics {
    let t = tunnel_summary(p, &[]);
    let alive = t
        .ike_sas
        .iter()
        .filter(|s| {
            s.established
                && s.end == SaEnd::Up
                && a.tracker()
                    .sa(&SaKey {
                        pair: p.key,
                        ispi: s.ispi,
                    })
                    .is_some()
        })
        .count() as u64;
    TunnelMetrics {
        tunnel: format!("{}<->{}", p.key.a, p.key.b),
        sides: [p.key.a.to_string(), p.key.b.to_string()],
        state: t.state,
        up: u64::from(matches!(t.state, "established" | "authenticated")),
        ike_sas: alive,
        // A Child SA is an SPI each way; one seen one way only still counts.
        child_sas: child_spis[0].max(child_spis[1]),
        tunnels: 1,
        esp_packets: t.esp_packets,
        esp_bytes: t.esp_bytes,
        ah_packets: p.ah_packets,
        ah_bytes: p.ah_bytes,
        ike_retransmissions: p.ike_retransmissions,
        last_data: p.last_data.map(|d| d.map(|(ts, _)| ts)),
        rtt_buckets: rtt_buckets(&p.rtt),
        rtt_count: p.rtt.count,
        rtt_sum_s: p.rtt.sum_us as f64 / 1e6,
    }
}

fn add_into(sum: &mut TunnelMetrics, t: &TunnelMetrics) {
    sum.up += t.up;
    sum.ike_sas += t.ike_sas;
    sum.child_sas += t.child_sas;
    sum.tunnels += t.tunnels;
    let both = |x: [u64; 2]| x[0] + x[1];
    sum.esp_packets[0] += both(t.esp_packets);
    sum.esp_bytes[0] += both(t.esp_bytes);
    sum.ah_packets[0] += both(t.ah_packets);
    sum.ah_bytes[0] += both(t.ah_bytes);
    sum.ike_retransmissions[0] += both(t.ike_retransmissions);
    for (s, x) in sum.rtt_buckets.iter_mut().zip(t.rtt_buckets) {
        *s += x;
    }
    sum.rtt_count += t.rtt_count;
    sum.rtt_sum_s += t.rtt_sum_s;
}

/// Takes the snapshot: the tunnels the tracker holds now (those it forgot are gone from the
/// metrics too), the verdict's counts, the tables, the capture counters.
pub fn snapshot(
    a: &Analyzer,
    verdict: &Verdict,
    decode: &DecodeStats,
    capture: Option<CaptureCounters>,
    max_tunnels: usize,
    taken: Timestamp,
) -> Snapshot {
    let tracker = a.tracker();
    let mut spis: HashMap<PairKey, [u64; 2]> = HashMap::new();
    for (k, _) in tracker.esps() {
        let (key, src_is_a) = PairKey::of(k.src, k.dst);
        spis.entry(key).or_default()[usize::from(!src_is_a)] += 1;
    }
    let mut pairs: Vec<&Pair> = tracker.pairs().collect();
    pairs.sort_by_key(|p| (p.first_ts, p.key));
    let mut tunnels = Vec::with_capacity(pairs.len().min(max_tunnels));
    let mut other: Option<TunnelMetrics> = None;
    for (i, p) in pairs.into_iter().enumerate() {
        let t = tunnel_metrics(p, a, spis.get(&p.key).copied().unwrap_or_default());
        if i < max_tunnels {
            tunnels.push(t);
        } else {
            let sum = other.get_or_insert_with(|| TunnelMetrics {
                tunnel: OTHER.into(),
                sides: [OTHER.into(), OTHER.into()],
                ..TunnelMetrics::default()
            });
            add_into(sum, &t);
        }
    }
    let t = a.stats();
    let tables = vec![
        TableMetrics {
            table: "peer_pairs",
            entries: Some(t.pairs as u64),
            evicted: t.pairs_evicted,
        },
        TableMetrics {
            table: "ike_sas",
            entries: Some(t.ike_sas as u64),
            evicted: t.ike_sas_evicted,
        },
        TableMetrics {
            table: "esp_sas",
            entries: Some(t.esp_sas as u64),
            evicted: t.esp_sas_evicted,
        },
        TableMetrics {
            table: "ip_fragment_sets",
            entries: None,
            evicted: decode.ip_fragment_sets_evicted,
        },
        TableMetrics {
            table: "ike_fragment_sets",
            entries: None,
            evicted: decode.ike_fragment_sets_evicted,
        },
    ];
    Snapshot {
        taken,
        tunnels,
        other,
        findings: verdict.lifecycle(),
        capture,
        tables,
        decoded_packets: decode.kept,
        malformed_packets: decode.malformed,
    }
}

/// A label value as exported: control characters (which no ike-sniff-made value holds) become
/// `?`; the encoder escapes `\`, `"` and newline.
pub fn label_value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The last snapshot published, shared between the capture thread (which replaces it) and the
/// server thread (which encodes it). The lock is held only to swap or clone an `Arc`.
#[derive(Clone, Debug, Default)]
pub struct Published(Arc<Mutex<Option<Arc<Snapshot>>>>);

impl Published {
    pub fn publish(&self, s: Snapshot) {
        let s = Arc::new(s);
        match self.0.lock() {
            Ok(mut g) => *g = Some(s),
            Err(poisoned) => *poisoned.into_inner() = Some(s),
        }
    }

    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The OpenMetrics text of the last snapshot, with ages measured to `now` (wall clock).
    pub fn encode(&self, now: Timestamp) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape {
            snap: self.latest(),
            now,
        }));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// One scrape: the snapshot and the clock of the request.
#[derive(Debug)]
struct Scrape {
    snap: Option<Arc<Snapshot>>,
    now: Timestamp,
}

type Labels = Vec<(&'static str, String)>;

/// A gauge or counter family with one value per label set.
fn family<V: Copy>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    series: &[(Labels, V)],
    put: impl Fn(&mut prometheus_client::encoding::MetricEncoder<'_>, V) -> std::fmt::Result,
) -> std::fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut d = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in series {
        let labels: Vec<(&str, String)> =
            labels.iter().map(|(k, v)| (*k, label_value(v))).collect();
        let mut m = d.encode_family(&labels)?;
        put(&mut m, *v)?;
    }
    Ok(())
}

fn gauges(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(Labels, f64)],
) -> std::fmt::Result {
    family(enc, name, help, MetricType::Gauge, series, |m, v| {
        m.encode_gauge(&v)
    })
}

fn counters(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(Labels, u64)],
) -> std::fmt::Result {
    family(enc, name, help, MetricType::Counter, series, |m, v| {
        m.encode_counter::<NoLabelSet, _, u64>(&v, None)
    })
}

/// A per-direction series of every tunnel: `from` is the sender (`other` for the sum).
fn per_direction(s: &Snapshot, value: impl Fn(&TunnelMetrics) -> [u64; 2]) -> Vec<(Labels, u64)> {
    let mut v = Vec::new();
    for t in &s.tunnels {
        for side in 0..2 {
            v.push((
                vec![
                    ("tunnel", t.tunnel.clone()),
                    ("from", t.sides[side].clone()),
                ],
                value(t)[side],
            ));
        }
    }
    if let Some(o) = &s.other {
        v.push((
            vec![("tunnel", OTHER.to_string()), ("from", OTHER.to_string())],
            value(o)[0],
        ));
    }
    v
}

fn per_tunnel(s: &Snapshot, value: impl Fn(&TunnelMetrics) -> u64) -> Vec<(Labels, f64)> {
    s.tunnels
        .iter()
        .chain(&s.other)
        .map(|t| (vec![("tunnel", t.tunnel.clone())], value(t) as f64))
        .collect()
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> std::fmt::Result {
        let up = self.snap.is_some();
        gauges(
            &mut enc,
            "ike_sniff_metrics_ready",
            "1 once the capture thread has published its first snapshot",
            &[(vec![], f64::from(u8::from(up)))],
        )?;
        let Some(s) = &self.snap else {
            return Ok(());
        };
        gauges(
            &mut enc,
            "ike_sniff_snapshot_age_seconds",
            "Seconds since the capture thread published what this scrape shows",
            &[(vec![], self.now.since(s.taken).max(0.0))],
        )?;
        // Tunnels.
        gauges(
            &mut enc,
            "ike_sniff_tunnels_exported",
            "Tunnels (peer pairs) the tracker holds: exported by name, and summed under tunnel=\"other\" past --metrics-max-tunnels",
            &[
                (vec![("as", "named".into())], s.tunnels.len() as f64),
                (
                    vec![("as", OTHER.into())],
                    s.other.as_ref().map_or(0, |o| o.tunnels) as f64,
                ),
            ],
        )?;
        let states: Vec<(Labels, f64)> = s
            .tunnels
            .iter()
            .map(|t| {
                (
                    vec![("tunnel", t.tunnel.clone()), ("state", t.state.into())],
                    1.0,
                )
            })
            .collect();
        gauges(
            &mut enc,
            "ike_sniff_tunnel_state",
            "1 for the tunnel's state as the tunnel table says it (established, authenticated, connecting, authenticating, not_answering, failed, deleted, esp_only, no_ike)",
            &states,
        )?;
        gauges(
            &mut enc,
            "ike_sniff_tunnel_up",
            "1 when the tunnel's state is established or authenticated (for tunnel=\"other\": how many are)",
            &per_tunnel(s, |t| t.up),
        )?;
        gauges(
            &mut enc,
            "ike_sniff_tunnel_ike_sas",
            "IKE SAs established, answering and still in the tracker",
            &per_tunnel(s, |t| t.ike_sas),
        )?;
        gauges(
            &mut enc,
            "ike_sniff_tunnel_child_sas",
            "Child SAs alive: ESP SPIs in the tracker's ESP SA table, the larger of the two directions",
            &per_tunnel(s, |t| t.child_sas),
        )?;
        counters(
            &mut enc,
            "ike_sniff_tunnel_esp_packets",
            "ESP packets sent by `from`",
            &per_direction(s, |t| t.esp_packets),
        )?;
        counters(
            &mut enc,
            "ike_sniff_tunnel_esp_bytes",
            "ESP bytes (IP packet length) sent by `from`",
            &per_direction(s, |t| t.esp_bytes),
        )?;
        counters(
            &mut enc,
            "ike_sniff_tunnel_ah_packets",
            "AH packets sent by `from`",
            &per_direction(s, |t| t.ah_packets),
        )?;
        counters(
            &mut enc,
            "ike_sniff_tunnel_ah_bytes",
            "AH bytes sent by `from`",
            &per_direction(s, |t| t.ah_bytes),
        )?;
        counters(
            &mut enc,
            "ike_sniff_tunnel_ike_retransmissions",
            "IKE messages `from` sent again (second and later transmissions)",
            &per_direction(s, |t| t.ike_retransmissions),
        )?;
        let mut idle = Vec::new();
        for t in &s.tunnels {
            for side in 0..2 {
                if let Some(ts) = t.last_data[side] {
                    idle.push((
                        vec![
                            ("tunnel", t.tunnel.clone()),
                            ("from", t.sides[side].clone()),
                        ],
                        self.now.since(ts).max(0.0),
                    ));
                }
            }
        }
        gauges(
            &mut enc,
            "ike_sniff_tunnel_data_idle_seconds",
            "Seconds since `from`'s last ESP or AH packet (absent until it sent one)",
            &idle,
        )?;
        let tunnels: Vec<&TunnelMetrics> = s.tunnels.iter().chain(&s.other).collect();
        if !tunnels.is_empty() {
            let mut d = enc.encode_descriptor(
                "ike_sniff_tunnel_ike_response_seconds",
                "IKE response times: request to first response, per exchange",
                None,
                MetricType::Histogram,
            )?;
            for t in tunnels {
                let labels = [("tunnel", label_value(&t.tunnel))];
                let buckets: Vec<(f64, u64)> = RTT_BUCKETS_S
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(t.rtt_buckets)
                    .collect();
                let mut m = d.encode_family(&labels)?;
                m.encode_histogram::<NoLabelSet>(t.rtt_sum_s, t.rtt_count, &buckets, None)?;
            }
        }
        // Findings.
        let by_kind = |v: &[(&'static str, crate::diagnose::Severity, u64)]| -> Vec<(Labels, u64)> {
            v.iter()
                .map(|(k, sev, n)| {
                    (
                        vec![
                            ("kind", (*k).to_string()),
                            ("severity", sev.as_str().into()),
                        ],
                        *n,
                    )
                })
                .collect()
        };
        let active: Vec<(Labels, f64)> = by_kind(&s.findings.active)
            .into_iter()
            .map(|(l, n)| (l, n as f64))
            .collect();
        gauges(
            &mut enc,
            "ike_sniff_findings_active",
            "Findings raised and not cleared, by kind and (gravest) severity",
            &active,
        )?;
        counters(
            &mut enc,
            "ike_sniff_findings_raised",
            "Findings raised (first reports, and reports again after a clearing)",
            &by_kind(&s.findings.raised),
        )?;
        counters(
            &mut enc,
            "ike_sniff_findings_cleared",
            "Findings whose condition ended (finding_cleared lines)",
            &by_kind(&s.findings.cleared),
        )?;
        // Capture and tables.
        if let Some(c) = s.capture {
            counters(
                &mut enc,
                "ike_sniff_capture_packets",
                "Packets ike-sniff read from the capture",
                &[(vec![], c.packets)],
            )?;
            counters(
                &mut enc,
                "ike_sniff_capture_received",
                "Packets the kernel's filter passed (libpcap ps_recv; 32-bit, it wraps)",
                &[(vec![], c.received)],
            )?;
            counters(
                &mut enc,
                "ike_sniff_capture_dropped",
                "Packets lost before ike-sniff saw them: by=kernel (buffer full) or by=interface",
                &[
                    (vec![("by", "kernel".into())], c.dropped_kernel),
                    (vec![("by", "interface".into())], c.dropped_interface),
                ],
            )?;
        }
        counters(
            &mut enc,
            "ike_sniff_decoded_packets",
            "IPsec-related packets decoded",
            &[(vec![], s.decoded_packets)],
        )?;
        counters(
            &mut enc,
            "ike_sniff_malformed_packets",
            "Packets that did not decode",
            &[(vec![], s.malformed_packets)],
        )?;
        let entries: Vec<(Labels, f64)> = s
            .tables
            .iter()
            .filter_map(|t| {
                t.entries
                    .map(|n| (vec![("table", t.table.into())], n as f64))
            })
            .collect();
        gauges(
            &mut enc,
            "ike_sniff_tracker_entries",
            "Entries in the tracker's tables now",
            &entries,
        )?;
        let evicted: Vec<(Labels, u64)> = s
            .tables
            .iter()
            .map(|t| (vec![("table", t.table.into())], t.evicted))
            .collect();
        counters(
            &mut enc,
            "ike_sniff_tracker_evictions",
            "Entries evicted because a table reached its cap (analysis about them may be incomplete)",
            &evicted,
        )
    }
}
