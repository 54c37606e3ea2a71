//! Decoding: raw packets in, [`Event`]s out.
//!
//! The first look at every packet is a prefilter over a few header bytes; only UDP 500/4500, TCP
//! on the encapsulation ports (RFC 8229), ESP, AH, ICMP errors and IP fragments go further. What
//! is kept is decoded into owned events; the only state here is byte-level (IP fragment, IKEv2
//! fragment and TCP stream reassembly), bounded by caps.
//! Tracking who talks to whom is the next stage's business.

pub mod decrypt;
pub mod esp;
pub mod frag;
pub mod icmp;
pub mod ike;
pub mod ip;
pub mod link;
pub mod tcp;
pub mod udp;

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::capture::RawPacket;
use crate::event::{
    Body, DecodeError, ErrorKind, Event, Flow, IpInfo, Layer, LenError, LenSource, LenSubject,
    PacketRef, TcpInfo, Timestamp, ipproto,
};
use frag::{FragKey, FragTable, Interest};
use ike::skf::SkfReassembler;

/// Counters for the end-of-run summary: what was read and what it was.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DecodeStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets that yielded at least one event.
    pub kept: u64,
    /// IP packets that are not IPsec (the large majority on a gateway).
    pub other_ip: u64,
    /// Frames without IP (ARP, LLDP, …) or on an unsupported link type.
    pub not_ip: u64,
    pub unsupported_link: u64,
    pub ike: u64,
    pub ike_v1: u64,
    pub ike_v2: u64,
    pub ike_fragments: u64,
    pub ike_reassembled: u64,
    pub esp: u64,
    pub esp_in_udp: u64,
    pub ah: u64,
    pub nat_keepalives: u64,
    pub icmp_errors: u64,
    pub ip_fragments: u64,
    pub ip_reassembled: u64,
    pub ip_fragments_incomplete: u64,
    pub ip_fragment_sets_evicted: u64,
    pub ike_fragment_sets_evicted: u64,
    /// Packets whose event carries a decode error: malformed ones, and IKE messages whose
    /// payloads could not all be decoded.
    pub malformed: u64,
    /// Packets cut by the snap length before the end of what we decode.
    pub truncated: u64,
    /// IKE and ESP over TCP (RFC 8229); present when a segment on an encapsulation port was
    /// seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_encap: Option<TcpEncapStats>,
    /// What decryption did; present when keys were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<decrypt::DecryptStats>,
}

/// What the TCP encapsulation path saw.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct TcpEncapStats {
    /// Segments on an encapsulation port.
    pub segments: u64,
    /// Messages cut from the streams.
    pub ike: u64,
    pub esp: u64,
    /// Segments whose data TCP had sent before (not IKE retransmissions).
    pub resent: u64,
    pub out_of_order: u64,
    /// Stream bytes never seen (lost before the capture point) or skipped to find the next
    /// message.
    pub lost_bytes: u64,
    /// Streams dropped because the stream table or its bytes were full.
    pub streams_evicted: u64,
}

/// How long an incomplete IP fragment set is waited for. Fragments of one datagram leave the
/// sender back to back, so one still missing after this long was lost on the way.
const FRAGMENT_WAIT_SECS: i64 = 5;

pub struct Decoder {
    frags: FragTable,
    skf: SkfReassembler,
    tcp: tcp::TcpReassembler,
    tcp_ports: tcp::EncapPorts,
    /// Messages cut from the current segment, reused from packet to packet.
    tcp_data: Vec<u8>,
    tcp_frames: Vec<tcp::FrameRange>,
    tcp_counts: TcpEncapStats,
    /// Present when keys were given (`--keys`).
    decrypt: Option<decrypt::Decryptor>,
    last_sweep: i64,
    last_ts: Timestamp,
    pub stats: DecodeStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// RFC 7383 fragment sets, and their bytes, held at once; past either the oldest set is
/// evicted.
pub const SKF_MAX_SETS: usize = 1024;
pub const SKF_MAX_BYTES: usize = 8 << 20;

impl Decoder {
    pub fn new() -> Self {
        Decoder {
            frags: FragTable::new(frag::Limits {
                timeout_secs: FRAGMENT_WAIT_SECS,
                ..frag::Limits::default()
            }),
            skf: SkfReassembler::new(SKF_MAX_SETS, SKF_MAX_BYTES, 30),
            tcp: tcp::TcpReassembler::new(tcp::Limits::default()),
            tcp_ports: tcp::EncapPorts::default(),
            tcp_data: Vec::new(),
            tcp_frames: Vec::new(),
            tcp_counts: TcpEncapStats::default(),
            decrypt: None,
            last_sweep: i64::MIN,
            last_ts: Timestamp::default(),
            stats: DecodeStats::default(),
        }
    }

    /// A decoder that opens what the key ring has keys for.
    pub fn with_keys(ring: std::sync::Arc<crate::keys::KeyRing>) -> Self {
        let mut d = Self::new();
        d.frags.keep_esp = !ring.is_empty();
        d.decrypt = (!ring.is_empty()).then(|| decrypt::Decryptor::new(ring));
        d
    }

    /// Caps the reassembly tables (`--max-memory`): IP fragment sets and their bytes, RFC 7383
    /// fragment sets and theirs. Set before the first packet: what is held is dropped.
    pub fn set_reassembly_caps(&mut self, ip: (usize, usize), ike: (usize, usize)) {
        let keep_esp = self.frags.keep_esp;
        self.frags = FragTable::new(frag::Limits {
            max_sets: ip.0,
            max_bytes: ip.1,
            timeout_secs: FRAGMENT_WAIT_SECS,
        });
        self.frags.keep_esp = keep_esp;
        self.skf = SkfReassembler::new(ike.0, ike.1, 30);
    }

    /// The TCP ports read as RFC 8229 streams (`--tcp-encap-port`).
    pub fn set_tcp_ports(&mut self, ports: tcp::EncapPorts) {
        self.tcp_ports = ports;
    }

    /// What decryption did, when keys were given.
    pub fn decrypt_stats(&self) -> Option<&decrypt::DecryptStats> {
        self.decrypt.as_ref().map(|d| &d.stats)
    }

    /// Decodes one packet, appending its events (none for uninteresting packets).
    pub fn decode(&mut self, raw: &RawPacket<'_>, out: &mut Vec<Event>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(raw.origlen);
        let before = out.len();
        self.sweep(raw.ts, raw.frame, out);
        let marker = out.len();
        let Some((version, ip_bytes)) = link::ip_payload(raw.linktype, raw.data) else {
            if link::is_supported(raw.linktype) {
                self.stats.not_ip += 1;
            } else {
                self.stats.unsupported_link += 1;
            }
            return;
        };
        let pkt = PacketRef {
            frame: raw.frame,
            ts: raw.ts,
            caplen: raw.caplen,
            origlen: raw.origlen,
        };
        if !prefilter(version, ip_bytes, &self.tcp_ports) {
            self.stats.other_ip += 1;
            if self.decrypt.is_some() {
                plain(pkt, version, ip_bytes, out);
            }
            return;
        }
        self.decode_ip(pkt, version, ip_bytes, out);
        if out.len() > marker {
            self.stats.kept += 1;
        } else if out.len() == before {
            self.stats.other_ip += 1;
        }
    }

    /// At the end of the input: fragment sets still open become incomplete-fragment events.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let now = self.last_ts;
        let lost = self.frags.drain_incomplete(now, 1);
        self.emit_incomplete(lost, now, out);
        self.stats.ip_fragment_sets_evicted = self.frags.evicted;
        self.stats.ike_fragment_sets_evicted = self.skf.evicted();
        self.stats.decryption = self.decrypt.as_ref().map(|d| d.stats.clone());
        self.tcp_stats();
    }

    fn tcp_stats(&mut self) {
        if self.tcp_counts.segments == 0 {
            return;
        }
        let t = &self.tcp.stats;
        self.stats.tcp_encap = Some(TcpEncapStats {
            resent: t.resent,
            out_of_order: t.out_of_order,
            lost_bytes: t.lost_bytes,
            streams_evicted: t.streams_evicted,
            ..self.tcp_counts
        });
    }

    fn sweep(&mut self, ts: Timestamp, _frame: u64, out: &mut Vec<Event>) {
        if ts > self.last_ts {
            self.last_ts = ts;
        }
        if ts.secs <= self.last_sweep {
            return;
        }
        self.last_sweep = ts.secs;
        if !self.frags.is_empty() {
            let lost = self.frags.expire(ts);
            self.emit_incomplete(lost, ts, out);
        }
        self.skf.expire(ts);
        if self.tcp.streams() > 0 {
            self.tcp.expire(ts);
        }
        self.stats.ip_fragment_sets_evicted = self.frags.evicted;
        self.stats.ike_fragment_sets_evicted = self.skf.evicted();
        self.tcp_stats();
    }

    fn emit_incomplete(&mut self, lost: Vec<frag::Lost>, now: Timestamp, out: &mut Vec<Event>) {
        for frag::Lost {
            key,
            info: inc,
            first,
            reportable,
        } in lost
        {
            // What the first fragment carried is still worth showing: which IKE message it was.
            // (ESP sets keep their bytes too when keys were given: only UDP has a header here.)
            if let Some((pkt, ip, data)) = first
                && key.proto == ipproto::UDP
                && let Some(u) = udp::parse(&data)
            {
                let flow = Flow {
                    src: key.src,
                    dst: key.dst,
                    sport: u.sport,
                    dport: u.dport,
                    proto: key.proto,
                };
                let claimed = u.wire_payload_len(u32::from(u.length));
                self.stats.truncated += 1;
                let ip = IpInfo {
                    incomplete: true,
                    ..ip
                };
                self.udp_payload(pkt, flow, ip, u.payload, claimed, out);
            }
            if !reportable {
                continue;
            }
            self.stats.ip_fragments_incomplete += 1;
            out.push(Event {
                pkt: PacketRef {
                    frame: inc.last_frame,
                    ts: now,
                    caplen: 0,
                    origlen: 0,
                },
                flow: Flow {
                    src: key.src,
                    dst: key.dst,
                    sport: inc.sport,
                    dport: inc.dport,
                    proto: key.proto,
                },
                ip: IpInfo {
                    version: if key.src.is_ipv4() { 4 } else { 6 },
                    ident: key.ident,
                    ..IpInfo::default()
                },
                body: Body::FragmentsIncomplete(inc),
            });
        }
    }

    fn decode_ip(&mut self, pkt: PacketRef, version: u8, data: &[u8], out: &mut Vec<Event>) {
        let ip = match ip::parse(version, data) {
            Ok(ip) => ip,
            Err(e) => {
                self.malformed(pkt, unknown_flow(), IpInfo::default(), e, out);
                return;
            }
        };
        let info = IpInfo {
            version: ip.version,
            total_len: ip.total_len,
            dont_fragment: ip.dont_fragment,
            ttl: ip.ttl,
            ident: ip.ident,
            fragments: 0,
            first_fragment_frame: 0,
            incomplete: false,
        };
        let mut flow = Flow {
            src: ip.src,
            dst: ip.dst,
            sport: 0,
            dport: 0,
            proto: ip.proto,
        };
        if let Some(f) = ip.fragment {
            if matches!(ip.proto, ipproto::UDP | ipproto::ESP | ipproto::AH) {
                self.fragment(pkt, flow, info, f, ip.payload, out);
            }
            return;
        }
        if ip.truncated {
            self.stats.truncated += 1;
        }
        let ip_payload_len = ip.total_len.saturating_sub(header_len(&ip, data));
        match ip.proto {
            ipproto::UDP => {
                let Some(u) = udp::parse(ip.payload) else {
                    self.malformed(
                        pkt,
                        flow,
                        info,
                        LenError {
                            need: 8,
                            have: ip.payload.len(),
                            source: LenSource::Captured,
                            what: LenSubject::Header,
                        }
                        .at(Layer::UdpHeader, 0),
                        out,
                    );
                    return;
                };
                flow.sport = u.sport;
                flow.dport = u.dport;
                if !u.is_ipsec() {
                    return;
                }
                self.udp_payload(
                    pkt,
                    flow,
                    info,
                    u.payload,
                    u.wire_payload_len(ip_payload_len),
                    out,
                );
            }
            ipproto::TCP => self.tcp_segment(pkt, flow, info, ip.payload, ip_payload_len, out),
            ipproto::ESP => self.esp(pkt, flow, info, ip.payload, ip_payload_len, false, out),
            ipproto::AH => match esp::decode_ah(ip.payload) {
                Ok(ah) => {
                    self.stats.ah += 1;
                    push(out, pkt, flow, info, Body::Ah(ah));
                    // An AH+ESP bundle (RFC 4301 §4.5): the ESP SA behind the AH header is the
                    // one that carries the traffic, so it is decoded too.
                    let ah_len = esp::ah_header_len(ip.payload);
                    if ah.next_header == ipproto::ESP
                        && let Some(inner) = ip.payload.get(ah_len..)
                    {
                        let esp_len = ip_payload_len.saturating_sub(ah_len as u32);
                        self.esp(pkt, flow, info, inner, esp_len, false, out);
                    }
                }
                Err(e) => self.malformed(pkt, flow, info, e, out),
            },
            ipproto::ICMP | ipproto::ICMPV6 => {
                if let Some(err) = icmp::decode(ip.version == 6, ip.payload) {
                    self.stats.icmp_errors += 1;
                    push(out, pkt, flow, info, Body::IcmpError(Box::new(err)));
                }
            }
            _ => {}
        }
    }

    /// A TCP segment to or from an encapsulation port: its messages, once the stream has them
    /// whole, are decoded as if they had come in UDP 4500 (IKE behind the non-ESP marker, ESP
    /// without), and a [`Body::Tcp`] event says what the segment showed of the connection when
    /// it showed anything.
    fn tcp_segment(
        &mut self,
        pkt: PacketRef,
        mut flow: Flow,
        info: IpInfo,
        data: &[u8],
        wire_len: u32,
        out: &mut Vec<Event>,
    ) {
        let seg = match tcp::parse(data, wire_len) {
            Ok(s) => s,
            Err(e) => {
                self.malformed(pkt, flow, info, e, out);
                return;
            }
        };
        flow.sport = seg.sport;
        flow.dport = seg.dport;
        if !self.tcp_ports.contains(seg.sport) && !self.tcp_ports.contains(seg.dport) {
            return;
        }
        self.tcp_counts.segments += 1;
        let key = tcp::StreamKey {
            src: flow.src,
            dst: flow.dst,
            sport: seg.sport,
            dport: seg.dport,
        };
        let mut bytes = std::mem::take(&mut self.tcp_data);
        let mut frames = std::mem::take(&mut self.tcp_frames);
        bytes.clear();
        frames.clear();
        let facts = self.tcp.push(key, &seg, pkt.ts, &mut bytes, &mut frames);
        let notable = seg.flags & (tcp::flags::SYN | tcp::flags::RST | tcp::flags::FIN) != 0
            || facts.resent
            || facts.out_of_order
            || facts.lost > 0
            || facts.prefix
            || facts.zero_window.is_some();
        if notable {
            let t = TcpInfo {
                flags: seg.flags,
                seq: seg.seq,
                ack: seg.ack,
                window: seg.window,
                len: seg.payload.len() as u32,
                resent: facts.resent,
                resends_unacked: facts.resends_unacked,
                out_of_order: facts.out_of_order,
                lost: facts.lost,
                zero_window: facts.zero_window,
                prefix: facts.prefix,
            };
            push(out, pkt, flow, info, Body::Tcp(t));
        }
        for r in &frames {
            let m = &bytes[r.clone()];
            if m.starts_with(&[0, 0, 0, 0]) {
                self.tcp_counts.ike += 1;
                self.ike(pkt, flow, info, &m[4..], true, out);
            } else {
                self.tcp_counts.esp += 1;
                self.esp(pkt, flow, info, m, m.len() as u32, false, out);
            }
        }
        self.tcp_data = bytes;
        self.tcp_frames = frames;
    }

    /// A UDP 500/4500 payload: IKE, NAT-keepalive or ESP-in-UDP (RFC 3948 §2).
    fn udp_payload(
        &mut self,
        pkt: PacketRef,
        flow: Flow,
        info: IpInfo,
        payload: &[u8],
        wire_len: u32,
        out: &mut Vec<Event>,
    ) {
        match udp::classify(flow.sport, flow.dport, payload) {
            udp::UdpKind::NatKeepalive => {
                self.stats.nat_keepalives += 1;
                push(out, pkt, flow, info, Body::NatKeepalive);
            }
            udp::UdpKind::Esp => self.esp(pkt, flow, info, payload, wire_len, true, out),
            udp::UdpKind::Ike { non_esp_marker } => {
                let data = if non_esp_marker {
                    &payload[4..]
                } else {
                    payload
                };
                self.ike(pkt, flow, info, data, non_esp_marker, out);
            }
            udp::UdpKind::Empty => self.malformed(
                pkt,
                flow,
                info,
                ErrorKind::EmptyDatagram.at(Layer::UdpPayload, 0),
                out,
            ),
        }
    }

    fn ike(
        &mut self,
        pkt: PacketRef,
        flow: Flow,
        info: IpInfo,
        data: &[u8],
        non_esp_marker: bool,
        out: &mut Vec<Event>,
    ) {
        match ike::decode(data, non_esp_marker) {
            Ok(mut msg) => {
                let plain = match &mut self.decrypt {
                    Some(d) => d.ike(&flow, data, &mut msg),
                    None => None,
                };
                self.stats.ike += 1;
                if msg.version == 1 {
                    self.stats.ike_v1 += 1;
                } else {
                    self.stats.ike_v2 += 1;
                }
                let is_fragment = msg.payloads.iter().any(|p| {
                    matches!(
                        p.body,
                        crate::event::ike::PayloadBody::EncryptedFragment { .. }
                    )
                });
                let whole = if is_fragment {
                    self.stats.ike_fragments += 1;
                    let key = (flow.src, flow.sport, flow.dst, flow.dport);
                    self.skf.push(key, pkt.frame, pkt.ts, &msg, plain)
                } else {
                    None
                };
                // One count per packet, however many of its events carry an error.
                if msg.error.is_some() || whole.as_ref().is_some_and(|(w, _)| w.error.is_some()) {
                    self.stats.malformed += 1;
                }
                push(out, pkt, flow, info, Body::Ike(Box::new(msg)));
                if let Some((mut whole, plain)) = whole {
                    if let (Some(d), Some(plain)) = (&mut self.decrypt, plain) {
                        d.reassembled(&mut whole, plain);
                    }
                    self.stats.ike_reassembled += 1;
                    push(out, pkt, flow, info, Body::Ike(Box::new(whole)));
                }
            }
            Err(e) => self.malformed(pkt, flow, info, e, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn esp(
        &mut self,
        pkt: PacketRef,
        flow: Flow,
        info: IpInfo,
        data: &[u8],
        wire_len: u32,
        udp_encapsulated: bool,
        out: &mut Vec<Event>,
    ) {
        match esp::decode_esp(data, wire_len, udp_encapsulated) {
            Ok(mut e) => {
                if let Some(d) = &mut self.decrypt {
                    d.esp(&flow, data, &mut e);
                }
                self.stats.esp += 1;
                if udp_encapsulated {
                    self.stats.esp_in_udp += 1;
                }
                push(out, pkt, flow, info, Body::Esp(e));
            }
            Err(e) => self.malformed(pkt, flow, info, e, out),
        }
    }

    fn fragment(
        &mut self,
        pkt: PacketRef,
        flow: Flow,
        info: IpInfo,
        f: ip::IpFragment,
        data: &[u8],
        out: &mut Vec<Event>,
    ) {
        let key = FragKey {
            src: flow.src,
            dst: flow.dst,
            ident: info.ident,
            proto: flow.proto,
        };
        let pushed = self.frags.push(key, pkt, info, f.offset, f.more, data);
        if pushed.interest == Interest::Ipsec {
            let (sport, dport) = pushed.ports.unwrap_or((0, 0));
            for held in &pushed.released {
                self.stats.ip_fragments += 1;
                let fflow = Flow {
                    sport,
                    dport,
                    ..flow
                };
                push(out, held.pkt, fflow, held.ip, Body::Fragment(held.info));
            }
        }
        let Some(done) = pushed.complete else {
            return;
        };
        self.stats.ip_reassembled += 1;
        let header = info.total_len.saturating_sub(data.len() as u32 + f.offset);
        let whole = IpInfo {
            total_len: header.saturating_add(done.total_len),
            fragments: done.fragments,
            first_fragment_frame: done.first_frame,
            ..info
        };
        match flow.proto {
            ipproto::UDP => {
                let Some(u) = udp::parse(&done.data) else {
                    return;
                };
                let flow = Flow {
                    sport: u.sport,
                    dport: u.dport,
                    ..flow
                };
                let wire = u.wire_payload_len(done.total_len);
                self.udp_payload(pkt, flow, whole, u.payload, wire, out);
            }
            ipproto::ESP => self.esp(pkt, flow, whole, &done.data, done.total_len, false, out),
            ipproto::AH => {
                if let Ok(ah) = esp::decode_ah(&done.data) {
                    self.stats.ah += 1;
                    push(out, pkt, flow, whole, Body::Ah(ah));
                }
            }
            _ => {}
        }
    }

    fn malformed(
        &mut self,
        pkt: PacketRef,
        flow: Flow,
        info: IpInfo,
        e: DecodeError,
        out: &mut Vec<Event>,
    ) {
        self.stats.malformed += 1;
        push(out, pkt, flow, info, Body::Malformed(e));
    }
}

/// A packet outside IPsec, with keys loaded: what the leak check needs of it.
fn plain(pkt: PacketRef, version: u8, ip_bytes: &[u8], out: &mut Vec<Event>) {
    let nh = if version == 4 { 4 } else { 41 };
    let unspecified = IpAddr::from([0u8; 4]);
    let Some(p) = esp::inner_packet(nh, ip_bytes, (unspecified, unspecified)) else {
        return;
    };
    let flow = Flow {
        src: p.src,
        dst: p.dst,
        sport: p.sport,
        dport: p.dport,
        proto: p.proto,
    };
    let info = IpInfo {
        version,
        total_len: p.len,
        dont_fragment: p.dont_fragment,
        ..IpInfo::default()
    };
    push(out, pkt, flow, info, Body::Plain(p));
}

fn push(out: &mut Vec<Event>, pkt: PacketRef, flow: Flow, ip: IpInfo, body: Body) {
    out.push(Event {
        pkt,
        flow,
        ip,
        body,
    });
}

fn unknown_flow() -> Flow {
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    Flow {
        src: unspecified,
        dst: unspecified,
        sport: 0,
        dport: 0,
        proto: 0,
    }
}

/// Bytes of IP header(s) before the upper-layer payload.
fn header_len(ip: &ip::IpPacket<'_>, data: &[u8]) -> u32 {
    let payload_start = ip.payload.as_ptr() as usize - data.as_ptr() as usize;
    payload_start as u32
}

/// Whether a TCP header's first four bytes name an encapsulation port; too short to tell
/// lets the decoder say what is wrong.
#[inline]
fn tcp_ports_match(ports: Option<&[u8]>, tcp: &tcp::EncapPorts) -> bool {
    match ports {
        Some(p) => {
            tcp.contains(u16::from_be_bytes([p[0], p[1]]))
                || tcp.contains(u16::from_be_bytes([p[2], p[3]]))
        }
        None => true,
    }
}

/// The few-nanosecond test that throws away everything that cannot be IPsec: looks only at the
/// protocol, the fragment bits, the UDP ports (TCP's against the encapsulation ports) and the
/// ICMP type.
#[inline]
pub fn prefilter(version: u8, ip: &[u8], tcp: &tcp::EncapPorts) -> bool {
    if version == 4 {
        let Some(h) = ip.get(..20) else {
            return false;
        };
        let proto = h[9];
        match proto {
            ipproto::ESP | ipproto::AH => true,
            ipproto::TCP => {
                // Fragmented TCP is not followed: stacks that speak RFC 8229 segment by MSS.
                if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
                    return false;
                }
                let ihl = usize::from(h[0] & 0x0f) * 4;
                tcp_ports_match(ip.get(ihl..ihl + 4), tcp)
            }
            ipproto::UDP | ipproto::ICMP => {
                let frag_offset = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
                if frag_offset != 0 {
                    // Non-first fragments: UDP ones may belong to IKE.
                    return proto == ipproto::UDP;
                }
                let ihl = usize::from(h[0] & 0x0f) * 4;
                if proto == ipproto::ICMP {
                    return ip.get(ihl).is_some_and(|&t| icmp::is_error_type(false, t));
                }
                match ip.get(ihl..ihl + 4) {
                    Some(p) => {
                        let sport = u16::from_be_bytes([p[0], p[1]]);
                        let dport = u16::from_be_bytes([p[2], p[3]]);
                        frag::is_ipsec_port(sport) || frag::is_ipsec_port(dport)
                    }
                    // Too short to tell: let the decoder say what is wrong.
                    None => true,
                }
            }
            _ => false,
        }
    } else {
        let Some(&next) = ip.get(6) else {
            return false;
        };
        match next {
            ipproto::ESP | ipproto::AH => true,
            ipproto::UDP => match ip.get(40..44) {
                Some(p) => {
                    let sport = u16::from_be_bytes([p[0], p[1]]);
                    let dport = u16::from_be_bytes([p[2], p[3]]);
                    frag::is_ipsec_port(sport) || frag::is_ipsec_port(dport)
                }
                None => true,
            },
            ipproto::ICMPV6 => ip.get(40).is_some_and(|&t| icmp::is_error_type(true, t)),
            ipproto::TCP => tcp_ports_match(ip.get(40..44), tcp),
            // Extension headers (hop-by-hop, routing, fragment, destination options): decode
            // to find out.
            0 | 43 | 44 | 60 => true,
            _ => false,
        }
    }
}
