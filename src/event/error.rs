//! Where decoding a packet stopped and why: the layer, the byte, and what was wrong, with the
//! numbers (need, have and what bounded it) kept as numbers.

use std::fmt;

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
    TcpHeader,
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
            Layer::TcpHeader => "TCP header",
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
    /// The TCP header's Data Offset (RFC 9293 §3.1).
    TcpDataOffset,
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
            LenField::TcpDataOffset => "tcp_data_offset",
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
