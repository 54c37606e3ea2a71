//! The one type that flows between the stages: capture → decode → track → diagnose → report.
//!
//! Decoders turn bytes into [`Event`]s; nothing downstream looks at bytes again. Every event
//! carries the [`PacketRef`] that locates its evidence (frame number, time, lengths) so a finding
//! can always point back at the packets that support it.

pub mod codes;
mod error;
pub mod ike;
pub mod names;
pub mod text;

use std::net::IpAddr;

pub use error::{
    Counted, DecodeError, ErrorKind, Layer, LenError, LenField, LenSource, LenSubject,
};
use ike::IkeMessage;
pub use ike::Integrity;

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

    /// This time plus `secs` (non-negative, finite): a deadline.
    pub fn plus(self, secs: f64) -> Timestamp {
        let total = u64::from(self.nanos) + (secs.max(0.0) * 1e9) as u64;
        Timestamp {
            secs: self.secs.saturating_add((total / 1_000_000_000) as i64),
            nanos: (total % 1_000_000_000) as u32,
        }
    }

    /// Difference in nanoseconds, saturating at zero when `earlier` is later (captures merged
    /// from several interfaces are not always in time order).
    pub fn nanos_since(self, earlier: Timestamp) -> u64 {
        let a = self.secs as i128 * 1_000_000_000 + i128::from(self.nanos);
        let b = earlier.secs as i128 * 1_000_000_000 + i128::from(earlier.nanos);
        (a - b).clamp(0, u64::MAX as i128) as u64
    }
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
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
}

/// Outer addresses and ports as seen on the wire. Ports are 0 for ESP and AH. IKE and ESP
/// carried in TCP (RFC 8229) have `proto` TCP and the connection's ports.
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

/// ESP header (RFC 4303 §2), plain or UDP-encapsulated (RFC 3948).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspInfo {
    pub spi: u32,
    pub seq: u32,
    /// ESP bytes: from the SPI to the end of the ICV (what the SA's byte counters count).
    pub len: u32,
    pub udp_encapsulated: bool,
    /// The payload reads as cleartext (NULL encryption, RFC 2410): what it holds.
    pub cleartext: Option<Cleartext>,
    /// What the SA's key revealed; `None` when no key was given for this SPI. Boxed: every
    /// event is as large as its largest body, and most runs have no keys.
    pub decrypted: Option<Box<EspDecrypted>>,
}

/// The inside of an ESP packet, as its key revealed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspDecrypted {
    pub integrity: Integrity,
    /// The trailer's next header (4 / 41: a tunnelled IPv4 / IPv6 packet; 59: a dummy packet
    /// for traffic-flow confidentiality). 0 when the integrity check failed.
    pub next_header: u8,
    /// The packet carried (tunnel mode: the inner IP packet; transport mode: the upper layer,
    /// addressed as the outer packet), when its headers could be read.
    pub inner: Option<InnerPacket>,
}

/// A packet carried inside ESP: what diagnosis needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerPacket {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// TCP/UDP ports, or ICMP type and code; 0 when not present.
    pub sport: u16,
    pub dport: u16,
    /// The inner packet's length (IP total length).
    pub len: u32,
    pub dont_fragment: bool,
    pub tcp_flags: Option<u8>,
    /// The MSS option of a TCP SYN.
    pub tcp_mss: Option<u16>,
    /// What tells this packet from others with the same addresses, ports and size: the IPv4
    /// identification and the first 8 bytes of the transport header (TCP sequence number, ICMP
    /// identifier and sequence, UDP checksum), as they were sent. A gateway does not change
    /// them when it encrypts or decrypts, so the copy of one packet on either side of a tunnel
    /// carries the same.
    pub ident: u16,
    pub l4_head: u64,
}

/// What an ESP payload that passes the NULL-encryption test holds: the ICV length that made
/// the trailer consistent, the trailer's next header, and the inner packet's protocol, ports
/// (TCP/UDP) or ICMP type and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleartext {
    pub icv: u8,
    pub next_header: u8,
    pub proto: u8,
    /// TCP/UDP ports, or ICMP/ICMPv6 type and code.
    pub ports: (u16, u16),
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
    /// A packet outside IPsec, kept only when keys were given: the tunnels' selectors are
    /// known then, and traffic they cover must not travel in the clear (`cleartext_leak`).
    Plain(InnerPacket),
    /// What a TCP segment on an encapsulation port (RFC 8229) showed about its connection:
    /// only segments with something to say (SYN, RST, FIN, a resend, a hole, the window
    /// closing or opening) yield one; the messages they carry are events of their own.
    Tcp(TcpInfo),
    /// The packet was kept (an IPsec port or protocol) but could not be decoded.
    Malformed(DecodeError),
}

/// A TCP segment of an RFC 8229 connection, as far as diagnosis needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// The TCP flag bits (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10).
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Data bytes in the segment.
    pub len: u32,
    /// All its data had been seen before: TCP resent it.
    pub resent: bool,
    /// Resends of this direction's data since the receiver last acknowledged anything new.
    pub resends_unacked: u16,
    /// It came ahead of a hole in the stream.
    pub out_of_order: bool,
    /// Bytes of the stream skipped here: lost before the capture point, or thrown away to
    /// find the next message.
    pub lost: u32,
    /// The sender's receive window went to zero (`Some(true)`) or opened again.
    pub zero_window: Option<bool>,
    /// It carried the `IKETCP` stream prefix (RFC 8229 §3.1).
    pub prefix: bool,
}

impl TcpInfo {
    pub fn syn(&self) -> bool {
        self.flags & 0x02 != 0
    }
    pub fn rst(&self) -> bool {
        self.flags & 0x04 != 0
    }
    pub fn fin(&self) -> bool {
        self.flags & 0x01 != 0
    }
    pub fn ack_flag(&self) -> bool {
        self.flags & 0x10 != 0
    }
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
    fn decode_error_prints_its_numbers() {
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
            e.len_error().map(|l| l.source.name()),
            Some("payload_length")
        );
    }
}
