//! IKEv1 payload chain in clear messages (RFC 2408 §3, RFC 2409, RFC 2407 IPsec DOI, RFC 3947
//! NAT-T, draft-ietf-ipsec-isakmp-mode-cfg for the Attribute payload).
//!
//! Walks the generic payload headers of an unencrypted ISAKMP message and turns each body into a
//! small owned [`PayloadBody`]. The ISAKMP header itself, and messages with the E flag, are
//! handled by the parent module; names for code points live in `names`.
//!
//! Every length comes from the wire, so every read is checked: nothing here indexes a slice or
//! unwraps data, and the chain always advances by at least the 4-byte generic header, which
//! bounds the walk by the message length (a pointer loop or a chain that never reaches NONE ends
//! at the last byte with an error).

use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};
use nom::{IResult, Parser};

use super::frame;
use crate::event::codes::{IdType, NotifyType, PayloadType, TransformType};
use crate::event::ike::{
    Attribute, AttributeValue, Delete, Identification, Notify, Payload, PayloadBody, Proposal,
    Transform,
};
use crate::event::{DecodeError, Layer, LenError, LenField, LenSource, LenSubject};

/// A payload body is bounded by its generic header's length: the chain only decodes bodies
/// that fit.
const IN_PAYLOAD: LenSource = LenSource::Field(LenField::PayloadLength);
const IN_PROPOSAL: LenSource = LenSource::Field(LenField::ProposalLength);
const IN_TRANSFORM: LenSource = LenSource::Field(LenField::TransformLength);

/// Size of the generic payload header (RFC 2408 §3.2).
const GENERIC_LEN: usize = frame::HEADER_LEN;

/// The IPsec DOI (RFC 2407 §4.2); the only one whose SA situation and proposals are decoded.
pub const DOI_IPSEC: u32 = 1;

/// Identification data kept per ID payload.
const MAX_ID_DATA: usize = 256;

type Res<'a, T> = IResult<&'a [u8], T>;
type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Runs a nom parser where only success matters: the rest and the output, or None.
fn run<'a, O>(
    mut parser: impl Parser<&'a [u8], Output = O, Error = NomError<'a>>,
    input: &'a [u8],
) -> Option<(&'a [u8], O)> {
    parser.parse(input).ok()
}

/// Folds up to eight big-endian bytes into an integer (longer input: its first eight bytes).
fn fold_be(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Frames the payload (or proposal, or transform) at `pos` of `data`: returns (next payload,
/// length, body) or the error that stops the chain. `abs` is `data`'s offset from the IKE
/// header; `own` names the length field of what is read, `enclosing` what bounds `data`.
fn checked_payload(
    data: &[u8],
    pos: usize,
    abs: usize,
    layer: Layer,
    min_len: usize,
    own: LenField,
    enclosing: LenSource,
) -> Result<(u8, u16, &[u8]), DecodeError> {
    let here = data.get(pos..).unwrap_or_default();
    match frame::frame(here, min_len) {
        Ok(f) => Ok((f.first, f.length, f.body)),
        Err(e) => Err(e
            .len_error(own, enclosing, LenSubject::GenericHeader, GENERIC_LEN)
            .at(layer, abs + pos)),
    }
}

/// Decodes the payload chain starting with `first` over `body` (the bytes after the ISAKMP
/// header, cut at the header's length). `base_offset` is `body`'s offset from the start of the IKE
/// header, for error messages; `end` is what cut `body` (the header's length or the capture).
/// Appends what it decodes; returns where it stopped, if it did.
///
/// A body that does not parse is kept as [`PayloadBody::Other`] (an SA keeps the proposals read
/// before the fault) and the walk goes on, since its generic header still says where the next
/// payload starts; the first such fault is returned. A broken generic header ends the walk.
pub fn decode_payloads(
    first: PayloadType,
    body: &[u8],
    base_offset: usize,
    end: LenSource,
    out: &mut Vec<Payload>,
) -> Option<DecodeError> {
    let mut next = first;
    let mut pos = 0usize;
    let mut first_error: Option<DecodeError> = None;
    while next != PayloadType::NONE {
        if pos >= body.len() {
            // Also where a pointer loop or a chain that never says NONE ends
            // (tcpdump isakmp-no-none-np.pcapng, isakmp-pointer-loop.pcap).
            let err = LenError {
                need: GENERIC_LEN,
                have: body.len().saturating_sub(pos),
                source: end,
                what: LenSubject::NextPayloadAnnounced { next: next.0 },
            }
            .at(Layer::V1Payload, base_offset + pos);
            return Some(first_error.unwrap_or(err));
        }
        let (following, length, pbody) = match checked_payload(
            body,
            pos,
            base_offset,
            Layer::V1Payload,
            GENERIC_LEN,
            LenField::PayloadLength,
            end,
        ) {
            Ok(p) => p,
            Err(e) => return Some(first_error.unwrap_or(e)),
        };
        let offset = base_offset + pos;
        let (decoded, err) = decode_body(next, pbody, offset + GENERIC_LEN);
        out.push(Payload {
            payload_type: next,
            critical: false,
            length,
            offset: offset as u32,
            body: decoded,
        });
        if first_error.is_none() {
            first_error = err;
        }
        next = PayloadType(following);
        // `length` >= 4 was checked, so the walk always moves on.
        pos += usize::from(length);
    }
    // Bytes after the NONE payload are ignored, as Wireshark shows them as "Extra data" without
    // calling the message malformed.
    first_error
}

/// Decodes one payload body. `abs` is the body's offset from the IKE header. Returns the body
/// (possibly [`PayloadBody::Other`]) and the fault that stopped it, if any.
fn decode_body(ptype: PayloadType, body: &[u8], abs: usize) -> (PayloadBody, Option<DecodeError>) {
    let len = body.len() as u32;
    let short = |what: &'static str, need: usize| {
        LenError {
            need,
            have: body.len(),
            source: IN_PAYLOAD,
            what: LenSubject::PayloadBody {
                ptype: ptype.0,
                what,
            },
        }
        .at(Layer::V1Payload, abs)
    };
    let result = match ptype {
        PayloadType::V1_SA => return sa(body, abs),
        PayloadType::V1_KE => Ok(PayloadBody::Ke {
            group: 0,
            data_len: len,
        }),
        PayloadType::V1_ID => id(body).ok_or_else(|| short("ID", 4)),
        PayloadType::V1_CERT => cert_encoding(body)
            .map(|encoding| PayloadBody::Cert {
                encoding,
                len: len.saturating_sub(1),
            })
            .ok_or_else(|| short("CERT", 1)),
        PayloadType::V1_CR => cert_encoding(body)
            .map(|encoding| PayloadBody::CertReq {
                encoding,
                len: len.saturating_sub(1),
            })
            .ok_or_else(|| short("CR", 1)),
        PayloadType::V1_HASH => Ok(PayloadBody::Hash { len }),
        PayloadType::V1_SIG => Ok(PayloadBody::Signature { len }),
        PayloadType::V1_NONCE => Ok(PayloadBody::Nonce { len }),
        PayloadType::V1_N => notify(body).map_err(|need| short("N", need)),
        PayloadType::V1_D => delete(body).map_err(|need| short("D", need)),
        PayloadType::V1_VID => Ok(PayloadBody::VendorId(body.to_vec())),
        PayloadType::V1_ATTR => return config(body, abs),
        PayloadType::V1_NAT_D | PayloadType::V1_NAT_D_DRAFT => {
            Ok(PayloadBody::NatDiscovery(body.to_vec()))
        }
        PayloadType::V1_NAT_OA | PayloadType::V1_NAT_OA_DRAFT => {
            nat_oa(body).map_err(|need| short("NAT-OA", need))
        }
        _ => Ok(PayloadBody::Other { len }),
    };
    match result {
        Ok(b) => (b, None),
        Err(e) => (PayloadBody::Other { len }, Some(e)),
    }
}

/// First byte of a CERT / CR body: the certificate encoding (RFC 2408 §3.9, §3.10).
fn cert_encoding(body: &[u8]) -> Option<u8> {
    body.first().copied()
}

/// ID body (RFC 2408 §3.8, IPsec DOI RFC 2407 §4.6.2): type, protocol, port, data.
fn id(body: &[u8]) -> Option<PayloadBody> {
    let (data, (id_type, protocol, port)) = run((be_u8, be_u8, be_u16), body)?;
    Some(PayloadBody::Id(Identification {
        id_type: IdType(id_type),
        protocol,
        port,
        data: data.get(..MAX_ID_DATA).unwrap_or(data).to_vec(),
    }))
}

/// N body (RFC 2408 §3.14): DOI, protocol, SPI size, notify type, SPI, data. Err: bytes needed.
fn notify(body: &[u8]) -> Result<PayloadBody, usize> {
    let (rest, (doi, protocol, spi_size, notify_type)) =
        run((be_u32, be_u8, be_u8, be_u16), body).ok_or(8usize)?;
    let (data, spi) = run(take(usize::from(spi_size)), rest).ok_or(8 + usize::from(spi_size))?;
    Ok(PayloadBody::Notify(Notify {
        doi: Some(doi),
        protocol,
        spi: spi.to_vec(),
        notify_type: NotifyType(notify_type),
        data: data.to_vec(),
    }))
}

/// D body (RFC 2408 §3.15): DOI, protocol, SPI size, number of SPIs, SPIs. Four-byte SPIs are
/// kept as they are; longer ones (16-byte ISAKMP cookie pairs) are folded to their first eight
/// bytes. Err: bytes needed.
fn delete(body: &[u8]) -> Result<PayloadBody, usize> {
    let (mut rest, (doi, protocol, spi_size, count)) =
        run((be_u32, be_u8, be_u8, be_u16), body).ok_or(8usize)?;
    let size = usize::from(spi_size);
    let need = 8 + size * usize::from(count);
    let mut spis = Vec::new();
    if size > 0 {
        for _ in 0..count {
            let (r, spi) = run(take(size), rest).ok_or(need)?;
            spis.push(fold_be(spi));
            rest = r;
        }
    }
    Ok(PayloadBody::Delete(Delete {
        doi: Some(doi),
        protocol,
        spi_size,
        spis,
    }))
}

/// NAT-OA body (RFC 3947 §5.2): ID type (1 IPv4, 5 IPv6), three reserved bytes, address. An
/// unknown ID type gives no address. Err: bytes needed.
fn nat_oa(body: &[u8]) -> Result<PayloadBody, usize> {
    let (addr, id_type) = run(be_u8, body).ok_or(4usize)?;
    let addr = addr.get(3..).ok_or(4usize)?;
    let ip = match id_type {
        1 => {
            let a: [u8; 4] = addr
                .get(..4)
                .and_then(|a| a.try_into().ok())
                .ok_or(8usize)?;
            Some(std::net::IpAddr::from(a))
        }
        5 => {
            let a: [u8; 16] = addr
                .get(..16)
                .and_then(|a| a.try_into().ok())
                .ok_or(20usize)?;
            Some(std::net::IpAddr::from(a))
        }
        _ => None,
    };
    Ok(PayloadBody::NatOriginalAddress(ip))
}

/// Attribute payload (draft-dukes-ike-mode-cfg §3.2, used by XAUTH): type, reserved, identifier,
/// attributes. Keeps the attribute types read before any fault.
fn config(body: &[u8], abs: usize) -> (PayloadBody, Option<DecodeError>) {
    let Some((attrs, (cfg_type, _reserved, _identifier))) = run((be_u8, be_u8, be_u16), body)
    else {
        let e = LenError {
            need: 4,
            have: body.len(),
            source: IN_PAYLOAD,
            what: LenSubject::PayloadBody {
                ptype: PayloadType::V1_ATTR.0,
                what: "ATTR",
            },
        }
        .at(Layer::V1Payload, abs);
        return (
            PayloadBody::Other {
                len: body.len() as u32,
            },
            Some(e),
        );
    };
    let (parsed, err) = attributes(attrs, abs + 4, IN_PAYLOAD);
    let attributes = parsed.into_iter().map(|a| a.attr_type).collect();
    (
        PayloadBody::Config {
            cfg_type,
            attributes,
        },
        err,
    )
}

/// One data attribute (RFC 2408 §3.3): TV when the AF bit is set, else TLV.
fn attribute(input: &[u8]) -> Res<'_, Attribute> {
    let (rest, (raw_type, word)) = (be_u16, be_u16).parse(input)?;
    let attr_type = raw_type & 0x7fff;
    if raw_type & 0x8000 != 0 {
        return Ok((
            rest,
            Attribute {
                attr_type,
                value: AttributeValue::Number(u64::from(word)),
            },
        ));
    }
    let (rest, value) = take(usize::from(word)).parse(rest)?;
    let value = if value.len() <= 8 {
        AttributeValue::Number(fold_be(value))
    } else {
        AttributeValue::Bytes(value.len() as u32)
    };
    Ok((rest, Attribute { attr_type, value }))
}

/// All attributes filling `data`; `abs` is its offset from the IKE header, `enclosing` what
/// bounds it.
fn attributes(
    data: &[u8],
    abs: usize,
    enclosing: LenSource,
) -> (Vec<Attribute>, Option<DecodeError>) {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let at = abs + (data.len() - rest.len());
        match attribute(rest) {
            Ok((r, a)) => {
                out.push(a);
                rest = r;
            }
            Err(_) => {
                let e = match rest {
                    [_, _, hi, lo, ..] => LenError {
                        need: usize::from(u16::from_be_bytes([*hi, *lo])),
                        have: rest.len() - 4,
                        source: enclosing,
                        what: LenSubject::ValueLength,
                    },
                    _ => LenError {
                        need: 4,
                        have: rest.len(),
                        source: enclosing,
                        what: LenSubject::AttributeHeader,
                    },
                };
                return (out, Some(e.at(Layer::V1Attribute, at)));
            }
        }
    }
    (out, None)
}

/// SA body (RFC 2408 §3.4): DOI, situation, proposals. As in Wireshark, only the IPsec DOI's
/// 4-byte situation (RFC 2407 §4.6.1) is understood; another DOI's SA has no proposals read.
fn sa(body: &[u8], abs: usize) -> (PayloadBody, Option<DecodeError>) {
    let Some((props, (doi, _situation))) = run((be_u32, be_u32), body) else {
        let e = LenError {
            need: 8,
            have: body.len(),
            source: IN_PAYLOAD,
            what: LenSubject::DoiAndSituation,
        }
        .at(Layer::V1Sa, abs);
        return (PayloadBody::Sa(Vec::new()), Some(e));
    };
    if doi != DOI_IPSEC {
        return (PayloadBody::Sa(Vec::new()), None);
    }
    let (proposals, err) = proposals(props, abs + 8);
    (PayloadBody::Sa(proposals), err)
}

/// The proposal payloads inside an SA, each with its own generic header. Every one is kept,
/// duplicates included (suricata-verify ikev1-duplicate-proposals).
fn proposals(data: &[u8], abs: usize) -> (Vec<Proposal>, Option<DecodeError>) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut kind = PayloadType::V1_PROPOSAL;
    // As Wireshark: walk while bytes are left; bytes after a NONE are extra and ignored.
    while pos < data.len() && kind != PayloadType::NONE {
        let (next, length, pbody) = match checked_payload(
            data,
            pos,
            abs,
            Layer::V1Proposal,
            8,
            LenField::ProposalLength,
            IN_PAYLOAD,
        ) {
            Ok(p) => p,
            Err(e) => return (out, Some(e)),
        };
        if kind == PayloadType::V1_PROPOSAL {
            let (p, err) = proposal(pbody, abs + pos + GENERIC_LEN);
            out.push(p);
            if err.is_some() {
                return (out, err);
            }
        }
        kind = PayloadType(next);
        pos += usize::from(length);
    }
    (out, None)
}

/// One proposal body (RFC 2408 §3.5): number, protocol, SPI size, transform count, SPI,
/// transforms. As Wireshark does, reads as many transforms as the count says.
fn proposal(body: &[u8], abs: usize) -> (Proposal, Option<DecodeError>) {
    let mut p = Proposal {
        number: 0,
        protocol: 0,
        spi: Vec::new(),
        transforms: Vec::new(),
    };
    let Some((rest, (number, protocol, spi_size, count))) = run((be_u8, be_u8, be_u8, be_u8), body)
    else {
        // checked_payload guaranteed 4 body bytes; kept for safety.
        let e = LenError {
            need: 4,
            have: body.len(),
            source: IN_PROPOSAL,
            what: LenSubject::ShortBody,
        }
        .at(Layer::V1Proposal, abs);
        return (p, Some(e));
    };
    p.number = number;
    p.protocol = protocol;
    let Some((spi, transforms)) = rest.split_at_checked(usize::from(spi_size)) else {
        let e = LenError {
            need: usize::from(spi_size),
            have: rest.len(),
            source: IN_PROPOSAL,
            what: LenSubject::SpiSize,
        }
        .at(Layer::V1Proposal, abs + 2);
        return (p, Some(e));
    };
    p.spi = spi.to_vec();
    let tabs = abs + 4 + spi.len();
    let mut pos = 0usize;
    for _ in 0..count {
        let (_next, length, tbody) = match checked_payload(
            transforms,
            pos,
            tabs,
            Layer::V1Transform,
            8,
            LenField::TransformLength,
            IN_PROPOSAL,
        ) {
            Ok(t) => t,
            Err(e) => return (p, Some(e)),
        };
        let (t, err) = transform(tbody, tabs + pos + GENERIC_LEN);
        p.transforms.push(t);
        if err.is_some() {
            return (p, err);
        }
        pos += usize::from(length);
    }
    (p, None)
}

/// One transform body (RFC 2408 §3.6): number, transform ID, reserved, SA attributes.
fn transform(body: &[u8], abs: usize) -> (Transform, Option<DecodeError>) {
    let Some((attrs, (number, id, _reserved))) = run((be_u8, be_u8, be_u16), body) else {
        let t = Transform {
            number: 0,
            transform_type: TransformType(0),
            id: 0,
            attributes: Vec::new(),
        };
        let e = LenError {
            need: 4,
            have: body.len(),
            source: IN_TRANSFORM,
            what: LenSubject::ShortBody,
        }
        .at(Layer::V1Transform, abs);
        return (t, Some(e));
    };
    let (attributes, err) = attributes(attrs, abs + 4, IN_TRANSFORM);
    (
        Transform {
            number,
            transform_type: TransformType(0),
            id: u16::from(id),
            attributes,
        },
        err,
    )
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use proptest::prelude::*;

    use super::super::{HEADER_LEN, decode};
    use super::decode_payloads;
    use crate::event::codes::{NotifyType, PayloadType};
    use crate::event::ike::{
        Attribute, AttributeValue, Delete, IkeMessage, Notify, PayloadBody, Proposal,
    };
    use crate::event::{Layer, LenField, LenSource};

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

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// One line per fact, in the same shape as the tshark PDML summary used to check these
    /// fixtures by hand (payload type + length, proposals, transforms, attributes, ...).
    fn summary(msg: &IkeMessage) -> Vec<String> {
        let mut out = Vec::new();
        for p in &msg.payloads {
            out.push(format!("P {} {}", p.payload_type, p.length));
            match &p.body {
                PayloadBody::Sa(props) => {
                    for pr in props {
                        out.push(format!(
                            "PROP {} {} {} {}",
                            pr.number,
                            pr.protocol,
                            hex(&pr.spi),
                            pr.transforms.len()
                        ));
                        for t in &pr.transforms {
                            out.push(format!("T {} {}", t.number, t.id));
                            for a in &t.attributes {
                                match a.value {
                                    AttributeValue::Number(n) => {
                                        out.push(format!("A {} {n}", a.attr_type))
                                    }
                                    AttributeValue::Bytes(l) => {
                                        out.push(format!("A {} bytes:{l}", a.attr_type))
                                    }
                                }
                            }
                        }
                    }
                }
                PayloadBody::Ke { data_len, .. } => out.push(format!("KE {data_len}")),
                PayloadBody::Nonce { len } => out.push(format!("NONCE {len}")),
                PayloadBody::Hash { len } => out.push(format!("HASH {len}")),
                PayloadBody::Id(id) => out.push(format!(
                    "ID {} {} {} {}",
                    id.id_type.0,
                    id.protocol,
                    id.port,
                    hex(&id.data)
                )),
                PayloadBody::Notify(n) => out.push(format!(
                    "N {} {} {} {} {}",
                    n.doi.unwrap_or(0),
                    n.protocol,
                    hex(&n.spi),
                    n.notify_type.0,
                    hex(&n.data)
                )),
                PayloadBody::VendorId(v) => out.push(format!("VID {}", hex(v))),
                PayloadBody::NatDiscovery(h) => out.push(format!("NATD {}", hex(h))),
                _ => {}
            }
        }
        out
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/ikev1/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    #[ignore = "prints the summary of every fixture, to diff against tshark"]
    fn dump_fixtures() {
        // IKEV1_DUMP_DIR points the dump at other extracted payloads.
        let dir = std::env::var("IKEV1_DUMP_DIR")
            .unwrap_or_else(|_| format!("{}/tests/fixtures/ikev1", env!("CARGO_MANIFEST_DIR")));
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".bin"))
            .collect();
        names.sort();
        for n in names {
            println!("== {n}");
            let raw = std::fs::read(format!("{dir}/{n}")).unwrap();
            match decode(&raw, false) {
                Ok(m) => {
                    for l in summary(&m) {
                        println!("{l}");
                    }
                    if let Some(e) = m.error {
                        println!("ERR {e}");
                    }
                }
                Err(e) => println!("HDRERR {e}"),
            }
        }
    }

    /// Decodes a fixture that must decode cleanly (no header or chain error).
    fn clean(name: &str) -> IkeMessage {
        let msg = decode(&fixture(name), false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(msg.error, None, "{name}");
        assert_eq!(msg.version, 1, "{name}");
        msg
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn vids(msg: &IkeMessage) -> Vec<String> {
        msg.payloads
            .iter()
            .filter_map(|p| match &p.body {
                PayloadBody::VendorId(v) => Some(hex(v)),
                _ => None,
            })
            .collect()
    }

    fn nat_d(msg: &IkeMessage) -> Vec<String> {
        msg.payloads
            .iter()
            .filter_map(|p| match &p.body {
                PayloadBody::NatDiscovery(v) => Some(hex(v)),
                _ => None,
            })
            .collect()
    }

    fn types(msg: &IkeMessage) -> Vec<u8> {
        msg.payloads.iter().map(|p| p.payload_type.0).collect()
    }

    fn attrs(list: &[(u16, u64)]) -> Vec<Attribute> {
        list.iter()
            .map(|&(attr_type, n)| Attribute {
                attr_type,
                value: AttributeValue::Number(n),
            })
            .collect()
    }

    /// A generic payload: header (next, reserved, length) + body.
    fn pl(next: u8, body: &[u8]) -> Vec<u8> {
        let len = (body.len() + 4) as u16;
        let mut v = vec![next, 0];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// An ISAKMP header (Main Mode, no flags) with the right length, followed by `body`.
    fn msg(first: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0x11; 16];
        v.extend_from_slice(&[first, 0x10, 2, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    // zeek-spicy-ipsec ipsec-ikev1-isakmp-main-mode.pcap frame 1 (tshark -V): SA with one
    // proposal (ISAKMP) and one KEY_IKE transform: AES-CBC, Key-Length 128, SHA, group 2,
    // Pre-shared key, Life-Type seconds, Life-Duration 86400 (TLV, 4 bytes); four NAT-T VIDs.
    #[test]
    fn main_mode_sa_request() {
        let m = clean("zeek-main-mode-f1.bin");
        assert_eq!(types(&m), [1, 13, 13, 13, 13]);
        let offsets: Vec<u32> = m.payloads.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, [28, 88, 108, 128, 148]);
        assert_eq!(m.payloads[0].length, 60);
        let props = m.proposals().unwrap();
        assert_eq!(props.len(), 1);
        assert_eq!((props[0].number, props[0].protocol), (1, 1));
        assert!(props[0].spi.is_empty());
        let t = &props[0].transforms;
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].number, t[0].id, t[0].transform_type.0), (1, 1, 0));
        assert_eq!(
            t[0].attributes,
            attrs(&[
                (1, 7),
                (14, 128),
                (2, 2),
                (4, 2),
                (3, 1),
                (11, 1),
                (12, 86400)
            ])
        );
        assert_eq!(t[0].attribute(14), Some(&AttributeValue::Number(128)));
        assert_eq!(
            vids(&m),
            [
                "4a131c81070358455c5728f20e95452f", // RFC 3947
                "439b59f8ba676c4c7737ae22eab8f582", // draft-ietf-ipsec-nat-t-ike-07
                "7d9419a65310ca6f2c179d9215529d56", // draft-ietf-ipsec-nat-t-ike-03
                "90cb80913ebb696e086381b5ec427b1f", // draft-ietf-ipsec-nat-t-ike-02\n
            ]
        );
    }

    // Same capture, frame 3 (MM3): KE 128 bytes, nonce 20, VIDs DPD / unknown / XAUTH (8
    // bytes), then two NAT-D (RFC 3947, payload 20) hashes.
    #[test]
    fn main_mode_ke_nonce_natd() {
        let m = clean("zeek-main-mode-f3.bin");
        assert_eq!(types(&m), [4, 10, 13, 13, 13, 20, 20]);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Ke {
                group: 0,
                data_len: 128
            }
        );
        assert_eq!(m.payloads[1].body, PayloadBody::Nonce { len: 20 });
        assert_eq!(
            vids(&m),
            [
                "afcad71368a1f1c96b8696fc77570100",
                "11bdfe02d056587f2c18125972c32401",
                "09002689dfd6b712",
            ]
        );
        assert_eq!(
            nat_d(&m),
            [
                "1574d64c0165bad16a023f038d45a07498d8d051",
                "febf462f1cd75805a7baa28747e769d674f85600",
            ]
        );
    }

    // zeek-spicy-ipsec ipsec-ikev1-isakmp-aggressive-mode.pcap frame 1: ID type IPV4_ADDR (1),
    // protocol UDP (17), port unused (0), 192.168.12.2.
    #[test]
    fn aggressive_mode_id() {
        let m = clean("zeek-aggressive-mode-f1.bin");
        assert_eq!(types(&m), [1, 13, 13, 13, 13, 4, 10, 5, 13, 13, 13]);
        let id = m
            .payloads
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Id(id) => Some(id),
                _ => None,
            })
            .unwrap();
        assert_eq!((id.id_type.0, id.protocol, id.port), (1, 17, 0));
        assert_eq!(id.data, [192, 168, 12, 2]);
        assert_eq!(vids(&m)[6], "11bdfe0278c89d7fb2add831d38cc76d");
    }

    // zeek-spicy-ipsec ipsec.cap frame 3: Informational, N: DOI IPSEC (1), protocol ISAKMP (1),
    // SPI size 0, NO-PROPOSAL-CHOSEN (14), no data.
    #[test]
    fn informational_no_proposal_chosen() {
        let m = clean("zeek-ipsec-cap-f3.bin");
        assert_eq!(m.exchange.0, 5);
        assert_eq!(types(&m), [11]);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Notify(Notify {
                doi: Some(1),
                protocol: 1,
                spi: vec![],
                notify_type: NotifyType(14),
                data: vec![],
            })
        );
        assert!(m.has_notify(NotifyType(14)));
    }

    // zeek-spicy-ipsec ipsec.cap frame 1: proposal and transform numbered 0, Life-Duration 7800
    // first, 3DES, SHA, PSK, group 2; nine VIDs.
    #[test]
    fn ipsec_cap_proposal_zero() {
        let m = clean("zeek-ipsec-cap-f1.bin");
        let p = &m.proposals().unwrap()[0];
        assert_eq!((p.number, p.protocol, p.transforms.len()), (0, 1, 1));
        assert_eq!(
            p.transforms[0].attributes,
            attrs(&[(11, 1), (12, 7800), (1, 5), (2, 2), (3, 1), (4, 2)])
        );
        assert_eq!(vids(&m).len(), 9);
        assert_eq!(vids(&m)[8], "4485152d18b6bbcd0be8a8469579ddcc");
    }

    // tcpdump isakmp4500.pcap frames 5 and 6 (Main Mode on UDP 500, before the switch to 4500):
    // KE 192 bytes, nonce 16, NAT-D x2. Frame 7 is MM5 on 4500 behind the non-ESP marker,
    // encrypted: header only.
    #[test]
    fn natt_main_mode_natd() {
        let m5 = clean("tcpdump-isakmp4500-f5.bin");
        assert_eq!(types(&m5), [4, 10, 20, 20]);
        assert_eq!(
            m5.payloads[0].body,
            PayloadBody::Ke {
                group: 0,
                data_len: 192
            }
        );
        assert_eq!(
            nat_d(&m5),
            [
                "6efe12f04af90dfbcfb15d71b841bb9e",
                "44f517e03fb381f80f842d1538ccffac"
            ]
        );
        let m6 = clean("tcpdump-isakmp4500-f6.bin");
        assert_eq!(
            nat_d(&m6),
            [
                "399304d50fbd4ca3db1e197af7c11e6f",
                "6efe12f04af90dfbcfb15d71b841bb9e"
            ]
        );
        let m7 = decode(&fixture("tcpdump-isakmp4500-f7.bin"), true).unwrap();
        assert!(m7.encrypted);
        assert!(m7.payloads.is_empty());
        assert_eq!(m7.error, None);
    }

    // suricata-verify ikev1-duplicate-proposals generated.pcap frame 1: one transform whose
    // Life-Type/Life-Duration appear twice (86400, then 65535); tshark lists all eight
    // attributes, and so must we.
    #[test]
    fn duplicate_attributes_kept() {
        let m = clean("suricata-duplicate-proposals-f1.bin");
        let t = &m.proposals().unwrap()[0].transforms[0];
        assert_eq!(
            t.attributes,
            attrs(&[
                (1, 7),
                (14, 128),
                (2, 2),
                (12, 86400),
                (4, 2),
                (3, 1),
                (11, 1),
                (12, 65535)
            ])
        );
    }

    // arkime IKEv1.pcap frame 1 (IPv6): AES-CBC 256, SHA2-256 (6), group 20, PSK.
    #[test]
    fn arkime_ipv6_main_mode() {
        let m = clean("arkime-ikev1-f1.bin");
        let t = &m.proposals().unwrap()[0].transforms[0];
        assert_eq!(
            t.attributes,
            attrs(&[
                (11, 1),
                (12, 28800),
                (1, 7),
                (14, 256),
                (3, 1),
                (2, 6),
                (4, 20)
            ])
        );
        assert_eq!(
            vids(&m),
            [
                "afcad71368a1f1c96b8696fc77570100",
                "a9b9b1034f7e50a2513b47b100bb85a9"
            ]
        );
        let m2 = clean("arkime-ikev1-f2.bin");
        assert_eq!(vids(&m2)[2], "4048b7d56ebce88525e7de7f00d6c2d3c0000000");
    }

    // tcpdump ISAKMP_sa_setup.pcap frame 3: after the VIDs come two payloads of type 15 with
    // 20-byte bodies. IANA gives 15 to GDOI's SAK, and tshark decodes them so and calls the
    // packet malformed; they are pre-RFC NAT-D hashes (tcpdump prints "pay15"). We keep them as
    // opaque payloads without an error.
    #[test]
    fn payload_15_is_opaque() {
        let m = clean("tcpdump-isakmp-sa-setup-f3.bin");
        assert_eq!(types(&m), [4, 10, 13, 13, 13, 13, 15, 15]);
        assert_eq!(m.payloads[6].body, PayloadBody::Other { len: 20 });
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Ke {
                group: 0,
                data_len: 96
            }
        );
    }

    // ike-scan pkt-aggressive.dat: one proposal, four transforms (3DES/AES... per check-decode).
    #[test]
    fn ike_scan_aggressive_request() {
        let m = clean("ike-scan-pkt-aggressive.bin");
        assert_eq!(types(&m), [1, 4, 10, 5]);
        let t = &m.proposals().unwrap()[0].transforms;
        assert_eq!(t.len(), 4);
        assert_eq!(
            t[1].attributes,
            attrs(&[(1, 5), (2, 1), (3, 1), (4, 2), (11, 1), (12, 28800)])
        );
        let PayloadBody::Id(id) = &m.payloads[3].body else {
            panic!("ID")
        };
        assert_eq!((id.id_type.0, id.protocol, id.port), (3, 17, 500));
        assert_eq!(id.data, b"royhills@hotmail.com");
    }

    // ike-scan pkt-aggr-mode-response.dat, check-decode: Enc=3DES Hash=SHA1 Group=2 Auth=PSK
    // LifeDuration=28800; VIDs Netscreen-15 (28 bytes), DPD, HeartBeat_Notify; KE 128, nonce
    // 20, ID_IPV4_ADDR 62.3.105.251, hash 20.
    #[test]
    fn ike_scan_aggressive_response() {
        let m = clean("ike-scan-pkt-aggr-mode-response.bin");
        assert_eq!(types(&m), [1, 13, 13, 13, 4, 10, 5, 8]);
        assert_eq!(
            m.proposals().unwrap()[0].transforms[0].attributes,
            attrs(&[(1, 5), (2, 2), (4, 2), (3, 1), (11, 1), (12, 28800)])
        );
        assert_eq!(
            vids(&m),
            [
                "166f932d55eb64d8e4df4fd37e2313f0d0fd84510000000000000000",
                "afcad71368a1f1c96b8696fc77570100",
                "4865617274426561745f4e6f74696679386b0100",
            ]
        );
        let PayloadBody::Id(id) = &m.payloads[6].body else {
            panic!("ID")
        };
        assert_eq!(
            (id.id_type.0, id.data.as_slice()),
            (1, &[62, 3, 105, 251][..])
        );
        assert_eq!(m.payloads[7].body, PayloadBody::Hash { len: 20 });
    }

    // ike-scan pkt-aggr-cert-response.dat: Certificate (X.509 Signature = 4, 1376 bytes),
    // Signature 256 bytes, Auth=RSA_Sig (3).
    #[test]
    fn ike_scan_cert_and_signature() {
        let m = clean("ike-scan-pkt-aggr-cert-response.bin");
        assert_eq!(types(&m), [1, 4, 10, 5, 6, 9]);
        assert_eq!(
            m.payloads[4].body,
            PayloadBody::Cert {
                encoding: 4,
                len: 1376
            }
        );
        assert_eq!(m.payloads[5].body, PayloadBody::Signature { len: 256 });
        let t = &m.proposals().unwrap()[0].transforms[0];
        assert_eq!(t.attribute(3), Some(&AttributeValue::Number(3)));
    }

    // ike-scan pkt-main-natt-response.dat (UDP 4500, non-ESP marker): the 40-byte Firewall-1
    // VID in full. pkt-main-mode-response.dat: the same VID shape, another build stamp.
    #[test]
    fn ike_scan_long_vids() {
        let raw = fixture("ike-scan-pkt-main-natt-response.bin");
        let m = decode(raw.get(4..).unwrap(), true).unwrap();
        assert_eq!(m.error, None);
        assert_eq!(
            vids(&m),
            ["f4ed19e0c114eb516faaac0ee37daf2807b4381f000000010000138d459d15d80000000018000000"]
        );
        let m = clean("ike-scan-pkt-main-mode-response.bin");
        assert_eq!(
            vids(&m),
            ["f4ed19e0c114eb516faaac0ee37daf2807b4381f000000010000138d459becd70000000018000000"]
        );
    }

    // ike-scan pkt-checkpoint-notify.dat: notify 9101 (Firewall-1) with the message
    // "User testing unknown.\0"; pkt-notify-response.dat: NO-PROPOSAL-CHOSEN (14), DOI 0.
    #[test]
    fn ike_scan_notifies() {
        let m = clean("ike-scan-pkt-checkpoint-notify.bin");
        let n = m.notifies().next().unwrap();
        assert_eq!(n.notify_type.0, 9101);
        assert_eq!(n.data, b"User testing unknown.\0");
        let m = clean("ike-scan-pkt-notify-response.bin");
        let n = m.notifies().next().unwrap();
        assert_eq!((n.doi, n.protocol, n.notify_type.0), (Some(0), 1, 14));
    }

    // ike-scan pkt-custom-proposal.dat: three transforms, the last with two lifetimes, the
    // second a 4-byte TLV (1048576 kilobytes).
    #[test]
    fn ike_scan_custom_proposal() {
        let m = clean("ike-scan-pkt-custom-proposal.bin");
        let t = &m.proposals().unwrap()[0].transforms;
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[2].attributes,
            attrs(&[
                (1, 5),
                (2, 2),
                (3, 3),
                (4, 2),
                (11, 1),
                (12, 28800),
                (11, 2),
                (12, 1_048_576)
            ])
        );
        assert_eq!(vids(&m), ["deadbeef", "00010203"]);
    }

    // zeek-spicy-ipsec ipsec-ikev1-payload-bad-length.pcap: the VID after the SA claims length
    // 3. The SA is kept; the error points at the VID's generic header.
    #[test]
    fn zeek_bad_length() {
        let m = decode(
            &fixture("fuzz-ipsec-ikev1-payload-bad-length-f1.bin"),
            false,
        )
        .unwrap();
        assert_eq!(types(&m), [1]);
        let e = m.error.unwrap();
        assert_eq!(e.to_string(), "IKEv1 payload at offset 0x58: length 3 < 4");
    }

    // tcpdump isakmp-no-none-np.pcapng: two notifies (type 5), the last still announcing
    // another notify when the message ends.
    #[test]
    fn chain_without_none() {
        let m = decode(&fixture("fuzz-isakmp-no-none-np-f1.bin"), false).unwrap();
        assert_eq!(types(&m), [11, 11]);
        assert!(m.notifies().all(|n| n.notify_type.0 == 5));
        let e = m.error.unwrap();
        assert_eq!(e.offset, 0x54);
        assert!(e.kind.to_string().contains("next payload 11"), "{e}");
        assert_eq!(
            e.len_error().map(|l| (l.need, l.have, l.source)),
            Some((4, 0, LenSource::Field(LenField::IkeLength)))
        );
    }

    // tcpdump isakmp-pointer-loop.pcap: the header length is 0, so decode() stops at the header;
    // walking the body anyway (as tcpdump does) must still end.
    #[test]
    fn pointer_loop_ends() {
        let raw = fixture("fuzz-isakmp-pointer-loop-f1.bin");
        let m = decode(&raw, false).unwrap();
        assert!(m.error.is_some());
        let mut out = Vec::new();
        let first = PayloadType(raw.get(16).copied().unwrap_or(0));
        let err = decode_payloads(
            first,
            raw.get(HEADER_LEN..).unwrap_or(&[]),
            HEADER_LEN,
            LenSource::Captured,
            &mut out,
        );
        assert!(err.is_some() || !out.is_empty());
    }

    /// Decodes `raw` both through `decode()` and by walking everything after the header
    /// regardless of the header's length; checks the offsets stay inside the message.
    fn no_panic(name: &str, raw: &[u8]) {
        for marker in [false, true] {
            // Only IKEv1 payloads are this module's: the IKEv2 decoder keeps a lying length
            // field as it was sent.
            if let Ok(m) = decode(raw, marker)
                && m.version == 1
            {
                for p in &m.payloads {
                    assert!(
                        p.offset as usize + usize::from(p.length) <= raw.len(),
                        "{name}"
                    );
                }
                if let Some(e) = &m.error {
                    assert!(e.offset <= raw.len(), "{name}: {e}");
                }
            }
        }
        if let Some(body) = raw.get(HEADER_LEN..) {
            let mut out = Vec::new();
            let first = PayloadType(raw.get(16).copied().unwrap_or(0));
            let err = decode_payloads(first, body, HEADER_LEN, LenSource::Captured, &mut out);
            for p in &out {
                assert!(
                    p.offset as usize + usize::from(p.length) <= raw.len(),
                    "{name}"
                );
            }
            if let Some(e) = err {
                assert!(e.offset <= raw.len(), "{name}: {e}");
            }
        }
    }

    // Every fixture, the tcpdump fuzz regressions (isakmp-*-oobr, *-segfault, pointer loop,
    // ikev1_id_ipv6_addr_subnet-oobr, isakmpv1-attr-oobr) included, decodes without a panic
    // and its offsets stay in bounds; the fuzz ones each report an error or yield payloads.
    #[test]
    fn fixtures_never_panic() {
        let dir = format!("{}/tests/fixtures/ikev1", env!("CARGO_MANIFEST_DIR"));
        let mut fuzz = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".bin") {
                continue;
            }
            let raw = fixture(&name);
            no_panic(&name, &raw);
            // Every prefix too: truncation must not panic either.
            for cut in 0..raw.len().min(400) {
                no_panic(&name, &raw[..cut]);
            }
            if name.starts_with("fuzz-") {
                fuzz += 1;
                // A header error (Err) is a fine outcome too.
                if let Ok(m) = decode(&raw, false) {
                    assert!(m.error.is_some() || !m.payloads.is_empty(), "{name}");
                }
            }
        }
        assert!(fuzz >= 12, "{fuzz} fuzz fixtures");
    }

    // Phase 2 (Quick Mode) SA: ESP proposal with a 4-byte SPI and IPsec DOI attributes (RFC 2407
    // §4.5): SA Life Type/Duration (TLV 4 bytes), Encapsulation Mode, Auth Algorithm, Key Length;
    // a 12-byte TLV is kept as its length.
    #[test]
    fn phase2_esp_proposal() {
        let mut tbody = vec![1, 12, 0, 0]; // transform 1, ESP_AES
        tbody.extend_from_slice(&[0x80, 1, 0, 1]); // SA Life Type: seconds
        tbody.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0x0e, 0x10]); // SA Life Duration 3600
        tbody.extend_from_slice(&[0x80, 4, 0, 1]); // Encapsulation: tunnel
        tbody.extend_from_slice(&[0x80, 5, 0, 2]); // Auth: HMAC-SHA
        tbody.extend_from_slice(&[0x80, 6, 0, 128]); // Key Length
        tbody.extend_from_slice(&[0, 99, 0, 12]);
        tbody.extend_from_slice(&[7; 12]);
        let mut pbody = vec![1, 3, 4, 2, 0xca, 0xfe, 0xba, 0xbe];
        pbody.extend(pl(3, &[2, 3, 0, 0, 0x80, 1, 0, 1]));
        pbody.extend(pl(0, &tbody));
        let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
        sa.extend(pl(0, &pbody));
        let m = decode(&msg(1, &pl(0, &sa)), false).unwrap();
        assert_eq!(m.error, None);
        let p = &m.proposals().unwrap()[0];
        assert_eq!((p.number, p.protocol), (1, 3));
        assert_eq!(p.spi, [0xca, 0xfe, 0xba, 0xbe]);
        assert_eq!(p.transforms.len(), 2);
        assert_eq!(p.transforms[0].id, 3);
        let t = &p.transforms[1];
        assert_eq!((t.number, t.id), (1, 12));
        assert_eq!(t.attribute(2), Some(&AttributeValue::Number(3600)));
        assert_eq!(t.attribute(6), Some(&AttributeValue::Number(128)));
        assert_eq!(t.attribute(99), Some(&AttributeValue::Bytes(12)));
    }

    // Duplicated proposals (same number, suricata ticket 7902) are all kept.
    #[test]
    fn duplicate_proposals_kept() {
        let tr = pl(0, &[1, 1, 0, 0, 0x80, 1, 0, 7]);
        let mut prop = vec![1, 1, 0, 1];
        prop.extend(&tr);
        let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
        sa.extend(pl(2, &prop));
        sa.extend(pl(2, &prop));
        sa.extend(pl(0, &prop));
        let m = decode(&msg(1, &pl(0, &sa)), false).unwrap();
        assert_eq!(m.error, None);
        let props = m.proposals().unwrap();
        assert_eq!(props.len(), 3);
        assert!(props.iter().all(|p| p == &props[0]));
    }

    #[test]
    fn sa_other_doi_has_no_proposals() {
        let m = decode(&msg(1, &pl(0, &[0, 0, 0, 2, 0, 0, 0, 1, 9, 9])), false).unwrap();
        assert_eq!(m.error, None);
        assert_eq!(m.payloads[0].body, PayloadBody::Sa(vec![]));
    }

    #[test]
    fn sa_faults_keep_what_parsed() {
        // Transform count 2 but only one transform present.
        let mut prop = vec![1, 1, 0, 2];
        prop.extend(pl(0, &[1, 1, 0, 0, 0x80, 1, 0, 7]));
        let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
        sa.extend(pl(0, &prop));
        let m = decode(&msg(1, &pl(13, &sa)), false).unwrap();
        assert_eq!(decoded_sa(&m)[0].transforms.len(), 1);
        let e = m.error.clone().unwrap();
        assert_eq!(e.layer, Layer::V1Transform);
        // After the SA header, DOI and situation, the proposal header and body, one transform.
        assert_eq!(e.offset, 28 + 4 + 8 + 4 + 4 + 12);
        // The first fault is the one reported, not the missing VID the SA announces.
        assert!(e.kind.to_string().contains("bytes left"), "{e}");

        // A TLV attribute whose length runs past the transform.
        let mut prop = vec![1, 1, 0, 1];
        prop.extend(pl(0, &[1, 1, 0, 0, 0, 12, 0, 8, 1, 2]));
        let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
        sa.extend(pl(0, &prop));
        let mut body = pl(13, &sa);
        body.extend(pl(0, &[1, 2, 3, 4]));
        let m = decode(&msg(1, &body), false).unwrap();
        assert_eq!(types(&m), [1, 13]);
        assert_eq!(m.error.unwrap().layer, Layer::V1Attribute);

        // SPI size past the proposal.
        let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
        sa.extend(pl(0, &[1, 3, 200, 0, 1, 2, 3, 4]));
        let m = decode(&msg(1, &pl(0, &sa)), false).unwrap();
        assert_eq!(decoded_sa(&m).len(), 1);
        assert_eq!(m.error.unwrap().layer, Layer::V1Proposal);
    }

    // RFC 2408 §3.15: 4-byte ESP SPIs, and a 16-byte ISAKMP cookie pair folded to the initiator
    // cookie.
    #[test]
    fn delete_payloads() {
        let mut d1 = vec![0, 0, 0, 1, 3, 4, 0, 2];
        d1.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]);
        let mut d2 = vec![0, 0, 0, 1, 1, 16, 0, 1];
        d2.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9]);
        let mut body = pl(12, &d1);
        body.extend(pl(0, &d2));
        let m = decode(&msg(12, &body), false).unwrap();
        assert_eq!(m.error, None);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Delete(Delete {
                doi: Some(1),
                protocol: 3,
                spi_size: 4,
                spis: vec![0xdead_beef, 1],
            })
        );
        assert_eq!(
            m.payloads[1].body,
            PayloadBody::Delete(Delete {
                doi: Some(1),
                protocol: 1,
                spi_size: 16,
                spis: vec![0x0102_0304_0506_0708],
            })
        );
        // Fewer SPIs than announced: an error, the payload kept as Other.
        let m = decode(
            &msg(12, &pl(0, &[0, 0, 0, 1, 3, 4, 0, 2, 1, 2, 3, 4])),
            false,
        )
        .unwrap();
        assert_eq!(m.payloads[0].body, PayloadBody::Other { len: 12 });
        assert!(m.error.is_some());
    }

    // RFC 3947 §5.2 NAT-OA (21) and the draft's 131; 132 (fragmentation) stays opaque.
    #[test]
    fn nat_oa_and_others() {
        let mut body = pl(131, &[1, 0, 0, 0, 192, 0, 2, 7]);
        let mut v6 = vec![5, 0, 0, 0];
        v6.extend_from_slice(&unhex("20010db8000000000000000000000001"));
        body.extend(pl(132, &v6));
        body.extend(pl(130, &[0xaa; 20]));
        body.extend(pl(0, &[1, 2, 3]));
        let m = decode(&msg(21, &body), false).unwrap();
        assert_eq!(m.error, None);
        assert_eq!(types(&m), [21, 131, 132, 130]);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::NatOriginalAddress(Some(IpAddr::from([192, 0, 2, 7])))
        );
        assert_eq!(
            m.payloads[1].body,
            PayloadBody::NatOriginalAddress(Some("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(m.payloads[2].body, PayloadBody::Other { len: 20 });
        assert_eq!(m.payloads[3].body, PayloadBody::NatDiscovery(vec![1, 2, 3]));
    }

    // Mode Config / XAUTH attribute payload (14): CFG_REQUEST (1) asking for
    // INTERNAL_IP4_ADDRESS (1, TLV empty), XAUTH_TYPE (16520, TV), XAUTH_USER_NAME (16521).
    #[test]
    fn mode_config_attributes() {
        let body = [
            1, 0, 0x12, 0x34, 0, 1, 0, 0, 0xc0, 0x88, 0, 0, 0x40, 0x89, 0, 0,
        ];
        let m = decode(&msg(PayloadType::V1_ATTR.0, &pl(0, &body)), false).unwrap();
        assert_eq!(m.error, None);
        assert_eq!(
            m.payloads[0].body,
            PayloadBody::Config {
                cfg_type: 1,
                attributes: vec![1, 16520, 16521]
            }
        );
    }

    #[test]
    fn long_id_is_cut_and_short_bodies_fail() {
        let mut id = vec![11, 0, 0, 0];
        id.extend_from_slice(&[b'x'; 300]);
        let mut body = pl(6, &id);
        body.extend(pl(0, &[])); // CERT with no encoding byte
        let m = decode(&msg(5, &body), false).unwrap();
        let PayloadBody::Id(i) = &m.payloads[0].body else {
            panic!("ID")
        };
        assert_eq!(i.data.len(), 256);
        assert_eq!(m.payloads[1].body, PayloadBody::Other { len: 0 });
        assert_eq!(m.error.unwrap().offset, 28 + 308 + 4);
    }

    #[test]
    fn length_past_end() {
        let mut body = pl(13, &[1, 2, 3, 4]);
        body.extend_from_slice(&[0, 0, 0, 50, 1, 2]);
        let m = decode(&msg(13, &body), false).unwrap();
        assert_eq!(types(&m), [13]);
        assert_eq!(
            m.error.unwrap().to_string(),
            "IKEv1 payload at offset 0x24: length 50 > 6 bytes left"
        );
    }

    proptest! {
        // Arbitrary bytes behind a version-1 header: no panic, offsets and lengths in bounds.
        #[test]
        fn decode_arbitrary_v1(first in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let raw = msg(first, &body);
            let m = decode(&raw, false).unwrap();
            for p in &m.payloads {
                prop_assert!(p.offset as usize + usize::from(p.length) <= raw.len());
                prop_assert!(p.length >= 4);
            }
            if let Some(e) = &m.error {
                prop_assert!(e.offset <= raw.len());
            }
        }

        // Fully arbitrary input with the version nibble forced to 1.
        #[test]
        fn decode_arbitrary_bytes(mut raw in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Some(v) = raw.get_mut(17) {
                *v = 0x10 | (*v & 0x0f);
            }
            no_panic("proptest", &raw);
        }

        // Well-formed chains of random payload types and bodies always decode to the end.
        #[test]
        fn random_chains_walk_to_the_end(items in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..8)) {
            let mut body = Vec::new();
            let types: Vec<u8> = items.iter().map(|(t, _)| if *t == 0 { 13 } else { *t }).collect();
            for (i, (_, b)) in items.iter().enumerate() {
                let next = types.get(i + 1).copied().unwrap_or(0);
                body.extend(pl(next, b));
            }
            let m = decode(&msg(types[0], &body), false).unwrap();
            prop_assert_eq!(m.payloads.len(), items.len());
        }
    }
}
