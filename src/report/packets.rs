//! Per-packet output: one tcpdump-style line per IKE message, ICMP error, keepalive and IKE
//! fragment (and ESP: the first packet of each SPI, every packet with `-v`), or the same as
//! `{"type":"packet"}` JSON lines.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::{Serialize, Serializer};

use super::OutputOptions;
use crate::event::ike::{
    self, AttributeValue, Decrypted, IkeMessage, Payload, PayloadBody, Proposal, v1_flags, v2_flags,
};
use crate::event::names;
use crate::event::{Body, DecodeError, EspDecrypted, Event, Flow, Integrity, TcpInfo};
use crate::track::esp::EspKey;

use super::fmt::{Addr, EpochF64, Hex32, Hex64, HexBytes, HexNum, Shown, hex_fixed};
use super::jsonw::{self, Obj};
use super::paint;
use super::time::Stamper;

/// Remembering every ESP SPI ever printed would grow without bound on a flood of random SPIs;
/// past this many the set is cleared and first packets may be printed again.
const ESP_SEEN_CAP: usize = 65_536;

pub struct PacketPrinter {
    opts: OutputOptions,
    esp_seen: HashSet<EspKey, crate::hash::KeyedHashState>,
    line: String,
    /// A JSON line is serialized here and written in one call: serde_json writes each key,
    /// quote and value separately, and each of those through `dyn Write` cost a call and a copy.
    json: Vec<u8>,
    stamper: Stamper,
}

impl PacketPrinter {
    pub fn new(opts: OutputOptions) -> Self {
        PacketPrinter {
            opts,
            esp_seen: HashSet::default(),
            line: String::with_capacity(256),
            json: Vec::with_capacity(1024),
            stamper: Stamper::new(opts.time, opts.utc),
        }
    }

    /// Every event, printed or not, in capture order: the time column counts from the first.
    pub fn observe(&mut self, ev: &Event) {
        self.stamper.observe(ev.pkt.ts);
    }

    /// Whether a line depends on the lines printed before it (`-ttt`): then every line is
    /// rendered in order by the thread that decides which ESP packets print.
    pub fn in_order_only(&self) -> bool {
        self.stamper.depends_on_previous_line()
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
            // Kept for the leak check only: the capture's other traffic is not ours to list.
            Body::Plain(_) => Some(false),
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
            self.json.clear();
            write_packet_json(&mut self.json, ev, self.opts.verbose)?;
            return w.write_all(&self.json);
        }
        self.line.clear();
        text_line(&mut self.line, &mut self.stamper, ev, self.opts);
        w.write_all(self.line.as_bytes())
    }
}

pub fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn flow_text(out: &mut String, flow: &Flow) {
    if flow.sport == 0 && flow.dport == 0 {
        let _ = write!(out, "{} > {}", paint::addr(flow.src), paint::addr(flow.dst));
    } else {
        let _ = write!(
            out,
            "{} > {}",
            paint::addr(endpoint(flow.src, flow.sport)),
            paint::addr(endpoint(flow.dst, flow.dport))
        );
    }
}

fn text_line(out: &mut String, stamper: &mut Stamper, ev: &Event, opts: OutputOptions) {
    if opts.frame_numbers {
        let _ = write!(out, "{} ", ev.pkt.frame);
    }
    stamper.write(out, ev.pkt.ts);
    flow_text(out, &ev.flow);
    out.push(' ');
    let in_tcp = ev.flow.proto == crate::event::ipproto::TCP;
    match &ev.body {
        Body::Ike(m) => {
            if in_tcp {
                out.push_str("TCP ");
            }
            ike_text(out, m, ev, opts.verbose)
        }
        Body::Esp(e) => {
            let _ = write!(
                out,
                "{} spi {:#} seq {} len {}",
                if e.udp_encapsulated {
                    "ESP-in-UDP"
                } else if in_tcp {
                    "ESP-in-TCP"
                } else {
                    "ESP"
                },
                Hex32(e.spi),
                e.seq,
                e.len
            );
            if ev.ip.fragments > 0 {
                let _ = write!(out, " (reassembled from {} IP fragments)", ev.ip.fragments);
            }
            if let Some(d) = &e.decrypted {
                esp_inner_text(out, d);
            }
            if opts.verbose == 0 {
                out.push_str(" (first packet of this SPI; the rest are counted)");
            }
        }
        Body::Ah(a) => {
            let _ = write!(out, "AH spi {:#} seq {}", Hex32(a.spi), a.seq);
        }
        Body::NatKeepalive => out.push_str("NAT-keepalive"),
        Body::Plain(p) => {
            let _ = write!(out, "IP proto {} len {} (outside IPsec)", p.proto, p.len);
        }
        Body::IcmpError(e) => {
            let _ = write!(
                out,
                "{} {}",
                if e.v6 { "ICMPv6" } else { "ICMP" },
                names::icmp_type_name(e.v6, e.icmp_type, e.code)
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
        Body::Tcp(t) => tcp_text(out, t),
        Body::Malformed(e) => {
            let _ = write!(out, "malformed: {e}");
        }
    }
    out.push('\n');
}

/// tcpdump's notation for TCP flags: `S`, `S.`, `R.`, `F.`, `.` for a bare ACK.
fn tcp_flags(t: &TcpInfo) -> String {
    let mut f = String::with_capacity(4);
    for (set, c) in [(t.syn(), 'S'), (t.fin(), 'F'), (t.rst(), 'R')] {
        if set {
            f.push(c);
        }
    }
    if t.ack_flag() {
        f.push('.');
    }
    f
}

/// `TCP [S.] seq 1 ack 2 win 0 len 0, zero window` for a segment of an RFC 8229 connection.
fn tcp_text(out: &mut String, t: &TcpInfo) {
    let _ = write!(
        out,
        "TCP [{}] seq {} ack {} win {} len {}",
        tcp_flags(t),
        t.seq,
        t.ack,
        t.window,
        t.len
    );
    if t.prefix {
        out.push_str(", IKETCP stream prefix");
    }
    if t.resent {
        let _ = write!(out, ", resent by TCP");
        if t.resends_unacked > 1 {
            let _ = write!(out, " ({} times without ACK progress)", t.resends_unacked);
        }
    }
    if t.out_of_order {
        out.push_str(", out of order");
    }
    if t.lost > 0 {
        let _ = write!(
            out,
            ", {} stream bytes not captured or skipped, resynchronised",
            t.lost
        );
    }
    match t.zero_window {
        Some(true) => out.push_str(", zero window"),
        Some(false) => out.push_str(", window open again"),
        None => {}
    }
}

/// `{inner 10.1.0.1 > 10.2.0.1 TCP 40000 > 22 SYN mss 1460}` after an ESP packet's header.
fn esp_inner_text(out: &mut String, d: &EspDecrypted) {
    if d.integrity == Integrity::Failed {
        out.push_str(" {integrity check failed}");
        return;
    }
    let Some(p) = &d.inner else {
        let _ = write!(out, " {{next header {}}}", d.next_header);
        return;
    };
    let _ = write!(out, " {{inner {} > {} ", p.src, p.dst);
    match p.proto {
        6 => {
            let _ = write!(out, "TCP {} > {}", p.sport, p.dport);
            if let Some(f) = p.tcp_flags {
                for (bit, name) in [
                    (0x02, " SYN"),
                    (0x10, " ACK"),
                    (0x01, " FIN"),
                    (0x04, " RST"),
                ] {
                    if f & bit != 0 {
                        out.push_str(name);
                    }
                }
            }
            if let Some(mss) = p.tcp_mss {
                let _ = write!(out, " mss {mss}");
            }
        }
        17 => {
            let _ = write!(out, "UDP {} > {}", p.sport, p.dport);
        }
        1 | 58 => out.push_str(&names::icmp_label(
            p.proto == 58,
            p.sport as u8,
            p.dport as u8,
        )),
        n => {
            let _ = write!(out, "proto {n}");
        }
    }
    let _ = write!(out, " len {}", p.len);
    if d.integrity == Integrity::Unchecked {
        out.push_str(", integrity unchecked");
    }
    out.push('}');
}

fn quoted_text(out: &mut String, e: &crate::event::IcmpError) {
    let q = &e.quoted;
    if let Some(f) = &q.flow {
        flow_text(out, f);
    }
    if let Some((i, r)) = q.ike_spis {
        let _ = write!(out, " IKE spi {}/{}", Hex64(i), Hex64(r));
        if let Some(mid) = q.ike_message_id {
            let _ = write!(out, " mid {mid}");
        }
    } else if let Some(spi) = q.esp_spi {
        let _ = write!(out, " ESP spi {:#}", Hex32(spi));
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
        " mid {} {} {}/{}",
        m.message_id,
        if m.version == 1 { "cky" } else { "spi" },
        Hex64(m.ispi),
        Hex64(m.rspi)
    );
    if m.version == 1 && m.flags & v1_flags::ENCRYPTION != 0 {
        out.push_str(" encrypted");
        if let Some(d) = &m.decrypted {
            if d.integrity != Integrity::Failed {
                out.push(' ');
            }
            inner_text(out, m, d);
        }
    }
    // An encrypted IKEv1 message shows nothing but its header; empty brackets would suggest a
    // message without payloads.
    let (listed, not_listed) = listed_payloads(m);
    if !m.payloads.is_empty() || m.version != 1 || m.flags & v1_flags::ENCRYPTION == 0 {
        out.push_str(" [");
        for (i, p) in listed.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            payload_label(out, m, p);
            if m.version == 2
                && matches!(
                    p.body,
                    PayloadBody::Encrypted { .. } | PayloadBody::EncryptedFragment { .. }
                )
                && let Some(d) = &m.decrypted
            {
                inner_text(out, m, d);
            }
        }
        if not_listed > 0 {
            let _ = write!(out, " +{not_listed} more");
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
        for p in listed {
            payload_detail(out, m, p);
        }
        if let Some(d) = &m.decrypted {
            for p in &d.payloads[..d.payloads.len().min(MAX_LISTED_PAYLOADS)] {
                payload_detail(out, m, p);
            }
        }
        if not_listed > 0 {
            let _ = write!(out, "\n    ({not_listed} more payloads not listed)");
        }
    }
}

/// Payloads listed per message, in the packet line, `-v`'s details and the JSON. A real
/// message has a few dozen at most (IKE_AUTH with a certificate chain and vendor IDs); a
/// crafted one holds up to 16 383 empty payloads in 64 KiB, which listed in full under
/// `--json -v` turned 128 MB of input into 1.8 GB of output. Past the cap they are counted
/// (`+N more`, `payloads_not_listed`); the analysis still sees every one.
pub const MAX_LISTED_PAYLOADS: usize = 64;

/// Proposals listed per SA payload, transforms per proposal and attributes per transform, for
/// the same reason: real peers offer a dozen proposals (Windows) or two of 33 and 46 transforms
/// (strongSwan's defaults, in captures/public/), while 64 KiB of SA payload holds 8 000 empty
/// proposals or a transform of 16 000 attributes. Past the caps they are counted (`proposals_not_listed`,
/// `transforms_not_listed`, `attributes_not_listed`, `+N more`); the analysis sees them all.
pub const MAX_LISTED_PROPOSALS: usize = 16;
pub const MAX_LISTED_TRANSFORMS: usize = 64;
pub const MAX_LISTED_ATTRIBUTES: usize = 16;

/// The first `cap` of `v` and how many are left out.
fn listed<T>(v: &[T], cap: usize) -> (&[T], usize) {
    let n = v.len().min(cap);
    (&v[..n], v.len() - n)
}

/// The payloads to list and how many are left out.
fn listed_payloads(m: &IkeMessage) -> (&[Payload], usize) {
    let n = m.payloads.len().min(MAX_LISTED_PAYLOADS);
    (&m.payloads[..n], m.payloads.len() - n)
}

/// What keys revealed inside an encrypted message: `{IDi AUTH SA TSi TSr}`.
fn inner_text(out: &mut String, m: &IkeMessage, d: &Decrypted) {
    match d.integrity {
        Integrity::Failed => {
            out.push_str(if m.version == 1 {
                " {not decrypted: no key made a valid payload chain}"
            } else {
                " {integrity check failed}"
            });
            return;
        }
        Integrity::Ok | Integrity::Unchecked => {}
    }
    // An SKF fragment's inside is shown once, on the reassembled message.
    if m.payloads
        .iter()
        .any(|p| matches!(p.body, PayloadBody::EncryptedFragment { .. }))
    {
        return;
    }
    out.push('{');
    let n = d.payloads.len().min(MAX_LISTED_PAYLOADS);
    for (i, p) in d.payloads[..n].iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        payload_label(out, m, p);
    }
    if d.payloads.len() > n {
        let _ = write!(out, " +{} more", d.payloads.len() - n);
    }
    if let Some(e) = &d.error {
        let _ = write!(out, " [malformed: {e}]");
    }
    out.push('}');
}

/// The short label of a payload in the one-line form.
fn payload_label(out: &mut String, m: &IkeMessage, p: &Payload) {
    match &p.body {
        PayloadBody::Notify(n) => match n.notify_type.name(m.version) {
            Some(name) => {
                out.push_str("N(");
                out.push_str(name);
                out.push(')');
            }
            None => {
                let _ = write!(out, "N({})", n.notify_type);
            }
        },
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
        _ => match p.payload_type.name(m.version) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "#{}", p.payload_type);
            }
        },
    }
}

fn transform_text(version: u8, protocol: u8, t: &ike::Transform) -> String {
    if version == 2 {
        let name = names::transform_id_name(t.transform_type.0, t.id)
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
        let (attributes, more) = listed(&t.attributes, MAX_LISTED_ATTRIBUTES);
        for a in attributes {
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
        if more > 0 {
            parts.push(format!("+{more} more attributes"));
        }
        parts.join(" ")
    }
}

fn proposal_text(version: u8, p: &Proposal) -> String {
    let proto = names::protocol_name(version, p.protocol)
        .map(str::to_string)
        .unwrap_or_else(|| p.protocol.to_string());
    let (shown, more) = listed(&p.transforms, MAX_LISTED_TRANSFORMS);
    let mut transforms: Vec<String> = shown
        .iter()
        .map(|t| transform_text(version, p.protocol, t))
        .collect();
    if more > 0 {
        transforms.push(format!("+{more} more transforms"));
    }
    let spi = if p.spi.is_empty() {
        String::new()
    } else {
        format!(" spi {}", HexBytes(&p.spi))
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
            let (shown, more) = listed(props, MAX_LISTED_PROPOSALS);
            for (i, pr) in shown.iter().enumerate() {
                if i > 0 {
                    out.push_str("\n        ");
                }
                out.push_str(&proposal_text(v, pr));
            }
            if more > 0 {
                let _ = write!(out, "\n        ({more} more proposals not listed)");
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
                let _ = write!(out, "spi {} ", HexBytes(&n.spi));
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
                    .map(|s| format!("{:#}", HexNum(*s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        PayloadBody::VendorId(vid) => {
            let _ = write!(out, "{}", HexBytes(vid));
            if let Some(name) = names::vendor_id_name(vid) {
                let _ = write!(out, " ({name})");
            }
        }
        PayloadBody::Id(id) => {
            let _ = write!(
                out,
                "{} {}",
                id.id_type
                    .name(v)
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
        PayloadBody::NatDiscovery(h) => {
            let _ = write!(out, "{}", HexBytes(h));
        }
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
    id.value_text()
}

/// Notify data in the form an operator reads: INVALID_KE_PAYLOAD's group by name, the rest hex.
fn notify_data_text(version: u8, n: &ike::Notify) -> String {
    if version == 2
        && let Some(g) = n.invalid_ke_group()
    {
        return format!(
            "group {}",
            g.name()
                .map(str::to_string)
                .unwrap_or_else(|| g.to_string())
        );
    }
    HexBytes(&n.data).to_string()
}

// JSON lines.
//
// A busy gateway's capture yields a line for nearly every IKE message, ESP SPI and keepalive.
// Building a `serde_json::Value` tree for each took about 5 µs a line (allocating every key
// and value, then freeing them), a quarter of a `--json` run on the benchmark mix; these
// structs serialize straight to the writer instead.
//
// The schema was first written through `serde_json::Map`, which sorts keys, so every struct
// below declares its fields in sorted key order (the test `keys_are_sorted_everywhere` holds
// them to it). Optional keys are `Option`s skipped when `None`; a key that is always there but
// may be `null` is a plain `Option` (or `Option<Option<_>>` when it is only there sometimes).

fn write_packet_json(w: &mut Vec<u8>, ev: &Event, verbose: u8) -> io::Result<()> {
    // The line every packet gets, laid out by hand (see `jsonw`); its rarer objects are the
    // serialized structs below. Keys in sorted order, `type` first.
    let mut o = Obj::open(w);
    o.str("type", "packet")?;
    if let Body::Ah(a) = &ev.body {
        o.value(
            "ah",
            &AhLine {
                next_header: a.next_header,
                seq: a.seq,
                spi: Hex32(a.spi),
            },
        )?;
    }
    o.uint("caplen", ev.pkt.caplen);
    o.uint("dport", ev.flow.dport);
    o.addr("dst", ev.flow.dst)?;
    match &ev.body {
        Body::Malformed(e) => o.value("error", &ErrorLine(e))?,
        Body::Esp(e) => {
            let mut esp = Obj::open(o.raw("esp"));
            if let Some(d) = e.decrypted.as_deref() {
                esp.value("decrypted", &EspDecryptedLine::new(d))?;
            }
            esp.uint("len", e.len);
            esp.uint("seq", e.seq);
            let mut spi = [0u8; 8];
            esp.str("spi", hex_fixed(u64::from(e.spi), &mut spi))?;
            esp.bool("udp_encapsulated", e.udp_encapsulated);
            esp.close();
        }
        _ => {}
    }
    o.uint("frame", ev.pkt.frame);
    match &ev.body {
        Body::IcmpError(e) => o.value("icmp", &IcmpLine::new(e))?,
        Body::Ike(m) => ike_json(o.raw("ike"), m, verbose)?,
        Body::Fragment(f) => o.value(
            "ip_fragment",
            &FragmentLine {
                id: f.ident,
                len: f.data_len,
                more: f.more_fragments,
                offset: f.offset,
                proto: f.proto,
            },
        )?,
        Body::FragmentsIncomplete(inc) => o.value(
            "ip_fragments_incomplete",
            &IncompleteLine {
                bytes_seen: inc.bytes_seen,
                first_frame: inc.first_frame,
                fragments_seen: inc.fragments_seen,
                had_first: inc.had_first,
                had_last: inc.had_last,
                id: inc.ident,
                last_frame: inc.last_frame,
                proto: inc.proto,
            },
        )?,
        _ => {}
    }
    if ev.ip.incomplete {
        o.bool("ip_incomplete", true);
    }
    if ev.ip.fragments > 0 {
        o.value(
            "ip_reassembled",
            &Reassembled {
                first_frame: ev.ip.first_fragment_frame,
                fragments: ev.ip.fragments,
                total_len: ev.ip.total_len,
            },
        )?;
    }
    o.uint("len", ev.pkt.origlen);
    if let Body::NatKeepalive = &ev.body {
        o.bool("nat_keepalive", true);
    }
    o.uint("proto", ev.flow.proto);
    o.uint("sport", ev.flow.sport);
    o.addr("src", ev.flow.src)?;
    if let Body::Tcp(t) = &ev.body {
        o.value(
            "tcp",
            &TcpLine {
                ack: t.ack,
                flags: tcp_flags(t),
                len: t.len,
                lost: t.lost,
                out_of_order: t.out_of_order,
                prefix: t.prefix,
                resends_unacked: t.resends_unacked,
                resent: t.resent,
                seq: t.seq,
                window: t.window,
                zero_window: t.zero_window,
            },
        )?;
    }
    // "tcp" for IKE and ESP carried in TCP (RFC 8229); absent when UDP or IP carried it.
    if ev.flow.proto == crate::event::ipproto::TCP {
        o.str("transport", "tcp")?;
    }
    o.value("ts", &EpochF64(ev.pkt.ts))?;
    o.close();
    w.push(b'\n');
    Ok(())
}

/// The `ike` object of a packet line.
fn ike_json(w: &mut Vec<u8>, msg: &IkeMessage, verbose: u8) -> io::Result<()> {
    let v = msg.version;
    let (listed, payloads_not_listed) = listed_payloads(msg);
    let mut o = Obj::open(w);
    if let Some(d) = msg.decrypted.as_deref() {
        o.value("decrypted", &DecryptedLine::new(msg, d, verbose))?;
    }
    // With `-v` only.
    if verbose > 0 {
        let details: Vec<PayloadLine<'_>> = listed.iter().map(|p| PayloadLine::new(v, p)).collect();
        o.value("details", &details)?;
    }
    o.bool("encrypted", msg.encrypted);
    if let Some(e) = &msg.error {
        o.value("error", &ErrorLine(e))?;
    }
    o.opt_str("exchange", msg.exchange_name())?;
    o.uint("exchange_type", msg.exchange.0);
    let mut flags = Obj::open(o.raw("flags"));
    if v == 2 {
        flags.bool("initiator", msg.flags & v2_flags::INITIATOR != 0);
        flags.bool("response", msg.is_response());
        flags.bool("version", msg.flags & v2_flags::VERSION != 0);
    } else {
        flags.bool("auth_only", msg.flags & v1_flags::AUTH_ONLY != 0);
        flags.bool("commit", msg.flags & v1_flags::COMMIT != 0);
        flags.bool("encryption", msg.flags & v1_flags::ENCRYPTION != 0);
    }
    flags.close();
    let mut spi = [0u8; 16];
    o.str("ispi", hex_fixed(msg.ispi, &mut spi))?;
    o.uint("length", msg.length);
    o.uint("message_id", msg.message_id);
    o.bool("non_esp_marker", msg.non_esp_marker);
    o.value("notifies", &Notifies { version: v, listed })?;
    let labels = o.raw("payloads");
    labels.push(b'[');
    let mut label = String::new();
    for (i, p) in listed.iter().enumerate() {
        if i > 0 {
            labels.push(b',');
        }
        label.clear();
        payload_label(&mut label, msg, p);
        jsonw::string(labels, &label)?;
    }
    labels.push(b']');
    // Payloads past [`MAX_LISTED_PAYLOADS`], left out of `payloads`, `notifies` and `details`.
    if payloads_not_listed > 0 {
        o.uint("payloads_not_listed", payloads_not_listed);
    }
    if !msg.reassembled_from.is_empty() {
        o.value("reassembled_from", &msg.reassembled_from)?;
    }
    o.str("rspi", hex_fixed(msg.rspi, &mut spi))?;
    o.uint("version", v);
    o.close();
    Ok(())
}

#[derive(Serialize)]
struct TcpLine {
    ack: u32,
    flags: String,
    len: u32,
    lost: u32,
    out_of_order: bool,
    prefix: bool,
    resends_unacked: u16,
    resent: bool,
    seq: u32,
    window: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    zero_window: Option<bool>,
}

/// Where decoding stopped: the packet's own `error` and an IKE message's. The one place that
/// decides what an error object holds.
struct ErrorLine<'a>(&'a DecodeError);

/// `layer`, `offset`, `message`, plus `need`, `have` and `source` for a length error; keys
/// sorted like every other object of the report.
impl Serialize for ErrorLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let e = self.0;
        let len = e.len_error();
        let mut m = s.serialize_map(Some(if len.is_some() { 6 } else { 3 }))?;
        if let Some(l) = len {
            m.serialize_entry("have", &l.have)?;
        }
        m.serialize_entry("layer", e.layer.name())?;
        m.serialize_entry("message", &Shown(&e.kind))?;
        if let Some(l) = len {
            m.serialize_entry("need", &l.need)?;
        }
        m.serialize_entry("offset", &e.offset)?;
        if let Some(l) = len {
            m.serialize_entry("source", &l.source.name())?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct Reassembled {
    first_frame: u64,
    fragments: u16,
    total_len: u32,
}

#[derive(Serialize)]
struct EspDecryptedLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    inner: Option<InnerLine>,
    integrity: &'static str,
    next_header: u8,
}

impl EspDecryptedLine {
    fn new(d: &EspDecrypted) -> Self {
        EspDecryptedLine {
            inner: d.inner.as_ref().map(|p| InnerLine {
                dport: matches!(p.proto, 6 | 17).then_some(p.dport),
                dst: Addr(p.dst),
                len: p.len,
                proto: p.proto,
                sport: matches!(p.proto, 6 | 17).then_some(p.sport),
                src: Addr(p.src),
                tcp_flags: p.tcp_flags,
                tcp_mss: p.tcp_mss,
            }),
            integrity: d.integrity.name(),
            next_header: d.next_header,
        }
    }
}

#[derive(Serialize)]
struct InnerLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    dport: Option<u16>,
    dst: Addr,
    len: u32,
    proto: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    sport: Option<u16>,
    src: Addr,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_flags: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_mss: Option<u16>,
}

#[derive(Serialize)]
struct AhLine {
    next_header: u8,
    seq: u32,
    spi: Hex32,
}

#[derive(Serialize)]
struct FragmentLine {
    id: u32,
    len: u32,
    more: bool,
    offset: u32,
    proto: u8,
}

#[derive(Serialize)]
struct IncompleteLine {
    bytes_seen: u32,
    first_frame: u64,
    fragments_seen: u16,
    had_first: bool,
    had_last: bool,
    id: u32,
    last_frame: u64,
    proto: u8,
}

#[derive(Serialize)]
struct IcmpLine<'a> {
    code: u8,
    mtu: Option<u32>,
    name: &'a str,
    quoted: QuotedLine,
    #[serde(rename = "type")]
    icmp_type: u8,
    version: u8,
}

impl<'a> IcmpLine<'a> {
    fn new(e: &'a crate::event::IcmpError) -> Self {
        let q = &e.quoted;
        let flow = q.flow.as_ref();
        IcmpLine {
            code: e.code,
            mtu: e.mtu,
            name: names::icmp_type_name(e.v6, e.icmp_type, e.code),
            quoted: QuotedLine {
                df: q.dont_fragment,
                dport: flow.map(|f| f.dport),
                dst: flow.map(|f| Addr(f.dst)),
                esp_spi: q.esp_spi.map(Hex32),
                ip_id: q.ident,
                ispi: q.ike_spis.map(|(i, _)| Hex64(i)),
                len: q.total_len,
                message_id: q.ike_message_id,
                proto: flow.map(|f| f.proto),
                rspi: q.ike_spis.map(|(_, r)| Hex64(r)),
                sport: flow.map(|f| f.sport),
                src: flow.map(|f| Addr(f.src)),
                truncated_at: q.truncated_at,
            },
            icmp_type: e.icmp_type,
            version: if e.v6 { 6 } else { 4 },
        }
    }
}

/// The quoted packet: its flow keys are there only when the quote reached the addresses.
#[derive(Serialize)]
struct QuotedLine {
    df: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    esp_spi: Option<Hex32>,
    ip_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ispi: Option<Hex64>,
    len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proto: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rspi: Option<Hex64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated_at: Option<&'static str>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

// The labels and notifies of an IKE line are written straight from the message's payloads,
// with one scratch label for the whole list: collecting them first cost a `Vec`, a `String`
// per payload and a `Vec` of notifies for every IKE message printed.

/// The one-line labels of `listed` (`payloads`), as [`payload_label`] writes them.
struct Labels<'a> {
    msg: &'a IkeMessage,
    listed: &'a [Payload],
}

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.listed.len()))?;
        let mut label = String::new();
        for p in self.listed {
            label.clear();
            payload_label(&mut label, self.msg, p);
            seq.serialize_element(label.as_str())?;
        }
        seq.end()
    }
}

/// The notifies among `listed` (`notifies`).
struct Notifies<'a> {
    version: u8,
    listed: &'a [Payload],
}

impl Serialize for Notifies<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.version;
        s.collect_seq(self.listed.iter().filter_map(|p| match &p.body {
            PayloadBody::Notify(n) => Some(NotifyLine {
                data: HexBytes(&n.data),
                error: n.notify_type.is_error(),
                group: n.invalid_ke_group().filter(|_| v == 2).map(|g| g.0),
                name: n.notify_type.name(v),
                protocol: n.protocol,
                spi: (!n.spi.is_empty()).then_some(HexBytes(&n.spi)),
                notify_type: n.notify_type.0,
            }),
            _ => None,
        }))
    }
}

/// `ike.decrypted`: what keys revealed, in the shape of the outer message's lists.
#[derive(Serialize)]
struct DecryptedLine<'a> {
    /// With `-v` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Vec<PayloadLine<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorLine<'a>>,
    integrity: &'static str,
    notifies: Notifies<'a>,
    payloads: Labels<'a>,
    #[serde(skip_serializing_if = "is_zero")]
    payloads_not_listed: usize,
}

impl<'a> DecryptedLine<'a> {
    fn new(msg: &'a IkeMessage, d: &'a Decrypted, verbose: u8) -> Self {
        let n = d.payloads.len().min(MAX_LISTED_PAYLOADS);
        let listed = &d.payloads[..n];
        DecryptedLine {
            details: (verbose > 0).then(|| {
                listed
                    .iter()
                    .map(|p| PayloadLine::new(msg.version, p))
                    .collect()
            }),
            error: d.error.as_ref().map(ErrorLine),
            integrity: d.integrity.name(),
            notifies: Notifies {
                version: msg.version,
                listed,
            },
            payloads: Labels { msg, listed },
            payloads_not_listed: d.payloads.len() - n,
        }
    }
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

/// One payload of `-v`'s `details`: `length`, `name` and `type` for every payload, and the
/// keys of its kind of body; every other key is skipped.
#[derive(Default, Serialize)]
struct PayloadLine<'a> {
    /// KE, AUTH.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_len: Option<u32>,
    /// SKF.
    #[serde(skip_serializing_if = "Option::is_none")]
    fragment: Option<u16>,
    /// KE.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<u16>,
    /// NAT-D.
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<HexBytes<'a>>,
    /// ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_type: Option<u8>,
    length: u16,
    /// AUTH.
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<u8>,
    name: Option<&'static str>,
    /// SA.
    #[serde(skip_serializing_if = "Option::is_none")]
    proposals: Option<Vec<ProposalLine<'a>>>,
    /// SA: proposals past [`MAX_LISTED_PROPOSALS`].
    #[serde(skip_serializing_if = "is_zero")]
    proposals_not_listed: usize,
    /// Delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<u8>,
    /// TSi/TSr.
    #[serde(skip_serializing_if = "Option::is_none")]
    selectors: Option<Vec<SelectorLine>>,
    /// Delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    spis: Option<Vec<HexNum>>,
    /// SKF.
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u16>,
    #[serde(rename = "type")]
    payload_type: u8,
    /// Vendor ID: the name when the ID is known, else `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_id: Option<HexBytes<'a>>,
}

impl<'a> PayloadLine<'a> {
    fn new(v: u8, p: &'a Payload) -> Self {
        let mut o = PayloadLine {
            length: p.length,
            name: p.payload_type.name(v),
            payload_type: p.payload_type.0,
            ..PayloadLine::default()
        };
        match &p.body {
            PayloadBody::Sa(props) => {
                let (shown, more) = listed(props, MAX_LISTED_PROPOSALS);
                o.proposals = Some(shown.iter().map(|pr| ProposalLine::new(v, pr)).collect());
                o.proposals_not_listed = more;
            }
            PayloadBody::Ke { group, data_len } => {
                o.group = Some(*group);
                o.data_len = Some(*data_len);
            }
            PayloadBody::VendorId(vid) => {
                o.vendor_id = Some(HexBytes(vid));
                o.vendor = Some(names::vendor_id_name(vid));
            }
            PayloadBody::Id(id) => {
                o.id_type = Some(id.id_type.0);
                o.id = Some(id_value_text(id));
            }
            PayloadBody::TrafficSelectors(ts) => {
                o.selectors = Some(ts.iter().map(SelectorLine::new).collect());
            }
            PayloadBody::Auth { method, len } => {
                o.method = Some(*method);
                o.data_len = Some(*len);
            }
            PayloadBody::EncryptedFragment { number, total, .. } => {
                o.fragment = Some(*number);
                o.total = Some(*total);
            }
            PayloadBody::NatDiscovery(h) => o.hash = Some(HexBytes(h)),
            PayloadBody::Delete(d) => {
                o.protocol = Some(d.protocol);
                o.spis = Some(d.spis.iter().copied().map(HexNum).collect());
            }
            _ => {}
        }
        o
    }
}

#[derive(Serialize)]
struct ProposalLine<'a> {
    number: u8,
    protocol: u8,
    spi: HexBytes<'a>,
    text: String,
    transforms: Vec<TransformLine<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    transforms_not_listed: usize,
}

impl<'a> ProposalLine<'a> {
    fn new(v: u8, pr: &'a Proposal) -> Self {
        let (transforms, transforms_not_listed) = listed(&pr.transforms, MAX_LISTED_TRANSFORMS);
        ProposalLine {
            number: pr.number,
            protocol: pr.protocol,
            spi: HexBytes(&pr.spi),
            text: proposal_text(v, pr),
            transforms: transforms
                .iter()
                .map(|t| {
                    let (attributes, attributes_not_listed) =
                        listed(&t.attributes, MAX_LISTED_ATTRIBUTES);
                    TransformLine {
                        attributes,
                        attributes_not_listed,
                        id: t.id,
                        name: if v == 2 {
                            names::transform_id_name(t.transform_type.0, t.id)
                        } else {
                            names::v1_transform_id_name(pr.protocol, t.id)
                        },
                        transform_type: t.transform_type.0,
                    }
                })
                .collect(),
            transforms_not_listed,
        }
    }
}

#[derive(Serialize)]
struct TransformLine<'a> {
    #[serde(serialize_with = "attributes_json")]
    attributes: &'a [ike::Attribute],
    #[serde(skip_serializing_if = "is_zero")]
    attributes_not_listed: usize,
    id: u16,
    name: Option<&'static str>,
    #[serde(rename = "type")]
    transform_type: u8,
}

/// Each attribute as `{"type":…,"value":…}`: the number, or `{"bytes":len}` for a value too
/// long to keep.
fn attributes_json<S: Serializer>(attrs: &&[ike::Attribute], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct AttributeLine {
        #[serde(rename = "type")]
        attr_type: u16,
        value: ValueLine,
    }
    #[derive(Serialize)]
    #[serde(untagged)]
    enum ValueLine {
        Number(u64),
        Bytes { bytes: u32 },
    }
    s.collect_seq(attrs.iter().map(|a| AttributeLine {
        attr_type: a.attr_type,
        value: match a.value {
            AttributeValue::Number(n) => ValueLine::Number(n),
            AttributeValue::Bytes(bytes) => ValueLine::Bytes { bytes },
        },
    }))
}

#[derive(Serialize)]
struct SelectorLine {
    end_addr: Option<Shown<IpAddr>>,
    end_port: u16,
    ip_protocol: u8,
    start_addr: Option<Shown<IpAddr>>,
    start_port: u16,
    ts_type: u8,
}

impl SelectorLine {
    fn new(t: &ike::TrafficSelector) -> Self {
        SelectorLine {
            end_addr: t.end_addr.map(Shown),
            end_port: t.end_port,
            ip_protocol: t.ip_protocol,
            start_addr: t.start_addr.map(Shown),
            start_port: t.start_port,
            ts_type: t.ts_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::codes::PayloadType;

    #[test]
    fn error_object_keeps_sorted_keys_and_adds_lengths() {
        use crate::event::{ErrorKind, Layer, LenError, LenSource, LenSubject};
        let e = LenError {
            need: 2112,
            have: 1468,
            source: LenSource::Captured,
            what: LenSubject::LengthPresent,
        }
        .at(Layer::IkeHeader, 24);
        assert_eq!(
            serde_json::to_string(&ErrorLine(&e)).unwrap(),
            r#"{"have":1468,"layer":"IKE header","message":"length 2112 > 1468 bytes present","need":2112,"offset":24,"source":"captured"}"#
        );
        let e = ErrorKind::NoProposal.at(Layer::V2Proposal, 40);
        assert_eq!(
            serde_json::to_string(&ErrorLine(&e)).unwrap(),
            r#"{"layer":"IKEv2 proposal","message":"SA payload has no proposal","offset":40}"#
        );
    }
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

    /// Checks, while parsing, that every object's keys come in sorted order: the order the
    /// schema was first written in (through `serde_json::Map`), which the structs above must
    /// keep by declaring their fields sorted.
    struct SortedKeys;

    impl<'de> serde::Deserialize<'de> for SortedKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(SortedKeys)
        }
    }

    impl<'de> serde::de::Visitor<'de> for SortedKeys {
        type Value = SortedKeys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
            Ok(SortedKeys)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
            Ok(SortedKeys)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
            Ok(SortedKeys)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
            Ok(SortedKeys)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self, E> {
            Ok(SortedKeys)
        }
        fn visit_unit<E>(self) -> Result<Self, E> {
            Ok(SortedKeys)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self, A::Error> {
            while a.next_element::<SortedKeys>()?.is_some() {}
            Ok(SortedKeys)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Self, A::Error> {
            let mut last: Option<String> = None;
            let mut first = true;
            while let Some(k) = a.next_key::<String>()? {
                // A line's `type` comes first; the other keys are sorted.
                if std::mem::take(&mut first) && k == "type" {
                    a.next_value::<SortedKeys>()?;
                    continue;
                }
                if let Some(l) = &last
                    && *l >= k
                {
                    return Err(serde::de::Error::custom(format!("key {k:?} after {l:?}")));
                }
                a.next_value::<SortedKeys>()?;
                last = Some(k);
            }
            Ok(SortedKeys)
        }
    }

    /// The kinds no shipped capture or generated corpus holds (traffic selectors and AUTH in
    /// the clear, an ICMP quote cut before its addresses), against the `json!` objects the
    /// removed `Value` encoder built for them.
    #[test]
    fn rare_kinds_match_the_value_encoding() {
        use serde_json::json;
        let ts = vec![
            ike::TrafficSelector {
                ts_type: 7,
                ip_protocol: 6,
                start_port: 0,
                end_port: 65535,
                start_addr: Some("10.0.0.0".parse().unwrap()),
                end_addr: Some("10.0.0.255".parse().unwrap()),
            },
            ike::TrafficSelector {
                ts_type: 8,
                ip_protocol: 0,
                start_port: 500,
                end_port: 500,
                start_addr: None,
                end_addr: None,
            },
        ];
        let p = Payload {
            payload_type: PayloadType(44),
            critical: false,
            length: 48,
            offset: 0,
            body: PayloadBody::TrafficSelectors(ts.clone()),
        };
        let want =
            json!({"type": 44, "name": names::payload_name(2, 44), "length": 48, "selectors": ts});
        let got = serde_json::to_string(&PayloadLine::new(2, &p)).unwrap();
        assert_eq!(got, want.to_string());

        let p = Payload {
            payload_type: PayloadType(39),
            critical: false,
            length: 40,
            offset: 0,
            body: PayloadBody::Auth { method: 2, len: 32 },
        };
        let want = json!({"type": 39, "name": names::payload_name(2, 39), "length": 40, "method": 2, "data_len": 32});
        let got = serde_json::to_string(&PayloadLine::new(2, &p)).unwrap();
        assert_eq!(got, want.to_string());

        let e = crate::event::IcmpError {
            v6: true,
            icmp_type: 2,
            code: 0,
            mtu: None,
            quoted: crate::event::QuotedPacket {
                ident: 7,
                total_len: 1400,
                truncated_at: Some("IPv6 header"),
                ..Default::default()
            },
        };
        let want = json!({
            "version": 6, "type": 2, "code": 0, "name": names::icmp_type_name(true, 2, 0), "mtu": null,
            "quoted": {"ip_id": 7, "len": 1400, "df": false, "truncated_at": "IPv6 header"},
        });
        let got = serde_json::to_string(&IcmpLine::new(&e)).unwrap();
        assert_eq!(got, want.to_string());
    }

    /// Every line of every event of every capture shipped with the repository (broken ones
    /// included), with and without `-v`, has `type` first and its other keys sorted at every depth. The golden tests
    /// pin the bytes; this says which struct broke the order when one does.
    #[test]
    fn keys_are_sorted_everywhere() {
        let mut paths = Vec::new();
        captures(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
            &mut paths,
        );
        assert!(paths.len() > 50);
        let mut lines = 0;
        let mut kinds = HashSet::new();
        for path in paths {
            let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
            let mut d = Decoder::new();
            let mut events = Vec::new();
            while let Ok(Some(raw)) = src.next_packet() {
                d.decode(&raw, &mut events);
            }
            d.finish(&mut events);
            for ev in &events {
                kinds.insert(std::mem::discriminant(&ev.body));
                for verbose in [0, 1] {
                    let mut line = Vec::new();
                    write_packet_json(&mut line, ev, verbose).unwrap();
                    let text = String::from_utf8(line).unwrap();
                    if let Err(e) = serde_json::from_str::<SortedKeys>(&text) {
                        panic!("{}: frame {}: {e}: {text}", path.display(), ev.pkt.frame);
                    }
                    lines += 1;
                }
            }
        }
        assert!(lines > 500, "{lines}");
        // Every kind of body but a malformed packet's (no shipped capture yields one alone).
        assert!(kinds.len() >= 7, "{}", kinds.len());
    }
}
