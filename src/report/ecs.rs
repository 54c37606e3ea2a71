//! `--json-format ecs`: every JSON line re-cast as an Elastic Common Schema (ECS 8.x) document,
//! so Filebeat, Vector or Fluent Bit can ship it into Elasticsearch or OpenSearch without an
//! ingest pipeline. It is made from the JSON line ike-sniff would have written, by a writer
//! placed in front of the output ([`EcsWriter`]): nothing is judged or decoded again.
//!
//! What goes where (docs/ecs.md has the full table):
//! - every document: `@timestamp`, `ecs.version`, `event.module` (`ike_sniff`),
//!   `event.dataset` (`ike_sniff.<line type>`), `event.kind`, `event.category`, `event.type`,
//!   `observer.product`/`observer.version`, `message`;
//! - packets: `source.ip/port`, `destination.ip/port`, `network.transport`,
//!   `network.iana_number`, `network.type`, `network.bytes`, `network.community_id`; the IKE
//!   decode under `ike.*`, the ESP header under `esp.*`, the rest under `ike_sniff.packet.*`;
//! - findings: `event.kind: alert`, `rule.id` (the finding kind), `rule.name` (its title),
//!   `rule.description`, `event.id`, `log.level`, `event.severity` (3 error, 2 warning,
//!   1 info), `event.start`/`event.end`, the peers as source and destination, `related.ip`,
//!   `network.community_id` when the peers carry ports (IKE over UDP); the rest under
//!   `ike_sniff.finding.*`; a `finding_cleared` line is `event.type: end`;
//! - any other line (meta, tunnel, verdict, summary, capture) whole under `ike_sniff.<type>`.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use serde_json::{Map, Value, json};

use super::community_id::community_id_v1;

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// Passes each complete line through [`to_ecs`]; a line that is not JSON passes unchanged.
pub struct EcsWriter<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> EcsWriter<W> {
    pub fn new(inner: W) -> Self {
        EcsWriter {
            inner,
            line: Vec::with_capacity(1024),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        match serde_json::from_slice::<Value>(&self.line) {
            Ok(v) => {
                serde_json::to_writer(&mut self.inner, &to_ecs(&v, now_epoch()))?;
                self.inner.write_all(b"\n")?;
            }
            Err(_) => {
                self.inner.write_all(&self.line)?;
                self.inner.write_all(b"\n")?;
            }
        }
        self.line.clear();
        Ok(())
    }
}

impl<W: Write> Write for EcsWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            self.emit()?;
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Epoch seconds as RFC 3339 UTC with microseconds.
fn rfc3339(epoch: f64) -> Option<String> {
    let micros = (epoch * 1e6).round() as i64;
    let ts = jiff::Timestamp::from_microsecond(micros).ok()?;
    Some(format!("{ts:.6}"))
}

fn transport(proto: u64) -> Option<&'static str> {
    Some(match proto {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        _ => return None,
    })
}

/// `"192.0.2.1:500"`, `"[2001:db8::1]:500"` or a bare address.
fn endpoint(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    s.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

fn put(doc: &mut Map<String, Value>, path: &str, v: Value) {
    let mut parts = path.split('.').peekable();
    let mut m = doc;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            m.insert(p.to_string(), v);
            return;
        }
        let e = m
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !e.is_object() {
            *e = Value::Object(Map::new());
        }
        m = e.as_object_mut().expect("object");
    }
}

fn title_of(kind: &str) -> Option<(&'static str, &'static str)> {
    crate::diagnose::catalogue()
        .iter()
        .find(|k| k.id == kind)
        .map(|k| (k.title, k.explanation))
}

/// One native JSON line as an ECS document. `now`: epoch seconds for lines that carry no time.
pub fn to_ecs(v: &Value, now: f64) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    let t = obj.get("type").and_then(Value::as_str).unwrap_or("unknown");
    let mut rest = obj.clone();
    rest.remove("type");
    let mut doc = Map::new();
    let ts = ["ts", "last_ts", "first_ts"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_f64))
        .unwrap_or(now);
    put(&mut doc, "@timestamp", json!(rfc3339(ts)));
    put(&mut doc, "ecs.version", json!(ECS_VERSION));
    put(&mut doc, "event.module", json!("ike_sniff"));
    put(&mut doc, "event.dataset", json!(format!("ike_sniff.{t}")));
    put(&mut doc, "observer.product", json!("ike-sniff"));
    put(
        &mut doc,
        "observer.version",
        json!(env!("CARGO_PKG_VERSION")),
    );
    match t {
        "packet" => packet(&mut doc, &mut rest),
        "finding" | "finding_cleared" => finding(&mut doc, &mut rest, t),
        _ => {
            let (kind, category, etype) = match t {
                "summary" | "capture" => ("metric", "network", "info"),
                "tunnel" => ("state", "network", "info"),
                _ => ("event", "process", "info"),
            };
            put(&mut doc, "event.kind", json!(kind));
            put(&mut doc, "event.category", json!([category]));
            put(&mut doc, "event.type", json!([etype]));
            if let Some(p) = obj.get("peers").and_then(Value::as_array) {
                put(&mut doc, "related.ip", Value::Array(p.clone()));
            }
            put(&mut doc, "message", json!(format!("ike-sniff {t}")));
            put(&mut doc, &format!("ike_sniff.{t}"), Value::Object(rest));
        }
    }
    Value::Object(doc)
}

fn packet(doc: &mut Map<String, Value>, rest: &mut Map<String, Value>) {
    put(doc, "event.kind", json!("event"));
    put(doc, "event.category", json!(["network"]));
    put(doc, "event.type", json!(["protocol"]));
    let src = rest.remove("src");
    let dst = rest.remove("dst");
    let sport = rest.remove("sport").and_then(|p| p.as_u64());
    let dport = rest.remove("dport").and_then(|p| p.as_u64());
    let proto = rest.remove("proto").and_then(|p| p.as_u64());
    let ports = match proto {
        Some(6 | 17 | 132) => sport.zip(dport),
        _ => None,
    };
    if let Some(s) = &src {
        put(doc, "source.ip", s.clone());
    }
    if let Some(d) = &dst {
        put(doc, "destination.ip", d.clone());
    }
    if let Some((s, d)) = ports {
        put(doc, "source.port", json!(s));
        put(doc, "destination.port", json!(d));
    }
    if let Some(p) = proto {
        put(doc, "network.iana_number", json!(p.to_string()));
        if let Some(name) = transport(p) {
            put(doc, "network.transport", json!(name));
        }
    }
    if let Some(len) = rest.remove("len") {
        put(doc, "network.bytes", len);
    }
    let addrs = src
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<IpAddr>().ok())
        .zip(
            dst.as_ref()
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
        );
    if let (Some((s, d)), Some(p)) = (addrs, proto) {
        put(
            doc,
            "network.type",
            json!(if s.is_ipv4() { "ipv4" } else { "ipv6" }),
        );
        let ports = ports.map(|(a, b)| (a as u16, b as u16));
        put(
            doc,
            "network.community_id",
            json!(community_id_v1(0, s, d, p as u8, ports)),
        );
    }
    let mut message = String::new();
    if let Some(ike) = rest.remove("ike") {
        put(doc, "network.protocol", json!("ike"));
        message = format!(
            "IKEv{} {} {}",
            ike["version"].as_u64().unwrap_or(0),
            ike["exchange"].as_str().unwrap_or("?"),
            if ike["flags"]["response"] == true {
                "response"
            } else {
                "request"
            }
        );
        put(doc, "ike", ike);
    }
    if let Some(esp) = rest.remove("esp") {
        message = format!(
            "ESP SPI {} seq {}",
            esp["spi"].as_str().unwrap_or("?"),
            esp["seq"].as_u64().unwrap_or(0)
        );
        put(doc, "esp", esp);
    }
    if message.is_empty() {
        message = "IPsec-related packet".into();
    }
    let from = src.as_ref().and_then(Value::as_str).unwrap_or("?");
    let to = dst.as_ref().and_then(Value::as_str).unwrap_or("?");
    put(doc, "message", json!(format!("{message} {from} > {to}")));
    put(doc, "ike_sniff.packet", Value::Object(std::mem::take(rest)));
}

fn finding(doc: &mut Map<String, Value>, rest: &mut Map<String, Value>, t: &str) {
    put(doc, "event.kind", json!("alert"));
    put(
        doc,
        "event.category",
        json!(["network", "intrusion_detection"]),
    );
    let update = rest.get("update") == Some(&Value::Bool(true));
    let etype = match (t, update) {
        ("finding_cleared", _) => "end",
        (_, true) => "change",
        _ => "start",
    };
    put(doc, "event.type", json!([etype]));
    if let Some(id) = rest.get("id") {
        put(doc, "event.id", id.clone());
    }
    if let Some(kind) = rest.get("kind").and_then(Value::as_str) {
        put(doc, "rule.id", json!(kind));
        if let Some((title, explanation)) = title_of(kind) {
            put(doc, "rule.name", json!(title));
            put(doc, "rule.description", json!(explanation));
        }
    }
    if let Some(sev) = rest.get("severity").and_then(Value::as_str) {
        put(doc, "log.level", json!(sev));
        let n = match sev {
            "error" => 3,
            "warning" => 2,
            _ => 1,
        };
        put(doc, "event.severity", json!(n));
    }
    for (k, ecs) in [("first_ts", "event.start"), ("last_ts", "event.end")] {
        if let Some(s) = rest.get(k).and_then(Value::as_f64).and_then(rfc3339) {
            put(doc, ecs, json!(s));
        }
    }
    let peers: Vec<(IpAddr, Option<u16>)> = rest
        .get("peers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().and_then(endpoint))
                .collect()
        })
        .unwrap_or_default();
    if let [(a, ap), (b, bp)] = peers[..] {
        put(doc, "source.ip", json!(a));
        put(doc, "destination.ip", json!(b));
        put(doc, "related.ip", json!([a, b]));
        if let (Some(ap), Some(bp)) = (ap, bp) {
            put(doc, "source.port", json!(ap));
            put(doc, "destination.port", json!(bp));
            // Ports on a finding's peers are IKE's: UDP.
            put(doc, "network.transport", json!("udp"));
            put(
                doc,
                "network.community_id",
                json!(community_id_v1(0, a, b, 17, Some((ap, bp)))),
            );
        }
    }
    let message = rest
        .get("summary")
        .or_else(|| rest.get("reason"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string());
    let message = if t == "finding_cleared" {
        format!(
            "cleared: {} ({message})",
            rest.get("kind").and_then(Value::as_str).unwrap_or("?")
        )
    } else {
        message
    };
    put(doc, "message", json!(message));
    put(
        doc,
        "ike_sniff.finding",
        Value::Object(std::mem::take(rest)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_line() {
        let line: Value = serde_json::from_str(
            r#"{"type":"packet","caplen":506,"dport":500,"dst":"198.51.100.20","frame":59,"ike":{"exchange":"IKE_SA_INIT","flags":{"response":false},"version":2},"len":506,"proto":17,"sport":500,"src":"192.0.2.10","ts":1795456042.000001}"#,
        )
        .unwrap();
        let d = to_ecs(&line, 0.0);
        assert_eq!(d["@timestamp"], "2026-11-23T17:47:22.000001Z");
        assert_eq!(d["event"]["kind"], "event");
        assert_eq!(d["source"]["ip"], "192.0.2.10");
        assert_eq!(d["destination"]["port"], 500);
        assert_eq!(d["network"]["transport"], "udp");
        assert_eq!(d["network"]["protocol"], "ike");
        assert_eq!(d["ike"]["exchange"], "IKE_SA_INIT");
        assert_eq!(d["ike_sniff"]["packet"]["frame"], 59);
        assert_eq!(
            d["network"]["community_id"],
            community_id_v1(
                0,
                "192.0.2.10".parse().unwrap(),
                "198.51.100.20".parse().unwrap(),
                17,
                Some((500, 500))
            )
        );
        assert_eq!(
            d["message"],
            "IKEv2 IKE_SA_INIT request 192.0.2.10 > 198.51.100.20"
        );
    }

    #[test]
    fn a_finding_line() {
        let line: Value = serde_json::from_str(
            r#"{"type":"finding","id":"ab54c7e602ef48f1","kind":"dead_peer","severity":"error","peers":["192.0.2.10:4500","[2001:db8::1]:4500"],"first_ts":1.0,"last_ts":2.5,"summary":"the peer is gone"}"#,
        )
        .unwrap();
        let d = to_ecs(&line, 0.0);
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(d["event"]["type"][0], "start");
        assert_eq!(d["rule"]["id"], "dead_peer");
        assert!(d["rule"]["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert_eq!(d["log"]["level"], "error");
        assert_eq!(d["destination"]["ip"], "2001:db8::1");
        assert_eq!(d["source"]["port"], 4500);
        assert_eq!(d["message"], "the peer is gone");
        assert_eq!(d["@timestamp"], "1970-01-01T00:00:02.500000Z");
        assert!(d["network"]["community_id"].as_str().is_some());
    }

    #[test]
    fn the_writer_converts_lines_split_anywhere() {
        let mut out = Vec::new();
        {
            let mut w = EcsWriter::new(&mut out);
            w.write_all(b"{\"type\":\"me").unwrap();
            w.write_all(b"ta\"}\nnot json\n").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let first: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(first["event"]["dataset"], "ike_sniff.meta");
        assert_eq!(lines.next(), Some("not json"));
    }
}
