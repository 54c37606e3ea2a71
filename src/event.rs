//! The one type that flows between the stages: capture → decode → track → diagnose → report.
//!
//! Decoders turn bytes into [`Event`]s; nothing downstream looks at bytes again. Every event
//! carries the [`PacketRef`] that locates its evidence (frame number, time, lengths) so a finding
//! can always point back at the packets that support it.

use std::fmt;
use std::net::IpAddr;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::decode::ike::IkeMessage;

/// Capture time. Kept as seconds + nanoseconds so pcap (µs) and pcapng (any resolution) files
/// lose nothing, and ordering is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Timestamp { secs, nanos }
    }

    pub fn as_secs_f64(self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }

    /// Signed difference `self - earlier` in seconds.
    pub fn since(self, earlier: Timestamp) -> f64 {
        (self.secs - earlier.secs) as f64 + (f64::from(self.nanos) - f64::from(earlier.nanos)) / 1e9
    }

    /// Difference in nanoseconds, saturating at zero when `earlier` is later (captures merged
    /// from several interfaces are not always in time order).
    pub fn nanos_since(self, earlier: Timestamp) -> u64 {
        let a = self.secs as i128 * 1_000_000_000 + i128::from(self.nanos);
        let b = earlier.secs as i128 * 1_000_000_000 + i128::from(earlier.nanos);
        (a - b).clamp(0, u64::MAX as i128) as u64
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds, like `tcpdump -tttt` but unambiguous.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60,
            self.nanos / 1000
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm), so the
/// report needs no time-zone crate and is the same on every machine.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Where a packet came from in the capture: its 1-based record number (Wireshark's frame
/// number), its time, and both lengths — the original length matters for MTU diagnosis even when
/// the snap length cut the packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketRef {
    pub frame: u64,
    pub ts: Timestamp,
    pub caplen: u32,
    pub origlen: u32,
}

/// IP protocol numbers this tool cares about.
pub mod ipproto {
    pub const ICMP: u8 = 1;
    pub const UDP: u8 = 17;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
}

/// Outer addresses and ports as seen on the wire. Ports are 0 for ESP and AH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
}

impl Flow {
    pub fn reversed(&self) -> Flow {
        Flow {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            proto: self.proto,
        }
    }
}

/// What the outer IP header said, beyond the addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpInfo {
    /// 4 or 6.
    pub version: u8,
    /// IPv4 total length / IPv6 payload length + 40, of the packet as sent (the whole datagram
    /// when it was reassembled).
    pub total_len: u32,
    pub dont_fragment: bool,
    pub ttl: u8,
    /// IPv4 identification or IPv6 fragment identification (0 when unfragmented IPv6).
    pub ident: u32,
    /// Number of IP fragments this datagram was reassembled from; 0 when it was not fragmented.
    pub fragments: u16,
    /// Frame of the first fragment when `fragments > 0`.
    pub first_fragment_frame: u64,
    /// Decoded from the first fragment of a datagram whose other fragments never arrived: what
    /// follows the first fragment's bytes is missing.
    pub incomplete: bool,
}

/// Where decoding stopped and why: the layer, the offset (from the start of the layer; from the
/// IPv6 header for its extension headers, and from the IKE header for everything inside an IKE
/// message), and a typed [`ErrorKind`] whose numbers make the message. A length problem keeps its need, have and where `have` came from,
/// so a report can tell a capture cut by the snap length from a header that lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub layer: Layer,
    pub offset: usize,
    pub kind: ErrorKind,
}

impl DecodeError {
    pub fn new(layer: Layer, offset: usize, kind: impl Into<ErrorKind>) -> Self {
        DecodeError {
            layer,
            offset,
            kind: kind.into(),
        }
    }

    /// The length error, when it is one.
    pub fn len_error(&self) -> Option<&LenError> {
        match &self.kind {
            ErrorKind::Len(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {:#x}: {}",
            self.layer, self.offset, self.kind
        )
    }
}

impl std::error::Error for DecodeError {}

/// The report's `error` object: `layer`, `offset`, `message`, plus `need`, `have` and `source`
/// for a length error. Keys go out sorted, as every other object of the JSON report.
impl Serialize for DecodeError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = self.len_error();
        let mut m = s.serialize_map(Some(if len.is_some() { 6 } else { 3 }))?;
        if let Some(l) = len {
            m.serialize_entry("have", &l.have)?;
        }
        m.serialize_entry("layer", self.layer.name())?;
        m.serialize_entry("message", &Shown(&self.kind))?;
        if let Some(l) = len {
            m.serialize_entry("need", &l.need)?;
        }
        m.serialize_entry("offset", &self.offset)?;
        if let Some(l) = len {
            m.serialize_entry("source", &l.source.name())?;
        }
        m.end()
    }
}

/// Serializes a `Display` value as a string without an intermediate `String`.
struct Shown<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Shown<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// The layer a [`DecodeError`] happened in. `name()` is the text reports print, which is part
/// of the output contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Ipv4Header,
    Ipv6Header,
    Ipv6ExtensionHeader,
    Ipv6FragmentHeader,
    UdpHeader,
    UdpPayload,
    Esp,
    EspInUdp,
    Ah,
    IkeHeader,
    V1Payload,
    V1Sa,
    V1Proposal,
    V1Transform,
    V1Attribute,
    V2Payload,
    V2Proposal,
    V2Transform,
    V2TrafficSelector,
    V2ConfigAttribute,
}

impl Layer {
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Ipv4Header => "IPv4 header",
            Layer::Ipv6Header => "IPv6 header",
            Layer::Ipv6ExtensionHeader => "IPv6 extension header",
            Layer::Ipv6FragmentHeader => "IPv6 fragment header",
            Layer::UdpHeader => "UDP header",
            Layer::UdpPayload => "UDP payload",
            Layer::Esp => "ESP",
            Layer::EspInUdp => "ESP-in-UDP",
            Layer::Ah => "AH",
            Layer::IkeHeader => "IKE header",
            Layer::V1Payload => "IKEv1 payload",
            Layer::V1Sa => "IKEv1 SA",
            Layer::V1Proposal => "IKEv1 proposal",
            Layer::V1Transform => "IKEv1 transform",
            Layer::V1Attribute => "IKEv1 attribute",
            Layer::V2Payload => "IKEv2 payload",
            Layer::V2Proposal => "IKEv2 proposal",
            Layer::V2Transform => "IKEv2 transform",
            Layer::V2TrafficSelector => "IKEv2 traffic selector",
            Layer::V2ConfigAttribute => "IKEv2 configuration attribute",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong. Every variant carries the numbers its message prints; `Display` is the
/// message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Fewer bytes than something needs (see [`LenError`]).
    Len(LenError),
    /// `version {major}.{minor} is neither 1 nor 2`
    IkeVersion { major: u8, minor: u8 },
    /// `version {found} is not {expected}`: the IP version nibble disagrees with the link.
    IpVersion { found: u8, expected: u8 },
    /// `SPI {spi} is reserved` (RFC 4303 §2.1).
    ReservedSpi { spi: u32 },
    /// `fragment number {number} outside 1..={total}` (RFC 7383 §2.5).
    FragmentNumber { number: u16, total: u16 },
    /// `SA payload has no proposal`
    NoProposal,
    /// `empty datagram on an IKE port`
    EmptyDatagram,
    /// A count field promised more items than the bytes hold.
    Count {
        what: Counted,
        declared: usize,
        present: usize,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Len(e) => e.fmt(f),
            ErrorKind::IkeVersion { major, minor } => {
                write!(f, "version {major}.{minor} is neither 1 nor 2")
            }
            ErrorKind::IpVersion { found, expected } => {
                write!(f, "version {found} is not {expected}")
            }
            ErrorKind::ReservedSpi { spi } => write!(f, "SPI {spi} is reserved"),
            ErrorKind::FragmentNumber { number, total } => {
                write!(f, "fragment number {number} outside 1..={total}")
            }
            ErrorKind::NoProposal => f.write_str("SA payload has no proposal"),
            ErrorKind::EmptyDatagram => f.write_str("empty datagram on an IKE port"),
            ErrorKind::Count {
                what,
                declared,
                present,
            } => match what {
                Counted::Transforms => {
                    write!(f, "{declared} transforms declared, {present} present")
                }
                Counted::Selectors => write!(f, "{declared} selectors declared, {present} present"),
                Counted::DeleteSpis { spi_size } => write!(
                    f,
                    "Delete declares {declared} SPIs of {spi_size} bytes, {present} present"
                ),
            },
        }
    }
}

impl ErrorKind {
    pub fn at(self, layer: Layer, offset: usize) -> DecodeError {
        DecodeError::new(layer, offset, self)
    }
}

/// What a [`ErrorKind::Count`] counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// A proposal's transforms (RFC 7296 §3.3.1).
    Transforms,
    /// A TS payload's traffic selectors (RFC 7296 §3.13).
    Selectors,
    /// A Delete payload's SPIs (RFC 7296 §3.11).
    DeleteSpis { spi_size: u8 },
}

/// Needed versus available length, after etherparse's `LenError`: `need` bytes were required,
/// `have` were there, and `source` says what bounded `have`. Both count from the same start (the
/// structure the message is about), in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LenError {
    pub need: usize,
    pub have: usize,
    pub source: LenSource,
    pub what: LenSubject,
}

impl LenError {
    pub fn at(self, layer: Layer, offset: usize) -> DecodeError {
        DecodeError::new(layer, offset, self)
    }
}

impl From<LenError> for ErrorKind {
    fn from(e: LenError) -> Self {
        ErrorKind::Len(e)
    }
}

/// What bounded the `have` of a [`LenError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LenSource {
    /// The bytes present for the layer: the snap length or the end of the datagram cut them.
    Captured,
    /// A length field: the layer's own when that field is below the minimum, or the enclosing
    /// structure's when what the layer needs runs past it.
    Field(LenField),
}

impl LenSource {
    /// The name the JSON report uses.
    pub const fn name(self) -> &'static str {
        match self {
            LenSource::Captured => "captured",
            LenSource::Field(f) => f.name(),
        }
    }
}

/// Header fields that give a length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LenField {
    /// IPv4 Internet Header Length (RFC 791 §3.1).
    Ipv4Ihl,
    /// IPv6 Payload Length (RFC 8200 §3).
    Ipv6PayloadLength,
    /// The IKE header's Length (RFC 7296 §3.1, RFC 2408 §3.1).
    IkeLength,
    /// A generic payload header's Payload Length (RFC 7296 §3.2, RFC 2408 §3.2).
    PayloadLength,
    /// A proposal's length (RFC 7296 §3.3.1, RFC 2408 §3.5).
    ProposalLength,
    /// A transform's length (RFC 7296 §3.3.2, RFC 2408 §3.6).
    TransformLength,
    /// A traffic selector's Selector Length (RFC 7296 §3.13.1).
    SelectorLength,
}

impl LenField {
    pub const fn name(self) -> &'static str {
        match self {
            LenField::Ipv4Ihl => "ipv4_ihl",
            LenField::Ipv6PayloadLength => "ipv6_payload_length",
            LenField::IkeLength => "ike_length",
            LenField::PayloadLength => "payload_length",
            LenField::ProposalLength => "proposal_length",
            LenField::TransformLength => "transform_length",
            LenField::SelectorLength => "selector_length",
        }
    }
}

/// What needed the bytes of a [`LenError`], which also fixes how its message reads. The
/// wording predates the type and is part of the output contract, hence one variant per phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LenSubject {
    /// A fixed header: `{have} bytes < {need}`.
    Header,
    /// ESP's SPI and sequence number: `{have} bytes < {need} (SPI and sequence number)`.
    EspHeader,
    /// `header length {ihl} out of range ({present} bytes present)`: the IPv4 IHL is below 20
    /// or beyond the bytes present.
    Ipv4HeaderLength { ihl: usize, present: usize },
    /// An IPv6 extension header that does not fit: `cut short`.
    CutShort,
    /// IPv6 extension headers that end beyond the packet: `runs past the packet`.
    RunsPast,
    /// The layer's own length field below its minimum: `length {have} < {need}`.
    LengthBelowMin,
    /// The IKE header's length beyond the datagram: `length {need} > {have} bytes present`.
    LengthPresent,
    /// A length field beyond its enclosing structure: `length {need} > {have} bytes left`.
    LengthLeft,
    /// An IKEv1 TLV attribute: `value length {need} > {have} bytes left`.
    ValueLength,
    /// An IKEv2 TLV transform attribute: `attribute length {need} > {have} bytes left`.
    AttributeLength,
    /// `SPI size {need} > {have} bytes left`
    SpiSize,
    /// `Notify SPI size {need} > {have} bytes left`
    NotifySpiSize,
    /// IKEv1: `{have} bytes left < {need} for a generic header`
    GenericHeader,
    /// IKEv1: `{have} bytes left < {need} for an attribute header`
    AttributeHeader,
    /// IKEv1, the chain ends before the payload the previous one named:
    /// `next payload {next} announced, but the message ends`. Also where a pointer loop ends.
    NextPayloadAnnounced { next: u8 },
    /// IKEv2, the same: `next payload {next} but the message ends here`.
    NextPayloadEndsHere { next: u8 },
    /// IKEv2: `payload {next} header needs {need} bytes, {have} present`
    PayloadHeader { next: u8 },
    /// IKEv2 proposal or transform: `header needs {need} bytes, {have} present`
    SubstructureHeader,
    /// IKEv2 configuration attribute: `header needs {need} bytes`
    ConfigAttributeHeader,
    /// IKEv2 transform attribute: `attribute header needs {need} bytes`
    TransformAttributeHeader,
    /// IKEv1 proposal or transform: `body < {need} bytes`
    ShortBody,
    /// IKEv2 payload body: `{what} body {have} bytes < {need}`
    Body { what: &'static str },
    /// IKEv1 payload body: `payload {ptype} ({what}) body {have} bytes < {need}`
    PayloadBody { ptype: u8, what: &'static str },
    /// IKEv1 SA: `body {have} bytes < {need} for DOI and situation`
    DoiAndSituation,
    /// IKEv2 INVALID_KE_PAYLOAD: `INVALID_KE_PAYLOAD data {have} bytes < {need}`
    InvalidKeData,
}

impl fmt::Display for LenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LenError { need, have, .. } = *self;
        match self.what {
            LenSubject::Header => write!(f, "{have} bytes < {need}"),
            LenSubject::EspHeader => write!(f, "{have} bytes < {need} (SPI and sequence number)"),
            LenSubject::Ipv4HeaderLength { ihl, present } => {
                write!(
                    f,
                    "header length {ihl} out of range ({present} bytes present)"
                )
            }
            LenSubject::CutShort => f.write_str("cut short"),
            LenSubject::RunsPast => f.write_str("runs past the packet"),
            LenSubject::LengthBelowMin => write!(f, "length {have} < {need}"),
            LenSubject::LengthPresent => write!(f, "length {need} > {have} bytes present"),
            LenSubject::LengthLeft => write!(f, "length {need} > {have} bytes left"),
            LenSubject::ValueLength => write!(f, "value length {need} > {have} bytes left"),
            LenSubject::AttributeLength => {
                write!(f, "attribute length {need} > {have} bytes left")
            }
            LenSubject::SpiSize => write!(f, "SPI size {need} > {have} bytes left"),
            LenSubject::NotifySpiSize => write!(f, "Notify SPI size {need} > {have} bytes left"),
            LenSubject::GenericHeader => {
                write!(f, "{have} bytes left < {need} for a generic header")
            }
            LenSubject::AttributeHeader => {
                write!(f, "{have} bytes left < {need} for an attribute header")
            }
            LenSubject::NextPayloadAnnounced { next } => {
                write!(f, "next payload {next} announced, but the message ends")
            }
            LenSubject::NextPayloadEndsHere { next } => {
                write!(f, "next payload {next} but the message ends here")
            }
            LenSubject::PayloadHeader { next } => {
                write!(
                    f,
                    "payload {next} header needs {need} bytes, {have} present"
                )
            }
            LenSubject::SubstructureHeader => {
                write!(f, "header needs {need} bytes, {have} present")
            }
            LenSubject::ConfigAttributeHeader => write!(f, "header needs {need} bytes"),
            LenSubject::TransformAttributeHeader => {
                write!(f, "attribute header needs {need} bytes")
            }
            LenSubject::ShortBody => write!(f, "body < {need} bytes"),
            LenSubject::Body { what } => write!(f, "{what} body {have} bytes < {need}"),
            LenSubject::PayloadBody { ptype, what } => {
                write!(f, "payload {ptype} ({what}) body {have} bytes < {need}")
            }
            LenSubject::DoiAndSituation => {
                write!(f, "body {have} bytes < {need} for DOI and situation")
            }
            LenSubject::InvalidKeData => {
                write!(f, "INVALID_KE_PAYLOAD data {have} bytes < {need}")
            }
        }
    }
}

/// ESP header (RFC 4303 §2), plain or UDP-encapsulated (RFC 3948).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspInfo {
    pub spi: u32,
    pub seq: u32,
    /// ESP bytes: from the SPI to the end of the ICV (what the SA's byte counters count).
    pub len: u32,
    pub udp_encapsulated: bool,
}

/// AH header (RFC 4302 §2): only what identifies the SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhInfo {
    pub spi: u32,
    pub seq: u32,
    pub next_header: u8,
}

/// One IP fragment of an IPsec flow, reported as it passes so MTU problems are visible even
/// when the datagram is never completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    pub ident: u32,
    /// Byte offset of this fragment's data in the datagram.
    pub offset: u32,
    pub more_fragments: bool,
    /// Length of the fragment's data (after the IP header).
    pub data_len: u32,
    /// The inner protocol (UDP, ESP, …).
    pub proto: u8,
    /// For the first fragment of an ESP or ESP-in-UDP datagram: its SPI and sequence number.
    /// The ESP header travels in the first fragment, so the packet is known even when the rest
    /// never arrives.
    pub esp: Option<(u32, u32)>,
}

/// A fragment set that never completed (timed out or evicted): its pieces are lost on the path
/// or filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncompleteFragments {
    pub ident: u32,
    pub proto: u8,
    pub first_frame: u64,
    pub last_frame: u64,
    pub fragments_seen: u16,
    pub bytes_seen: u32,
    /// Whether the fragment at offset 0 was among those seen.
    pub had_first: bool,
    /// Whether the last fragment (MF clear) was seen; its offset + length is the datagram size.
    pub had_last: bool,
    /// What the first fragment said about the flow: UDP ports when known.
    pub sport: u16,
    pub dport: u16,
}

/// An ICMP or ICMPv6 error and the packet it quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpError {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// Next-hop MTU (IPv4 fragmentation needed) or MTU (ICMPv6 packet too big).
    pub mtu: Option<u32>,
    pub quoted: QuotedPacket,
}

/// The invoking packet quoted inside an ICMP error, decoded leniently: whatever could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotedPacket {
    /// The quoted packet's flow; ports are 0 when the quote stops before them.
    pub flow: Option<Flow>,
    pub ident: u32,
    pub total_len: u32,
    pub dont_fragment: bool,
    pub esp_spi: Option<u32>,
    pub esp_seq: Option<u32>,
    /// IKE initiator SPI, responder SPI and message ID when the quote reaches them.
    pub ike_spis: Option<(u64, u64)>,
    pub ike_message_id: Option<u32>,
    pub ike_exchange: Option<u8>,
    /// Where the quote ran out, if it was cut before the end of what we wanted.
    pub truncated_at: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub enum Body {
    Ike(Box<IkeMessage>),
    Esp(EspInfo),
    Ah(AhInfo),
    /// RFC 3948 §2.2: a single 0xFF byte on UDP 4500.
    NatKeepalive,
    IcmpError(Box<IcmpError>),
    Fragment(FragmentInfo),
    FragmentsIncomplete(IncompleteFragments),
    /// The packet was kept (an IPsec port or protocol) but could not be decoded.
    Malformed(DecodeError),
}

/// One decoded fact about one packet. A packet can yield several events (a last IP fragment
/// yields its Fragment and the reassembled IKE message).
#[derive(Clone, Debug)]
pub struct Event {
    pub pkt: PacketRef,
    pub flow: Flow,
    pub ip: IpInfo,
    pub body: Body,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_error_json_keeps_sorted_keys_and_adds_lengths() {
        let e = LenError {
            need: 2112,
            have: 1468,
            source: LenSource::Captured,
            what: LenSubject::LengthPresent,
        }
        .at(Layer::IkeHeader, 24);
        assert_eq!(
            e.to_string(),
            "IKE header at offset 0x18: length 2112 > 1468 bytes present"
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"have":1468,"layer":"IKE header","message":"length 2112 > 1468 bytes present","need":2112,"offset":24,"source":"captured"}"#
        );
        // Through a Value (as the report builds it) the keys come out the same.
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v.to_string(), serde_json::to_string(&e).unwrap());

        let e = ErrorKind::NoProposal.at(Layer::V2Proposal, 40);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"layer":"IKEv2 proposal","message":"SA payload has no proposal","offset":40}"#
        );
    }

    #[test]
    fn length_fields_name_themselves() {
        let e = LenError {
            need: 4,
            have: 3,
            source: LenSource::Field(LenField::PayloadLength),
            what: LenSubject::LengthBelowMin,
        }
        .at(Layer::V2Payload, 0x5c);
        assert_eq!(e.to_string(), "IKEv2 payload at offset 0x5c: length 3 < 4");
        assert_eq!(
            serde_json::to_value(&e).unwrap()["source"],
            "payload_length"
        );
    }
}
