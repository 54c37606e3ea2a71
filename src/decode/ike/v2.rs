//! IKEv2 payload chain (RFC 7296 §3.2–3.16, RFC 7383 §2.5 and extensions).
//!
//! Walks the generic payload headers and decodes each body into the owned [`PayloadBody`]
//! summary. Framing is checked strictly (a payload must be at least 4 bytes and fit in the
//! message), so the walk always advances and always ends. The first problem stops the chain, as
//! it stops Wireshark's dissection: the payload where it happened is kept with what could be
//! read from it, and nothing after it is trusted.
//!
//! Decryption of SK payloads and reassembly of SKF fragments are left to others (see
//! [`super::skf`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::frame::{self, Frame, FrameError};
use crate::event::codes::{IdType, NotifyType, PayloadType, TransformType};
use crate::event::ike::{
    Attribute, AttributeValue, Delete, Identification, Notify, Payload, PayloadBody, Proposal,
    TrafficSelector, Transform,
};
use crate::event::{
    Counted, DecodeError, ErrorKind, Layer, LenError, LenField, LenSource, LenSubject,
};

/// A payload body is only decoded whole when it fits its generic header's length, so that
/// field bounds what a body error finds.
const IN_PAYLOAD: LenSource = LenSource::Field(LenField::PayloadLength);

/// At most this many bytes of identification data are kept.
const MAX_ID_DATA: usize = 256;

/// Notify type whose data has a fixed size we check (RFC 7296 §3.10.1).
const INVALID_KE_PAYLOAD: u16 = 17;

/// Traffic selector types (RFC 7296 §3.13.1).
const TS_IPV4_ADDR_RANGE: u8 = 7;
const TS_IPV6_ADDR_RANGE: u8 = 8;

/// Decodes the payload chain starting with `first` over `body` (the bytes after the ISAKMP
/// header, cut at the header's length). `base_offset` is `body`'s offset from the start of the IKE
/// header, for error messages; `end` is what cut `body` (the header's length or the capture).
/// Appends what it decodes; returns where it stopped, if it did.
pub fn decode_payloads(
    first: PayloadType,
    body: &[u8],
    base_offset: usize,
    end: LenSource,
    out: &mut Vec<Payload>,
) -> Option<DecodeError> {
    let mut next = first;
    let mut pos = 0usize;
    while next != PayloadType::NONE {
        let at = base_offset + pos;
        let rest = body.get(pos..).unwrap_or_default();
        let stop = |e: FrameError| {
            let short = if rest.is_empty() {
                LenSubject::NextPayloadEndsHere { next: next.0 }
            } else {
                LenSubject::PayloadHeader { next: next.0 }
            };
            e.len_error(LenField::PayloadLength, end, short, frame::HEADER_LEN)
                .at(Layer::V2Payload, at)
        };
        // On overrun, decode what is there (SK/SKF still mark the message as encrypted).
        let (f, overrun) = match frame::frame_lax(rest, frame::HEADER_LEN) {
            Ok(framed) => framed,
            Err(e) => return Some(stop(e)),
        };
        let this = next;
        let len = usize::from(f.length);
        let (decoded, err) = decode_body(this, f.first, f.body, at + 4, len - 4);
        out.push(Payload {
            payload_type: this,
            critical: f.second & 0x80 != 0,
            length: f.length,
            offset: u32::try_from(at).unwrap_or(u32::MAX),
            body: decoded,
        });
        if let Some(e) = overrun {
            return Some(stop(e));
        }
        if err.is_some() {
            return err;
        }
        // SK and SKF are always last (RFC 7296 §3.14, RFC 7383 §2.5): their next payload field
        // names the first inner payload, not a following one.
        if this == PayloadType::SK || this == PayloadType::SKF {
            break;
        }
        next = PayloadType(f.first);
        pos += len; // len >= 4: the walk always advances, so it always ends.
    }
    None
}

/// Decodes one payload body. `b` is the body (after the generic header), `off` its offset from
/// the IKE header, `declared` the body length the generic header claims (≥ `b.len()`).
fn decode_body(
    ptype: PayloadType,
    next: u8,
    b: &[u8],
    off: usize,
    declared: usize,
) -> (PayloadBody, Option<DecodeError>) {
    let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut r = Reader::new(b, off);
    let short = |what: &'static str, need: usize| short_body(what, b, off, need);
    match ptype {
        PayloadType::SA => decode_sa(b, off),
        PayloadType::KE => match (r.u16(), r.skip(2)) {
            (Some(group), Some(())) => (
                PayloadBody::Ke {
                    group,
                    data_len: len32(r.remaining()),
                },
                None,
            ),
            _ => short("KE", 4),
        },
        PayloadType::IDI | PayloadType::IDR => match r.u8() {
            Some(id_type) => {
                // The type is kept even when the reserved bytes are cut short (Wireshark shows
                // it too): it says what the sender meant to identify itself with.
                let err = r.skip(3).is_none().then(|| body_short("ID", b, off, 4));
                let data = r.rest();
                let keep = data.get(..MAX_ID_DATA).unwrap_or(data);
                let id = Identification {
                    id_type: IdType(id_type),
                    protocol: 0,
                    port: 0,
                    data: keep.to_vec(),
                };
                (PayloadBody::Id(id), err)
            }
            None => short("ID", 4),
        },
        PayloadType::CERT | PayloadType::CERTREQ => match r.u8() {
            Some(encoding) => {
                let len = len32(r.remaining());
                let body = if ptype == PayloadType::CERT {
                    PayloadBody::Cert { encoding, len }
                } else {
                    PayloadBody::CertReq { encoding, len }
                };
                (body, None)
            }
            None => short(
                if ptype == PayloadType::CERT {
                    "CERT"
                } else {
                    "CERTREQ"
                },
                1,
            ),
        },
        PayloadType::AUTH => match (r.u8(), r.skip(3)) {
            (Some(method), Some(())) => (
                PayloadBody::Auth {
                    method,
                    len: len32(r.remaining()),
                },
                None,
            ),
            _ => short("AUTH", 4),
        },
        PayloadType::NONCE => (
            PayloadBody::Nonce {
                len: len32(b.len()),
            },
            None,
        ),
        PayloadType::NOTIFY => decode_notify(b, off),
        PayloadType::DELETE => decode_delete(b, off),
        PayloadType::VENDOR_ID => (PayloadBody::VendorId(b.to_vec()), None),
        PayloadType::TSI | PayloadType::TSR => decode_ts(b, off),
        PayloadType::SK => (
            PayloadBody::Encrypted {
                inner_first_payload: next,
                len: len32(declared),
            },
            None,
        ),
        PayloadType::CP => decode_cp(b, off),
        PayloadType::EAP => match (r.u8(), r.skip(3)) {
            (Some(code), Some(())) => {
                // Only Request (1) and Response (2) carry a Type (RFC 3748 §4).
                let eap_type = if code == 1 || code == 2 { r.u8() } else { None };
                (
                    PayloadBody::Eap {
                        code,
                        eap_type,
                        len: len32(b.len()),
                    },
                    None,
                )
            }
            _ => short("EAP", 4),
        },
        PayloadType::SKF => match (r.u16(), r.u16()) {
            (Some(number), Some(total)) => {
                let body = PayloadBody::EncryptedFragment {
                    number,
                    total,
                    inner_first_payload: next,
                    len: len32(declared.saturating_sub(4)),
                };
                // RFC 7383 §2.5: numbers run from 1 to the total.
                let err = (number == 0 || number > total)
                    .then(|| ErrorKind::FragmentNumber { number, total }.at(Layer::V2Payload, off));
                (body, err)
            }
            _ => short("SKF", 4),
        },
        _ => (
            PayloadBody::Other {
                len: len32(b.len()),
            },
            None,
        ),
    }
}

/// SA payload (RFC 7296 §3.3): proposals, each with its transforms and their attributes.
fn decode_sa(b: &[u8], off: usize) -> (PayloadBody, Option<DecodeError>) {
    let mut proposals = Vec::new();
    let mut pos = 0usize;
    loop {
        let at = off + pos;
        let rest = b.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            let err =
                (proposals.is_empty()).then(|| ErrorKind::NoProposal.at(Layer::V2Proposal, at));
            return (PayloadBody::Sa(proposals), err);
        }
        // Like Wireshark, proposals are read while bytes remain; the last/more flag is not
        // trusted to end the list.
        match decode_proposal(rest, at) {
            Ok((proposal, len)) => {
                proposals.push(proposal);
                pos += len;
            }
            Err(e) => return (PayloadBody::Sa(proposals), Some(e)),
        }
    }
}

/// The bytes of one proposal or transform substructure (RFC 7296 §3.3.1, §3.3.2), which
/// share their first four bytes: last/more, reserved, a length that covers the 8-byte header.
/// `own` is that length, `enclosing` what bounds `b`.
fn substructure(
    layer: Layer,
    b: &[u8],
    at: usize,
    own: LenField,
    enclosing: LenSource,
) -> Result<Frame<'_>, DecodeError> {
    frame::frame(b, 8).map_err(|e| {
        e.len_error(own, enclosing, LenSubject::SubstructureHeader, 8)
            .at(layer, at)
    })
}

/// A proposal or transform with fewer bytes than its 8-byte header. `substructure` has already
/// checked the length; this backs up reads that cannot fail rather than unwrap them.
fn header_short(have: usize, source: LenSource) -> LenError {
    LenError {
        need: 8,
        have,
        source,
        what: LenSubject::SubstructureHeader,
    }
}

/// One proposal substructure (RFC 7296 §3.3.1). Returns it and its length.
fn decode_proposal(b: &[u8], at: usize) -> Result<(Proposal, usize), DecodeError> {
    const L: Layer = Layer::V2Proposal;
    const IN_PROPOSAL: LenSource = LenSource::Field(LenField::ProposalLength);
    let f = substructure(L, b, at, LenField::ProposalLength, IN_PAYLOAD)?;
    let len = usize::from(f.length);
    let mut r = Reader::new(f.body, at + frame::HEADER_LEN);
    let (Some(number), Some(protocol), Some(spi_size), Some(num_transforms)) =
        (r.u8(), r.u8(), r.u8(), r.u8())
    else {
        return Err(header_short(b.len(), IN_PAYLOAD).at(L, at));
    };
    let Some(spi) = r.take(usize::from(spi_size)) else {
        let e = LenError {
            need: usize::from(spi_size),
            have: r.remaining(),
            source: IN_PROPOSAL,
            what: LenSubject::SpiSize,
        };
        return Err(e.at(L, at + 7));
    };
    let mut proposal = Proposal {
        number,
        protocol,
        spi: spi.to_vec(),
        transforms: Vec::with_capacity(usize::from(num_transforms)),
    };
    for i in 1..=num_transforms {
        let t_at = r.offset();
        let rest = r.rest();
        if rest.is_empty() {
            let e = ErrorKind::Count {
                what: Counted::Transforms,
                declared: usize::from(num_transforms),
                present: usize::from(i - 1),
            };
            return Err(e.at(L, t_at));
        }
        let (t, t_len) = decode_transform(rest, t_at, i)?;
        proposal.transforms.push(t);
        r.skip(t_len);
    }
    Ok((proposal, len))
}

/// One transform substructure (RFC 7296 §3.3.2). `index` is its 1-based position in the
/// proposal (IKEv2 transforms carry no number of their own).
fn decode_transform(b: &[u8], at: usize, index: u8) -> Result<(Transform, usize), DecodeError> {
    const L: Layer = Layer::V2Transform;
    const IN_TRANSFORM: LenSource = LenSource::Field(LenField::TransformLength);
    let in_proposal = LenSource::Field(LenField::ProposalLength);
    let f = substructure(L, b, at, LenField::TransformLength, in_proposal)?;
    let len = usize::from(f.length);
    let mut r = Reader::new(f.body, at + frame::HEADER_LEN);
    let (Some(transform_type), Some(()), Some(id)) = (r.u8(), r.skip(1), r.u16()) else {
        return Err(header_short(len, in_proposal).at(L, at));
    };
    let mut attributes = Vec::new();
    while r.remaining() > 0 {
        let a_at = r.offset();
        let header_short = LenError {
            need: 4,
            have: r.remaining(),
            source: IN_TRANSFORM,
            what: LenSubject::TransformAttributeHeader,
        };
        let (Some(raw_type), Some(v)) = (r.u16(), r.u16()) else {
            return Err(header_short.at(L, a_at));
        };
        let attr_type = raw_type & 0x7fff;
        // AF bit set: TV, the value is in the header; clear: TLV (RFC 7296 §3.3.5).
        let value = if raw_type & 0x8000 != 0 {
            AttributeValue::Number(u64::from(v))
        } else {
            let Some(val) = r.take(usize::from(v)) else {
                let e = LenError {
                    need: usize::from(v),
                    have: r.remaining(),
                    source: IN_TRANSFORM,
                    what: LenSubject::AttributeLength,
                };
                return Err(e.at(L, a_at));
            };
            number_or_len(val)
        };
        attributes.push(Attribute { attr_type, value });
    }
    Ok((
        Transform {
            number: index,
            transform_type: TransformType(transform_type),
            id,
            attributes,
        },
        len,
    ))
}

fn number_or_len(val: &[u8]) -> AttributeValue {
    if val.len() <= 8 {
        AttributeValue::Number(val.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x)))
    } else {
        AttributeValue::Bytes(u32::try_from(val.len()).unwrap_or(u32::MAX))
    }
}

/// A payload body too short for its fixed fields: kept as `Other` with its length, and the
/// error that says which payload and how short.
fn short_body(
    what: &'static str,
    b: &[u8],
    off: usize,
    need: usize,
) -> (PayloadBody, Option<DecodeError>) {
    (
        PayloadBody::Other {
            len: u32::try_from(b.len()).unwrap_or(u32::MAX),
        },
        Some(body_short(what, b, off, need)),
    )
}

fn body_short(what: &'static str, b: &[u8], off: usize, need: usize) -> DecodeError {
    LenError {
        need,
        have: b.len(),
        source: IN_PAYLOAD,
        what: LenSubject::Body { what },
    }
    .at(Layer::V2Payload, off)
}

/// Notify payload (RFC 7296 §3.10): the SPI and the data are kept whole.
fn decode_notify(b: &[u8], off: usize) -> (PayloadBody, Option<DecodeError>) {
    let mut r = Reader::new(b, off);
    let (Some(protocol), Some(spi_size), Some(notify_type)) = (r.u8(), r.u8(), r.u16()) else {
        return short_body("Notify", b, off, 4);
    };
    let mut n = Notify {
        doi: None,
        protocol,
        spi: Vec::new(),
        notify_type: NotifyType(notify_type),
        data: Vec::new(),
    };
    match r.take(usize::from(spi_size)) {
        Some(spi) => {
            n.spi = spi.to_vec();
            n.data = r.rest().to_vec();
            // RFC 7296 §3.10.1: INVALID_KE_PAYLOAD carries the accepted group in 2 bytes; the
            // diagnosis needs it, and Wireshark calls the packet malformed without it.
            let err = (notify_type == INVALID_KE_PAYLOAD && n.data.len() < 2).then(|| {
                LenError {
                    need: 2,
                    have: n.data.len(),
                    source: IN_PAYLOAD,
                    what: LenSubject::InvalidKeData,
                }
                .at(Layer::V2Payload, r.offset())
            });
            (PayloadBody::Notify(n), err)
        }
        None => {
            let e = LenError {
                need: usize::from(spi_size),
                have: r.remaining(),
                source: IN_PAYLOAD,
                what: LenSubject::NotifySpiSize,
            }
            .at(Layer::V2Payload, off + 1);
            (PayloadBody::Notify(n), Some(e))
        }
    }
}

/// Delete payload (RFC 7296 §3.11). SPIs longer than 8 bytes are folded to their first 8.
fn decode_delete(b: &[u8], off: usize) -> (PayloadBody, Option<DecodeError>) {
    let mut r = Reader::new(b, off);
    let (Some(protocol), Some(spi_size), Some(num)) = (r.u8(), r.u8(), r.u16()) else {
        return short_body("Delete", b, off, 4);
    };
    let mut d = Delete {
        doi: None,
        protocol,
        spi_size,
        spis: Vec::new(),
    };
    let mut err = None;
    if spi_size > 0 {
        for i in 0..num {
            let Some(spi) = r.take(usize::from(spi_size)) else {
                let e = ErrorKind::Count {
                    what: Counted::DeleteSpis { spi_size },
                    declared: usize::from(num),
                    present: usize::from(i),
                };
                err = Some(e.at(Layer::V2Payload, r.offset()));
                break;
            };
            let head = spi.get(..8).unwrap_or(spi);
            d.spis
                .push(head.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x)));
        }
    }
    (PayloadBody::Delete(d), err)
}

/// TSi / TSr payload (RFC 7296 §3.13). Selectors of unknown types are skipped by their length.
fn decode_ts(b: &[u8], off: usize) -> (PayloadBody, Option<DecodeError>) {
    const L: Layer = Layer::V2TrafficSelector;
    let mut r = Reader::new(b, off);
    let (Some(count), Some(())) = (r.u8(), r.skip(3)) else {
        return short_body("TS", b, off, 4);
    };
    let mut out = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let at = r.offset();
        let f = match frame::frame(r.rest(), frame::HEADER_LEN) {
            Ok(f) => f,
            Err(FrameError::Header { .. }) => {
                let e = ErrorKind::Count {
                    what: Counted::Selectors,
                    declared: usize::from(count),
                    present: usize::from(i),
                };
                return (PayloadBody::TrafficSelectors(out), Some(e.at(L, at)));
            }
            // The short-header wording passed here goes unused: that case is the count above.
            Err(e) => {
                let e = e.len_error(
                    LenField::SelectorLength,
                    IN_PAYLOAD,
                    LenSubject::LengthLeft,
                    frame::HEADER_LEN,
                );
                return (PayloadBody::TrafficSelectors(out), Some(e.at(L, at)));
            }
        };
        let (ts_type, ip_protocol) = (f.first, f.second);
        let sel_len = usize::from(f.length);
        let addr_len = match ts_type {
            TS_IPV4_ADDR_RANGE => 4,
            TS_IPV6_ADDR_RANGE => 16,
            _ => 0,
        };
        if addr_len > 0 {
            let need = 8 + 2 * addr_len;
            let mut s = Reader::new(f.body, at + frame::HEADER_LEN);
            let parsed = (s.u16(), s.u16(), s.take(addr_len), s.take(addr_len));
            let (Some(start_port), Some(end_port), Some(a), Some(z)) = parsed else {
                let e = LenError {
                    need,
                    have: sel_len,
                    source: LenSource::Field(LenField::SelectorLength),
                    what: LenSubject::LengthBelowMin,
                }
                .at(L, at);
                return (PayloadBody::TrafficSelectors(out), Some(e));
            };
            out.push(TrafficSelector {
                ts_type,
                ip_protocol,
                start_port,
                end_port,
                start_addr: ip_from(a),
                end_addr: ip_from(z),
            });
        }
        r.skip(sel_len);
    }
    (PayloadBody::TrafficSelectors(out), None)
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    } else if let Ok(a) = <[u8; 16]>::try_from(b) {
        Some(IpAddr::V6(Ipv6Addr::from(a)))
    } else {
        None
    }
}

/// Configuration payload (RFC 7296 §3.15): the type and the attribute types, in order.
fn decode_cp(b: &[u8], off: usize) -> (PayloadBody, Option<DecodeError>) {
    let mut r = Reader::new(b, off);
    let (Some(cfg_type), Some(())) = (r.u8(), r.skip(3)) else {
        return short_body("CP", b, off, 4);
    };
    let mut attributes = Vec::new();
    let mut err = None;
    while r.remaining() > 0 {
        let at = r.offset();
        let header_short = LenError {
            need: 4,
            have: r.remaining(),
            source: IN_PAYLOAD,
            what: LenSubject::ConfigAttributeHeader,
        };
        let (Some(t), Some(l)) = (r.u16(), r.u16()) else {
            err = Some(header_short.at(Layer::V2ConfigAttribute, at));
            break;
        };
        if r.take(usize::from(l)).is_none() {
            let e = LenError {
                need: usize::from(l),
                have: r.remaining(),
                source: IN_PAYLOAD,
                what: LenSubject::LengthLeft,
            };
            err = Some(e.at(Layer::V2ConfigAttribute, at));
            break;
        }
        // The top bit is reserved (RFC 7296 §3.15.1).
        attributes.push(t & 0x7fff);
    }
    (
        PayloadBody::Config {
            cfg_type,
            attributes,
        },
        err,
    )
}

/// A bounds-checked big-endian cursor: every read returns `None` rather than panic, and a
/// failed read consumes nothing.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], base: usize) -> Self {
        Reader { data, pos: 0, base }
    }

    /// Offset of the next byte from the IKE header.
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let s = self.take(2)?;
        Some(u16::from_be_bytes(s.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ike::{IkeMessage, decode};
    use crate::event::codes::{IdType, NotifyType, PayloadType};
    use proptest::prelude::*;

    /// The SA payload as decoded, trusted or not: `IkeMessage::proposals` leaves out what a
    /// broken chain yields, these tests check what the decoder kept.
    fn decoded_sa(m: &IkeMessage) -> &[Proposal] {
        m.payloads
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Sa(props) => Some(props.as_slice()),
                _ => None,
            })
            .expect("an SA payload")
    }

    /// Fixtures: single IKE UDP payloads (non-ESP marker removed); sources in
    /// tests/fixtures/ikev2/README.md.
    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../../tests/fixtures/ikev2/", $name)).as_slice()
        };
    }

    fn msg(data: &[u8]) -> IkeMessage {
        decode(data, false).expect("header decodes")
    }

    fn types(m: &IkeMessage) -> Vec<u8> {
        m.payloads.iter().map(|p| p.payload_type.0).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// A message with IKEv2 header (first payload `first`) around `body`.
    fn build(first: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0x11; 16];
        v.extend_from_slice(&[first, 0x20, 34, 0x08, 0, 0, 0, 0]);
        v.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A generic payload header + body.
    fn payload(next: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![next, 0];
        v.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    // ukncsc ikev2.pcap frame 1 (tshark -V): IKE_SA_INIT request, SA with proposals 1 (33
    // transforms) and 2 (35), KE group 19, Nonce, five notifies.
    #[test]
    fn ukncsc_sa_init_request() {
        let m = msg(fixture!("ukncsc-f1.bin"));
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [33, 34, 40, 41, 41, 41, 41, 41]);
        assert_eq!(m.payloads[0].length, 672);
        let props = m.proposals().unwrap();
        assert_eq!(props.len(), 2);
        assert_eq!((props[0].number, props[0].protocol), (1, 1));
        assert_eq!(props[0].transforms.len(), 33);
        assert_eq!(props[1].number, 2);
        assert_eq!(props[1].transforms.len(), 35);
        // First transforms: ENCR_AES_CBC with Key Length 128, 192, 256.
        let t = &props[0].transforms;
        assert_eq!((t[0].transform_type.0, t[0].id), (1, 12));
        let kl: Vec<_> = t[..3].iter().map(|t| t.attribute(14).cloned()).collect();
        assert_eq!(kl, [128, 192, 256].map(|n| Some(AttributeValue::Number(n))));
        assert!(matches!(
            m.payloads[1].body,
            PayloadBody::Ke { group: 19, .. }
        ));
        let n: Vec<_> = m.notifies().map(|n| n.notify_type.0).collect();
        assert_eq!(n, [16388, 16389, 16430, 16431, 16406]);
        let nd: Vec<_> = m.notifies().map(|n| n.data.clone()).collect();
        assert_eq!(nd[0], unhex("764695c6c3a115ffd08f403193f7bc1a9663545b"));
        assert_eq!(nd[1], unhex("9c1d7fb983423f62f8ef5806916604e3da683d96"));
        assert!(nd[2].is_empty());
        // SIGNATURE_HASH_ALGORITHMS: SHA2-256, SHA2-384, SHA2-512.
        assert_eq!(nd[3], unhex("000200030004"));
    }

    // ukncsc ikev2.pcap frame 2: Notify INVALID_KE_PAYLOAD, length 10, protocol 0, data 000f
    // (accepted group 15).
    #[test]
    fn ukncsc_invalid_ke() {
        let m = msg(fixture!("ukncsc-f2.bin"));
        assert_eq!(m.error, None);
        assert_eq!(m.payloads.len(), 1);
        let p = &m.payloads[0];
        assert_eq!(
            (p.payload_type.0, p.length, p.offset, p.critical),
            (41, 10, 28, false)
        );
        let PayloadBody::Notify(n) = &p.body else {
            panic!("{p:?}")
        };
        assert_eq!((n.protocol, n.notify_type.0, n.doi), (0, 17, None));
        assert!(n.spi.is_empty());
        assert_eq!(n.data, [0x00, 0x0f]);
    }

    // ukncsc ikev2.pcap frame 3: the retry after INVALID_KE_PAYLOAD, KE group 15 (3072-bit
    // MODP, 384 bytes). Frame 4: the response, SA with one proposal (ENCR_AES_CBC 128, INTEG 12,
    // PRF 4, D-H 15), KE, Nonce and notifies 16388, 16389, 16430, 16431, 16418, 16404.
    #[test]
    fn ukncsc_retry_and_response() {
        let m = msg(fixture!("ukncsc-f3.bin"));
        assert_eq!(m.error, None);
        assert_eq!(
            m.payloads[1].body,
            PayloadBody::Ke {
                group: 15,
                data_len: 384
            }
        );
        let m = msg(fixture!("ukncsc-f4.bin"));
        assert_eq!(m.error, None);
        assert!(m.is_response());
        assert_eq!(types(&m), [33, 34, 40, 41, 41, 41, 41, 41, 41]);
        let p = decoded_sa(&m);
        assert_eq!(p.len(), 1);
        let t: Vec<_> = p[0]
            .transforms
            .iter()
            .map(|t| (t.transform_type.0, t.id))
            .collect();
        assert_eq!(t, [(1, 12), (3, 12), (2, 4), (4, 15)]);
        assert_eq!(
            p[0].transforms[0].attribute(14),
            Some(&AttributeValue::Number(128))
        );
        let n: Vec<_> = m.notifies().map(|n| n.notify_type.0).collect();
        assert_eq!(n, [16388, 16389, 16430, 16431, 16418, 16404]);
    }

    // ukncsc ikev2.pcap frames 5, 6 (UDP 4500, marker stripped): SKF 1/2 (next payload IDi,
    // length 1208) and 2/2 (next payload NONE, length 280); frame 7: SK (next Notify, length 52).
    #[test]
    fn ukncsc_skf_and_sk() {
        let f5 = msg(fixture!("ukncsc-f5.bin"));
        assert_eq!(f5.error, None);
        assert!(f5.encrypted);
        assert_eq!(f5.payloads.len(), 1);
        assert_eq!(f5.payloads[0].length, 1208);
        assert_eq!(
            f5.payloads[0].body,
            PayloadBody::EncryptedFragment {
                number: 1,
                total: 2,
                inner_first_payload: 35,
                len: 1200
            }
        );
        let f6 = msg(fixture!("ukncsc-f6.bin"));
        assert_eq!(f6.payloads[0].length, 280);
        assert_eq!(
            f6.payloads[0].body,
            PayloadBody::EncryptedFragment {
                number: 2,
                total: 2,
                inner_first_payload: 0,
                len: 272
            }
        );
        let f7 = msg(fixture!("ukncsc-f7.bin"));
        assert_eq!(f7.error, None);
        assert!(f7.encrypted);
        assert_eq!(
            f7.payloads[0].body,
            PayloadBody::Encrypted {
                inner_first_payload: 41,
                len: 48
            }
        );
    }

    // tcpdump ikev2four.pcap frame 2: COOKIE (16390), payload length 32, 24 bytes of data;
    // frame 3 echoes it first, before SA (12 transforms), KE, Nonce.
    #[test]
    fn ikev2four_cookie() {
        let cookie = unhex("00000001c2221e50c16e123f2b0c71aefcf0cb3b798782c6");
        let m = msg(fixture!("ikev2four-f2.bin"));
        assert_eq!(m.error, None);
        assert_eq!(m.payloads[0].length, 32);
        let n: Vec<_> = m.notifies().collect();
        assert_eq!((n.len(), n[0].notify_type.0), (1, 16390));
        assert_eq!(n[0].data, cookie);
        let m3 = msg(fixture!("ikev2four-f3.bin"));
        assert_eq!(m3.error, None);
        assert_eq!(&types(&m3)[..2], [41, 33]);
        assert_eq!(m3.notifies().next().unwrap().data, cookie);
        assert_eq!(m3.proposals().unwrap()[0].transforms.len(), 12);
    }

    // scapy ikev2_notify_redirect.pcap frame 2: REDIRECT (16407), protocol IKE (1), length 78,
    // data = GW type FQDN (3), length 28, "moneybin.duckburg.disney.com", then the nonce.
    // Frame 4: NO_PROPOSAL_CHOSEN (14), protocol IKE (1), no data.
    #[test]
    fn scapy_redirect_and_no_proposal() {
        let m = msg(fixture!("redirect-f2.bin"));
        assert_eq!(m.error, None);
        assert_eq!(m.payloads[0].length, 78);
        let n = m.notifies().next().unwrap();
        assert_eq!((n.protocol, n.notify_type.0, n.data.len()), (1, 16407, 70));
        assert_eq!(&n.data[..2], [3, 28]);
        assert_eq!(&n.data[2..30], b"moneybin.duckburg.disney.com");
        let m = msg(fixture!("redirect-f4.bin"));
        assert_eq!(m.error, None);
        let n = m.notifies().next().unwrap();
        assert_eq!((n.protocol, n.notify_type.0), (1, 14));
        assert!(n.data.is_empty());
        assert!(m.has_notify(NotifyType(14)));
    }

    // rusticata ike-sa-init-req.bin / -resp.bin (checked with tshark after text2pcap).
    #[test]
    fn rusticata_sa_init() {
        let m = msg(fixture!("ike-sa-init-req.bin"));
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [33, 34, 40]);
        let t: Vec<_> = m.proposals().unwrap()[0]
            .transforms
            .iter()
            .map(|t| (t.transform_type.0, t.id))
            .collect();
        assert_eq!(t, [(1, 12), (1, 3), (2, 2), (3, 2), (4, 2)]);
        assert!(matches!(
            m.payloads[1].body,
            PayloadBody::Ke {
                group: 2,
                data_len: 128
            }
        ));
        assert_eq!(m.payloads[2].body, PayloadBody::Nonce { len: 32 });

        let m = msg(fixture!("ike-sa-init-resp.bin"));
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [33, 34, 40, 38, 41]);
        // CERTREQ length 25: X.509 signature (4), 20 bytes of CA hash.
        assert_eq!(
            m.payloads[3].body,
            PayloadBody::CertReq {
                encoding: 4,
                len: 20
            }
        );
        assert!(m.has_notify(NotifyType(16392)));
    }

    // ike-scan pkt-ikev2.dat (11 transforms), pkt-v2-sainit-response.dat (KE group 2 though the
    // chosen D-H transform is 14), pkt-v2-notify-response.dat (NO_PROPOSAL_CHOSEN).
    #[test]
    fn ike_scan_vectors() {
        let m = msg(fixture!("pkt-ikev2.dat"));
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [33, 34, 40]);
        let tr = &m.proposals().unwrap()[0].transforms;
        assert_eq!(tr.len(), 11);
        assert_eq!(tr[10].number, 11);
        assert_eq!((tr[10].transform_type.0, tr[10].id), (4, 14));
        assert_eq!(m.payloads[2].body, PayloadBody::Nonce { len: 20 });

        let m = msg(fixture!("pkt-v2-sainit-response.dat"));
        assert_eq!(m.error, None);
        assert_eq!(m.proposals().unwrap()[0].transforms[3].id, 14);
        assert!(matches!(
            m.payloads[1].body,
            PayloadBody::Ke { group: 2, .. }
        ));
        assert_eq!(m.payloads[2].body, PayloadBody::Nonce { len: 16 });

        let m = msg(fixture!("pkt-v2-notify-response.dat"));
        assert_eq!(m.error, None);
        assert!(m.has_notify(NotifyType(14)));
    }

    // tcpdump ikev2pI2.pcap frame 2: IKE_AUTH, one SK payload (length 256, next IDi). With the
    // capture's published keys tshark decrypts it to IDi (FQDN "west", length 12) and AUTH (RSA
    // signature (1), length 200, data all zero), which the inner chain below reproduces.
    #[test]
    fn pi2_ike_auth_and_its_inner_chain() {
        let m = msg(fixture!("pI2-f2.bin"));
        assert_eq!(m.error, None);
        assert!(m.encrypted);
        assert_eq!(m.payloads[0].length, 256);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Encrypted {
                inner_first_payload: 35,
                len: 252
            }
        );
        let mut inner = vec![39, 0, 0, 12, 2, 0, 0, 0];
        inner.extend_from_slice(b"west");
        inner.extend_from_slice(&[0, 0, 0, 200, 1, 0, 0, 0]);
        inner.extend_from_slice(&[0; 192]);
        let mut out = Vec::new();
        assert_eq!(
            decode_payloads(PayloadType(35), &inner, 0, LenSource::Captured, &mut out),
            None
        );
        assert_eq!(
            out.iter().map(|p| p.body.clone()).collect::<Vec<_>>(),
            [
                PayloadBody::Id(Identification {
                    id_type: IdType(2),
                    protocol: 0,
                    port: 0,
                    data: b"west".to_vec()
                }),
                PayloadBody::Auth {
                    method: 1,
                    len: 192
                },
            ]
        );
        assert_eq!((out[1].offset, out[1].length), (12, 200));
    }

    // tcpdump ikev2-id-short.pcap frame 1: IDi with payload length 5. tshark shows ID type
    // IPV4_ADDR (1) and then reads the address from beyond the payload; we keep the type and say
    // the body is short.
    #[test]
    fn id_short() {
        let m = msg(fixture!("id-short-f1.bin"));
        assert_eq!(m.payloads.len(), 1);
        let PayloadBody::Id(id) = &m.payloads[0].body else {
            panic!("{:?}", m.payloads[0])
        };
        assert_eq!(id.id_type.0, 1);
        assert!(id.data.is_empty());
        let e = m.error.unwrap();
        assert_eq!(e.offset, 0x20);
        assert_eq!(
            e.to_string(),
            "IKEv2 payload at offset 0x20: ID body 1 bytes < 4"
        );
    }

    // tcpdump ikev2pI2-segfault.pcapng frame 1: critical SA (length 244) whose second proposal
    // claims length 43690; tshark: proposal 1 with transforms (1, 26380), (3, 2), (2, 2),
    // (67, 170), then [Malformed Packet].
    #[test]
    fn pi2_segfault() {
        let m = msg(fixture!("pI2-segfault-f1.bin"));
        assert_eq!(types(&m), [33]);
        assert!(m.payloads[0].critical);
        assert_eq!(m.payloads[0].length, 244);
        let p = decoded_sa(&m);
        assert_eq!(p.len(), 1);
        let t: Vec<_> = p[0]
            .transforms
            .iter()
            .map(|t| (t.transform_type.0, t.id))
            .collect();
        assert_eq!(t, [(1, 26380), (3, 2), (2, 2), (67, 170)]);
        let e = m.error.unwrap();
        assert_eq!(e.layer, Layer::V2Proposal);
        assert_eq!(e.offset, 0x48);
        assert_eq!(e.kind.to_string(), "length 43690 > 200 bytes left");
        // What is left of the SA payload ran out, not the capture.
        assert_eq!(
            e.len_error().map(|l| (l.need, l.have, l.source)),
            Some((43690, 200, IN_PAYLOAD))
        );
    }

    #[test]
    fn length_below_four() {
        let mut body = payload(0, &[]);
        body[3] = 3;
        let m = msg(&build(41, &body));
        assert!(m.payloads.is_empty());
        assert_eq!(
            m.error.unwrap().to_string(),
            "IKEv2 payload at offset 0x1c: length 3 < 4"
        );
        // Zero length must not loop.
        let m = msg(&build(43, &[43, 0, 0, 0, 43, 0, 0, 0]));
        assert_eq!(m.error.unwrap().kind.to_string(), "length 0 < 4");
    }

    #[test]
    fn length_past_end_keeps_payload() {
        let mut body = payload(0, b"abcd");
        body[3] = 40;
        let m = msg(&build(43, &body));
        assert_eq!(m.payloads.len(), 1);
        assert_eq!(m.payloads[0].body, PayloadBody::VendorId(b"abcd".to_vec()));
        let e = m.error.unwrap();
        assert_eq!(
            (e.offset, e.kind.to_string().as_str()),
            (28, "length 40 > 8 bytes left")
        );
    }

    #[test]
    fn chain_past_end() {
        let m = msg(&build(43, &payload(40, b"vid")));
        assert_eq!(types(&m), [43]);
        let e = m.error.unwrap();
        assert_eq!(e.offset, 35);
        assert_eq!(
            e.kind.to_string(),
            "next payload 40 but the message ends here"
        );
        // The header's length ended the message, and the capture agrees.
        assert_eq!(
            e.len_error().map(|l| (l.need, l.have, l.source)),
            Some((4, 0, LenSource::Field(LenField::IkeLength)))
        );
        let mut data = build(43, &payload(40, b"vid"));
        data.extend_from_slice(&[0, 0]);
        data[27] += 2;
        assert_eq!(
            msg(&data).error.unwrap().kind.to_string(),
            "payload 40 header needs 4 bytes, 2 present"
        );
    }

    #[test]
    fn padding_after_none_is_fine() {
        let mut body = payload(0, &[1, 2, 3, 4]);
        body.extend_from_slice(&[0; 7]);
        let m = msg(&build(40, &body));
        assert_eq!(m.error, None);
        assert_eq!(m.payloads.len(), 1);
    }

    #[test]
    fn sk_is_last_even_if_bytes_follow() {
        let mut body = payload(35, &[0xee; 20]);
        body.extend_from_slice(&payload(0, b"junk"));
        let m = msg(&build(46, &body));
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [46]);
        assert!(m.encrypted);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Encrypted {
                inner_first_payload: 35,
                len: 20
            }
        );
    }

    #[test]
    fn critical_bit_and_unknown_types() {
        let mut body = payload(0, &[9; 6]);
        body[1] = 0x80;
        let m = msg(&build(52, &body));
        assert!(m.payloads[0].critical);
        assert_eq!(m.payloads[0].body, PayloadBody::Other { len: 6 });
    }

    #[test]
    fn child_sa_proposal_with_spi_and_tlv_attribute() {
        // ESP proposal, SPI 0x01020304, one ENCR transform with a TLV attribute of 10 bytes and
        // a TV key length.
        let mut t = vec![0, 0, 0, 0, 1, 0, 0, 20];
        t.extend_from_slice(&[0x00, 0x63, 0x00, 0x0a]);
        t.extend_from_slice(&[0xaa; 10]);
        t.extend_from_slice(&[0x80, 0x0e, 0x01, 0x00]);
        let tl = t.len() as u16;
        t[2..4].copy_from_slice(&tl.to_be_bytes());
        let mut p = vec![0, 0, 0, 0, 7, 3, 4, 1, 1, 2, 3, 4];
        p.extend_from_slice(&t);
        let pl = p.len() as u16;
        p[2..4].copy_from_slice(&pl.to_be_bytes());
        let m = msg(&build(33, &payload(0, &p)));
        assert_eq!(m.error, None);
        let pr = &m.proposals().unwrap()[0];
        assert_eq!(
            (pr.number, pr.protocol, pr.spi.as_slice()),
            (7, 3, &[1, 2, 3, 4][..])
        );
        let tr = &pr.transforms[0];
        assert_eq!(tr.attributes.len(), 2);
        assert_eq!(tr.attributes[0].attr_type, 0x63);
        assert_eq!(tr.attributes[0].value, AttributeValue::Bytes(10));
        assert_eq!(tr.attribute(14).and_then(|v| v.number()), Some(256));
    }

    #[test]
    fn proposal_errors_stop_the_sa() {
        // "more" flag set but nothing follows: Wireshark reads proposals by length and says
        // nothing; so do we.
        let p = [2, 0, 0, 8, 1, 1, 0, 0];
        let m = msg(&build(33, &payload(0, &p)));
        assert_eq!(m.proposals().unwrap().len(), 1);
        assert_eq!(m.error, None);
        // "last" flag set but another proposal follows: it is read.
        let p = [0, 0, 0, 8, 1, 1, 0, 0, 0, 0, 0, 8, 2, 3, 0, 0];
        let m = msg(&build(33, &payload(0, &p)));
        assert_eq!(m.proposals().unwrap().len(), 2);
        // Junk after the proposals.
        let p = [0, 0, 0, 8, 1, 1, 0, 0, 0, 0];
        let e = msg(&build(33, &payload(0, &p))).error.unwrap();
        assert_eq!(
            (e.offset, e.kind.to_string().as_str()),
            (40, "header needs 8 bytes, 2 present")
        );
        // Transform count beyond the proposal.
        let p = [0, 0, 0, 8, 1, 1, 0, 2];
        let m = msg(&build(33, &payload(0, &p)));
        assert_eq!(
            m.error.unwrap().kind.to_string(),
            "2 transforms declared, 0 present"
        );
        // Proposal length below 8.
        let p = [0, 0, 0, 4, 1, 1, 0, 0];
        assert_eq!(
            msg(&build(33, &payload(0, &p)))
                .error
                .unwrap()
                .kind
                .to_string(),
            "length 4 < 8"
        );
        // SPI bigger than the proposal.
        let p = [0, 0, 0, 8, 1, 3, 4, 0];
        let e = msg(&build(33, &payload(0, &p))).error.unwrap();
        assert_eq!(
            (e.offset, e.kind.to_string().as_str()),
            (32 + 7, "SPI size 4 > 0 bytes left")
        );
    }

    #[test]
    fn delete_esp_spis() {
        let b = [3, 4, 0, 2, 0xc0, 0, 0, 1, 0xc0, 0, 0, 2];
        let m = msg(&build(42, &payload(0, &b)));
        assert_eq!(m.error, None);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Delete(Delete {
                doi: None,
                protocol: 3,
                spi_size: 4,
                spis: vec![0xc000_0001, 0xc000_0002]
            })
        );
        // IKE SA delete: no SPIs.
        let m = msg(&build(42, &payload(0, &[1, 0, 0, 0])));
        assert!(matches!(&m.payloads[0].body, PayloadBody::Delete(d) if d.spis.is_empty()));
        // Declared 3 SPIs, 2 present.
        let b = [3, 4, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2];
        let m = msg(&build(42, &payload(0, &b)));
        assert!(matches!(&m.payloads[0].body, PayloadBody::Delete(d) if d.spis.len() == 2));
        assert!(m.error.is_some());
    }

    #[test]
    fn traffic_selectors() {
        let mut b = vec![3, 0, 0, 0];
        b.extend_from_slice(&[7, 6, 0, 16, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255]);
        // Unknown type 10 (security label), skipped by its length.
        b.extend_from_slice(&[10, 0, 0, 8, 1, 2, 3, 4]);
        let mut v6 = vec![8, 17, 0, 40, 0, 53, 0, 53];
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6.extend_from_slice(&[0; 12]);
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6.extend_from_slice(&[0xff; 12]);
        b.extend_from_slice(&v6);
        let m = msg(&build(44, &payload(0, &b)));
        assert_eq!(m.error, None);
        let PayloadBody::TrafficSelectors(ts) = &m.payloads[0].body else {
            panic!()
        };
        assert_eq!(ts.len(), 2);
        assert_eq!(
            ts[0],
            TrafficSelector {
                ts_type: 7,
                ip_protocol: 6,
                start_port: 0,
                end_port: 65535,
                start_addr: Some("10.0.0.0".parse().unwrap()),
                end_addr: Some("10.0.0.255".parse().unwrap()),
            }
        );
        assert_eq!(ts[1].start_addr, Some("2001:db8::".parse().unwrap()));
        assert_eq!(
            ts[1].end_addr,
            Some("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap())
        );
        // IPv4 selector cut short.
        let b = [1, 0, 0, 0, 7, 0, 0, 12, 0, 0, 0, 0, 1, 2, 3, 4];
        let m = msg(&build(45, &payload(0, &b)));
        assert_eq!(m.error.unwrap().kind.to_string(), "length 12 < 16");
    }

    #[test]
    fn cp_eap_auth_cert() {
        // CP → EAP → AUTH → CERT. CFG_REQUEST asks for INTERNAL_IP4_ADDRESS (1) and
        // INTERNAL_IP4_DNS (3), both empty.
        let mut body = payload(48, &[1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0]);
        // EAP Response (2), id 7, length 7, Identity (1) "ab".
        body.extend_from_slice(&payload(39, &[2, 7, 0, 7, 1, b'a', b'b']));
        // AUTH: shared key MIC (2), 5 bytes of data.
        body.extend_from_slice(&payload(37, &[2, 0, 0, 0, 5, 5, 5, 5, 5]));
        // CERT: X.509 signature (4), 3 bytes.
        body.extend_from_slice(&payload(0, &[4, 9, 9, 9]));
        let m = msg(&build(47, &body));
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [47, 48, 39, 37]);
        let bodies: Vec<_> = m.payloads.iter().map(|p| p.body.clone()).collect();
        assert_eq!(
            bodies,
            [
                PayloadBody::Config {
                    cfg_type: 1,
                    attributes: vec![1, 3]
                },
                PayloadBody::Eap {
                    code: 2,
                    eap_type: Some(1),
                    len: 7
                },
                PayloadBody::Auth { method: 2, len: 5 },
                PayloadBody::Cert {
                    encoding: 4,
                    len: 3
                },
            ]
        );
    }

    #[test]
    fn eap_success_has_no_type() {
        let m = msg(&build(48, &payload(0, &[3, 7, 0, 4])));
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Eap {
                code: 3,
                eap_type: None,
                len: 4
            }
        );
    }

    #[test]
    fn invalid_ke_without_group_is_an_error() {
        // Openswan lp08-parentR1/parentR1notify.pcap frame 2 has this; tshark: [Malformed].
        let m = msg(&build(41, &payload(0, &[1, 0, 0, 17])));
        // Decoded, but not presented as what the peer meant (see `trusted_payloads`).
        assert!(
            matches!(&m.payloads[0].body, PayloadBody::Notify(n) if n.notify_type == NotifyType(17))
        );
        assert!(!m.has_notify(NotifyType(17)));
        assert_eq!(
            m.error.unwrap().kind.to_string(),
            "INVALID_KE_PAYLOAD data 0 bytes < 2"
        );
    }

    #[test]
    fn id_data_is_capped() {
        let mut b = vec![11, 0, 0, 0];
        b.extend_from_slice(&[b'x'; 300]);
        let m = msg(&build(35, &payload(0, &b)));
        let PayloadBody::Id(id) = &m.payloads[0].body else {
            panic!()
        };
        assert_eq!((id.id_type.0, id.data.len()), (11, 256));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// decode() never panics, and every payload lies inside the message.
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(m) = decode(&data, false) {
                let end = (m.length as usize).min(data.len());
                for p in &m.payloads {
                    let off = p.offset as usize;
                    prop_assert!(off >= 28);
                    prop_assert!(off + 4 <= end);
                    if m.error.is_none() {
                        prop_assert!(off + usize::from(p.length) <= end);
                    }
                }
            }
        }

        /// The same for well-framed IKEv2 headers with random payload bodies, which reach the
        /// body decoders far more often than random bytes do.
        #[test]
        fn v2_bodies_never_panic(
            first in 33u8..=54,
            body in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let data = build(first, &body);
            let m = decode(&data, false).unwrap();
            for p in &m.payloads {
                let off = p.offset as usize;
                prop_assert!(off + 4 <= data.len());
                if m.error.is_none() {
                    prop_assert!(off + usize::from(p.length) <= data.len());
                }
            }
        }
    }
}
