//! The IKE message as every stage after decoding sees it: the ISAKMP header (RFC 2408 §3.1,
//! RFC 7296 §3.1) and what each payload said, owned and small. Byte strings that matter to
//! diagnosis are copied (they are short); bulky ones (KE, certificates, ciphertext) keep only
//! their length. Built by `decode::ike`; nothing here reads bytes.

use std::net::IpAddr;

use serde::Serialize;

use super::codes::{DhGroup, ExchangeType, IdType, NotifyType, PayloadType, TransformType};
use super::error::{DecodeError, ErrorKind, Layer, LenField, LenSource, LenSubject};

/// IKEv2 header flags (RFC 7296 §3.1).
pub mod v2_flags {
    pub const INITIATOR: u8 = 0x08;
    pub const VERSION: u8 = 0x10;
    pub const RESPONSE: u8 = 0x20;
}

/// IKEv1 header flags (RFC 2408 §3.1).
pub mod v1_flags {
    pub const ENCRYPTION: u8 = 0x01;
    pub const COMMIT: u8 = 0x02;
    pub const AUTH_ONLY: u8 = 0x04;
}

/// An IKE message as decoded from one UDP datagram (or reassembled from IP fragments or IKEv2
/// fragments).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IkeMessage {
    /// Major version: 1 or 2. Other values are reported as malformed by [`decode`].
    pub version: u8,
    pub minor_version: u8,
    /// IKEv1 initiator cookie / IKEv2 initiator SPI.
    pub ispi: u64,
    /// IKEv1 responder cookie / IKEv2 responder SPI.
    pub rspi: u64,
    pub first_payload: PayloadType,
    pub exchange: ExchangeType,
    pub flags: u8,
    pub message_id: u32,
    /// The header's length field (which may lie; see `error`).
    pub length: u32,
    /// Bytes actually available for the message in the datagram (after any non-ESP marker).
    pub wire_len: u32,
    /// Carried on UDP 4500 behind the four-byte non-ESP marker (RFC 3948 §2.2).
    pub non_esp_marker: bool,
    /// IKEv1: the E flag is set, so payloads after the header are ciphertext. IKEv2: the message
    /// carries an SK or SKF payload.
    pub encrypted: bool,
    /// Payloads in wire order, as far as they could be decoded.
    pub payloads: Vec<Payload>,
    /// Where payload decoding stopped, when it did not reach the end cleanly.
    pub error: Option<DecodeError>,
    /// Set when this message was rebuilt from RFC 7383 fragments: the frames that carried them.
    pub reassembled_from: Vec<u64>,
    /// What keys revealed inside (IKEv2 SK/SKF, IKEv1 encrypted payloads); `None` when no key
    /// was given for this SA or the message is not encrypted.
    pub decrypted: Option<Box<Decrypted>>,
}

/// The inside of an encrypted IKE message, as the keys revealed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrypted {
    pub integrity: Integrity,
    /// The inner payload chain (empty when the integrity check failed: nothing is trusted).
    /// Offsets count from the IKE header as if the plaintext stood where the IV starts.
    pub payloads: Vec<Payload>,
    /// Where the inner chain stopped, when it did not reach its end cleanly.
    pub error: Option<DecodeError>,
}

/// Whether what was decrypted is what the sender sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// The ICV or AEAD tag verified.
    Ok,
    /// Nothing to verify (IKEv1 has no ICV; a key source that gave no integrity key): accepted
    /// because the plaintext parsed as a consistent payload chain or packet.
    Unchecked,
    /// The ICV or tag did not verify: wrong key, wrong direction, or damage in transit.
    Failed,
}

impl Integrity {
    pub fn name(self) -> &'static str {
        match self {
            Integrity::Ok => "ok",
            Integrity::Unchecked => "unchecked",
            Integrity::Failed => "failed",
        }
    }
}

impl IkeMessage {
    /// IKEv2 R flag. IKEv1 has no such flag; the tracker works it out from the exchange.
    pub fn is_response(&self) -> bool {
        self.version == 2 && self.flags & v2_flags::RESPONSE != 0
    }

    /// IKEv2 I flag: sent by the original initiator of the IKE SA.
    pub fn from_original_initiator(&self) -> bool {
        self.version == 2 && self.flags & v2_flags::INITIATOR != 0
    }

    /// The payloads whose values can be taken as what the sender meant: all of them when the
    /// message decoded cleanly, else those wholly before the byte where decoding stopped. Values
    /// read out of the payload the break is in (a notify type, proposals, SPIs) are noise. A
    /// break at the next payload's generic header leaves the payload before it whole; any other
    /// break at a payload's last byte is in that payload (its body ended early). A header that
    /// cannot hold a message trusts nothing; a datagram shorter than the header's length keeps
    /// the payloads wholly present (the first fragment of a datagram whose other fragments were
    /// lost is the common case).
    pub fn trusted_payloads(&self) -> &[Payload] {
        let Some(e) = &self.error else {
            return &self.payloads;
        };
        // Payloads must end at or before `end` (cut data) or strictly before it (a break).
        let (end, strict) = match (e.layer, &e.kind) {
            (Layer::IkeHeader, ErrorKind::Len(l)) if l.source == LenSource::Captured => {
                (self.wire_len, false)
            }
            (Layer::IkeHeader, _) => (0, false),
            (_, kind) => {
                let at = u32::try_from(e.offset).unwrap_or(u32::MAX);
                // An overrun is reported at the header of the payload that overruns.
                let header =
                    at_a_payload_header(kind) || self.payloads.iter().any(|p| p.offset == at);
                (at, !header)
            }
        };
        let n = self
            .payloads
            .iter()
            .take_while(|p| {
                let p_end = p.offset.saturating_add(u32::from(p.length));
                p_end < end || (!strict && p_end == end)
            })
            .count();
        &self.payloads[..n]
    }

    /// Inner payloads the keys revealed, when their integrity held (or could not be checked).
    pub fn inner_payloads(&self) -> &[Payload] {
        match &self.decrypted {
            Some(d) if d.integrity != Integrity::Failed => &d.payloads,
            _ => &[],
        }
    }

    /// Whether the message was decrypted and its inside can be believed.
    pub fn was_decrypted(&self) -> bool {
        self.decrypted
            .as_ref()
            .is_some_and(|d| d.integrity != Integrity::Failed)
    }

    /// Notifies among [`IkeMessage::trusted_payloads`] and, when keys opened the message, the
    /// inner payloads: a notify inside SK is the sender's word as much as one in clear.
    pub fn notifies(&self) -> impl Iterator<Item = &Notify> {
        self.trusted_payloads()
            .iter()
            .chain(self.inner_payloads())
            .filter_map(|p| match &p.body {
                PayloadBody::Notify(n) => Some(n),
                _ => None,
            })
    }

    /// Whether a notify of `notify_type` was seen only because keys opened the message.
    pub fn notify_was_encrypted(&self, notify_type: NotifyType) -> bool {
        let is =
            |p: &Payload| matches!(&p.body, PayloadBody::Notify(n) if n.notify_type == notify_type);
        !self.trusted_payloads().iter().any(is) && self.inner_payloads().iter().any(is)
    }

    pub fn has_notify(&self, notify_type: NotifyType) -> bool {
        self.notifies().any(|n| n.notify_type == notify_type)
    }

    /// The first SA payload's proposals, if the message carries one in clear and it is among
    /// [`IkeMessage::trusted_payloads`].
    pub fn proposals(&self) -> Option<&[Proposal]> {
        self.trusted_payloads().iter().find_map(|p| match &p.body {
            PayloadBody::Sa(props) => Some(props.as_slice()),
            _ => None,
        })
    }

    pub fn exchange_name(&self) -> Option<&'static str> {
        self.exchange.name(self.version)
    }
}

/// Whether a payload-chain error is about the generic header of a payload that was not
/// decoded (so it sits where the payload before it ends), rather than inside a payload's body.
/// Reading the kind is needed because a body that ends early is reported at its payload's last
/// byte, which is also where the next header would start.
fn at_a_payload_header(kind: &ErrorKind) -> bool {
    let ErrorKind::Len(l) = kind else {
        return false;
    };
    match l.what {
        LenSubject::NextPayloadAnnounced { .. }
        | LenSubject::NextPayloadEndsHere { .. }
        | LenSubject::PayloadHeader { .. }
        | LenSubject::GenericHeader => true,
        LenSubject::LengthBelowMin => l.source == LenSource::Field(LenField::PayloadLength),
        _ => false,
    }
}

/// One payload: its generic header fields and what its body said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub payload_type: PayloadType,
    /// IKEv2 critical bit.
    pub critical: bool,
    /// The generic header's length field (header included).
    pub length: u16,
    /// Offset of the payload's generic header from the start of the IKE header.
    pub offset: u32,
    pub body: PayloadBody,
}

/// What a payload body said. Byte strings that matter to diagnosis are copied (they are short);
/// bulky ones (KE, certificates, ciphertext) keep only their length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadBody {
    /// SA: proposals (IKEv1: the DOI and situation are checked, then dropped).
    Sa(Vec<Proposal>),
    /// KE: DH group (IKEv2; IKEv1 KE has no group field: 0) and key data length.
    Ke {
        group: u16,
        data_len: u32,
    },
    /// Ni/Nr (IKEv2) or NONCE (IKEv1).
    Nonce {
        len: u32,
    },
    Notify(Notify),
    Delete(Delete),
    VendorId(Vec<u8>),
    /// IDi / IDr (IKEv2) or ID (IKEv1; protocol and port are from the IPsec DOI, RFC 2407 §4.6.2).
    Id(Identification),
    Cert {
        encoding: u8,
        len: u32,
    },
    CertReq {
        encoding: u8,
        len: u32,
    },
    /// IKEv2 AUTH: method and data length.
    Auth {
        method: u8,
        len: u32,
    },
    /// IKEv1 HASH / SIG: data length only.
    Hash {
        len: u32,
    },
    Signature {
        len: u32,
    },
    TrafficSelectors(Vec<TrafficSelector>),
    /// CP (IKEv2) / Attribute payload (IKEv1 Mode Config): type and attribute types.
    Config {
        cfg_type: u8,
        attributes: Vec<u16>,
    },
    /// EAP: code, and type for requests and responses.
    Eap {
        code: u8,
        eap_type: Option<u8>,
        len: u32,
    },
    /// SK: the next payload of the first inner payload, and the ciphertext length (IV and ICV
    /// included).
    Encrypted {
        inner_first_payload: u8,
        len: u32,
    },
    /// SKF (RFC 7383 §2.5).
    EncryptedFragment {
        number: u16,
        total: u16,
        inner_first_payload: u8,
        len: u32,
    },
    /// IKEv1 NAT-D (RFC 3947 payload 20 or draft payload 130): the hash.
    NatDiscovery(Vec<u8>),
    /// IKEv1 NAT-OA (RFC 3947 payload 21 or draft 131).
    NatOriginalAddress(Option<IpAddr>),
    /// A payload type we do not decode, or an unparsable body (see the message's `error`).
    Other {
        len: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    /// Protocol ID: IKE (1), AH (2), ESP (3); IKEv1: PROTO_ISAKMP (1), PROTO_IPSEC_AH (2), ESP (3).
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// IKEv2: type + ID + attributes (only Key Length is registered). IKEv1: transform ID + the SA
/// attributes (RFC 2409 Appendix A for phase 1, RFC 2407 §4.5 for phase 2); `transform_type`
/// is 0 for IKEv1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    pub number: u8,
    pub transform_type: TransformType,
    pub id: u16,
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// IKEv2 Key Length attribute (14) or IKEv1 phase 1 Key Length (14) / phase 2 Key Length (6):
    /// callers pass the attribute type that applies.
    pub fn attribute(&self, attr_type: u16) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|a| a.attr_type == attr_type)
            .map(|a| &a.value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Type without the AF (format) bit.
    pub attr_type: u16,
    pub value: AttributeValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// TV form, or a TLV whose value fits in 8 bytes (lifetimes are sent both ways).
    Number(u64),
    /// A longer TLV value: its length only.
    Bytes(u32),
}

impl AttributeValue {
    pub fn number(&self) -> Option<u64> {
        match self {
            AttributeValue::Number(n) => Some(*n),
            AttributeValue::Bytes(_) => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// IKEv1 DOI (1 = IPsec); None for IKEv2.
    pub doi: Option<u32>,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub notify_type: NotifyType,
    /// Notification data, whole (NAT_DETECTION hashes are 20 bytes, COOKIE up to 64).
    pub data: Vec<u8>,
}

impl Notify {
    /// The group an INVALID_KE_PAYLOAD asks for (RFC 7296 §3.10.1: two octets of data). `None`
    /// for any other notify, or data of another length.
    pub fn invalid_ke_group(&self) -> Option<DhGroup> {
        match self.data[..] {
            [hi, lo] if self.notify_type == NotifyType::INVALID_KE_PAYLOAD => {
                Some(DhGroup(u16::from_be_bytes([hi, lo])))
            }
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delete {
    pub doi: Option<u32>,
    pub protocol: u8,
    pub spi_size: u8,
    /// SPIs as integers (4-byte ESP/AH SPIs, 8- or 16-byte IKE SPIs folded to their first 8
    /// bytes; IKEv2 deletes of the IKE SA carry none).
    pub spis: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identification {
    pub id_type: IdType,
    /// IKEv1 IPsec DOI protocol ID and port (0 when not used).
    pub protocol: u8,
    pub port: u16,
    /// The identification data (IDs are short; at most 256 bytes are kept).
    pub data: Vec<u8>,
}

impl Identification {
    /// The identity as an operator reads it: an address, the name (escaped: it came off the
    /// wire), or hex for the binary forms (DER names, key IDs).
    pub fn value_text(&self) -> String {
        let d = &self.data;
        match (self.id_type.0, d.len()) {
            (1, 4) => IpAddr::from([d[0], d[1], d[2], d[3]]).to_string(),
            (5, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(d);
                IpAddr::from(b).to_string()
            }
            (2 | 3, _) => super::text::printable(d),
            _ => d.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// `FQDN vpn.example.com`, `IPV4_ADDR 192.0.2.1`: the type's name and the value.
    pub fn text(&self, version: u8) -> String {
        match self.id_type.name(version) {
            Some(n) => format!("{n} {}", self.value_text()),
            None => format!("{} {}", self.id_type, self.value_text()),
        }
    }

    /// An IKEv1 Quick Mode client ID (IDci/IDcr, RFC 2409 §5.5) as the selector it stands for:
    /// an address, subnet or range with the DOI's protocol and port (0: any).
    pub fn as_selector(&self) -> Option<TrafficSelector> {
        let d = &self.data;
        let v4 =
            |b: &[u8]| -> Option<u32> { Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)) };
        let v6 =
            |b: &[u8]| -> Option<u128> { Some(u128::from_be_bytes(b.get(..16)?.try_into().ok()?)) };
        let a4 = |x: u32| IpAddr::V4(x.into());
        let a6 = |x: u128| IpAddr::V6(x.into());
        let (start, end) = match self.id_type.0 {
            1 if d.len() == 4 => (a4(v4(d)?), a4(v4(d)?)),
            4 if d.len() == 8 => {
                let (a, m) = (v4(d)?, v4(&d[4..])?);
                (a4(a & m), a4(a | !m))
            }
            7 if d.len() == 8 => (a4(v4(d)?), a4(v4(&d[4..])?)),
            5 if d.len() == 16 => (a6(v6(d)?), a6(v6(d)?)),
            6 if d.len() == 32 => {
                let (a, m) = (v6(d)?, v6(&d[16..])?);
                (a6(a & m), a6(a | !m))
            }
            8 if d.len() == 32 => (a6(v6(d)?), a6(v6(&d[16..])?)),
            _ => return None,
        };
        let (start_port, end_port) = if self.port == 0 {
            (0, 65535)
        } else {
            (self.port, self.port)
        };
        Some(TrafficSelector {
            ts_type: if start.is_ipv4() { 7 } else { 8 },
            ip_protocol: self.protocol,
            start_port,
            end_port,
            start_addr: Some(start),
            end_addr: Some(end),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficSelector {
    pub ts_type: u8,
    pub ip_protocol: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start_addr: Option<IpAddr>,
    pub end_addr: Option<IpAddr>,
}

/// `10.1.0.0/24`, `10.1.0.5-10.1.0.9`, with `proto 6 port 22` when narrower than any.
impl std::fmt::Display for TrafficSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.start_addr, self.end_addr) {
            (Some(a), Some(b)) => match prefix_len(a, b) {
                Some(n) => write!(f, "{a}/{n}")?,
                None => write!(f, "{a}-{b}")?,
            },
            _ => write!(f, "type {}", self.ts_type)?,
        }
        if self.ip_protocol != 0 {
            write!(f, " proto {}", self.ip_protocol)?;
        }
        if (self.start_port, self.end_port) != (0, 65535) {
            if self.start_port == self.end_port {
                write!(f, " port {}", self.start_port)?;
            } else {
                write!(f, " ports {}-{}", self.start_port, self.end_port)?;
            }
        }
        Ok(())
    }
}

/// The prefix length when `a..=b` is exactly one CIDR block.
fn prefix_len(a: IpAddr, b: IpAddr) -> Option<u32> {
    let (a, b, bits) = match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return None,
    };
    let span = b.checked_sub(a)?.checked_add(1);
    let host = match span {
        Some(n) if n.is_power_of_two() => n.trailing_zeros(),
        None if a == 0 => 128,
        _ => return None,
    };
    (a & ((1u128 << host.min(127)) - 1) == 0 || host == 128).then_some(bits - host.min(bits))
}

#[cfg(test)]
mod tests {

    #[test]
    fn selectors_read_as_cidr_when_they_are_one() {
        let ts = |a: &str, b: &str, proto: u8, p: (u16, u16)| TrafficSelector {
            ts_type: 7,
            ip_protocol: proto,
            start_port: p.0,
            end_port: p.1,
            start_addr: Some(a.parse().unwrap()),
            end_addr: Some(b.parse().unwrap()),
        };
        assert_eq!(
            ts("10.1.0.0", "10.1.0.255", 0, (0, 65535)).to_string(),
            "10.1.0.0/24"
        );
        assert_eq!(
            ts("0.0.0.0", "255.255.255.255", 0, (0, 65535)).to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            ts("10.1.0.5", "10.1.0.9", 6, (22, 22)).to_string(),
            "10.1.0.5-10.1.0.9 proto 6 port 22"
        );
        assert_eq!(
            ts("10.1.0.1", "10.1.0.2", 0, (0, 65535)).to_string(),
            "10.1.0.1-10.1.0.2"
        );
        assert_eq!(
            ts(
                "::",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                0,
                (0, 65535)
            )
            .to_string(),
            "::/0"
        );
        assert_eq!(
            ts("2001:db8::", "2001:db8::ffff", 17, (500, 4500)).to_string(),
            "2001:db8::/112 proto 17 ports 500-4500"
        );
    }

    use super::*;
    use crate::event::{LenError, LenField, LenSubject};

    fn notify_at(offset: u32, length: u16, t: u16) -> Payload {
        Payload {
            payload_type: PayloadType::NOTIFY,
            critical: false,
            length,
            offset,
            body: PayloadBody::Notify(Notify {
                notify_type: NotifyType(t),
                ..Notify::default()
            }),
        }
    }

    fn msg(error: Option<DecodeError>) -> IkeMessage {
        IkeMessage {
            version: 2,
            length: 100,
            wire_len: 100,
            payloads: vec![notify_at(28, 8, 16388), notify_at(36, 40, 28)],
            error,
            ..IkeMessage::default()
        }
    }

    fn overrun(at: usize, source: LenSource) -> DecodeError {
        LenError {
            need: 40,
            have: 8,
            source,
            what: LenSubject::LengthLeft,
        }
        .at(Layer::V2Payload, at)
    }

    #[test]
    fn a_clean_message_trusts_every_payload() {
        assert_eq!(msg(None).trusted_payloads().len(), 2);
    }

    /// A notify read out of a payload whose body is broken is not the peer's.
    #[test]
    fn payloads_at_or_past_the_break_are_not_trusted() {
        let m = msg(Some(overrun(44, LenSource::Field(LenField::PayloadLength))));
        let kept: Vec<_> = m.notifies().map(|n| n.notify_type.0).collect();
        assert_eq!(kept, [16388]);
        assert!(!m.has_notify(NotifyType(28)));
        // A second payload that overruns the message: the first stays.
        let m = msg(Some(overrun(36, LenSource::Field(LenField::IkeLength))));
        assert_eq!(m.trusted_payloads().len(), 1);
        // A break at the generic header where the first payload ends: the first stays.
        let header = LenError {
            need: 4,
            have: 2,
            source: LenSource::Field(LenField::IkeLength),
            what: LenSubject::PayloadHeader { next: 41 },
        };
        let mut m = msg(Some(header.at(Layer::V2Payload, 36)));
        m.payloads.truncate(1);
        assert_eq!(m.trusted_payloads().len(), 1);
        // A body that ends early, reported at the payload's last byte (Openswan lp08's
        // INVALID_KE_PAYLOAD without its group): that payload goes.
        let body = LenError {
            need: 2,
            have: 0,
            source: LenSource::Field(LenField::PayloadLength),
            what: LenSubject::Body { what: "Notify" },
        };
        let mut m = msg(Some(body.at(Layer::V2Payload, 36)));
        m.payloads.truncate(1);
        assert!(m.trusted_payloads().is_empty());
        // A break inside the first payload's body leaves nothing.
        let m = msg(Some(overrun(32, LenSource::Field(LenField::PayloadLength))));
        assert!(m.trusted_payloads().is_empty());
    }

    #[test]
    fn a_broken_header_trusts_nothing_and_a_cut_datagram_keeps_what_is_whole() {
        let below_min = LenError {
            need: 28,
            have: 20,
            source: LenSource::Field(LenField::IkeLength),
            what: LenSubject::LengthBelowMin,
        }
        .at(Layer::IkeHeader, 24);
        assert!(msg(Some(below_min)).trusted_payloads().is_empty());
        let mut m = msg(Some(
            LenError {
                need: 1400,
                have: 60,
                source: LenSource::Captured,
                what: LenSubject::LengthPresent,
            }
            .at(Layer::IkeHeader, 24),
        ));
        m.wire_len = 60;
        assert_eq!(m.trusted_payloads().len(), 1);
    }
}
