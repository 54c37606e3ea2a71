//! Per-packet output: one tcpdump-style line per IKE message, ICMP error, keepalive and IKE
//! fragment (and ESP: the first packet of each SPI, every packet with `-v`), or the same as
//! `{"type":"packet"}` JSON lines.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::decode::icmp;
use crate::decode::ike::{
    self, AttributeValue, IkeMessage, Payload, PayloadBody, Proposal, names, v1_flags, v2_flags,
};
use crate::event::{Body, Event, Flow, Timestamp};
use crate::track::esp::EspKey;

/// Remembering every ESP SPI ever printed would grow without bound on a flood of random SPIs;
/// past this many the set is cleared and first packets may be printed again.
const ESP_SEEN_CAP: usize = 65_536;

#[derive(Clone, Copy, Debug, Default)]
pub struct PacketOptions {
    pub json: bool,
    pub verbose: u8,
    /// tcpdump's `-#`: print the frame number first.
    pub frame_numbers: bool,
}

pub struct PacketPrinter {
    opts: PacketOptions,
    esp_seen: HashSet<EspKey, crate::hash::KeyedHashState>,
    line: String,
}

impl PacketPrinter {
    pub fn new(opts: PacketOptions) -> Self {
        PacketPrinter {
            opts,
            esp_seen: HashSet::default(),
            line: String::with_capacity(256),
        }
    }

    /// Whether this event gets a line at all (ESP only the first time its SPI is seen unless -v).
    /// The only stateful part of printing: [`PacketPrinter::render`] depends on the event alone.
    pub fn wants(&mut self, ev: &Event) -> bool {
        if let Some(wants) = self.wants_alone(ev) {
            return wants;
        }
        let Body::Esp(e) = &ev.body else {
            unreachable!("only ESP lines depend on the packets before")
        };
        if self.esp_seen.len() >= ESP_SEEN_CAP {
            self.esp_seen.clear();
        }
        self.esp_seen.insert(EspKey::sent(&ev.flow, e.spi))
    }

    /// [`PacketPrinter::wants`] when the event alone decides it; `None` for an ESP packet
    /// without `-v`, whose line depends on the packets before it.
    pub fn wants_alone(&self, ev: &Event) -> Option<bool> {
        match &ev.body {
            Body::Esp(_) if self.opts.verbose == 0 => None,
            Body::Ah(_) | Body::Fragment(_) => Some(self.opts.verbose > 0),
            _ => Some(true),
        }
    }

    pub fn write(&mut self, w: &mut dyn Write, ev: &Event) -> io::Result<()> {
        if !self.wants(ev) {
            return Ok(());
        }
        self.render(w, ev)
    }

    /// The event's line, whether or not [`PacketPrinter::wants`] it.
    pub fn render(&mut self, w: &mut dyn Write, ev: &Event) -> io::Result<()> {
        if self.opts.json {
            if let Some(done) = write_packet_json(w, ev, self.opts.verbose) {
                return done;
            }
            let v = event_json(ev, self.opts.verbose);
            serde_json::to_writer(&mut *w, &v)?;
            return w.write_all(b"\n");
        }
        self.line.clear();
        text_line(&mut self.line, ev, self.opts);
        w.write_all(self.line.as_bytes())
    }
}

pub fn ts_json(ts: Timestamp) -> Value {
    json!(ts_seconds(ts))
}

/// Microseconds as a number keeps jq and spreadsheets happy; nanoseconds would not survive f64.
fn ts_seconds(ts: Timestamp) -> f64 {
    let micros = ts.secs as f64 + f64::from(ts.nanos / 1000) / 1e6;
    (micros * 1e6).round() / 1e6
}

/// tcpdump's default time format (UTC), so lines line up with `tcpdump -r`.
pub fn clock(ts: Timestamp) -> String {
    let sod = ts.secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ts.nanos / 1000
    )
}

pub fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn flow_text(out: &mut String, flow: &Flow) {
    if flow.sport == 0 && flow.dport == 0 {
        let _ = write!(out, "{} > {}", flow.src, flow.dst);
    } else {
        let _ = write!(
            out,
            "{} > {}",
            endpoint(flow.src, flow.sport),
            endpoint(flow.dst, flow.dport)
        );
    }
}

fn text_line(out: &mut String, ev: &Event, opts: PacketOptions) {
    if opts.frame_numbers {
        let _ = write!(out, "{} ", ev.pkt.frame);
    }
    out.push_str(&clock(ev.pkt.ts));
    out.push(' ');
    flow_text(out, &ev.flow);
    out.push(' ');
    match &ev.body {
        Body::Ike(m) => ike_text(out, m, ev, opts.verbose),
        Body::Esp(e) => {
            let _ = write!(
                out,
                "{} spi {:#010x} seq {} len {}",
                if e.udp_encapsulated {
                    "ESP-in-UDP"
                } else {
                    "ESP"
                },
                e.spi,
                e.seq,
                e.len
            );
            if ev.ip.fragments > 0 {
                let _ = write!(out, " (reassembled from {} IP fragments)", ev.ip.fragments);
            }
            if opts.verbose == 0 {
                out.push_str(" (first packet of this SPI; the rest are counted)");
            }
        }
        Body::Ah(a) => {
            let _ = write!(out, "AH spi {:#010x} seq {}", a.spi, a.seq);
        }
        Body::NatKeepalive => out.push_str("NAT-keepalive"),
        Body::IcmpError(e) => {
            let _ = write!(
                out,
                "{} {}",
                if e.v6 { "ICMPv6" } else { "ICMP" },
                icmp::type_name(e.v6, e.icmp_type, e.code)
            );
            if let Some(mtu) = e.mtu {
                let _ = write!(out, " mtu {mtu}");
            }
            out.push_str(" quoting ");
            quoted_text(out, e);
        }
        Body::Fragment(f) => {
            let _ = write!(
                out,
                "IP fragment id {:#x} proto {} offset {} len {}{}",
                f.ident,
                f.proto,
                f.offset,
                f.data_len,
                if f.more_fragments { " +" } else { "" }
            );
        }
        Body::FragmentsIncomplete(inc) => {
            let _ = write!(
                out,
                "IP fragments id {:#x} never completed: {} fragment(s), {} bytes seen{}{} (frames {}-{})",
                inc.ident,
                inc.fragments_seen,
                inc.bytes_seen,
                if inc.had_first { "" } else { ", first missing" },
                if inc.had_last { "" } else { ", last missing" },
                inc.first_frame,
                inc.last_frame
            );
        }
        Body::Malformed(e) => {
            let _ = write!(out, "malformed: {e}");
        }
    }
    out.push('\n');
}

fn quoted_text(out: &mut String, e: &crate::event::IcmpError) {
    let q = &e.quoted;
    if let Some(f) = &q.flow {
        flow_text(out, f);
    }
    if let Some((i, r)) = q.ike_spis {
        let _ = write!(out, " IKE spi {i:016x}/{r:016x}");
        if let Some(mid) = q.ike_message_id {
            let _ = write!(out, " mid {mid}");
        }
    } else if let Some(spi) = q.esp_spi {
        let _ = write!(out, " ESP spi {spi:#010x}");
    }
    if q.total_len > 0 {
        let _ = write!(out, " len {}", q.total_len);
    }
    if q.dont_fragment && !e.v6 {
        out.push_str(" DF");
    }
}

fn ike_text(out: &mut String, m: &IkeMessage, ev: &Event, verbose: u8) {
    let exch = m
        .exchange_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("exchange-{}", m.exchange));
    let _ = write!(out, "IKEv{} {exch}", m.version);
    if m.version == 2 {
        out.push_str(if m.is_response() {
            " response"
        } else {
            " request"
        });
    }
    let _ = write!(
        out,
        " mid {} {} {:016x}/{:016x}",
        m.message_id,
        if m.version == 1 { "cky" } else { "spi" },
        m.ispi,
        m.rspi
    );
    if m.version == 1 && m.flags & v1_flags::ENCRYPTION != 0 {
        out.push_str(" encrypted");
    }
    // An encrypted IKEv1 message shows nothing but its header; empty brackets would suggest a
    // message without payloads.
    if !m.payloads.is_empty() || m.version != 1 || m.flags & v1_flags::ENCRYPTION == 0 {
        out.push_str(" [");
        for (i, p) in m.payloads.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            payload_label(out, m, p);
        }
        out.push(']');
    }
    let _ = write!(out, " len {}", m.length);
    if !m.reassembled_from.is_empty() {
        let _ = write!(
            out,
            " (reassembled from {} IKE fragments)",
            m.reassembled_from.len()
        );
    }
    if ev.ip.fragments > 0 {
        let _ = write!(out, " (reassembled from {} IP fragments)", ev.ip.fragments);
    }
    if ev.ip.incomplete {
        out.push_str(" (first IP fragment only: the rest never arrived)");
    }
    if let Some(e) = &m.error {
        let _ = write!(out, " [malformed: {e}]");
    }
    if verbose > 0 {
        for p in &m.payloads {
            payload_detail(out, m, p);
        }
    }
}

/// The short label of a payload in the one-line form.
fn payload_label(out: &mut String, m: &IkeMessage, p: &Payload) {
    match &p.body {
        PayloadBody::Notify(n) => {
            let _ = write!(out, "N({})", notify_label(m.version, n.notify_type));
        }
        PayloadBody::EncryptedFragment { number, total, .. } => {
            let _ = write!(out, "SKF({number}/{total})");
        }
        PayloadBody::Nonce { .. } if m.version == 2 => {
            out.push_str(if m.flags & v2_flags::INITIATOR != 0 {
                "Ni"
            } else {
                "Nr"
            });
        }
        _ => match names::payload_name(m.version, p.payload_type) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "#{}", p.payload_type);
            }
        },
    }
}

fn notify_label(version: u8, t: u16) -> String {
    names::notify_name(version, t)
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string())
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn transform_text(version: u8, protocol: u8, t: &ike::Transform) -> String {
    if version == 2 {
        let name = names::transform_id_name(t.transform_type, t.id)
            .map(str::to_string)
            .unwrap_or_else(|| format!("type{}:{}", t.transform_type, t.id));
        match t.attribute(14).and_then(AttributeValue::number) {
            Some(bits) => format!("{name}_{bits}"),
            None => name,
        }
    } else {
        let phase = if protocol == 1 { 1 } else { 2 };
        let mut parts = vec![
            names::v1_transform_id_name(protocol, t.id)
                .map(str::to_string)
                .unwrap_or_else(|| format!("id{}", t.id)),
        ];
        for a in &t.attributes {
            let attr = names::v1_attribute_name(phase, a.attr_type)
                .map(str::to_string)
                .unwrap_or_else(|| format!("attr{}", a.attr_type));
            let value = match &a.value {
                AttributeValue::Number(n) => names::v1_attribute_value_name(phase, a.attr_type, *n)
                    .map(str::to_string)
                    .unwrap_or_else(|| n.to_string()),
                AttributeValue::Bytes(len) => format!("<{len} bytes>"),
            };
            parts.push(format!("{attr}={value}"));
        }
        parts.join(" ")
    }
}

fn proposal_text(version: u8, p: &Proposal) -> String {
    let proto = names::protocol_name(version, p.protocol)
        .map(str::to_string)
        .unwrap_or_else(|| p.protocol.to_string());
    let transforms: Vec<String> = p
        .transforms
        .iter()
        .map(|t| transform_text(version, p.protocol, t))
        .collect();
    let spi = if p.spi.is_empty() {
        String::new()
    } else {
        format!(" spi {}", hex(&p.spi))
    };
    if version == 2 {
        format!("#{} {proto}{spi}: {}", p.number, transforms.join(" "))
    } else {
        format!("#{} {proto}{spi}: {}", p.number, transforms.join(" | "))
    }
}

fn payload_detail(out: &mut String, m: &IkeMessage, p: &Payload) {
    let v = m.version;
    out.push_str("\n    ");
    payload_label(out, m, p);
    out.push_str(": ");
    match &p.body {
        PayloadBody::Sa(props) => {
            for (i, pr) in props.iter().enumerate() {
                if i > 0 {
                    out.push_str("\n        ");
                }
                out.push_str(&proposal_text(v, pr));
            }
        }
        PayloadBody::Ke { group, data_len } => {
            if v == 2 {
                let _ = write!(
                    out,
                    "group {} ",
                    names::dh_group_name(*group)
                        .map(str::to_string)
                        .unwrap_or_else(|| group.to_string())
                );
            }
            let _ = write!(out, "{data_len} bytes");
        }
        PayloadBody::Nonce { len } => {
            let _ = write!(out, "{len} bytes");
        }
        PayloadBody::Notify(n) => {
            if let Some(p) = names::protocol_name(v, n.protocol) {
                let _ = write!(out, "protocol {p} ");
            }
            if !n.spi.is_empty() {
                let _ = write!(out, "spi {} ", hex(&n.spi));
            }
            let _ = write!(out, "type {}", n.notify_type);
            if !n.data.is_empty() {
                let _ = write!(out, " data {}", notify_data_text(v, n));
            }
        }
        PayloadBody::Delete(d) => {
            let _ = write!(
                out,
                "protocol {} spis [{}]",
                names::protocol_name(v, d.protocol)
                    .map(str::to_string)
                    .unwrap_or_else(|| d.protocol.to_string()),
                d.spis
                    .iter()
                    .map(|s| format!("{s:#x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        PayloadBody::VendorId(vid) => {
            let _ = write!(out, "{}", hex(vid));
            if let Some(name) = names::vendor_id_name(vid) {
                let _ = write!(out, " ({name})");
            }
        }
        PayloadBody::Id(id) => {
            let _ = write!(
                out,
                "{} {}",
                names::id_type_name(v, id.id_type)
                    .map(str::to_string)
                    .unwrap_or_else(|| id.id_type.to_string()),
                id_value_text(id)
            );
        }
        PayloadBody::Cert { encoding, len } | PayloadBody::CertReq { encoding, len } => {
            let _ = write!(
                out,
                "{} {len} bytes",
                names::cert_encoding_name(*encoding)
                    .map(str::to_string)
                    .unwrap_or_else(|| encoding.to_string())
            );
        }
        PayloadBody::Auth { method, len } => {
            let _ = write!(
                out,
                "{} {len} bytes",
                names::auth_method_name(*method)
                    .map(str::to_string)
                    .unwrap_or_else(|| method.to_string())
            );
        }
        PayloadBody::Hash { len } | PayloadBody::Signature { len } => {
            let _ = write!(out, "{len} bytes");
        }
        PayloadBody::TrafficSelectors(ts) => {
            for (i, t) in ts.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let addr = |a: &Option<IpAddr>| a.map(|a| a.to_string()).unwrap_or_default();
                let _ = write!(
                    out,
                    "{}-{} proto {} ports {}-{}",
                    addr(&t.start_addr),
                    addr(&t.end_addr),
                    t.ip_protocol,
                    t.start_port,
                    t.end_port
                );
            }
        }
        PayloadBody::Config {
            cfg_type,
            attributes,
        } => {
            let _ = write!(out, "type {cfg_type} attributes {attributes:?}");
        }
        PayloadBody::Eap {
            code,
            eap_type,
            len,
        } => {
            let _ = write!(out, "code {code}");
            if let Some(t) = eap_type {
                let _ = write!(out, " type {t}");
            }
            let _ = write!(out, " {len} bytes");
        }
        PayloadBody::Encrypted {
            inner_first_payload,
            len,
        } => {
            let _ = write!(
                out,
                "{len} bytes, first inner payload {inner_first_payload}"
            );
        }
        PayloadBody::EncryptedFragment {
            number,
            total,
            inner_first_payload,
            len,
        } => {
            let _ = write!(out, "fragment {number} of {total}, {len} bytes");
            if *number == 1 {
                let _ = write!(out, ", first inner payload {inner_first_payload}");
            }
        }
        PayloadBody::NatDiscovery(h) => out.push_str(&hex(h)),
        PayloadBody::NatOriginalAddress(a) => {
            if let Some(a) = a {
                let _ = write!(out, "{a}");
            }
        }
        PayloadBody::Other { len } => {
            let _ = write!(out, "{len} bytes");
        }
    }
}

fn id_value_text(id: &ike::Identification) -> String {
    match (id.id_type, id.data.len()) {
        (1, 4) => IpAddr::from([id.data[0], id.data[1], id.data[2], id.data[3]]).to_string(),
        (5, 16) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&id.data);
            IpAddr::from(b).to_string()
        }
        (2 | 3, _) => String::from_utf8_lossy(&id.data).into_owned(),
        _ => hex(&id.data),
    }
}

/// Notify data in the form an operator reads: INVALID_KE_PAYLOAD's group by name, the rest hex.
fn notify_data_text(version: u8, n: &ike::Notify) -> String {
    if version == 2 && n.notify_type == 17 && n.data.len() == 2 {
        let g = u16::from_be_bytes([n.data[0], n.data[1]]);
        return format!(
            "group {}",
            names::dh_group_name(g)
                .map(str::to_string)
                .unwrap_or_else(|| g.to_string())
        );
    }
    hex(&n.data)
}

fn flow_json(m: &mut Map<String, Value>, flow: &Flow) {
    m.insert("src".into(), json!(flow.src.to_string()));
    m.insert("dst".into(), json!(flow.dst.to_string()));
    m.insert("sport".into(), json!(flow.sport));
    m.insert("dport".into(), json!(flow.dport));
    m.insert("proto".into(), json!(flow.proto));
}

pub fn event_json(ev: &Event, verbose: u8) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("packet"));
    m.insert("frame".into(), json!(ev.pkt.frame));
    m.insert("ts".into(), ts_json(ev.pkt.ts));
    flow_json(&mut m, &ev.flow);
    m.insert("caplen".into(), json!(ev.pkt.caplen));
    m.insert("len".into(), json!(ev.pkt.origlen));
    if ev.ip.incomplete {
        m.insert("ip_incomplete".into(), json!(true));
    }
    if ev.ip.fragments > 0 {
        m.insert(
            "ip_reassembled".into(),
            json!({"fragments": ev.ip.fragments, "first_frame": ev.ip.first_fragment_frame, "total_len": ev.ip.total_len}),
        );
    }
    match &ev.body {
        Body::Ike(msg) => {
            m.insert("ike".into(), ike_json(msg, verbose));
        }
        Body::Esp(e) => {
            m.insert(
                "esp".into(),
                json!({"spi": format!("{:08x}", e.spi), "seq": e.seq, "len": e.len, "udp_encapsulated": e.udp_encapsulated}),
            );
        }
        Body::Ah(a) => {
            m.insert(
                "ah".into(),
                json!({"spi": format!("{:08x}", a.spi), "seq": a.seq, "next_header": a.next_header}),
            );
        }
        Body::NatKeepalive => {
            m.insert("nat_keepalive".into(), json!(true));
        }
        Body::IcmpError(e) => {
            let q = &e.quoted;
            let mut quoted = Map::new();
            if let Some(f) = &q.flow {
                flow_json(&mut quoted, f);
            }
            quoted.insert("ip_id".into(), json!(q.ident));
            quoted.insert("len".into(), json!(q.total_len));
            quoted.insert("df".into(), json!(q.dont_fragment));
            if let Some((i, r)) = q.ike_spis {
                quoted.insert("ispi".into(), json!(format!("{i:016x}")));
                quoted.insert("rspi".into(), json!(format!("{r:016x}")));
            }
            if let Some(mid) = q.ike_message_id {
                quoted.insert("message_id".into(), json!(mid));
            }
            if let Some(spi) = q.esp_spi {
                quoted.insert("esp_spi".into(), json!(format!("{spi:08x}")));
            }
            if let Some(t) = q.truncated_at {
                quoted.insert("truncated_at".into(), json!(t));
            }
            m.insert(
                "icmp".into(),
                json!({
                    "version": if e.v6 { 6 } else { 4 },
                    "type": e.icmp_type,
                    "code": e.code,
                    "name": icmp::type_name(e.v6, e.icmp_type, e.code),
                    "mtu": e.mtu,
                    "quoted": quoted,
                }),
            );
        }
        Body::Fragment(f) => {
            m.insert(
                "ip_fragment".into(),
                json!({"id": f.ident, "offset": f.offset, "more": f.more_fragments, "len": f.data_len, "proto": f.proto}),
            );
        }
        Body::FragmentsIncomplete(inc) => {
            m.insert(
                "ip_fragments_incomplete".into(),
                json!({"id": inc.ident, "proto": inc.proto, "first_frame": inc.first_frame, "last_frame": inc.last_frame,
                       "fragments_seen": inc.fragments_seen, "bytes_seen": inc.bytes_seen,
                       "had_first": inc.had_first, "had_last": inc.had_last}),
            );
        }
        Body::Malformed(e) => {
            m.insert("error".into(), json!(e));
        }
    }
    Value::Object(m)
}

fn ike_json(msg: &IkeMessage, verbose: u8) -> Value {
    let v = msg.version;
    let mut payload_names = Vec::with_capacity(msg.payloads.len());
    let mut notifies = Vec::new();
    let mut details = Vec::new();
    for p in &msg.payloads {
        let mut label = String::new();
        payload_label(&mut label, msg, p);
        payload_names.push(label);
        if let PayloadBody::Notify(n) = &p.body {
            let mut o = json!({
                "type": n.notify_type,
                "name": names::notify_name(v, n.notify_type),
                "error": names::is_error_notify(v, n.notify_type),
                "protocol": n.protocol,
                "data": hex(&n.data),
            });
            if !n.spi.is_empty() {
                o["spi"] = json!(hex(&n.spi));
            }
            if v == 2 && n.notify_type == 17 && n.data.len() == 2 {
                o["group"] = json!(u16::from_be_bytes([n.data[0], n.data[1]]));
            }
            notifies.push(o);
        }
        if verbose > 0 {
            details.push(payload_json(v, p));
        }
    }
    let mut o = json!({
        "version": v,
        "ispi": format!("{:016x}", msg.ispi),
        "rspi": format!("{:016x}", msg.rspi),
        "exchange_type": msg.exchange,
        "exchange": msg.exchange_name(),
        "message_id": msg.message_id,
        "flags": if v == 2 {
            json!({"initiator": msg.flags & v2_flags::INITIATOR != 0, "response": msg.is_response(), "version": msg.flags & v2_flags::VERSION != 0})
        } else {
            json!({"encryption": msg.flags & v1_flags::ENCRYPTION != 0, "commit": msg.flags & v1_flags::COMMIT != 0, "auth_only": msg.flags & v1_flags::AUTH_ONLY != 0})
        },
        "length": msg.length,
        "encrypted": msg.encrypted,
        "non_esp_marker": msg.non_esp_marker,
        "payloads": payload_names,
        "notifies": notifies,
    });
    if !msg.reassembled_from.is_empty() {
        o["reassembled_from"] = json!(msg.reassembled_from);
    }
    if let Some(e) = &msg.error {
        o["error"] = json!(e);
    }
    if verbose > 0 {
        o["details"] = json!(details);
    }
    o
}

fn payload_json(v: u8, p: &Payload) -> Value {
    let mut o = json!({"type": p.payload_type, "name": names::payload_name(v, p.payload_type), "length": p.length});
    match &p.body {
        PayloadBody::Sa(props) => {
            o["proposals"] = json!(
                props
                    .iter()
                    .map(|pr| json!({
                        "number": pr.number,
                        "protocol": pr.protocol,
                        "spi": hex(&pr.spi),
                        "text": proposal_text(v, pr),
                        "transforms": pr.transforms.iter().map(|t| json!({
                            "type": t.transform_type,
                            "id": t.id,
                            "name": if v == 2 { names::transform_id_name(t.transform_type, t.id) } else { names::v1_transform_id_name(pr.protocol, t.id) },
                            "attributes": t.attributes.iter().map(|a| json!({
                                "type": a.attr_type,
                                "value": match a.value { AttributeValue::Number(n) => json!(n), AttributeValue::Bytes(l) => json!({"bytes": l}) },
                            })).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    }))
                    .collect::<Vec<_>>()
            );
        }
        PayloadBody::Ke { group, data_len } => {
            o["group"] = json!(group);
            o["data_len"] = json!(data_len);
        }
        PayloadBody::VendorId(vid) => {
            o["vendor_id"] = json!(hex(vid));
            o["vendor"] = json!(names::vendor_id_name(vid));
        }
        PayloadBody::Id(id) => {
            o["id_type"] = json!(id.id_type);
            o["id"] = json!(id_value_text(id));
        }
        PayloadBody::TrafficSelectors(ts) => o["selectors"] = json!(ts),
        PayloadBody::Auth { method, len } => {
            o["method"] = json!(method);
            o["data_len"] = json!(len);
        }
        PayloadBody::EncryptedFragment { number, total, .. } => {
            o["fragment"] = json!(number);
            o["total"] = json!(total);
        }
        PayloadBody::NatDiscovery(h) => o["hash"] = json!(hex(h)),
        PayloadBody::Delete(d) => {
            o["protocol"] = json!(d.protocol);
            o["spis"] = json!(d.spis.iter().map(|s| format!("{s:x}")).collect::<Vec<_>>());
        }
        _ => {}
    }
    o
}

// Streaming JSON for the common lines.
//
// IKE messages (without -v), ESP and NAT-keepalives are nearly every line a busy gateway's capture
// yields. Building a `Value` tree for each took about 5 µs a line (allocating every key and
// value, then freeing them), a quarter of a `--json` run on the benchmark mix; these structs
// serialize straight to the writer instead. Their fields are declared in sorted order, the order
// `serde_json::Map` gives `event_json`'s output, so the bytes are the same (a test below checks
// it on every public capture).

/// Writes the line for `ev` if it is one of the common kinds; None leaves it to `event_json`.
fn write_packet_json(w: &mut dyn Write, ev: &Event, verbose: u8) -> Option<io::Result<()>> {
    let (esp, ike, nat_keepalive) = match &ev.body {
        Body::Esp(e) => (
            Some(EspLine {
                len: e.len,
                seq: e.seq,
                spi: Hex32(e.spi),
                udp_encapsulated: e.udp_encapsulated,
            }),
            None,
            None,
        ),
        Body::Ike(m) if verbose == 0 => (None, Some(IkeLine::new(m)), None),
        Body::NatKeepalive => (None, None, Some(true)),
        _ => return None,
    };
    let line = PacketLine {
        caplen: ev.pkt.caplen,
        dport: ev.flow.dport,
        dst: Shown(ev.flow.dst),
        esp,
        frame: ev.pkt.frame,
        ike,
        ip_incomplete: ev.ip.incomplete.then_some(true),
        ip_reassembled: (ev.ip.fragments > 0).then_some(Reassembled {
            first_frame: ev.ip.first_fragment_frame,
            fragments: ev.ip.fragments,
            total_len: ev.ip.total_len,
        }),
        len: ev.pkt.origlen,
        nat_keepalive,
        proto: ev.flow.proto,
        sport: ev.flow.sport,
        src: Shown(ev.flow.src),
        ts: ts_seconds(ev.pkt.ts),
        kind: "packet",
    };
    Some(
        serde_json::to_writer(&mut *w, &line)
            .map_err(io::Error::from)
            .and_then(|()| w.write_all(b"\n")),
    )
}

#[derive(Serialize)]
struct PacketLine<'a> {
    caplen: u32,
    dport: u16,
    dst: Shown<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    esp: Option<EspLine>,
    frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ike: Option<IkeLine<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_incomplete: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_reassembled: Option<Reassembled>,
    len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    nat_keepalive: Option<bool>,
    proto: u8,
    sport: u16,
    src: Shown<IpAddr>,
    ts: f64,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Reassembled {
    first_frame: u64,
    fragments: u16,
    total_len: u32,
}

#[derive(Serialize)]
struct EspLine {
    len: u32,
    seq: u32,
    spi: Hex32,
    udp_encapsulated: bool,
}

#[derive(Serialize)]
struct IkeLine<'a> {
    encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    exchange: Option<&'static str>,
    exchange_type: u8,
    flags: IkeFlags,
    ispi: Hex64,
    length: u32,
    message_id: u32,
    non_esp_marker: bool,
    notifies: Vec<NotifyLine<'a>>,
    payloads: Vec<String>,
    #[serde(skip_serializing_if = "<[u64]>::is_empty")]
    reassembled_from: &'a [u64],
    rspi: Hex64,
    version: u8,
}

impl<'a> IkeLine<'a> {
    fn new(msg: &'a IkeMessage) -> Self {
        let v = msg.version;
        let mut payloads = Vec::with_capacity(msg.payloads.len());
        let mut notifies = Vec::new();
        for p in &msg.payloads {
            let mut label = String::new();
            payload_label(&mut label, msg, p);
            payloads.push(label);
            if let PayloadBody::Notify(n) = &p.body {
                notifies.push(NotifyLine {
                    data: HexBytes(&n.data),
                    error: names::is_error_notify(v, n.notify_type),
                    group: (v == 2 && n.notify_type == 17 && n.data.len() == 2)
                        .then(|| u16::from_be_bytes([n.data[0], n.data[1]])),
                    name: names::notify_name(v, n.notify_type),
                    protocol: n.protocol,
                    spi: (!n.spi.is_empty()).then_some(HexBytes(&n.spi)),
                    notify_type: n.notify_type,
                });
            }
        }
        IkeLine {
            encrypted: msg.encrypted,
            error: msg.error.as_ref().map(|e| json!(e)),
            exchange: msg.exchange_name(),
            exchange_type: msg.exchange,
            flags: if v == 2 {
                IkeFlags::V2 {
                    initiator: msg.flags & v2_flags::INITIATOR != 0,
                    response: msg.is_response(),
                    version: msg.flags & v2_flags::VERSION != 0,
                }
            } else {
                IkeFlags::V1 {
                    auth_only: msg.flags & v1_flags::AUTH_ONLY != 0,
                    commit: msg.flags & v1_flags::COMMIT != 0,
                    encryption: msg.flags & v1_flags::ENCRYPTION != 0,
                }
            },
            ispi: Hex64(msg.ispi),
            length: msg.length,
            message_id: msg.message_id,
            non_esp_marker: msg.non_esp_marker,
            notifies,
            payloads,
            reassembled_from: &msg.reassembled_from,
            rspi: Hex64(msg.rspi),
            version: v,
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum IkeFlags {
    V2 {
        initiator: bool,
        response: bool,
        version: bool,
    },
    V1 {
        auth_only: bool,
        commit: bool,
        encryption: bool,
    },
}

#[derive(Serialize)]
struct NotifyLine<'a> {
    data: HexBytes<'a>,
    error: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<u16>,
    name: Option<&'static str>,
    protocol: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    spi: Option<HexBytes<'a>>,
    #[serde(rename = "type")]
    notify_type: u16,
}

/// A value written as a JSON string through its `Display` (no intermediate `String`).
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

struct Hex32(u32);

impl Serialize for Hex32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:08x}", self.0))
    }
}

struct Hex64(u64);

impl Serialize for Hex64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:016x}", self.0))
    }
}

struct HexBytes<'a>(&'a [u8]);

impl std::fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 128];
        for chunk in self.0.chunks(64) {
            for (i, b) in chunk.iter().enumerate() {
                buf[2 * i] = DIGITS[usize::from(b >> 4)];
                buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
            }
            let text = std::str::from_utf8(&buf[..2 * chunk.len()]).map_err(|_| std::fmt::Error)?;
            f.write_str(text)?;
        }
        Ok(())
    }
}

impl Serialize for HexBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::PacketSource;
    use crate::capture::file::FileSource;
    use crate::decode::Decoder;

    fn captures(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                captures(&p, out);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                out.push(p);
            }
        }
    }

    /// The streaming writer and `event_json` give the same bytes for every event of every
    /// capture shipped with the repository (broken ones included).
    #[test]
    fn streamed_lines_are_event_json_lines() {
        let mut paths = Vec::new();
        captures(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
            &mut paths,
        );
        assert!(paths.len() > 50);
        let mut streamed_lines = 0;
        for path in paths {
            let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
            let mut d = Decoder::new();
            let mut events = Vec::new();
            while let Ok(Some(raw)) = src.next_packet() {
                d.decode(&raw, &mut events);
            }
            d.finish(&mut events);
            for ev in &events {
                for verbose in [0, 1] {
                    let mut fast = Vec::new();
                    let Some(r) = write_packet_json(&mut fast, ev, verbose) else {
                        continue;
                    };
                    r.unwrap();
                    let mut slow = serde_json::to_vec(&event_json(ev, verbose)).unwrap();
                    slow.push(b'\n');
                    assert_eq!(
                        String::from_utf8(fast).unwrap(),
                        String::from_utf8(slow).unwrap(),
                        "{}: frame {}",
                        path.display(),
                        ev.pkt.frame
                    );
                    streamed_lines += 1;
                }
            }
        }
        assert!(streamed_lines > 500, "{streamed_lines}");
    }
}
