//! IKEv2 payload chain (RFC 7296, RFC 7383 and extensions).

use super::Payload;
use crate::event::DecodeError;

/// Decodes the payload chain starting with `first` over `body` (the bytes after the ISAKMP
/// header, cut at the header's length). `base_offset` is `body`'s offset from the start of the IKE
/// header, for error messages. Appends what it decodes; returns where it stopped, if it did.
pub fn decode_payloads(
    first: u8,
    body: &[u8],
    base_offset: usize,
    out: &mut Vec<Payload>,
) -> Option<DecodeError> {
    let _ = (first, body, base_offset, out);
    None
}
