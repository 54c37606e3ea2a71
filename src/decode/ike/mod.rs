//! IKE messages: the common ISAKMP header (RFC 2408 §3.1, RFC 7296 §3.1) and dispatch to the
//! IKEv1 and IKEv2 payload decoders.
//!
//! Decoding is zero-copy over the UDP payload; the result is a small owned [`IkeMessage`]
//! (`event::ike`, the model every stage shares) that outlives the packet buffer. A broken payload chain never loses the header: the payloads read
//! so far are kept and `error` says where the chain stopped.

pub mod skf;
pub mod v1;
pub mod v2;

use crate::event::DecodeError;
use crate::event::ike::{IkeMessage, PayloadBody, v1_flags};

/// Length of the fixed ISAKMP/IKE header.
pub const HEADER_LEN: usize = 28;

/// Decodes one IKE message. `data` starts at the IKE header (after any non-ESP marker). Fails
/// only when there is no header to speak of; payload problems land in `IkeMessage::error`.
pub fn decode(data: &[u8], non_esp_marker: bool) -> Result<IkeMessage, DecodeError> {
    if data.len() < HEADER_LEN {
        return Err(DecodeError::new(
            "IKE header",
            0,
            format!("{} bytes < {HEADER_LEN}", data.len()),
        ));
    }
    let be32 = |o: usize| u32::from_be_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
    let be64 = |o: usize| (u64::from(be32(o)) << 32) | u64::from(be32(o + 4));
    let mut msg = IkeMessage {
        ispi: be64(0),
        rspi: be64(8),
        first_payload: data[16],
        version: data[17] >> 4,
        minor_version: data[17] & 0x0f,
        exchange: data[18],
        flags: data[19],
        message_id: be32(20),
        length: be32(24),
        wire_len: data.len() as u32,
        non_esp_marker,
        ..IkeMessage::default()
    };
    if msg.version != 1 && msg.version != 2 {
        return Err(DecodeError::new(
            "IKE header",
            17,
            format!(
                "version {}.{} is neither 1 nor 2",
                msg.version, msg.minor_version
            ),
        ));
    }
    let declared = msg.length as usize;
    if declared < HEADER_LEN {
        msg.error = Some(DecodeError::new(
            "IKE header",
            24,
            format!("length {declared} < {HEADER_LEN}"),
        ));
        return Ok(msg);
    }
    let end = if declared > data.len() {
        msg.error = Some(DecodeError::new(
            "IKE header",
            24,
            format!("length {declared} > {} bytes present", data.len()),
        ));
        data.len()
    } else {
        declared
    };
    let body = &data[HEADER_LEN..end];
    let chain_error = if msg.version == 1 {
        msg.encrypted = msg.flags & v1_flags::ENCRYPTION != 0;
        if msg.encrypted {
            None
        } else {
            v1::decode_payloads(msg.first_payload, body, HEADER_LEN, &mut msg.payloads)
        }
    } else {
        let e = v2::decode_payloads(msg.first_payload, body, HEADER_LEN, &mut msg.payloads);
        msg.encrypted = msg.payloads.iter().any(|p| {
            matches!(
                p.body,
                PayloadBody::Encrypted { .. } | PayloadBody::EncryptedFragment { .. }
            )
        });
        e
    };
    // A lying length field is the more useful error to report; keep it if both happened.
    if msg.error.is_none() {
        msg.error = chain_error;
    }
    Ok(msg)
}
